// A range of the log for `vigil replay` and `vigil export`: positions or
// times, stream-prefix and type filters, read page by page from --data-dir
// or through --server. Single-threaded, like the tool.

#ifndef VIGIL_TOOLS_VIGIL_LOG_RANGE_H_
#define VIGIL_TOOLS_VIGIL_LOG_RANGE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "tools/vigil/cli.h"

namespace vigil::cli {

struct LogRange {
  uint64_t from = 1;  // first position
  uint64_t to = 0;    // last position; 0: the head when the read starts
  std::optional<int64_t> from_time_us;  // also: recorded at or after it
  std::optional<int64_t> to_time_us;    // also: recorded at or before it
  eventlog::Filter filter;
};

// The value of flag `name` as a time: RFC 3339 or integer microseconds;
// nullopt when absent. INVALID_ARGUMENT naming the flag.
absl::StatusOr<std::optional<int64_t>> ParseTimeFlag(const FlagValues& flags,
                                                     std::string_view name);

// --from, --to, --from-time, --to-time (RFC 3339 or integer microseconds);
// with `filters`, also --stream-prefix and --type.
std::vector<FlagSpec> LogRangeFlags(bool filters);

// INVALID_ARGUMENT naming the flag.
absl::StatusOr<LogRange> ParseLogRange(const FlagValues& flags);

// Calls `each(event, last)` for every event of `range` in position order;
// `last` is the range's last position when known (0 when not: over a
// server without --to). Stops when `each` returns false.
absl::Status ForEachEvent(
    const FlagValues& flags, const LogRange& range,
    const std::function<bool(const eventlog::RecordedEvent&, uint64_t last)>&
        each);

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_LOG_RANGE_H_
