// Literals for the SQL the projections build (multi-row INSERTs), and the
// reading of the values they select. libpqxx quotes text; the rest are
// numbers and timestamps we format ourselves. Header-only.

#ifndef VIGIL_PROJECTIONS_INTERNAL_SQL_H_
#define VIGIL_PROJECTIONS_INTERNAL_SQL_H_

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/json.h"

namespace vigil::projections::internal {

// The text of a timestamptz for UTC microseconds.
inline std::string TimeText(int64_t time_us) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00",
                          absl::FromUnixMicros(time_us), absl::UTCTimeZone());
}

// A timestamptz literal for UTC microseconds; NULL for 0 ("never").
inline std::string SqlTime(int64_t time_us) {
  if (time_us == 0) return "NULL";
  return absl::StrCat("'", TimeText(time_us), "'::timestamptz");
}

// The expression that selects a timestamptz column as UTC microseconds.
inline std::string MicrosOf(std::string_view column) {
  return absl::StrCat("(extract(epoch from ",
                      absl::string_view(column.data(), column.size()),
                      ") * 1000000)::bigint");
}

// Shortest text that reads back as the same double.
inline std::string SqlDouble(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, end);
}

inline std::string SqlText(const pqxx::transaction_base& tx,
                           const std::string& text) {
  return tx.quote(text);
}

// NULL for an empty string (an optional field that was not given).
inline std::string SqlTextOrNull(const pqxx::transaction_base& tx,
                                 const std::string& text) {
  return text.empty() ? std::string("NULL") : tx.quote(text);
}

// A text[] literal of `values`.
inline std::string SqlTextArray(const pqxx::transaction_base& tx,
                                const std::vector<std::string>& values) {
  std::string array = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) array.push_back(',');
    array.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') array.push_back('\\');
      array.push_back(c);
    }
    array.push_back('"');
  }
  array.push_back('}');
  return absl::StrCat(tx.quote(array), "::text[]");
}

// A field selected with MicrosOf: 0 for NULL.
inline int64_t MicrosField(const pqxx::field& field) {
  return field.is_null() ? 0 : field.as<int64_t>();
}

inline std::string TextField(const pqxx::field& field) {
  return field.is_null() ? std::string() : field.as<std::string>();
}

// Sends `NOTIFY vigil_projections` with {"projection":NAME,"checkpoint":P}
// when `tx` commits (projection_runner.h).
inline void NotifyCheckpoint(pqxx::work& tx, std::string_view projection,
                             uint64_t checkpoint) {
  tx.exec(absl::StrCat(
      "SELECT pg_notify('vigil_projections', ",
      tx.quote(base::DumpJson(
          {{"projection", projection}, {"checkpoint", checkpoint}})),
      ")"));
}

}  // namespace vigil::projections::internal

#endif  // VIGIL_PROJECTIONS_INTERNAL_SQL_H_
