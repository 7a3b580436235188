// Small helpers shared by the api/ files that read JSON with simdjson.
// Header-only; safe from any thread.

#ifndef VIGIL_API_INTERNAL_JSON_H_
#define VIGIL_API_INTERNAL_JSON_H_

#include <simdjson.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/json.h"

namespace vigil::api::internal {

// Debian's Abseil has its own string_view, distinct from std::string_view.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// `value` for an error message: JSON-quoted, cut short (with "...") after
// `shown` bytes.
inline std::string Quote(std::string_view value, size_t shown = 64) {
  std::string out;
  base::AppendJsonString(value.substr(0, shown), &out);
  if (value.size() > shown) out.insert(out.size() - 1, "...");
  return out;
}

// Parses `json` with `parser`; the element lives until the parser's next
// parse. A simdjson parser keeps its buffers between documents and is not
// thread-safe, so callers keep one per thread (thread_local).
// INVALID_ARGUMENT "invalid JSON: ..." when `json` does not parse.
inline absl::StatusOr<simdjson::dom::element> ParseJson(
    simdjson::dom::parser& parser, std::string_view json) {
  simdjson::dom::element root;
  if (simdjson::error_code error =
          parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true)
              .get(root);
      error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", simdjson::error_message(error)));
  }
  return root;
}

}  // namespace vigil::api::internal

#endif  // VIGIL_API_INTERNAL_JSON_H_
