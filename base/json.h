// Vigil's one JSON writer: every JSON document Vigil sends (REST bodies,
// problem details, time travel, webhook admin, live frames, CLI output) is
// built as a Json value, a nlohmann::ordered_json whose objects keep their
// members in the order they were added, and rendered by DumpJson. Parsing
// stays on simdjson (api/internal/json.h); JsonFromText is only for text
// that is already JSON and must become part of a document.
//
// The one exception is api::RecordedEventToJson (and the live frame built
// from it), the hot path of the live feed and the event reads: an event's
// `data` and `metadata` are JSON the log validated on append, and
// nlohmann::json has no raw-JSON value, so placing them in a Json would
// mean parsing them into a tree only to print them again (measured in
// benchmarks/RESULTS.md, "Event JSON"). That function writes its members
// with AppendJsonString and splices the stored text in between.
//
// Pure functions, safe from any thread.

#ifndef VIGIL_BASE_JSON_H_
#define VIGIL_BASE_JSON_H_

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::base {

using Json = nlohmann::ordered_json;

// `value` as compact JSON text: no spaces, no trailing newline.
// - Strings: UTF-8 as it is; '"', '\\' and control characters escaped
//   (\b \f \n \r \t, the others as \u00xx with lowercase hex); '/' and DEL
//   are not escaped. Each byte that is not part of well-formed UTF-8
//   (RFC 3629: no overlong forms, no surrogates) becomes U+FFFD, one per
//   byte, so the output is always valid JSON. Object keys alike.
// - Integers in decimal. Doubles as the library writes them: the shortest
//   text that reads back as the same double, with ".0" when it has no
//   fraction ("2500.0"), an exponent from 1e15 up and below 1e-4
//   ("1e+20", "1e-05"), and null when not finite.
std::string DumpJson(const Json& value);

// Appends `value` to `out` as a JSON string literal, quotes included,
// escaped as DumpJson escapes strings.
void AppendJsonString(std::string_view value, std::string* out);

// Appends `value` as DumpJson prints a double (null when not finite).
void AppendJsonNumber(double value, std::string* out);

// Appends `json`, text meant to be one JSON value (a jsonb column, a
// member a fold kept as text), as DumpJson prints JsonFromText(json): null
// when it is not one. Compact text the library would print back as it is
// (no white space, no escape, no byte past ASCII, integers of at most 18
// digits and no fraction or exponent) is checked by a scan of that form
// alone and copied, without building a tree; anything else goes through
// the tree.
// One difference: an object with a repeated name is copied as it is (the
// tree keeps the last value under the first place).
void AppendJsonText(std::string_view json, std::string* out);

// `value` as a JSON string literal (AppendJsonString).
std::string JsonString(std::string_view value);

// `s` with each byte that is not part of well-formed UTF-8 replaced by
// U+FFFD (one per byte), as DumpJson shows strings: for text meant for
// people (a message that may quote bytes of a damaged record).
std::string ReplaceInvalidUtf8(std::string_view s);

// `value` rounded to `decimals` places, for a figure shown to a chosen
// precision (a rate, a cost, seconds): with decimals <= 0 an integer
// ("1235", not "1235.0"), else a double printed as DumpJson prints doubles
// (12.3 -> "12.3", 35 -> "35.0"). Null when `value` is not finite.
Json RoundedNumber(double value, int decimals);

// `text`, one JSON value that is already JSON (a jsonb column, a member a
// fold kept as text), as a Json to place in a document; members keep
// their order. INVALID_ARGUMENT "invalid JSON: ..." when `text` is not one
// JSON value (or holds a number beyond a double's range).
absl::StatusOr<Json> JsonFromText(std::string_view text);

}  // namespace vigil::base

#endif  // VIGIL_BASE_JSON_H_
