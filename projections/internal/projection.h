// A projection: a named fold of the log into PostgreSQL read models. The
// ProjectionRunner (projection_runner.h) owns the loop, the checkpoint, the
// transaction, retries and poison events; a Projection only turns a batch of
// parsed events into writes on its own tables. Internal, as libpqxx is:
// only projections/ (and its tests and benchmarks) implement or run one.

#ifndef VIGIL_PROJECTIONS_INTERNAL_PROJECTION_H_
#define VIGIL_PROJECTIONS_INTERNAL_PROJECTION_H_

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "projections/domain_event.h"

namespace vigil::projections {

struct TableSpec {
  std::string name;          // unqualified
  bool partitioned = false;  // by day, on its `bucket` column
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Stable: it names the checkpoint, the parked events and the metrics.
  virtual const std::string& name() const = 0;

  // The tables it writes and nothing else writes; a rebuild recreates
  // exactly these.
  virtual std::vector<TableSpec> tables() const = 0;

  // Applies `events` (in position order; custom types included) to the
  // tables in `schema` within `tx`, with a few set-based statements
  // (multi-row VALUES, or COPY and a merge), not one per event. This is the libpqxx edge: it throws what libpqxx throws,
  // and the runner catches it.
  virtual void Apply(pqxx::work& tx, const std::string& schema,
                     const std::vector<DomainEvent>& events) = 0;
};

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_INTERNAL_PROJECTION_H_
