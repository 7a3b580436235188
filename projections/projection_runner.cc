#include "projections/projection_runner.h"

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "projections/domain_event.h"
#include "projections/internal/pg_connection.h"
#include "projections/internal/projection.h"
#include "projections/internal/sql.h"

namespace vigil::projections {
namespace {

// SQLSTATE classes worth retrying as they are: connection exceptions (08),
// transaction rollbacks such as serialization failures and deadlocks (40),
// insufficient resources (53), operator intervention such as a server
// shutting down (57), system errors (58), and the race of two transactions
// creating the same partition (42P07 duplicate table, 23505 on its type).
bool IsTransient(const std::string& sqlstate) {
  const absl::string_view s(sqlstate);
  return absl::StartsWith(s, "08") || absl::StartsWith(s, "40") ||
         absl::StartsWith(s, "53") || absl::StartsWith(s, "57") ||
         absl::StartsWith(s, "58") || s == "42P07" || s.empty();
}

std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

void InsertParked(pqxx::work& tx, const std::string& projection,
                  const std::vector<ParkedEvent>& parked) {
  for (const ParkedEvent& p : parked) {
    tx.exec(absl::StrCat(
        "INSERT INTO vigil.parked_events (projection, position, stream, type, "
        "error) VALUES (",
        tx.quote(projection), ",", p.position, ",", tx.quote(p.stream), ",",
        tx.quote(p.type), ",", tx.quote(p.error),
        ") ON CONFLICT (projection, position) DO NOTHING"));
  }
}

// The compare-and-set of the checkpoint; first in the transaction, so a
// second runner blocks on the row lock and then finds it moved.
bool AdvanceCheckpoint(pqxx::work& tx, const std::string& name, uint64_t from,
                       uint64_t to) {
  const pqxx::result r = tx.exec(absl::StrCat(
      "UPDATE vigil.projection_checkpoints SET position = ", to,
      ", updated_at = now() WHERE name = ", tx.quote(name),
      " AND position = ", from));
  return r.affected_rows() == 1;
}

}  // namespace

void ParseBatch(const std::vector<eventlog::RecordedEvent>& page,
                ParsedBatch* batch) {
  batch->events.clear();
  batch->parked.clear();
  batch->first = batch->last = 0;
  if (page.empty()) return;
  batch->first = page.front().position;
  batch->last = page.back().position;
  batch->first_time_us = page.front().recorded_time_us;
  batch->first_stream = page.front().stream;
  batch->first_type = page.front().type;
  for (const eventlog::RecordedEvent& event : page) {
    absl::StatusOr<DomainEvent> parsed = ParseDomainEvent(event);
    if (parsed.ok()) {
      batch->events.push_back(*std::move(parsed));
    } else {
      batch->parked.push_back({event.position, event.stream, event.type,
                               std::string(parsed.status().message())});
    }
  }
}

ProjectionRunner::ProjectionRunner(Projection* projection,
                                   eventlog::EventLog* log,
                                   RunnerOptions options)
    : projection_(projection),
      log_(log),
      options_(std::move(options)),
      checkpoint_name_(options_.checkpoint_name.empty()
                           ? projection->name()
                           : options_.checkpoint_name),
      cursor_(log, 1, {},
              {.page_events = options_.max_batch_events,
               .page_bytes = options_.max_batch_bytes}) {
  status_.name = checkpoint_name_;
  status_.state = "starting";
  if (options_.metrics != nullptr) {
    base::Metrics& m = *options_.metrics;
    const std::vector<std::string_view> labels = {checkpoint_name_};
    checkpoint_gauge_ =
        m.AddGauge("vigil_projection_checkpoint",
                   "Last log position applied to the read models.",
                   {"projection"})
            ->WithLabels(labels);
    lag_events_gauge_ =
        m.AddGauge("vigil_projection_lag_events",
                   "Events in the log not yet applied by the projection.",
                   {"projection"})
            ->WithLabels(labels);
    lag_seconds_gauge_ =
        m.AddGauge("vigil_projection_lag_seconds",
                   "Age of the oldest event not yet applied (0 when live).",
                   {"projection"})
            ->WithLabels(labels);
    events_counter_ = m.AddCounter("vigil_projection_events_total",
                                   "Events applied by the projection.",
                                   {"projection"})
                          ->WithLabels(labels);
    parked_counter_ =
        m.AddCounter("vigil_projection_parked_total",
                     "Poison events parked by this process.", {"projection"})
            ->WithLabels(labels);
    parked_gauge_ = m.AddGauge("vigil_projection_parked_events",
                               "Events in vigil.parked_events.",
                               {"projection"})
                        ->WithLabels(labels);
    stalled_gauge_ = m.AddGauge(
                          "vigil_projection_stalled",
                          "1 while the projection retries a failed batch "
                          "(PostgreSQL down or its disk full), else 0.",
                          {"projection"})
                         ->WithLabels(labels);
    retries_counter_ = m.AddCounter("vigil_projection_retries_total",
                                    "Failed attempts, retried with backoff.",
                                    {"projection"})
                           ->WithLabels(labels);
  }
}

ProjectionRunner::~ProjectionRunner() { Stop(); }

void ProjectionRunner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void ProjectionRunner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  absl::MutexLock lock(&mu_);
  status_.state = "stopped";
}

