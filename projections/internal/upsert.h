// Upsert: writes the rows a fold changed into one read-model table. An
// entity row replaces the stored row with its key; a counter row is merged
// into it column by column (row_columns.h, Merge). Which statement carries
// the rows depends on how many there are:
//
//  - fewer than kCopyMinRows (a live batch): multi-row
//    INSERT ... VALUES ... ON CONFLICT DO UPDATE, kRowsPerStatement rows per
//    statement; one round trip, no DDL.
//  - kCopyMinRows or more (catching up, replaying): COPY into a staging
//    table and one set-based INSERT ... SELECT ... ON CONFLICT DO UPDATE
//    from it, which empties the staging table as it reads it (a DELETE ...
//    RETURNING in the same statement). COPY costs the server a fraction of
//    parsing the literals of a multi-row VALUES.
//
// The staging table is a temporary table LIKE the target, one per session
// (connection), schema and table, created by the first Upsert that needs it
// and reused by every later transaction of the session: creating and
// dropping it in every batch cost the server ~3.6 ms of catalog writes a
// table, and `ON COMMIT DELETE ROWS` moved about as much into every COMMIT
// (benchmarks/RESULTS.md). The merge leaves dead rows behind (no autovacuum
// for temporary tables), so an Upsert that finds the staging table at
// kStagingTruncateBytes or more truncates it first: it stays under that
// bound plus one batch's rows. Whether it exists and its size are asked of
// the catalog in the transaction itself (one cheap SELECT), so a
// transaction that created it and then rolled back leaves nothing stale.
//
// Either way the rows of one Upsert must have distinct keys (a fold's maps
// guarantee it), and the written values are the same (tests compare the
// two paths). Used within one transaction by one thread; at most one
// Upsert (or other COPY) in flight per transaction. Header-only: it is a
// template over the row type, like row_sql.h.

#ifndef VIGIL_PROJECTIONS_INTERNAL_UPSERT_H_
#define VIGIL_PROJECTIONS_INTERNAL_UPSERT_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>
#include <pqxx/stream_to>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "projections/internal/row_sql.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {

// Rows per INSERT ... VALUES statement: large enough to amortize the round
// trip, small enough to keep one statement's text in the low megabytes.
inline constexpr size_t kRowsPerStatement = 1000;
// From this many rows on, an Upsert stages them with COPY: below it the
// staging path's three round trips (size check, COPY, merge) cost more than
// the literals' parse (32 measured no better; benchmarks/RESULTS.md).
inline constexpr size_t kCopyMinRows = 200;
// A staging table this large (dead rows of earlier merges) is truncated
// before it is used again: the default temp_buffers, so that the merge's
// scan of it stays in the session's local buffers.
inline constexpr int64_t kStagingTruncateBytes = 8 << 20;

// Columns a COPY line may have (libpqxx 6 streams a row only from a
// tuple-like type, so the line is a std::array of one of these sizes).
inline constexpr size_t kMaxCopyColumns = 32;

template <size_t N>
void WriteCopyLineOf(pqxx::stream_to& copy,
                     const std::vector<const char*>& values) {
  std::array<const char*, N> line;  // nullptr: NULL
  std::copy_n(values.begin(), N, line.begin());
  copy << line;
}

template <size_t... N>
constexpr auto CopyLineWriters(std::index_sequence<N...>) {
  return std::array<void (*)(pqxx::stream_to&, const std::vector<const char*>&),
                    sizeof...(N)>{&WriteCopyLineOf<N + 1>...};
}

// Writes one COPY line: `values` as CopyValues returns them (1 to
// kMaxCopyColumns of them; more is a programmer's error: std::logic_error).
// `line` is scratch space, reused across calls.
inline void WriteCopyLine(pqxx::stream_to& copy,
                          const std::vector<std::optional<std::string>>& values,
                          std::vector<const char*>* line) {
  static constexpr auto kWriters =
      CopyLineWriters(std::make_index_sequence<kMaxCopyColumns>());
  if (values.empty() || values.size() > kMaxCopyColumns) {
    throw std::logic_error(absl::StrCat("a COPY line of ", values.size(),
                                        " columns; at most ",
                                        kMaxCopyColumns));
  }
  line->resize(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    (*line)[i] = values[i].has_value() ? values[i]->c_str() : nullptr;
  }
  kWriters[values.size() - 1](copy, *line);
}

