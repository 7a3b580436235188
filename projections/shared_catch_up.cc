#include "projections/shared_catch_up.h"

#include <algorithm>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/status_macros.h"
#include "eventlog/log_cursor.h"

namespace vigil::projections {

SharedCatchUp::SharedCatchUp(std::vector<ProjectionRunner*> runners,
                             eventlog::EventLog* log,
                             SharedCatchUpOptions options)
    : runners_(std::move(runners)), log_(log), options_(options) {}

absl::Status SharedCatchUp::Apply(ProjectionRunner* runner,
                                  const ParsedBatch& batch) {
  const uint64_t checkpoint = runner->checkpoint();
  if (checkpoint >= batch.last) return absl::OkStatus();
  if (runner->connection_ != nullptr && runner->checkpoint_loaded_ &&
      runner->isolate_until_ <= checkpoint && checkpoint + 1 == batch.first) {
    size_t applied = 0;
    const absl::Status status = runner->Commit(batch, &applied);
    if (!status.ok() && !absl::IsAborted(status)) return status;
    if (runner->checkpoint() >= batch.last) return absl::OkStatus();
  }
  // Behind the page or inside it, isolating a poison event, or moved by
  // another runner: the runner's own loop reads what it needs.
  return runner->CatchUp(batch.last);
}

absl::Status SharedCatchUp::CatchUp(uint64_t position) {
  if (runners_.empty()) return absl::OkStatus();
  bool refresh = false;
  for (ProjectionRunner* runner : runners_) {
    refresh = refresh || runner->options_.refresh_log;
  }
  if (refresh) RETURN_IF_ERROR(log_->Refresh());
  const uint64_t target = std::min(position, log_->HeadPosition());
  uint64_t from = UINT64_MAX;
  for (ProjectionRunner* runner : runners_) {
    if (runner->connection_ == nullptr || !runner->checkpoint_loaded_) {
      RETURN_IF_ERROR(runner->Connect());
    }
    from = std::min(from, runner->checkpoint());
  }
  if (from >= target) return absl::OkStatus();

  eventlog::LogCursor cursor(log_, from + 1, {},
                             {.page_events = options_.max_batch_events,
                              .page_bytes = options_.max_batch_bytes,
                              .end_position = target});
  auto read = [&cursor](ParsedBatch* batch) -> absl::Status {
    if (cursor.AtEnd()) {
      ParseBatch({}, batch);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor.Next());
    ParseBatch(page.events, batch);
    return absl::OkStatus();
  };
  ParsedBatch current;
  ParsedBatch next;
  RETURN_IF_ERROR(read(&current));
  std::vector<absl::Status> statuses(runners_.size());
  while (current.size() > 0) {
    std::vector<std::thread> writers;
    for (size_t i = 0; i < runners_.size(); ++i) {
      writers.emplace_back([this, i, &current, &statuses] {
        statuses[i] = Apply(runners_[i], current);
        runners_[i]->Publish();  // the gauges, as the runner's loop does
      });
    }
    // The next page is read and parsed while this one is written.
    const absl::Status read_status = read(&next);
    for (std::thread& writer : writers) writer.join();
    for (const absl::Status& status : statuses) RETURN_IF_ERROR(status);
    RETURN_IF_ERROR(read_status);
    std::swap(current, next);
  }
  // A runner whose loop ran ahead is past the target; one that was ahead
  // of every page is too. Nothing is left below the target.
  return absl::OkStatus();
}

}  // namespace vigil::projections