bool ProjectionRunner::SleepUnlessStopped(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
  return !stopping_;
}

ProjectionStatus ProjectionRunner::status() const {
  absl::MutexLock lock(&mu_);
  ProjectionStatus status = status_;
  status.head = log_->HeadPosition();
  status.lag_events =
      status.head > status.checkpoint ? status.head - status.checkpoint : 0;
  status.lag_seconds =
      status.lag_events == 0 || pending_time_us_ == 0
          ? 0
          : std::max(0.0, absl::ToDoubleSeconds(
                              absl::Now() - absl::FromUnixMicros(
                                                pending_time_us_)));
  return status;
}

uint64_t ProjectionRunner::checkpoint() const {
  absl::MutexLock lock(&mu_);
  return status_.checkpoint;
}

bool ProjectionRunner::WaitFor(uint64_t position, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, position]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return status_.checkpoint >= position;
  };
  mu_.AwaitWithDeadline(absl::Condition(&reached), deadline);
  return status_.checkpoint >= position;
}

void ProjectionRunner::Publish() {
  if (checkpoint_gauge_ == nullptr) return;
  const ProjectionStatus s = status();
  checkpoint_gauge_->Set(static_cast<double>(s.checkpoint));
  lag_events_gauge_->Set(static_cast<double>(s.lag_events));
  lag_seconds_gauge_->Set(s.lag_seconds);
  parked_gauge_->Set(static_cast<double>(s.parked));
  stalled_gauge_->Set(s.state == "retrying" ? 1 : 0);
}

absl::Status ProjectionRunner::Connect() {
  try {
    connection_ = std::make_unique<internal::PgConnection>(options_.pg_url);
    // A commit need not wait for its WAL flush: writes and checkpoint are
    // one transaction, so a PostgreSQL crash can only lose both together,
    // and the projection then applies those events again. Exactly once
    // holds; the fsync leaves the critical path.
    connection_->set_variable("synchronous_commit", "off");
    pqxx::work tx(*connection_);
    tx.exec(absl::StrCat(
        "INSERT INTO vigil.projection_checkpoints (name) VALUES (",
        tx.quote(checkpoint_name_), ") ON CONFLICT (name) DO NOTHING"));
    const pqxx::row row = tx.exec1(absl::StrCat(
        "SELECT position, (SELECT count(*) FROM vigil.parked_events WHERE "
        "projection = ",
        tx.quote(checkpoint_name_),
        ") FROM vigil.projection_checkpoints WHERE name = ",
        tx.quote(checkpoint_name_)));
    tx.commit();
    absl::MutexLock lock(&mu_);
    status_.checkpoint = row[0].as<uint64_t>();
    status_.parked = row[1].as<uint64_t>();
    checkpoint_loaded_ = true;
    return absl::OkStatus();
  } catch (const std::exception& e) {
    connection_.reset();
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: ", OneLine(e.what())));
  }
}

absl::Status ProjectionRunner::Step(size_t* applied) {
  *applied = 0;
  if (connection_ == nullptr || !checkpoint_loaded_) {
    RETURN_IF_ERROR(Connect());
  }
  if (options_.refresh_log) RETURN_IF_ERROR(log_->Refresh());
  const uint64_t from = checkpoint();
  const uint64_t head = log_->HeadPosition();
  if (head <= from) {
    absl::MutexLock lock(&mu_);
    pending_time_us_ = 0;
    return absl::OkStatus();
  }

  // The batch: what the log has, within the bounds; one event at a time
  // while isolating a poison event.
  const size_t max_events =
      isolate_until_ > from ? 1 : options_.max_batch_events;
  cursor_.Seek(from + 1);  // the checkpoint is PostgreSQL's
  ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor_.Next(max_events));
  ParseBatch(page.events, &parsed_);
  if (parsed_.size() == 0) return absl::OkStatus();
  return Commit(parsed_, applied);
}