template <typename Row>
class Upsert {
 public:
  // `rows`: how many rows will be added (it picks the statement).
  Upsert(pqxx::work& tx, const std::string& schema, const RowTable<Row>& table,
         size_t rows)
      : tx_(tx),
        target_(absl::StrCat(schema, ".", AsAbslView(table.table))),
        table_(table) {
    if (rows < kCopyMinRows) {
      literals_.reserve(rows);
      return;
    }
    staging_ = absl::StrCat("pg_temp.vigil_stage_", schema, "_",
                            AsAbslView(table.table));
    // -1: no such table yet.
    const int64_t bytes =
        tx_.exec1(absl::StrCat("SELECT coalesce(pg_relation_size(to_regclass(",
                               tx_.quote(staging_), ")), -1)"))[0]
            .as<int64_t>();
    if (bytes < 0) {
      tx_.exec(absl::StrCat("CREATE TEMPORARY TABLE ", staging_, " (LIKE ",
                            target_, ")"));
    } else if (bytes >= kStagingTruncateBytes) {
      tx_.exec(absl::StrCat("TRUNCATE ", staging_));
    }
    copy_ = std::make_unique<pqxx::stream_to>(tx_, staging_,
                                              ColumnNames(table_));
  }

  // An entity row.
  void Add(const Row& row) {
    if (copy_ != nullptr) {
      WriteCopyLine(*copy_, CopyValues(row, table_), &line_);
    } else {
      literals_.push_back(SqlRow(tx_, row, table_));
    }
  }

  // A counter row and its key (an AgentPair or a MinuteKey).
  template <typename Second>
  void Add(const std::pair<std::string, Second>& key, const Row& row) {
    if (copy_ != nullptr) {
      WriteCopyLine(*copy_, CopyValues(key, row, table_), &line_);
    } else {
      literals_.push_back(SqlRow(tx_, key, row, table_));
    }
  }

  // Writes what was added. Throws what libpqxx throws.
  void Finish() {
    const std::string columns = absl::StrJoin(ColumnNames(table_), ",");
    const std::string merge =
        absl::StrCat(" ON CONFLICT (", KeyColumns(table_), ") DO UPDATE SET ",
                     MergeColumns(table_, "t"));
    if (copy_ != nullptr) {
      copy_->complete();
      copy_.reset();
      // Emptied by the merge itself: a transaction may apply several
      // batches (a rebuild's swap), and the next transaction reuses it.
      tx_.exec(absl::StrCat("WITH staged AS (DELETE FROM ", staging_,
                            " RETURNING ", columns, ") INSERT INTO ", target_,
                            " AS t (", columns, ") SELECT ", columns,
                            " FROM staged", merge));
      return;
    }
    for (size_t begin = 0; begin < literals_.size();
         begin += kRowsPerStatement) {
      const size_t end = std::min(literals_.size(), begin + kRowsPerStatement);
      std::string sql =
          absl::StrCat("INSERT INTO ", target_, " AS t (", columns, ") VALUES ");
      for (size_t i = begin; i < end; ++i) {
        absl::StrAppend(&sql, i == begin ? "" : ",", literals_[i]);
      }
      absl::StrAppend(&sql, merge);
      tx_.exec(sql);
    }
    literals_.clear();
  }

 private:
  pqxx::work& tx_;
  const std::string target_;
  const RowTable<Row>& table_;
  std::vector<std::string> literals_;  // the VALUES path
  std::string staging_;                // the COPY path
  std::unique_ptr<pqxx::stream_to> copy_;
  std::vector<const char*> line_;
};

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_UPSERT_H_
