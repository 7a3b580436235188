// The domain read models of schemas/sql/ as three projections:
//   agents   vigil.agents, vigil.agents_spans
//   tasks    vigil.tasks, vigil.coordination, vigil.agent_messages,
//            vigil.spans
//   metrics  vigil.agent_metrics (partitioned by day), vigil.llm_usage,
//            vigil.metrics_spans
// Each preloads the rows its batch touches (with the stored spans of the
// traces it touches first: they say which rows spans touch), folds the
// batch with folds.h and writes the result with one upsert per table
// (internal/upsert.h). Each keeps its own copy of the spans (folds.h
// TraceFold) so that its folds see the traces exactly as of its own
// checkpoint. Internal: Projection::Apply and the partition retention
// write through libpqxx.

#ifndef VIGIL_PROJECTIONS_INTERNAL_DOMAIN_PROJECTIONS_H_
#define VIGIL_PROJECTIONS_INTERNAL_DOMAIN_PROJECTIONS_H_

#include <memory>
#include <string>
#include <vector>

#include "projections/domain_projection_options.h"
#include "projections/internal/projection.h"

namespace vigil::projections {

std::unique_ptr<Projection> NewAgentsProjection();
std::unique_ptr<Projection> NewTasksProjection();
std::unique_ptr<Projection> NewMetricsProjection(
    const DomainProjectionOptions& options);

// All three, in that order.
std::vector<std::unique_ptr<Projection>> NewDomainProjections(
    const DomainProjectionOptions& options);

// Drops the day partitions of `schema`.agent_metrics that ended before the
// retention; returns how many. Throws what libpqxx throws.
int DropExpiredMetricPartitions(pqxx::work& tx, const std::string& schema,
                                const DomainProjectionOptions& options);

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_INTERNAL_DOMAIN_PROJECTIONS_H_
