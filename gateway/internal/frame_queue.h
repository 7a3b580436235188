// FrameQueue: a first-in first-out queue of LiveFrames for a live
// subscription (live_subscription.h), in one vector with a read index.
// Unlike std::deque (libstdc++ allocates a map and a 512-byte block as soon
// as one is constructed) an empty FrameQueue holds no memory, and a drained
// one gives back what it grew to: 10,000 idle connections hold two each.
// Its bound is the caller's (LiveOptions::max_queue_frames / bytes).
//
// Thread safety: none; the subscription guards it with its mutex.

#ifndef VIGIL_GATEWAY_INTERNAL_FRAME_QUEUE_H_
#define VIGIL_GATEWAY_INTERNAL_FRAME_QUEUE_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "gateway/internal/live_protocol.h"

namespace vigil::gateway::internal {

class FrameQueue {
 public:
  bool empty() const { return head_ == frames_.size(); }
  size_t size() const { return frames_.size() - head_; }
  // REQUIRES: !empty().
  LiveFrame& front() { return frames_[head_]; }

  void push_back(LiveFrame frame) { frames_.push_back(std::move(frame)); }

  // Removes the first frame. REQUIRES: !empty().
  void pop_front() {
    frames_[head_] = LiveFrame();  // its payload is released now
    if (++head_ == frames_.size()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= frames_.size()) {
      // Half of the vector is read: move the rest to the front (each
      // frame moves at most once per halving, O(1) amortized).
      frames_.erase(frames_.begin(), frames_.begin() + head_);
      head_ = 0;
    }
  }

  // Empties the queue; keeps a small vector's memory for the next frames.
  void clear() {
    if (frames_.capacity() > kKeepCapacity) {
      std::vector<LiveFrame>().swap(frames_);
    } else {
      frames_.clear();
    }
    head_ = 0;
  }

  // The queued frames, first to last.
  auto begin() const { return frames_.begin() + head_; }
  auto end() const { return frames_.end(); }

 private:
  // Frames read before the vector is compacted.
  static constexpr size_t kCompactAt = 64;
  // A drained queue keeps room for this many frames (then frees it).
  static constexpr size_t kKeepCapacity = 16;

  std::vector<LiveFrame> frames_;
  size_t head_ = 0;
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_FRAME_QUEUE_H_
