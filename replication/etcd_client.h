// EtcdClient: the five etcd v3 calls Vigil's leadership needs
// (leadership.h), over etcd's JSON gateway: HTTP/1.1 POST of a JSON body
// to /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke, /v3/kv/txn
// and /v3/kv/range on a member's client URL (etcd 3.4, Debian's
// etcd-server). Keys and values travel base64-encoded, 64-bit numbers as
// decimal strings (the gateway's protobuf JSON mapping). Debian has no C++
// etcd client; this file and etcd_client.cc are the only place that speaks
// to etcd, and the only translation unit of replication/ with Boost.Beast.
//
// Each call tries the endpoints in turn, starting with the last one that
// answered, one new connection per request, each request bounded by
// `request_timeout`; UNAVAILABLE (naming every endpoint's failure) when
// none answered. A member that answers with an error (a non-200 status)
// is not retried on another: etcd's answer stands.
//
// Thread safety: every method may be called from any thread; each call
// runs its own io_context on the calling thread.

#ifndef VIGIL_REPLICATION_ETCD_CLIENT_H_
#define VIGIL_REPLICATION_ETCD_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::replication {

struct EtcdOptions {
  // Client URLs of the cluster's members, comma-separated:
  // "http://127.0.0.1:2379,http://127.0.0.1:2381". http only.
  std::string endpoints;
  // One request, connection included.
  absl::Duration request_timeout = absl::Seconds(1);
};

// A key as etcd holds it.
struct EtcdKeyValue {
  std::string value;
  int64_t create_revision = 0;  // the cluster's revision when it was created
  int64_t lease = 0;            // 0: none
};

class EtcdClient {
 public:
  // INVALID_ARGUMENT when an endpoint is not http://HOST:PORT.
  static absl::StatusOr<std::unique_ptr<EtcdClient>> Create(
      const EtcdOptions& options);

  // A new lease of `ttl_seconds`; its ID.
  absl::StatusOr<int64_t> GrantLease(int64_t ttl_seconds);

  // Renews `lease`; the TTL it now has, in seconds. NOT_FOUND when the
  // lease no longer exists (it expired or was revoked).
  absl::StatusOr<int64_t> KeepAlive(int64_t lease);

  // Revokes `lease`, deleting the keys attached to it. OK when it did not
  // exist.
  absl::Status Revoke(int64_t lease);

  // In one transaction: creates `key` = `value` attached to `lease` when
  // the key does not exist, and returns the revision that created it (a
  // number no earlier holder of the key can have had: a fencing token).
  // ALREADY_EXISTS, with the holder's value in the message, when the key
  // exists.
  absl::StatusOr<int64_t> CreateIfAbsent(const std::string& key,
                                         const std::string& value,
                                         int64_t lease);

  // `key`, or nullopt when it does not exist.
  absl::StatusOr<std::optional<EtcdKeyValue>> Get(const std::string& key);

 private:
  struct Endpoint {
    std::string host;
    std::string port;
  };
  EtcdClient(std::vector<Endpoint> endpoints, absl::Duration timeout)
      : endpoints_(std::move(endpoints)), timeout_(timeout) {}

  // POSTs `body` to `path` on the first member that answers; the response
  // body of a 200. UNAVAILABLE when none answered, INTERNAL for another
  // status (with etcd's message).
  absl::StatusOr<std::string> Post(const char* path, const std::string& body);

  const std::vector<Endpoint> endpoints_;
  const absl::Duration timeout_;
  std::atomic<size_t> first_{0};  // the member that answered last
};

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_ETCD_CLIENT_H_
