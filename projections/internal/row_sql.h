// The SQL of a row, from its description (projections/row_columns.h): the
// column list and merge clause of an upsert, the literal of one row (an
// entity row, or a counter row with its key), and the select list and
// reading of a preload. kMean columns are not stored and appear in none of
// these. Header-only.

#ifndef VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_
#define VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "projections/folds.h"
#include "projections/internal/sql.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {

inline absl::string_view AsAbslView(std::string_view s) {
  return {s.data(), s.size()};
}

// The stored column names, in table order: a counter row's key first.
template <typename Row>
std::vector<std::string> ColumnNames(const RowTable<Row>& table) {
  std::vector<std::string> names;
  for (const KeyColumn& k : table.key) names.emplace_back(k.sql);
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type != ColumnType::kMean) names.emplace_back(c.sql);
  }
  return names;
}

// The conflict target of an upsert: the primary key's columns.
template <typename Row>
std::string KeyColumns(const RowTable<Row>& table) {
  std::string out;
  if (table.key.empty()) {
    for (size_t i = 0; i < table.key_columns; ++i) {
      absl::StrAppend(&out, out.empty() ? "" : ", ",
                      AsAbslView(table.columns[i].sql));
    }
    return out;
  }
  for (const KeyColumn& k : table.key) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", AsAbslView(k.sql));
  }
  return out;
}

// The SET list of an upsert into `table AS alias`: every stored column but
// the key, merged as its description says.
template <typename Row>
std::string MergeColumns(const RowTable<Row>& table, std::string_view alias) {
  std::string out;
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    const absl::string_view name = AsAbslView(c.sql);
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, " = ");
    if (c.merge == Merge::kAdd) {
      absl::StrAppend(&out, AsAbslView(alias), ".", name, " + ");
    }
    absl::StrAppend(&out, "EXCLUDED.", name);
  }
  return out;
}

// The select list ReadRow reads: times as UTC µs, jsonb as its text.
template <typename Row>
std::string RowSelectList(const RowTable<Row>& table) {
  std::string out;
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    absl::StrAppend(&out, out.empty() ? "" : ", ");
    switch (c.type) {
      case ColumnType::kTime:
        absl::StrAppend(&out, MicrosOf(c.sql));
        break;
      case ColumnType::kJson:
        absl::StrAppend(&out, AsAbslView(c.sql), "::text");
        break;
      default:
        absl::StrAppend(&out, AsAbslView(c.sql));
        break;
    }
  }
  return out;
}

// A row selected with RowSelectList.
template <typename Row>
Row ReadRow(const pqxx::row& r, const RowTable<Row>& table) {
  Row row;
  pqxx::row::size_type i = 0;
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    const pqxx::field f = r[i++];
    switch (c.type) {
      case ColumnType::kKey:
        row.*c.text = f.as<std::string>();
        break;
      case ColumnType::kText:
      case ColumnType::kJson:
        row.*c.text = TextField(f);
        break;
      case ColumnType::kInt:
        row.*c.int64 = f.as<int64_t>();
        break;
      case ColumnType::kPosition:
        row.*c.position = f.as<uint64_t>();
        break;
      case ColumnType::kDouble:
        row.*c.real = f.as<double>();
        break;
      case ColumnType::kTime:
        row.*c.int64 = MicrosField(f);
        break;
      case ColumnType::kOptionalInt:
        row.*c.present = !f.is_null();
        row.*c.int64 = f.is_null() ? 0 : f.as<int64_t>();
        break;
      case ColumnType::kMean:
        break;
    }
  }
  return row;
}

// "v1,v2,...": the stored columns of `row`, appended to `out`.
template <typename Row>
void AppendSqlValues(const pqxx::transaction_base& tx, const Row& row,
                     const RowTable<Row>& table, std::string* out_text) {
  std::string& out = *out_text;
  bool first = true;
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    if (!first) out.push_back(',');
    first = false;
    switch (c.type) {
      case ColumnType::kKey:
        absl::StrAppend(&out, SqlText(tx, row.*c.text));
        break;
      case ColumnType::kText:
        absl::StrAppend(&out, SqlTextOrNull(tx, row.*c.text));
        break;
      case ColumnType::kInt:
        absl::StrAppend(&out, row.*c.int64);
        break;
      case ColumnType::kPosition:
        absl::StrAppend(&out, row.*c.position);
        break;
      case ColumnType::kDouble:
        absl::StrAppend(&out, SqlDouble(row.*c.real));
        break;
      case ColumnType::kTime:
        absl::StrAppend(&out, SqlTime(row.*c.int64));
        break;
      case ColumnType::kOptionalInt:
        absl::StrAppend(&out, row.*c.present ? absl::StrCat(row.*c.int64)
                                             : std::string("NULL"));
        break;
      case ColumnType::kJson:
        absl::StrAppend(&out, (row.*c.text).empty()
                                  ? std::string("NULL")
                                  : absl::StrCat(SqlText(tx, row.*c.text),
                                                 "::jsonb"));
        break;
      case ColumnType::kMean:
        break;
    }
  }
}

