#include "api/query_string.h"

#include <simdjson.h>

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::api {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

enum class Plus { kSpace, kItself };

// Percent-decodes `in`; nullopt for a malformed escape.
std::optional<std::string> Decode(std::string_view in, Plus plus) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && plus == Plus::kSpace) {
      out.push_back(' ');
    } else if (in[i] != '%') {
      out.push_back(in[i]);
    } else {
      const int high = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      const int low = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    }
  }
  return out;
}

// Decode, then the checks every decoded name and value passes.
absl::StatusOr<std::string> DecodeText(std::string_view in, Plus plus,
                                       std::string_view what) {
  std::optional<std::string> out = Decode(in, plus);
  if (!out.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": malformed percent-encoding"));
  }
  if (out->find('\0') != std::string::npos ||
      !simdjson::validate_utf8(out->data(), out->size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), ": not UTF-8 text without NUL"));
  }
  return *std::move(out);
}

}  // namespace

absl::StatusOr<std::vector<QueryParam>> SplitQuery(std::string_view query) {
  std::vector<QueryParam> params;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    QueryParam param;
    absl::StatusOr<std::string> name = DecodeText(
        part.substr(0, eq), Plus::kSpace, "query parameter name");
    if (!name.ok()) return name.status();
    param.name = *std::move(name);
    for (auto [plus, out] : {std::pair(Plus::kSpace, &param.value),
                             std::pair(Plus::kItself, &param.literal)}) {
      absl::StatusOr<std::string> value =
          DecodeText(raw_value, plus, param.name);
      if (!value.ok()) return value.status();
      *out = *std::move(value);
    }
    params.push_back(std::move(param));
  }
  return params;
}

absl::StatusOr<std::string> DecodePathSegment(std::string_view segment,
                                              std::string_view what) {
  return DecodeText(segment, Plus::kItself, what);
}

bool ParseDecimal(std::string_view text, uint64_t* value) {
  if (text.empty()) return false;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace vigil::api
