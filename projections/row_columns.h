// The rows of the read models, each described once: the entity rows
// (AgentRow, TaskRow, SpanRow of folds.h) and the counter rows of coordination
// (PairCounts, MessageCounts, keyed by an AgentPair) and of LLM usage
// (UsageMinute) and per-agent metrics (AgentMinute), keyed by a MinuteKey.
// For every column: its SQL name (schemas/sql), its JSON name, its type,
// the struct member that holds it, and how an upsert merges it. The
// projections' upserts and preloads (internal/row_sql.h), the JSON of the
// REST reads (read_queries.cc) and of time travel (state_json.cc), and the
// snapshot bytes (internal/fold_codec.h) all walk these tables, so adding
// a column to `agents` is a member of AgentRow, a row here, a new SQL
// migration and the dashboard's types.
//
// Rules for a new stored column: append it to the END of its table
// (snapshot entries hold the columns in table order, and
// entries written before the column existed end early: the first
// `snapshot_columns` are the ones every entry holds). Immutable; safe from
// any thread.

#ifndef VIGIL_PROJECTIONS_ROW_COLUMNS_H_
#define VIGIL_PROJECTIONS_ROW_COLUMNS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "projections/folds.h"

namespace vigil::projections {

// How a column is stored, written and rendered. SQL NULL, JSON null and the
// struct's empty value (empty string, 0 time, no priority) are the same.
enum class ColumnType {
  kKey,       // std::string; text NOT NULL (a key or a status); a JSON string
  kText,      // std::string; text, NULL when empty; a JSON string or null
  kInt,       // int64_t; bigint; a JSON number
  kPosition,  // uint64_t; bigint (a log position); a JSON number
  kDouble,    // double; double precision; a JSON number (null if not finite)
  kTime,      // int64_t µs; timestamptz, NULL when 0; JSON µs or null
  kOptionalInt,  // int64_t and its `present` flag; bigint NULL when absent
  kJson,      // std::string of JSON text; jsonb, NULL when empty; inline JSON
  // Not stored, JSON only (the one computed kind): the mean of `int64` (or
  // `real`) over `count`, divided by `divisor`, null when `count` is 0
  // (per-minute buckets summed over a wider bucket: sum(a) / sum(count)).
  // Both members are stored columns of the same table.
  kMean,
};

// How an upsert merges a stored column with the written one (ON CONFLICT).
enum class Merge {
  kReplace,  // col = EXCLUDED.col
  kAdd,      // col = t.col + EXCLUDED.col: the written value is an increment
};

template <typename Row>
struct RowColumn {
  std::string_view sql;   // the column of the table; empty for kMean
  std::string_view json;  // the field of the JSON object; empty: not shown
  ColumnType type;
  // The member that holds the value: the one of `type`'s C++ type.
  std::string Row::*text = nullptr;   // kKey, kText, kJson
  int64_t Row::*int64 = nullptr;      // kInt, kTime, kOptionalInt
  uint64_t Row::*position = nullptr;  // kPosition
  double Row::*real = nullptr;        // kDouble
  bool Row::*present = nullptr;       // kOptionalInt
  Merge merge = Merge::kReplace;
  int64_t Row::*count = nullptr;      // kMean
  double divisor = 1;                 // kMean
};

// An entity row holds its key (columns[0]); a counter row does not: its
// key is the fold's map key, a std::pair (AgentPair or MinuteKey) whose
// parts are the columns `key`, written and shown before `columns`, in the
// order listed. A projection writes a counter row's increments, merged per
// column (`merge`) with the stored row.
struct KeyColumn {
  std::string_view sql;   // text NOT NULL; timestamptz for a minute
  std::string_view json;
  int part;               // 0: the pair's first, 1: its second
  bool minute = false;    // an int64_t µs minute start; JSON µs (never null)
};

template <typename Row>
struct RowTable {
  std::string_view table;  // in schema vigil (or a rebuild's schema)
  // Entity rows: columns[0] (and the next key_columns - 1) are the primary
  // key; a preload selects by columns[0].
  std::span<const RowColumn<Row>> columns;
  // Stored columns every snapshot entry holds (those of the first snapshot
  // format); stored columns after them may be missing from older entries.
  size_t snapshot_columns;
  // Counter rows only: the key's columns.
  std::span<const KeyColumn> key = {};
  // Entity rows: the columns of the primary key.
  size_t key_columns = 1;
};

// The `spans` table: one row per (trace_id, span_id); written by the
// tasks projection. The agents and metrics projections keep the same rows
// (without the JSON columns) as the trace state their folds derive from,
// in `agents_spans` and `metrics_spans`.
const RowTable<SpanRow>& SpanTable();
// Its columns, all stored (a COPY line of spans is this long).
inline constexpr size_t kSpanStoredColumns = 29;
const RowTable<SpanRow>& AgentSpanTable();
const RowTable<SpanRow>& MetricSpanTable();
// The `agents` table: one row per agent.
const RowTable<AgentRow>& AgentTable();
// The `tasks` table: one row per task.
const RowTable<TaskRow>& TaskTable();
// The `coordination` table: tasks per (manager_id, worker_id).
const RowTable<PairCounts>& CoordinationTable();
// The `agent_messages` table: messages per (from_agent, to_agent).
const RowTable<MessageCounts>& MessageTable();
// The `llm_usage` table: LLM calls per (model, minute).
const RowTable<UsageMinute>& UsageTable();
// The `agent_metrics` table (partitioned by day): per (agent_id, minute).
const RowTable<AgentMinute>& AgentMinuteTable();

// The column of `table` whose member is `int64` or `real` (not a kMean):
// the stored sum or count a kMean column names. Empty when none.
template <typename Row>
constexpr std::string_view StoredColumnOf(const RowTable<Row>& table,
                                          int64_t Row::*int64,
                                          double Row::*real = nullptr) {
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    if ((int64 != nullptr && c.int64 == int64) ||
        (real != nullptr && c.real == real)) {
      return c.sql;
    }
  }
  return {};
}

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_ROW_COLUMNS_H_