absl::Status ProjectionRunner::Commit(const ParsedBatch& batch,
                                      size_t* applied) {
  *applied = 0;
  const uint64_t from = checkpoint();
  if (batch.size() == 0) return absl::OkStatus();
  if (batch.first != from + 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "projection ", checkpoint_name_, ": a batch from position ",
        batch.first, " does not follow checkpoint ", from));
  }
  {
    absl::MutexLock lock(&mu_);
    pending_time_us_ = batch.first_time_us;
  }
  const uint64_t to = batch.last;
  size_t parked = batch.parked.size();

  try {
    pqxx::work tx(*connection_);
    if (!AdvanceCheckpoint(tx, checkpoint_name_, from, to)) {
      // Another runner moved the checkpoint: start again from its value.
      tx.abort();
      checkpoint_loaded_ = false;
      return absl::AbortedError(absl::StrCat(
          "checkpoint ", checkpoint_name_, " is no longer at ", from,
          ": another runner is applying this projection"));
    }
    projection_->Apply(tx, options_.schema, batch.events);
    InsertParked(tx, checkpoint_name_, batch.parked);
    internal::NotifyCheckpoint(tx, checkpoint_name_, to);
    tx.commit();
  } catch (const pqxx::broken_connection& e) {
    connection_.reset();
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL connection lost: ", OneLine(e.what())));
  } catch (const pqxx::in_doubt_error& e) {
    // The commit may or may not have happened: reload the checkpoint.
    connection_.reset();
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL commit in doubt: ", OneLine(e.what())));
  } catch (const pqxx::sql_error& e) {
    if (IsTransient(e.sqlstate())) {
      return absl::UnavailableError(absl::StrCat(
          "PostgreSQL (", e.sqlstate(), "): ", OneLine(e.what())));
    }
    if (batch.size() > 1) {
      // Some event of the batch breaks a statement: redo the batch one
      // event at a time to find it.
      isolate_until_ = to;
      return absl::OkStatus();
    }
    // This one event cannot be applied: park it and move past it.
    try {
      pqxx::work tx(*connection_);
      if (!AdvanceCheckpoint(tx, checkpoint_name_, from, to)) {
        tx.abort();
        checkpoint_loaded_ = false;
        return absl::AbortedError("checkpoint moved by another runner");
      }
      InsertParked(tx, checkpoint_name_,
                   {{batch.first, batch.first_stream, batch.first_type,
                     absl::StrCat("SQL error ", e.sqlstate(), ": ",
                                  OneLine(e.what()))}});
      internal::NotifyCheckpoint(tx, checkpoint_name_, to);
      tx.commit();
      parked = 1;
    } catch (const std::exception& again) {
      connection_.reset();
      return absl::UnavailableError(absl::StrCat(
          "PostgreSQL, parking position ", to, ": ", OneLine(again.what())));
    }
  } catch (const std::exception& e) {
    connection_.reset();
    return absl::UnavailableError(
        absl::StrCat("PostgreSQL: ", OneLine(e.what())));
  }

  *applied = batch.size();
  {
    absl::MutexLock lock(&mu_);
    status_.checkpoint = to;
    status_.events_applied += batch.size();
    status_.parked += parked;
    status_.last_error.clear();
    pending_time_us_ = 0;
  }
  if (events_counter_ != nullptr) {
    events_counter_->Increment(batch.size());
    parked_counter_->Increment(parked);
  }
  return absl::OkStatus();
}

void ProjectionRunner::Loop() {
  absl::Duration backoff = options_.min_backoff;
  bool stalled = false;  // said so on stderr
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    size_t applied = 0;
    const absl::Status status = Step(&applied);
    if (!status.ok() && !absl::IsAborted(status)) {
      if (!stalled) {
        std::fprintf(stderr,
                     "vigild: projection %s stalled at checkpoint %llu, "
                     "retrying with backoff: %s\n",
                     checkpoint_name_.c_str(),
                     static_cast<unsigned long long>(checkpoint()),
                     std::string(status.message()).c_str());
        stalled = true;
      }
      {
        absl::MutexLock lock(&mu_);
        status_.state = "retrying";
        status_.last_error = std::string(status.message());
        ++status_.retries;
      }
      if (retries_counter_ != nullptr) retries_counter_->Increment();
      Publish();
      if (!SleepUnlessStopped(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    backoff = options_.min_backoff;
    const uint64_t position = checkpoint();
    if (stalled) {
      std::fprintf(stderr, "vigild: projection %s resumed at checkpoint %llu\n",
                   checkpoint_name_.c_str(),
                   static_cast<unsigned long long>(position));
      stalled = false;
    }
    {
      absl::MutexLock lock(&mu_);
      status_.state = applied > 0 && log_->HeadPosition() > position
                          ? "catching_up"
                          : "live";
    }
    Publish();
    if (applied == 0 && !absl::IsAborted(status)) {
      if (options_.refresh_log) {
        if (!SleepUnlessStopped(options_.idle_wait)) return;
      } else {
        cursor_.Seek(position + 1);
        cursor_.WaitForMore(absl::Now() + options_.idle_wait);
      }
    }
  }
}

absl::Status ProjectionRunner::CatchUp(uint64_t position) {
  if (options_.refresh_log) RETURN_IF_ERROR(log_->Refresh());
  const uint64_t target = std::min(position, log_->HeadPosition());
  while (true) {
    if (checkpoint_loaded_ && checkpoint() >= target) return absl::OkStatus();
    size_t applied = 0;
    absl::Status status = Step(&applied);
    if (absl::IsAborted(status)) continue;  // reload and go on
    RETURN_IF_ERROR(status);
  }
}

}  // namespace vigil::projections
