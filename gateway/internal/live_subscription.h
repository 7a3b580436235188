// LiveSubscription: one connection's part of the live feed (live_hub.h):
// its filter, its bounded queue of frames, its position, and the log reads
// that catch it up until it joins the hub's live feed at the head; client
// messages (filter changes, pings) and the per-connection message limit.
//
// Thread safety: everything may be called from any thread. A subscription's
// callbacks are never called with one of its locks held.

#ifndef VIGIL_GATEWAY_INTERNAL_LIVE_SUBSCRIPTION_H_
#define VIGIL_GATEWAY_INTERNAL_LIVE_SUBSCRIPTION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "gateway/internal/frame_queue.h"
#include "gateway/internal/live_protocol.h"

namespace vigil::gateway::internal {

class LiveHub;

class LiveSubscription
    : public std::enable_shared_from_this<LiveSubscription> {
 public:
  struct Callbacks {
    // PopBatch() has something again after it returned nothing. Quick:
    // post to the connection's strand.
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

  // Moves the next frames to write into `frames` (cleared first), up to
  // `max_frames` and, past the first, `max_bytes` of payload; replies to
  // client messages come first. One lock for the batch. Returns false
  // when there is nothing (then `wake` is called once there is).
  bool PopBatch(size_t max_frames, size_t max_bytes,
                std::vector<LiveFrame>* frames);

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
  // The callbacks when a wake is due (then no longer due), else null: for
  // the caller to call `wake` once the lock is released.
  std::shared_ptr<const Callbacks> TakeWakeLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  LiveHub* const hub_;
  const LiveFormat format_;
  const std::string token_id_;  // for the per-token cap; "" = uncapped
  std::optional<int64_t> from_time_us_;

  mutable absl::Mutex mu_;
  // Shared, so that a wake copies a pointer, not the functions.
  std::shared_ptr<const Callbacks> callbacks_ ABSL_GUARDED_BY(mu_);
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
  FrameQueue queue_ ABSL_GUARDED_BY(mu_);
  size_t queue_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Frame bytes per event in the last page read; 0 before the first.
  size_t read_bytes_per_event_ ABSL_GUARDED_BY(mu_) = 0;
  FrameQueue replies_ ABSL_GUARDED_BY(mu_);
  bool want_wake_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_due_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_);
  int window_messages_ ABSL_GUARDED_BY(mu_) = 0;
};

// The events after a position, read and encoded once by the hub's pump and
// offered to every live subscription.
struct LiveSubscription::Batch {
  struct Event {
    eventlog::RecordedEvent event;
    std::shared_ptr<const std::string> json;   // always
    std::shared_ptr<const std::string> proto;  // while protobuf clients exist
    std::shared_ptr<const std::string> sse;    // while SSE clients exist
  };
  std::vector<Event> events;
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_LIVE_SUBSCRIPTION_H_
