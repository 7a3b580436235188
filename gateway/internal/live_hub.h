// LiveHub: the live feed behind GET /v1/live (and /v1/live/sse), without
// Beast. One per HttpServer; one LiveSubscription per connection.
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
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/executor.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"

namespace vigil::gateway::internal {

// The WebSocket subprotocol that asks for binary frames, each the
// serialized vigil.v1.RecordedEvent of one event.
inline constexpr char kProtobufSubprotocol[] = "vigil.v1.protobuf";

// The form of a subscription's frames.
enum class LiveFormat {
  kJson,      // text frames, JSON objects with "kind"
  kProtobuf,  // events as binary RecordedEvent frames, the rest as kJson
  kSse,       // Server-Sent Events records ("id:", "event:", "data:")
};

// One frame to write. Event frames of the live feed are shared by every
// connection that writes them.
struct LiveFrame {
  std::shared_ptr<const std::string> payload;
  bool binary = false;
  uint64_t position = 0;  // the event's; 0 for the other kinds
};

// What a client asked for in the query of GET /v1/live.
struct LiveQuery {
  std::optional<uint64_t> from;         // deliver positions > from
  std::optional<int64_t> from_time_us;  // deliver events recorded >= it
  eventlog::Filter filter;
  std::optional<std::string> token;  // ?token=, never logged
};

// Parses `query` (the part after "?", still percent-encoded): `from`,
// `from_time` (RFC 3339), `streams` and `types` (comma-separated), `token`.
// INVALID_ARGUMENT for an unknown, repeated or malformed parameter, or
// both from and from_time. The error never contains the token.
absl::StatusOr<LiveQuery> ParseLiveQuery(std::string_view query);

class LiveHub;

class LiveSubscription
    : public std::enable_shared_from_this<LiveSubscription> {
 public:
  struct Callbacks {
    // Pop() has something again after it returned nothing. Quick: post to
    // the connection's strand.
    std::function<void()> wake;
    // The server is stopping: close the connection.
    std::function<void()> stop;
  };

  // What OnClientMessage asks of the connection.
  enum class Verdict { kOk, kTooMany };

  ~LiveSubscription();
  LiveSubscription(const LiveSubscription&) = delete;
  LiveSubscription& operator=(const LiveSubscription&) = delete;

  // Begins delivery (after the WebSocket handshake). Once.
  void Start(Callbacks callbacks);

  // The next frame to write, or nothing (then `wake` is called when there
  // is one). Replies to client messages come first.
  std::optional<LiveFrame> Pop();

  // A text message from the client: {"op":"ping"} or {"op":"filter",
  // "streams":[...],"types":[...]}; anything else queues an error frame.
  // kTooMany when the client sent more than max_messages_per_minute.
  Verdict OnClientMessage(std::string_view text, absl::Time now);
  // A binary message from the client: an error frame (and counted).
  Verdict OnBinaryMessage(absl::Time now);

  // About once a second: a checkpoint when filtered events were skipped,
  // a log read that could not be queued before.
  void Tick(absl::Time now);

  // The connection is gone: leaves the hub (its slot is free again).
  void Close();

  LiveFormat format() const { return format_; }
  size_t queued() const;

 private:
  friend class LiveHub;
  struct Batch;

  LiveSubscription(LiveHub* hub, LiveQuery query, LiveFormat format,
                   std::string token_id);

  // From the pump: the events after `published`; may leave the live feed.
  void Offer(const std::shared_ptr<const Batch>& batch);
  // On a reader thread: the next page of the log for `generation`.
  void ReadPage(uint64_t generation);
  void ReadPageNow(uint64_t generation);  // within hub log work

  void PushLocked(LiveFrame frame) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PushControl(std::string json);
  bool FullLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LeaveLiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeCheckpointLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CaughtUpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Verdict CountMessage(absl::Time now);
  // Calls `wake` when a frame was queued while the writer waited.
  void WakeIfNeeded();

  LiveHub* const hub_;
  const LiveFormat format_;
  const std::string token_id_;  // for the per-token cap; "" = uncapped
  std::optional<int64_t> from_time_us_;

  mutable absl::Mutex mu_;
  Callbacks callbacks_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  eventlog::Filter filter_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // bumped by a new filter
  // The position of the next event to look at.
  uint64_t next_position_ ABSL_GUARDED_BY(mu_) = 1;
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool read_refused_ ABSL_GUARDED_BY(mu_) = false;  // retried by Tick
  bool caught_up_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool skipped_ ABSL_GUARDED_BY(mu_) = false;  // since the last frame queued
  absl::Time last_queued_ ABSL_GUARDED_BY(mu_);
  std::deque<LiveFrame> queue_ ABSL_GUARDED_BY(mu_);
  size_t queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Frame bytes per event in the last page read; 0 before the first.
  size_t read_bytes_per_event_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<LiveFrame> replies_ ABSL_GUARDED_BY(mu_);
  bool want_wake_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_due_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_);
  int window_messages_ ABSL_GUARDED_BY(mu_) = 0;
};

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
