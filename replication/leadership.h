// Leadership: which vigild may append, decided by an etcd lease
// (etcd_client.h, docs/replication.md "Leadership"). The leader key
// (`key`, e.g. /vigil/VIGIL/leader) exists while its holder's lease lives;
// it is created only when absent, so one vigild at a time holds it, and
// the etcd revision that created it is the holder's fencing token (larger
// than any earlier holder's).
//
// The holder renews its lease every ttl / 3. It counts the lease as held
// until (the time it sent its last successful renewal) + ttl - margin:
// etcd cannot expire the lease before (send time) + ttl, so a holder that
// cannot reach etcd stops appending at least `margin` before etcd lets
// another vigild take the key. Once that time passes, or etcd says the
// lease is gone, Held() turns false for good and `on_lost` runs once: the
// holder must stop appending and publishing (a new holder needs a new
// Leadership, after a restart).
//
// Thread safety: Held, fencing_token and Resign may be called from any
// thread; `on_lost` runs on the renewal thread.

#ifndef VIGIL_REPLICATION_LEADERSHIP_H_
#define VIGIL_REPLICATION_LEADERSHIP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "replication/etcd_client.h"

namespace vigil::replication {

struct LeadershipOptions {
  EtcdOptions etcd;
  // The leader key; its value is `holder`.
  std::string key = "/vigil/VIGIL/leader";
  // Who holds it, as the others show it (vigild: its gRPC address and HTTP
  // URL, "grpc=HOST:PORT http=URL").
  std::string holder;
  // The lease's time to live; whole seconds, at least 2.
  absl::Duration ttl = absl::Seconds(5);
  // How long before etcd could expire the lease the holder stops counting
  // it as held; below ttl.
  absl::Duration margin = absl::Seconds(1);
};

// OK when `options` are usable; INVALID_ARGUMENT naming the problem.
absl::Status CheckLeadershipOptions(const LeadershipOptions& options);

class Leadership {
 public:
  // Takes the leader key when it is absent: grants a lease, creates the
  // key under it, starts renewing. ALREADY_EXISTS naming the holder when
  // another holds it; UNAVAILABLE when etcd cannot be reached.
  static absl::StatusOr<std::unique_ptr<Leadership>> Acquire(
      LeadershipOptions options, std::function<void()> on_lost);

  // The leader key's holder (its value), or nullopt when nobody holds it.
  static absl::StatusOr<std::optional<std::string>> Holder(
      const LeadershipOptions& options);

  // Revokes the lease (the key goes with it) unless already lost.
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  // OK while the lease counts as held (see above); UNAVAILABLE saying why
  // not once lost.
  absl::Status Held() const;

  // The etcd revision that created the leader key for this holder.
  int64_t fencing_token() const;

  // Gives the key up now: stops renewing, revokes the lease. Held() is
  // false afterwards; on_lost is not called.
  void Resign();

 private:
  class Impl;
  explicit Leadership(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::replication

#endif  // VIGIL_REPLICATION_LEADERSHIP_H_