// The stored columns of `row` in table order, as the text COPY ... FROM
// STDIN reads (nullopt: NULL): for rows that are only ever inserted, COPY
// costs a fraction of a multi-row INSERT's parse of its literals.
template <typename Row>
std::vector<std::optional<std::string>> CopyValues(const Row& row,
                                                   const RowTable<Row>& table) {
  std::vector<std::optional<std::string>> out;
  for (const RowColumn<Row>& c : table.columns) {
    switch (c.type) {
      case ColumnType::kKey:
        out.emplace_back(row.*c.text);
        break;
      case ColumnType::kText:
      case ColumnType::kJson:
        if ((row.*c.text).empty()) {
          out.emplace_back(std::nullopt);
        } else {
          out.emplace_back(row.*c.text);
        }
        break;
      case ColumnType::kInt:
        out.emplace_back(absl::StrCat(row.*c.int64));
        break;
      case ColumnType::kPosition:
        out.emplace_back(absl::StrCat(row.*c.position));
        break;
      case ColumnType::kDouble:
        out.emplace_back(SqlDouble(row.*c.real));
        break;
      case ColumnType::kTime:
        if (row.*c.int64 == 0) {
          out.emplace_back(std::nullopt);
        } else {
          out.emplace_back(TimeText(row.*c.int64));
        }
        break;
      case ColumnType::kOptionalInt:
        if (row.*c.present) {
          out.emplace_back(absl::StrCat(row.*c.int64));
        } else {
          out.emplace_back(std::nullopt);
        }
        break;
      case ColumnType::kMean:
        break;
    }
  }
  return out;
}

// The COPY values of a counter row and its key (an AgentPair or a
// MinuteKey): the key's columns first, as ColumnNames lists them.
template <typename Second, typename Row>
std::vector<std::optional<std::string>> CopyValues(
    const std::pair<std::string, Second>& key, const Row& row,
    const RowTable<Row>& table) {
  std::vector<std::optional<std::string>> out;
  for (const KeyColumn& k : table.key) {
    if (k.part == 0) {
      out.emplace_back(key.first);
    } else if constexpr (std::is_same_v<Second, std::string>) {
      out.emplace_back(key.second);
    } else {
      out.emplace_back(TimeText(key.second));
    }
  }
  std::vector<std::optional<std::string>> values = CopyValues(row, table);
  out.insert(out.end(), std::make_move_iterator(values.begin()),
             std::make_move_iterator(values.end()));
  return out;
}

// "(v1,v2,...)": `row` as the literal of a multi-row INSERT.
template <typename Row>
std::string SqlRow(const pqxx::transaction_base& tx, const Row& row,
                   const RowTable<Row>& table) {
  std::string out = "(";
  AppendSqlValues(tx, row, table, &out);
  out.push_back(')');
  return out;
}

// "(k1,k2,v1,...)": a counter row and its key (an AgentPair or a
// MinuteKey) as the literal of an INSERT.
template <typename Second, typename Row>
std::string SqlRow(const pqxx::transaction_base& tx,
                   const std::pair<std::string, Second>& key, const Row& row,
                   const RowTable<Row>& table) {
  std::string out = "(";
  for (const KeyColumn& k : table.key) {
    if (k.part == 0) {
      absl::StrAppend(&out, SqlText(tx, key.first), ",");
    } else if constexpr (std::is_same_v<Second, std::string>) {
      absl::StrAppend(&out, SqlText(tx, key.second), ",");
    } else {
      absl::StrAppend(&out, SqlTime(key.second), ",");
    }
  }
  AppendSqlValues(tx, row, table, &out);
  out.push_back(')');
  return out;
}

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_
