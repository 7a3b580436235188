#include "projections/rebuild.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "eventlog/log_cursor.h"
#include "projections/domain_event.h"
#include "projections/internal/domain_projections.h"
#include "projections/internal/sql.h"
#include "projections/projection_runner.h"

namespace vigil::projections {
namespace {

std::vector<std::string> Partitions(pqxx::work& tx, const std::string& schema,
                                    const std::string& table) {
  std::vector<std::string> names;
  for (const pqxx::row& row : tx.exec(absl::StrCat(
           "SELECT c.relname FROM pg_inherits i "
           "JOIN pg_class c ON c.oid = i.inhrelid "
           "JOIN pg_class p ON p.oid = i.inhparent "
           "JOIN pg_namespace n ON n.oid = p.relnamespace "
           "WHERE n.nspname = ",
           tx.quote(schema), " AND p.relname = ", tx.quote(table)))) {
    names.push_back(row[0].as<std::string>());
  }
  return names;
}

void MoveTable(pqxx::work& tx, const std::string& from, const std::string& to,
               const TableSpec& table) {
  if (table.partitioned) {
    for (const std::string& partition : Partitions(tx, from, table.name)) {
      tx.exec(absl::StrCat("ALTER TABLE ", from, ".", partition,
                           " SET SCHEMA ", to));
    }
  }
  tx.exec(absl::StrCat("ALTER TABLE ", from, ".", table.name, " SET SCHEMA ",
                       to));
}

// Creates the rebuild's schema, tables and checkpoint, unless its
// checkpoint says a rebuild is under way; true when resuming.
bool Prepare(pqxx::connection& connection, const Projection& projection,
             const std::string& schema, const std::string& checkpoint) {
  pqxx::work tx(connection);
  const bool resuming =
      !tx.exec(absl::StrCat(
                   "SELECT 1 FROM vigil.projection_checkpoints WHERE name = ",
                   tx.quote(checkpoint)))
           .empty();
  if (!resuming) {
    tx.exec(absl::StrCat("DROP SCHEMA IF EXISTS ", schema, " CASCADE"));
    tx.exec(absl::StrCat("CREATE SCHEMA ", schema));
    for (const TableSpec& table : projection.tables()) {
      tx.exec(absl::StrCat("CREATE TABLE ", schema, ".", table.name,
                           " (LIKE vigil.", table.name, " INCLUDING ALL)",
                           table.partitioned ? " PARTITION BY RANGE (bucket)"
                                             : ""));
    }
    tx.exec(absl::StrCat(
        "DELETE FROM vigil.parked_events WHERE projection = ",
        tx.quote(checkpoint)));
    tx.exec(absl::StrCat(
        "INSERT INTO vigil.projection_checkpoints (name, position) VALUES (",
        tx.quote(checkpoint), ", 0)"));
  }
  tx.commit();
  return resuming;
}

// The swap; returns the live checkpoint it set.
uint64_t Swap(pqxx::connection& connection, Projection& projection,
              eventlog::EventLog* log, bool refresh_log,
              const std::string& schema, const std::string& checkpoint) {
  const std::string& live = projection.name();
  pqxx::work tx(connection);
  tx.exec(absl::StrCat(
      "INSERT INTO vigil.projection_checkpoints (name) VALUES (",
      tx.quote(live), ") ON CONFLICT (name) DO NOTHING"));
  // The live runner's transactions start with this row: it waits now.
  const uint64_t live_position =
      tx.exec1(absl::StrCat("SELECT position FROM vigil.projection_checkpoints "
                            "WHERE name = ",
                            tx.quote(live), " FOR UPDATE"))[0]
          .as<uint64_t>();
  uint64_t position =
      tx.exec1(absl::StrCat("SELECT position FROM vigil.projection_checkpoints "
                            "WHERE name = ",
                            tx.quote(checkpoint), " FOR UPDATE"))[0]
          .as<uint64_t>();
  // What the live tables have and the rebuilt ones not yet. A log opened
  // beside the writer must first see what the live runner has applied.
  if (refresh_log && position < live_position) {
    if (absl::Status refreshed = log->Refresh(); !refreshed.ok()) {
      throw std::runtime_error(refreshed.ToString());
    }
  }
  eventlog::LogCursor cursor(
      log, position + 1, {},
      {.page_events = 1000, .end_position = live_position});
  while (position < live_position) {
    absl::StatusOr<eventlog::CursorPage> batch = cursor.Next();
    if (!batch.ok() || batch->events.empty()) {
      throw std::runtime_error(absl::StrCat(
          "reading the log after ", position, ": ",
          batch.ok() ? "no events" : batch.status().ToString()));
    }
    std::vector<DomainEvent> events;
    for (const eventlog::RecordedEvent& event : batch->events) {
      absl::StatusOr<DomainEvent> parsed = ParseDomainEvent(event);
      if (parsed.ok()) {
        events.push_back(*std::move(parsed));
      } else {
        tx.exec(absl::StrCat(
            "INSERT INTO vigil.parked_events (projection, position, stream, "
            "type, error) VALUES (",
            tx.quote(checkpoint), ",", event.position, ",",
            tx.quote(event.stream), ",", tx.quote(event.type), ",",
            tx.quote(std::string(parsed.status().message())),
            ") ON CONFLICT DO NOTHING"));
      }
    }
    projection.Apply(tx, schema, events);
    position = batch->events.back().position;
  }

  const std::string retired = absl::StrCat("vigil_retired_", live);
  tx.exec(absl::StrCat("DROP SCHEMA IF EXISTS ", retired, " CASCADE"));
  tx.exec(absl::StrCat("CREATE SCHEMA ", retired));
  for (const TableSpec& table : projection.tables()) {
    MoveTable(tx, "vigil", retired, table);
    MoveTable(tx, schema, "vigil", table);
  }
  tx.exec(absl::StrCat("DROP SCHEMA ", retired, " CASCADE"));
  tx.exec(absl::StrCat("DROP SCHEMA ", schema, " CASCADE"));
  tx.exec(absl::StrCat("DELETE FROM vigil.parked_events WHERE projection = ",
                       tx.quote(live)));
  tx.exec(absl::StrCat("UPDATE vigil.parked_events SET projection = ",
                       tx.quote(live), " WHERE projection = ",
                       tx.quote(checkpoint)));
  tx.exec(absl::StrCat(
      "UPDATE vigil.projection_checkpoints SET position = ", position,
      ", updated_at = now() WHERE name = ", tx.quote(live)));
  tx.exec(absl::StrCat("DELETE FROM vigil.projection_checkpoints WHERE name = ",
                       tx.quote(checkpoint)));
  internal::NotifyCheckpoint(tx, live, position);
  tx.commit();
  return position;
}

}  // namespace

absl::Status Rebuild(const std::string& name, eventlog::EventLog* log,
                     const RebuildOptions& options) {
  std::vector<std::unique_ptr<Projection>> all =
      NewDomainProjections(options.domain);
  Projection* projection = nullptr;
  std::vector<std::string> names;
  for (auto& candidate : all) {
    names.push_back(candidate->name());
    if (candidate->name() == name) projection = candidate.get();
  }
  if (projection == nullptr) {
    return absl::NotFoundError(absl::StrCat("no projection \"", name,
                                            "\"; there are ",
                                            absl::StrJoin(names, ", ")));
  }
  const std::string schema = absl::StrCat("vigil_rebuild_", name);
  const std::string checkpoint = absl::StrCat("rebuild:", name);

  std::unique_ptr<pqxx::connection> connection;
  bool resumed = false;
  try {
    connection = std::make_unique<pqxx::connection>(options.pg_url);
    resumed = Prepare(*connection, *projection, schema, checkpoint);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL, preparing the rebuild: ", e.what()));
  }

  RunnerOptions runner_options;
  runner_options.pg_url = options.pg_url;
  runner_options.schema = schema;
  runner_options.checkpoint_name = checkpoint;
  runner_options.max_batch_events = options.max_batch_events;
  runner_options.refresh_log = options.refresh_log;
  ProjectionRunner runner(projection, log, runner_options);

  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(runner.CatchUp(0));  // loads the checkpoint
  const uint64_t start_position = runner.checkpoint();
  absl::Time next_report = start;
  auto report = [&](bool swapped) {
    if (!options.progress) return;
    RebuildProgress progress;
    progress.checkpoint = runner.checkpoint();
    progress.head = log->HeadPosition();
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    progress.events_per_second =
        seconds > 0 ? (progress.checkpoint - start_position) / seconds : 0;
    progress.eta_seconds =
        progress.events_per_second > 0 && progress.head > progress.checkpoint
            ? (progress.head - progress.checkpoint) /
                  progress.events_per_second
            : 0;
    progress.resumed = resumed;
    progress.swapped = swapped;
    options.progress(progress);
  };

  while (true) {
    if (options.refresh_log) RETURN_IF_ERROR(log->Refresh());
    const uint64_t head = log->HeadPosition();
    const uint64_t position = runner.checkpoint();
    if (head <= position + options.swap_lag_events) break;
    if (options.max_events_this_run > 0 &&
        position - start_position >= options.max_events_this_run) {
      report(false);
      return absl::AbortedError(absl::StrCat(
          "stopped after ", position - start_position,
          " events as asked; run again to resume from ", position));
    }
    RETURN_IF_ERROR(runner.CatchUp(
        std::min<uint64_t>(head, position + 10 * options.max_batch_events)));
    if (absl::Now() >= next_report) {
      report(false);
      next_report = absl::Now() + options.progress_interval;
    }
  }
  try {
    Swap(*connection, *projection, log, options.refresh_log, schema,
         checkpoint);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "PostgreSQL, swapping in the rebuilt tables (the rebuild can be "
        "resumed): ",
        e.what()));
  }
  report(true);
  return absl::OkStatus();
}

}  // namespace vigil::projections
