// SharedCatchUp: catches several projections up together, reading and
// parsing the log once for all of them. Each page of the log is read and
// parsed once (ParseBatch) and committed by every runner, each in its own
// transaction on its own connection with its own checkpoint, exactly as
// its own loop would (projection_runner.h: compare-and-set of the
// checkpoint in the same transaction, parked events, NOTIFY). The runners
// write a page side by side, one thread each, while the next page is read
// and parsed. A runner that is behind the page, inside it, isolating a
// poison event or whose checkpoint another runner moved finishes the page
// through its own loop (ProjectionRunner::CatchUp) and rejoins the next.
//
// What it saves: with N projections, N - 1 reads and parses of the log
// (vigild's runners each read it whole when they catch up alone).
//
// Bounds: two pages in memory, each at most max_batch_events events and
// max_batch_bytes bytes of event data (the page being written and the
// next, being read).
//
// Thread safety: CatchUp from one thread at a time, and not while any of
// the runners is Start()ed.

#ifndef VIGIL_PROJECTIONS_SHARED_CATCH_UP_H_
#define VIGIL_PROJECTIONS_SHARED_CATCH_UP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "eventlog/event_log.h"
#include "projections/projection_runner.h"

namespace vigil::projections {

struct SharedCatchUpOptions {
  // A page's bounds (whichever is reached first): a page is one batch of
  // every runner.
  size_t max_batch_events = 20000;
  size_t max_batch_bytes = 16 << 20;
};

class SharedCatchUp {
 public:
  // `runners` (at least one, all over `log`) and `log` must outlive it.
  SharedCatchUp(std::vector<ProjectionRunner*> runners,
                eventlog::EventLog* log, SharedCatchUpOptions options = {});

  // Applies batches until every runner's checkpoint reaches `position` (or
  // the head, whichever is lower at the call). Errors are returned, not
  // retried, as by ProjectionRunner::CatchUp: UNAVAILABLE when PostgreSQL
  // or the log fails (call again to continue from the checkpoints).
  absl::Status CatchUp(uint64_t position);

 private:
  // Commits `batch` with `runner`, or has the runner's loop cover it.
  static absl::Status Apply(ProjectionRunner* runner,
                            const ParsedBatch& batch);

  const std::vector<ProjectionRunner*> runners_;
  eventlog::EventLog* const log_;
  const SharedCatchUpOptions options_;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_SHARED_CATCH_UP_H_
