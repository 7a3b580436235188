// The snapshot bytes of one value: fixed-width little-endian numbers,
// doubles by their bit pattern, length-prefixed strings (Writer, Reader),
// and an entity row as the sequence of its columns in table order
// (EncodeRow, DecodeRow over projections/row_columns.h). fold_codec.h
// keys and dispatches the entries. Header-only; pure functions.

#ifndef VIGIL_PROJECTIONS_INTERNAL_ROW_CODEC_H_
#define VIGIL_PROJECTIONS_INTERNAL_ROW_CODEC_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "projections/row_columns.h"

namespace vigil::projections::internal {

class Writer {
 public:
  Writer& I64(int64_t v) {
    uint64_t u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(u >> (8 * i)));
    return *this;
  }
  Writer& U64(uint64_t v) { return I64(static_cast<int64_t>(v)); }
  Writer& F64(double v) {
    uint64_t u;
    std::memcpy(&u, &v, sizeof u);
    return U64(u);
  }
  Writer& Bool(bool v) {
    out_.push_back(v ? 1 : 0);
    return *this;
  }
  Writer& Str(std::string_view s) {
    U64(s.size());
    out_.append(s);
    return *this;
  }
  std::string Done() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  Reader& I64(int64_t* v) {
    uint64_t u = 0;
    U64(&u);
    *v = static_cast<int64_t>(u);
    return *this;
  }
  Reader& U64(uint64_t* v) {
    if (in_.size() < 8) return Fail();
    // One load, not eight shifts: a page decodes thousands of rows.
    uint64_t u;
    std::memcpy(&u, in_.data(), sizeof u);
    if constexpr (std::endian::native == std::endian::big) {
      u = __builtin_bswap64(u);
    }
    *v = u;
    in_.remove_prefix(8);
    return *this;
  }
  Reader& F64(double* v) {
    uint64_t u = 0;
    U64(&u);
    std::memcpy(v, &u, sizeof u);
    return *this;
  }
  Reader& Bool(bool* v) {
    if (in_.empty()) return Fail();
    *v = in_[0] != 0;
    in_.remove_prefix(1);
    return *this;
  }
  Reader& Str(std::string* s) {
    std::string_view view;
    View(&view);
    s->assign(view);
    return *this;
  }
  // As Str, without a copy: `s` points into the bytes read.
  Reader& View(std::string_view* s) {
    uint64_t size = 0;
    U64(&size);
    if (in_.size() < size) return Fail();
    *s = in_.substr(0, size);
    in_.remove_prefix(size);
    return *this;
  }
  bool ok() const { return ok_ && in_.empty(); }
  bool at_end() const { return in_.empty(); }

 private:
  Reader& Fail() {
    ok_ = false;
    in_ = {};
    return *this;
  }
  std::string_view in_;
  bool ok_ = true;
};

// A row: its stored columns in table order (a counter row's key is the
// entry's key, not part of these bytes; kMean columns are not stored).
template <typename Row>
std::string EncodeRow(const Row& row, const RowTable<Row>& table) {
  Writer out;
  for (const RowColumn<Row>& c : table.columns) {
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
      case ColumnType::kJson:
        out.Str(row.*c.text);
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
        out.I64(row.*c.int64);
        break;
      case ColumnType::kPosition:
        out.U64(row.*c.position);
        break;
      case ColumnType::kDouble:
        out.F64(row.*c.real);
        break;
      case ColumnType::kOptionalInt:
        out.Bool(row.*c.present).I64(row.*c.int64);
        break;
      case ColumnType::kMean:
        break;
    }
  }
  return out.Done();
}

// Column `c` of `row` set to a new Row's value.
template <typename Row>
void ResetColumn(const RowColumn<Row>& c, Row* row) {
  static const Row* const kDefaults = new Row();
  switch (c.type) {
    case ColumnType::kKey:
    case ColumnType::kText:
    case ColumnType::kJson:
      row->*c.text = kDefaults->*c.text;
      break;
    case ColumnType::kInt:
    case ColumnType::kTime:
      row->*c.int64 = kDefaults->*c.int64;
      break;
    case ColumnType::kPosition:
      row->*c.position = kDefaults->*c.position;
      break;
    case ColumnType::kDouble:
      row->*c.real = kDefaults->*c.real;
      break;
    case ColumnType::kOptionalInt:
      row->*c.present = kDefaults->*c.present;
      row->*c.int64 = kDefaults->*c.int64;
      break;
    case ColumnType::kMean:
      break;
  }
}

// The inverse of EncodeRow, into `row`: every column is set, so `row` may
// hold another row's values, and its strings keep their capacity (a loop
// decoding many rows into one allocates little). An entry written before
// a column was added ends after its table's first `snapshot_columns`
// stored columns: the rest get a new Row's values. False for bytes that
// do not decode (`row` then holds part of them).
template <typename Row>
bool DecodeRowInto(std::string_view value, const RowTable<Row>& table,
                   Row* row) {
  Reader in(value);
  size_t stored = 0;  // stored columns read so far (kMean ones are not)
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type == ColumnType::kMean) continue;
    if (stored++ >= table.snapshot_columns && in.at_end()) {
      ResetColumn(c, row);
      continue;
    }
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
      case ColumnType::kJson:
        in.Str(&(row->*c.text));
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
        in.I64(&(row->*c.int64));
        break;
      case ColumnType::kPosition:
        in.U64(&(row->*c.position));
        break;
      case ColumnType::kDouble:
        in.F64(&(row->*c.real));
        break;
      case ColumnType::kOptionalInt:
        in.Bool(&(row->*c.present)).I64(&(row->*c.int64));
        break;
      case ColumnType::kMean:
        break;
    }
  }
  return in.ok();
}

// The same into a new row; nullopt for bytes that do not decode.
template <typename Row>
std::optional<Row> DecodeRow(std::string_view value,
                             const RowTable<Row>& table) {
  Row row;
  if (!DecodeRowInto(value, table, &row)) return std::nullopt;
  return row;
}

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_ROW_CODEC_H_
