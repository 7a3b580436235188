// ShortStream: how long a JetStream stream may report fewer messages than
// this process knows it holds before that counts as lost. Right after a
// stream leader changes (a node paused, killed, or partitioned), the new
// leader of Debian's nats-server 2.9 may answer STREAM.INFO with the
// sequence it has applied so far, below what a quorum acknowledged; it
// catches up within seconds. So the mirror (a stream shorter than what it
// was acknowledged) and the standby (a stream shorter than its log) retry
// for `grace` from the first such answer and stop only when it lasts.
//
// Thread safety: none; each user calls it from its own thread.

#ifndef VIGIL_REPLICATION_INTERNAL_SHORT_STREAM_H_
#define VIGIL_REPLICATION_INTERNAL_SHORT_STREAM_H_

#include "absl/time/time.h"

namespace vigil::replication::internal {

class ShortStream {
 public:
  static constexpr absl::Duration kGrace = absl::Seconds(30);

  explicit ShortStream(absl::Duration grace = kGrace) : grace_(grace) {}

  // The stream looks short at `now`: true while within the grace since the
  // first look of this run (retry later), false once past it (stop).
  bool StillWithinGrace(absl::Time now) {
    if (first_ == absl::InfiniteFuture()) first_ = now;
    return now - first_ < grace_;
  }
  // The stream is long enough again.
  void Reset() { first_ = absl::InfiniteFuture(); }

 private:
  const absl::Duration grace_;
  absl::Time first_ = absl::InfiniteFuture();
};

}  // namespace vigil::replication::internal

#endif  // VIGIL_REPLICATION_INTERNAL_SHORT_STREAM_H_
