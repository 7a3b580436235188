// The folds decoded from the whole page rows (internal::PageRows with base
// 0) of the last few snapshots that had them, so that the scrubber's pages
// at neighbouring positions, which share those rows, decode them once
// (TimeTravel::StatePageAt). An entry answers only for the very bytes it
// was decoded from: rows rewritten under the same snapshot are decoded
// again, never answered from the old entry. Thread-safe.

#ifndef VIGIL_PROJECTIONS_INTERNAL_PAGE_ROWS_CACHE_H_
#define VIGIL_PROJECTIONS_INTERNAL_PAGE_ROWS_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "projections/internal/fold_codec.h"
#include "projections/state_at.h"

namespace vigil::projections::internal {

class PageRowsCache {
 public:
  // Keeps at most `capacity` entries (0: none, every call decodes).
  explicit PageRowsCache(size_t capacity) : capacity_(capacity) {}

  // Sets `state`'s agents, task fold (pairs, no tasks) and metrics to the
  // rows of `rows` (whole page rows of snapshot rows.snapshot, decoded from
  // `bytes`): a copy of the entry decoded from the same bytes, else
  // decoded here (and kept, the oldest entry dropped). True when copied.
  // DATA_LOSS for entries that do not decode.
  absl::StatusOr<bool> SetWhole(const PageRows& rows, std::string_view bytes,
                                SystemState* state);

 private:
  struct Entry {
    uint64_t snapshot = 0;
    std::string bytes;
    SystemState rows;  // agents, pairs, message pairs and minutes only
  };

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mu_);  // newest last
};

// Decodes the entries of `rows` into `state`'s agents, task pairs and
// metrics. DATA_LOSS for entries that do not decode.
absl::Status AddPageRows(const PageRows& rows, SystemState* state);

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_PAGE_ROWS_CACHE_H_
