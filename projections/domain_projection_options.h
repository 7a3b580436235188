// The options of the domain projections (agents, tasks, metrics), which
// ProjectionService and Rebuild take. The projections themselves, and the
// libpqxx they write with, stay in internal/domain_projections.h.

#ifndef VIGIL_PROJECTIONS_DOMAIN_PROJECTION_OPTIONS_H_
#define VIGIL_PROJECTIONS_DOMAIN_PROJECTION_OPTIONS_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil::projections {

struct DomainProjectionOptions {
  // vigil.agent_metrics keeps this many days (whole UTC days, counted back
  // from today's); older partitions are dropped and older events are not
  // counted when replayed. vigil.llm_usage is small and kept whole.
  int metrics_retention_days = 30;
  // The clock for the retention (tests move it).
  absl::Time (*now)() = &absl::Now;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_DOMAIN_PROJECTION_OPTIONS_H_
