// UpstreamLog: a primary's event log as a gateway replica sees it
// (`vigild --gateway-only --upstream HOST:PORT`, docs/operations.md "Gateway
// replicas"). It holds no data of its own: one gRPC Subscribe to the
// primary, kept open (reconnecting with backoff and resuming from the last
// position received), feeds a bounded window of the most recent events in
// memory and the head listeners; reads older than the window go to the
// primary's ReadAll, ReadStream and GetStream. So the live feed (LiveHub)
// and the REST reads run on a replica exactly as on the primary, and a
// client may resume on any replica: no sticky sessions.
//
// A replica is read-only: Append, AppendAsync and Import answer
// UNIMPLEMENTED (appends go to the primary, which checks the caller's own
// token), and Verify and the snapshots are the primary's business. The
// window, head and listeners are eventlog::FollowerLog's, shared with the
// replica that follows the JetStream stream (replication/jetstream_log.h).
//
// Thread safety: every method may be called from any thread.

#ifndef VIGIL_GATEWAY_UPSTREAM_LOG_H_
#define VIGIL_GATEWAY_UPSTREAM_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/follower_log.h"

namespace vigil::gateway {

// How often a replica pings its primary on an idle connection. vigild's
// gRPC server permits pings this often (GRPC_ARG_HTTP2_MIN_RECV_PING_...).
inline constexpr absl::Duration kUpstreamKeepalive = absl::Seconds(20);

struct UpstreamOptions {
  // The primary's gRPC address, HOST:PORT.
  std::string target;
  // Sent as `authorization: Bearer <token>`; needs the role `reader`.
  // Empty: no token (a primary without --tokens-file).
  std::string token;

  // The window of recent events kept in memory, served without asking the
  // primary: at most this many events and bytes (data + metadata).
  size_t window_events = 65536;
  size_t window_bytes = 64 << 20;  // 64 MiB

  // One read call to the primary (ReadAll, ReadStream, GetStream).
  absl::Duration call_timeout = absl::Seconds(10);
  // Reconnecting the subscription: waits double from the first to the
  // last, with jitter.
  absl::Duration min_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(1);

  // vigil_upstream_* series; may be null.
  base::Metrics* metrics = nullptr;
};

class UpstreamLog final : public eventlog::FollowerLog {
 public:
  // Starts following the primary at `options.target` and returns at once:
  // the primary may be down (Health() says so until it answers).
  // INVALID_ARGUMENT for an empty target.
  static absl::StatusOr<std::unique_ptr<UpstreamLog>> Start(
      UpstreamOptions options);

  // Stops the subscription and waits for its thread.
  ~UpstreamLog() override;

  // OK while subscribed to the primary and caught up with it at least
  // once; UNAVAILABLE (saying why) otherwise. /readyz answers it.
  absl::Status Health() const;

  // ---- eventlog::EventLog (the rest: eventlog::FollowerLog) ----------------
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override;
  absl::StatusOr<eventlog::StreamInfo> GetStream(
      const std::string& stream) const override;

 private:
  class Impl;
  explicit UpstreamLog(const UpstreamOptions& options);
  // The primary's ReadAll.
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadOlder(
      uint64_t from, uint64_t count) const override;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::gateway

#endif  // VIGIL_GATEWAY_UPSTREAM_LOG_H_
