// Pieces of a request target that the REST routes and the live feed both
// parse. Header-only, pure functions.

#ifndef VIGIL_GATEWAY_INTERNAL_QUERY_H_
#define VIGIL_GATEWAY_INTERNAL_QUERY_H_

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::gateway::internal {

// RFC 3986 percent-decoding; nullopt for a malformed escape. "+" stays "+"
// (no parameter of ours holds a space, and from_time=...+02:00 then works
// unencoded).
inline std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned value = 0;
    auto [end, ec] =
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// Decimal digits only, no sign, no overflow.
inline std::optional<uint64_t> ParseUint(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The `name=value` pairs of a query (the part after "?"), percent-decoded,
// in order; empty parts are skipped, a missing "=" gives an empty value.
// INVALID_ARGUMENT for a malformed escape.
inline absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SplitQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::optional<std::string> name = PercentDecode(part.substr(0, eq));
    std::optional<std::string> value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!name.has_value() || !value.has_value()) {
      return absl::InvalidArgumentError("malformed percent-encoding in query");
    }
    params.emplace_back(*std::move(name), *std::move(value));
  }
  return params;
}

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_QUERY_H_
