// The bytes of time travel's snapshots: one entry per entity of the folds
// (an agent, a task, a coordination pair, a message pair, an agent-minute,
// a model-minute, a span), keyed so that keys sort by kind and then by id. The
// encoding is deterministic (fixed-width little-endian numbers, doubles by
// their bit pattern, length-prefixed strings) so equal states give equal
// bytes; the state digests of `vigil verify --state-at` hash these bytes.
// Rows are encoded column by column as row_columns.h describes them, so
// entries written before a column was added still decode. A task removed
// since the last snapshot (a placeholder that was no run) has an empty
// entry.
// Pure functions, safe from any thread.

#ifndef VIGIL_PROJECTIONS_INTERNAL_FOLD_CODEC_H_
#define VIGIL_PROJECTIONS_INTERNAL_FOLD_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "projections/folds.h"

namespace vigil::projections::internal {

// The first byte of an entity key: its kind.
inline constexpr char kAgentKind = 'a';
inline constexpr char kTaskKind = 't';
inline constexpr char kPairKind = 'p';
inline constexpr char kMessageKind = 'm';
inline constexpr char kAgentMinuteKind = 'g';
inline constexpr char kUsageMinuteKind = 'u';
inline constexpr char kSpanKind = 's';
// Not an entity: the snapshot's index (SnapshotIndex), one key.
inline constexpr char kIndexKind = 'i';
// Not an entity: the scrubber's rows (PageRows), one key.
inline constexpr char kPageRowsKind = 'r';

// Keys: the kind byte, then each component as "<decimal length>:<bytes>"
// (a minute as its decimal microseconds), so no key holds a NUL byte
// unless an id does.
std::string AgentKey(std::string_view agent_id);
std::string TaskKey(std::string_view task_id);
std::string PairKey(char kind, const AgentPair& pair);
std::string MinuteKeyOf(char kind, const MinuteKey& key);
std::string SpanKeyOf(const SpanKey& key);
// What every span key of trace `trace_id` starts with (and no other key).
std::string TraceKeyPrefix(std::string_view trace_id);

std::string EncodeAgent(const AgentRow& row);
std::string EncodeTask(const TaskRow& row);
std::string EncodePair(const PairCounts& counts);
std::string EncodeMessages(const MessageCounts& counts);
std::string EncodeAgentMinute(const AgentMinute& minute);
std::string EncodeUsageMinute(const UsageMinute& minute);
std::string EncodeSpan(const SpanRow& span);

// What a snapshot adds beside its entities, under IndexKey(), one version
// per snapshot: enough to list the newest tasks after any position without
// decoding every task (TimeTravel::StatePageAt walks `previous` back).
struct SnapshotIndex {
  uint64_t snapshot = 0;  // the snapshot it was written with
  uint64_t previous = 0;  // the snapshot before it; 0: none
  uint64_t task_count = 0;  // tasks in the folds at `snapshot`
  uint64_t span_count = 0;  // spans in the folds at `snapshot`
  // (first_position, task id) of the tasks whose first_position is in
  // (previous, snapshot], newest first.
  std::vector<std::pair<uint64_t, std::string>> created;

  friend bool operator==(const SnapshotIndex&, const SnapshotIndex&) = default;
};
std::string IndexKey();
std::string EncodeIndex(const SnapshotIndex& index);
// nullopt for bytes that do not decode.
std::optional<SnapshotIndex> DecodeIndex(std::string_view value);

// What the scrubber's page shows beside the tasks (TimeTravel::StatePageAt),
// under PageRowsKey(), one version per snapshot, so that the page reads one
// or two values instead of an entry per agent, pair and minute: the entries
// (key and value, as the entity entries) of every agent, coordination pair
// and message pair, and of the agent and model minutes that start at or
// after the snapshot's time less kStateMetricsWindowUs (state_at.h). Whole
// (`base` 0), or only the entries changed since snapshot `base`, whose
// PageRows are whole (the snapshotter writes them whole again once the
// changes reach half as many entries as the whole). Entries are decoded
// with DecodeEntry.
struct PageRows {
  uint64_t snapshot = 0;  // the snapshot it was written with
  uint64_t base = 0;      // 0: whole; else the whole rows it changes
  // Views: of the caller's strings (to encode), of the value (decoded).
  std::vector<std::pair<std::string_view, std::string_view>> entries;
};
std::string PageRowsKey();
std::string EncodePageRows(const PageRows& rows);
// nullopt for bytes that do not decode; the entries point into `value`.
std::optional<PageRows> DecodePageRows(std::string_view value);

// The row of a task entry's non-empty `value` into `row`, whose strings
// keep their capacity (internal/row_codec.h, DecodeRowInto); false for
// bytes that do not decode.
bool DecodeTaskInto(std::string_view value, TaskRow* row);

// Decodes one entry into the fold it belongs to (by the key's kind); an
// empty task entry seeds nothing; spans are skipped when `traces` is null;
// the index entry seeds nothing (it is checked), nor does the page rows'
// entry (it is not).
// DATA_LOSS for bytes that do not decode.
absl::Status DecodeEntry(std::string_view key, std::string_view value,
                         AgentFold* agents, TaskFold* tasks,
                         MetricsFold* metrics, TraceFold* traces = nullptr);

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_FOLD_CODEC_H_
