// The entity rows of the read models (AgentRow, TaskRow of folds.h), each
// described once: for every column its SQL name (schemas/sql), its JSON
// name, its type, and the struct member that holds it. The projections'
// upserts and preloads (internal/row_sql.h), the JSON of the REST reads
// (read_queries.cc) and of time travel (state_json.cc), and the snapshot
// bytes (internal/fold_codec.h) all walk these tables, so adding a column
// to `agents` is a member of AgentRow, a row here, a new SQL migration and
// the dashboard's types.
//
// Rules for a new column: append it to the END of its table (snapshot
// entries hold the columns in table order, and entries written before the
// column existed end early: the first `snapshot_columns` are the ones every
// entry holds). Immutable; safe from any thread.

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
};

template <typename Row>
struct RowColumn {
  std::string_view sql;   // the column of the table
  std::string_view json;  // the field of the JSON object
  ColumnType type;
  // The member that holds the value: the one of `type`'s C++ type.
  std::string Row::*text = nullptr;   // kKey, kText, kJson
  int64_t Row::*int64 = nullptr;      // kInt, kTime, kOptionalInt
  uint64_t Row::*position = nullptr;  // kPosition
  double Row::*real = nullptr;        // kDouble
  bool Row::*present = nullptr;       // kOptionalInt
};

template <typename Row>
struct RowTable {
  std::string_view table;  // in schema vigil (or a rebuild's schema)
  std::span<const RowColumn<Row>> columns;  // columns[0] is the primary key
  // Columns every snapshot entry holds (those of the first snapshot
  // format); columns after them may be missing from older entries.
  size_t snapshot_columns;
};

// The `agents` table: one row per agent.
const RowTable<AgentRow>& AgentTable();
// The `tasks` table: one row per task.
const RowTable<TaskRow>& TaskTable();

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_ROW_COLUMNS_H_
