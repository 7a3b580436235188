#include "projections/internal/page_rows_cache.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "base/status_macros.h"

namespace vigil::projections::internal {

absl::Status AddPageRows(const PageRows& rows, SystemState* state) {
  for (const auto& [key, value] : rows.entries) {
    RETURN_IF_ERROR(DecodeEntry(key, value, &state->agents, &state->tasks,
                                &state->metrics));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> PageRowsCache::SetWhole(const PageRows& rows,
                                     std::string_view bytes,
                                     SystemState* state) {
  {
    absl::MutexLock lock(&mu_);
    for (const std::unique_ptr<Entry>& entry : entries_) {
      if (entry->snapshot != rows.snapshot || entry->bytes != bytes) continue;
      state->agents = entry->rows.agents;
      state->tasks = entry->rows.tasks;
      state->metrics = entry->rows.metrics;
      return true;
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->snapshot = rows.snapshot;
  RETURN_IF_ERROR(AddPageRows(rows, &entry->rows));
  state->agents = entry->rows.agents;
  state->tasks = entry->rows.tasks;
  state->metrics = entry->rows.metrics;
  if (capacity_ == 0) return false;
  entry->bytes = std::string(bytes);
  absl::MutexLock lock(&mu_);
  // Another call may have added the same rows meanwhile: keep one.
  std::erase_if(entries_, [&](const std::unique_ptr<Entry>& e) {
    return e->snapshot == entry->snapshot;
  });
  if (entries_.size() >= capacity_) entries_.erase(entries_.begin());
  entries_.push_back(std::move(entry));
  return false;
}

}  // namespace vigil::projections::internal
