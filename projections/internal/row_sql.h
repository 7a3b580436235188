// The SQL of an entity row, from its description (projections/
// row_columns.h): the column list of an upsert, the literal of one row, and
// the select list and reading of a preload. Header-only.

#ifndef VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_
#define VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "projections/internal/sql.h"
#include "projections/row_columns.h"

namespace vigil::projections::internal {

inline absl::string_view AsAbslView(std::string_view s) {
  return {s.data(), s.size()};
}

// The column names, in table order.
template <typename Row>
std::vector<std::string> ColumnNames(const RowTable<Row>& table) {
  std::vector<std::string> names;
  for (const RowColumn<Row>& c : table.columns) names.emplace_back(c.sql);
  return names;
}

// The select list ReadRow reads: times as UTC µs, jsonb as its text.
template <typename Row>
std::string RowSelectList(const RowTable<Row>& table) {
  std::string out;
  for (const RowColumn<Row>& c : table.columns) {
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
  for (size_t i = 0; i < table.columns.size(); ++i) {
    const RowColumn<Row>& c = table.columns[i];
    const pqxx::field f = r[static_cast<pqxx::row::size_type>(i)];
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
    }
  }
  return row;
}

// "(v1,v2,...)": `row` as the literal of a multi-row INSERT.
template <typename Row>
std::string SqlRow(const pqxx::transaction_base& tx, const Row& row,
                   const RowTable<Row>& table) {
  std::string out = "(";
  for (const RowColumn<Row>& c : table.columns) {
    if (out.size() > 1) out.push_back(',');
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
    }
  }
  out.push_back(')');
  return out;
}

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_ROW_SQL_H_
