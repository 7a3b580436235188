// FollowerLog: the part of a read-only EventLog that follows a log kept
// elsewhere, shared by the gateway replicas' two sources (a primary's gRPC
// Subscribe, gateway/upstream_log.h; the JetStream stream it mirrors to,
// replication/jetstream_log.h). It holds no data of its own beyond a
// bounded window of the most recent events in memory; the subclass's
// follower thread feeds it (Receive, CaughtUp), and it serves the head,
// WaitForHead, the head listeners (LiveHub, REST reads), ReadAll and
// FindPosition from the window, asking the subclass's ReadOlder for what
// is older than the window. Appends and Verify are refused with
// UNIMPLEMENTED naming where appends go.
//
// Thread safety: every method may be called from any thread; Receive and
// CaughtUp from one follower thread at a time.

#ifndef VIGIL_EVENTLOG_FOLLOWER_LOG_H_
#define VIGIL_EVENTLOG_FOLLOWER_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"

namespace vigil::eventlog {

namespace internal {
class LogHead;
}  // namespace internal

struct FollowerWindowOptions {
  // The window of recent events kept in memory: at most this many events
  // and bytes (data + metadata + names); at least one event is kept.
  size_t window_events = 65536;
  size_t window_bytes = 64 << 20;  // 64 MiB
  // Named in the UNIMPLEMENTED answer to an append ("send it to <this>"):
  // the primary's address when known. Empty: "the primary".
  std::string primary;
};

class FollowerLog : public EventLog {
 public:
  ~FollowerLog() override;

  // ---- EventLog: served from the window, or refused ------------------------
  absl::StatusOr<AppendResult> Append(const AppendRequest& request) override;
  void AppendAsync(const AppendRequest& request, AppendCallback done) override;
  // Events up to HeadPosition() only: what this follower has announced.
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan = 0, uint64_t* next_position = nullptr) const override;
  // The last position received (0 before the first).
  uint64_t HeadPosition() const override;
  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const override;
  uint64_t AddHeadListener(HeadListener listener) override;
  void RemoveHeadListener(uint64_t handle) override;
  // The first position recorded at or after `time_us`: from the window when
  // the answer lies in it, else a binary search of ReadOlder, one event a
  // call (recorded times never decrease along positions).
  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const override;
  absl::StatusOr<VerifyResult> Verify(uint64_t from,
                                      uint64_t to) const override;
  absl::StatusOr<LogStats> Stats() const override;
  absl::Status Refresh() override { return absl::OkStatus(); }

 protected:
  // INVALID_ARGUMENT for window_events == 0.
  static absl::Status CheckWindowOptions(const FollowerWindowOptions& options);
  explicit FollowerLog(FollowerWindowOptions options);

  // Up to `count` events from position `from` on, contiguous, all older
  // than the window (the source's own read). May be called from any thread.
  virtual absl::StatusOr<std::vector<RecordedEvent>> ReadOlder(
      uint64_t from, uint64_t count) const = 0;

  // The UNIMPLEMENTED answer to `what` (e.g. "appending").
  absl::Status ReadOnly(absl::string_view what) const;

  // The follower thread: the next event. FAILED_PRECONDITION naming both
  // positions (nothing changes) when it does not continue the head.
  // Otherwise appends it to the window and announces the new head.
  absl::Status Receive(RecordedEvent event);
  // The follower thread: the source's head is `position` with nothing
  // missed. FAILED_PRECONDITION when events were received and the head is
  // not `position`; otherwise sets the head (announcing it).
  absl::Status CaughtUp(uint64_t position);

 private:
  const FollowerWindowOptions options_;
  // The head, its waiters and listeners, as the local log's; published
  // under mu_ once the window holds the event.
  const std::unique_ptr<internal::LogHead> head_;
  mutable absl::Mutex mu_;
  bool have_head_ ABSL_GUARDED_BY(mu_) = false;
  // Contiguous, ending at the head, bounded by the options.
  std::deque<RecordedEvent> window_ ABSL_GUARDED_BY(mu_);
  size_t window_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_FOLLOWER_LOG_H_
