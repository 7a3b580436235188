#include "projections/migrations.h"

#include <exception>
#include <set>
#include <string>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::projections {

// Generated from schemas/sql/*.sql by CMake (migrations_sql.cc).
extern const std::vector<Migration>& CompiledMigrations();

const std::vector<Migration>& Migrations() { return CompiledMigrations(); }

absl::StatusOr<int> ApplyMigrations(const std::string& pg_url) {
  std::unique_ptr<pqxx::connection> connection;
  try {
    connection = std::make_unique<pqxx::connection>(pg_url);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
  const Migration* current = nullptr;
  try {
    pqxx::work tx(*connection);
    // Any constant will do, as long as every Vigil process uses this one.
    tx.exec("SELECT pg_advisory_xact_lock(7600760)");
    tx.exec("CREATE SCHEMA IF NOT EXISTS vigil");
    tx.exec(
        "CREATE TABLE IF NOT EXISTS vigil.schema_migrations ("
        "version integer PRIMARY KEY, name text NOT NULL, "
        "applied_at timestamptz NOT NULL DEFAULT now())");
    std::set<int> applied;
    for (const pqxx::row& row :
         tx.exec("SELECT version FROM vigil.schema_migrations")) {
      applied.insert(row[0].as<int>());
    }
    int count = 0;
    for (const Migration& migration : Migrations()) {
      if (applied.contains(migration.version)) continue;
      current = &migration;
      tx.exec(migration.sql);
      tx.exec(absl::StrCat(
          "INSERT INTO vigil.schema_migrations (version, name) VALUES (",
          migration.version, ", ", tx.quote(migration.name), ")"));
      ++count;
    }
    tx.commit();
    return count;
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL connection lost: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(
        "migration ", current == nullptr ? "bookkeeping" : current->name,
        " failed: ", e.what()));
  }
}

}  // namespace vigil::projections
