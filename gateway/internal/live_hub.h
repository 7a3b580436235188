// LiveHub: the live feed behind GET /v1/live (and /v1/live/sse), without
// Beast. One per HttpServer; one LiveSubscription (live_subscription.h) per
// connection. The frames' bytes and the client messages' syntax are
// live_protocol.h's; this file holds what they share: the pump, the cache
// of recent batches, the caps on connections, the metrics.
//
// Fanout: a single pump thread follows the log's head, reads each new event
// once, encodes its frame once (JSON, and the protobuf only while some
// connection asked for it) and offers the batch to every live subscription,
// which queues the frames it wants (shared_ptr, no copy) in its own bounded
// queue. A subscription whose queue is full leaves the live feed: it keeps
// its position and reads the log from there itself (like api/subscription.h,
// on the hub's reader threads, one page at a time and only while its queue
// has room), then rejoins the live feed at the head. So nothing is lost,
// nobody waits for anybody, and a connection pins at most its queue bound.
//
// Thread safety: everything may be called from any thread. A subscription's
// callbacks are never called with one of its locks held.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_HUB_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_HUB_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gateway/internal/live_protocol.h"
#include "gateway/internal/live_subscription.h"

namespace vigil::gateway::internal {

// The live feed's metrics, registered once per registry.
struct LiveMetrics {
  explicit LiveMetrics(Metrics* metrics);
  Gauge* connections;
  Counter* frames;
  Counter* bytes;
  base::Histogram* queue_depth;
  Counter* fallbacks;
  Counter* slow_consumer_closes;
  CounterFamily* rejected;  // {reason}
  CounterFamily* closes;    // {code}
};

class LiveHub {
 public:
  // `log` and `metrics` must outlive the hub.
  LiveHub(eventlog::EventLog* log, const LiveOptions& options,
          Metrics* metrics);
  // Stop()s. Subscriptions still held by connections must be gone first
  // (HttpServer's io_context takes them with it).
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  // A new subscription, not started. `token_id` names the caller's token
  // for the per-token cap ("" for anonymous: not capped). UNAVAILABLE when
  // stopping or max_connections are open; RESOURCE_EXHAUSTED when the
  // token has max_connections_per_token open.
  absl::StatusOr<std::shared_ptr<LiveSubscription>> Open(
      LiveQuery query, LiveFormat format, std::string token_id);

  // Refuses new subscriptions, stops following the log and reading it
  // (waits for reads in flight: afterwards the hub never touches the log
  // again), and calls every open subscription's `stop`. Idempotent.
  void Stop();
  // True when no subscription is open any more within `timeout`.
  bool WaitEmpty(absl::Duration timeout);

  const LiveOptions& options() const { return options_; }
  const LiveMetrics& metrics() const { return metrics_; }
  size_t open() const;
  bool stopping() const;

 private:
  friend class LiveSubscription;

  void OnHead();
  void Pump();
  void PumpNow();  // within log work
  // Joins the live feed when `next_position` is past what was published.
  bool TryJoin(LiveSubscription* subscription, uint64_t next_position);
  // Frames for up to `max_events` events matching `filter` from position
  // `from`, out of the recently published batches; *next is where to go on.
  // False when `from` is not among them (read the log instead).
  bool ReadRecent(uint64_t from, const eventlog::Filter& filter,
                  LiveFormat format, size_t max_events,
                  std::vector<LiveFrame>* frames, uint64_t* next);
  void Leave(LiveSubscription* subscription);
  // Brackets every use of the log from the pump and the readers; false
  // once stopping (then the log must not be touched).
  bool BeginLogWork();
  void EndLogWork();
  void Release(LiveSubscription* subscription);
  bool Schedule(std::function<void()> read) { return readers_.Schedule(std::move(read)); }

  eventlog::EventLog* const log_;
  const LiveOptions options_;
  LiveMetrics metrics_;
  uint64_t listener_ = 0;
  std::atomic<bool> pump_pending_{false};
  std::atomic<int> protobuf_subscriptions_{0};
  std::atomic<int> sse_subscriptions_{0};

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int log_work_ ABSL_GUARDED_BY(mu_) = 0;
  // The last position offered to the live subscriptions.
  uint64_t published_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<LiveSubscription*, std::weak_ptr<LiveSubscription>>
      open_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<LiveSubscription*, std::weak_ptr<LiveSubscription>>
      live_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_token_ ABSL_GUARDED_BY(mu_);
  // The last batches published, contiguous, ending at published_, bounded
  // by kRecentEvents and kRecentBytes (live_hub.cc).
  std::deque<std::shared_ptr<const LiveSubscription::Batch>> recent_
      ABSL_GUARDED_BY(mu_);
  std::deque<size_t> recent_sizes_ ABSL_GUARDED_BY(mu_);
  size_t recent_events_ ABSL_GUARDED_BY(mu_) = 0;
  size_t recent_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  // Last: destroyed (their queued tasks run) while the rest is alive.
  base::Executor pump_;
  base::Executor readers_;
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_HUB_H_
