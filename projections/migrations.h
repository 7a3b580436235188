// The SQL migrations of schemas/sql/ (compiled in), applied in order at
// start-up and recorded in vigil.schema_migrations, under an advisory lock
// so that processes starting together apply each one once.

#ifndef VIGIL_PROJECTIONS_MIGRATIONS_H_
#define VIGIL_PROJECTIONS_MIGRATIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::projections {

struct Migration {
  int version;       // from the file name: 0001_read_models.sql -> 1
  std::string name;  // the file name
  std::string sql;
};

// Every migration compiled in, by version.
const std::vector<Migration>& Migrations();

// Applies the migrations `pg_url` has not recorded yet, all in one
// transaction; returns how many it applied. UNAVAILABLE when PostgreSQL
// cannot be reached, INTERNAL naming the file when one fails.
absl::StatusOr<int> ApplyMigrations(const std::string& pg_url);

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_MIGRATIONS_H_
