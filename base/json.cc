#include "base/json.h"

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::base {
namespace {

// The length of the well-formed UTF-8 sequence (RFC 3629) starting at
// s[i], or 0 when the bytes there are not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    return byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

// The library's own replacement (error_handler_t::replace) puts one U+FFFD
// per maximal invalid subpart; Vigil has always put one per byte
// (tests/api/event_json_test.cc pins it), so this runs first.
std::string ReplaceInvalidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    if (const size_t n = Utf8SequenceLength(s, i); n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

namespace {

// `value` with every string and object key passed through
// ReplaceInvalidUtf8.
Json WithValidUtf8(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string:
      return ReplaceInvalidUtf8(value.get_ref<const std::string&>());
    case Json::value_t::array: {
      Json out = Json::array();
      for (const Json& item : value) out.push_back(WithValidUtf8(item));
      return out;
    }
    case Json::value_t::object: {
      Json out = Json::object();
      for (const auto& [key, item] : value.items()) {
        out[ReplaceInvalidUtf8(key)] = WithValidUtf8(item);
      }
      return out;
    }
    default:
      return value;
  }
}

// The library's error for a string that is not UTF-8 (type_error.316).
constexpr int kInvalidUtf8 = 316;

}  // namespace

std::string DumpJson(const Json& value) {
  // Valid UTF-8 is by far the common case: the strict dump checks it on
  // the way, and only a failure pays for the copy that replaces bytes.
  try {
    return value.dump();
  } catch (const Json::type_error& error) {
    if (error.id != kInvalidUtf8) throw;
  }
  return WithValidUtf8(value).dump();
}

void AppendJsonString(std::string_view value, std::string* out) {
  // Printable ASCII other than '"' and '\\' is copied as it is by the
  // library too; copying it here spares the live feed's hot path
  // (RecordedEventToJson) a Json and a dump per member, five times slower
  // (benchmarks/RESULTS.md, "Event JSON"). Anything else goes through the
  // library. The test is branch-free per byte: OR of a table lookup.
  static constexpr auto kEscaped = [] {
    std::array<unsigned char, 256> table{};
    for (int c = 0; c < 256; ++c) {
      table[c] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
    }
    return table;
  }();
  unsigned char escaped = 0;
  for (const char c : value) escaped |= kEscaped[static_cast<unsigned char>(c)];
  if (escaped != 0) {
    out->append(DumpJson(Json(value)));
    return;
  }
  out->push_back('"');
  out->append(value);
  out->push_back('"');
}

void AppendJsonNumber(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  // The library's own formatter (its serializer's dump_float).
  std::array<char, 64> buffer;
  char* end = nlohmann::detail::to_chars(buffer.data(),
                                         buffer.data() + buffer.size(), value);
  out->append(buffer.data(), end);
}

namespace {

// Whether `json` is one JSON value that the library prints back byte for
// byte (see AppendJsonText): a check of the compact form only, which
// never builds a tree. False for anything else, valid or not.
class CompactJson {
 public:
  static bool Check(std::string_view json) {
    CompactJson scan(json);
    return scan.Value(0) && scan.at_ == json.size();
  }

 private:
  // Nesting past this is left to the library.
  static constexpr int kMaxDepth = 64;

  explicit CompactJson(std::string_view json) : json_(json) {}

  bool Eat(char c) {
    if (at_ < json_.size() && json_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view word) {
    if (json_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }
  // ASCII, no escape and no control character.
  bool String() {
    if (!Eat('"')) return false;
    for (; at_ < json_.size(); ++at_) {
      const unsigned char c = json_[at_];
      if (c == '"') {
        ++at_;
        return true;
      }
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
    }
    return false;
  }
  // An integer of at most 18 digits (an int64 for certain), not "-0".
  bool Integer() {
    const bool negative = Eat('-');
    const size_t first = at_;
    while (at_ < json_.size() && json_[at_] >= '0' && json_[at_] <= '9') ++at_;
    const size_t digits = at_ - first;
    if (digits == 0 || digits > 18) return false;
    if (json_[first] == '0' && (digits > 1 || negative)) return false;
    // No fraction or exponent follows (the library would print it anew).
    return at_ == json_.size() || (json_[at_] != '.' && json_[at_] != 'e' &&
                                   json_[at_] != 'E');
  }
  bool Value(int depth) {
    if (at_ >= json_.size() || depth > kMaxDepth) return false;
    switch (json_[at_]) {
      case '{':
        ++at_;
        if (Eat('}')) return true;
        do {
          if (!String() || !Eat(':') || !Value(depth + 1)) return false;
        } while (Eat(','));
        return Eat('}');
      case '[':
        ++at_;
        if (Eat(']')) return true;
        do {
          if (!Value(depth + 1)) return false;
        } while (Eat(','));
        return Eat(']');
      case '"':
        return String();
      case 't':
        return Word("true");
      case 'f':
        return Word("false");
      case 'n':
        return Word("null");
      default:
        return Integer();
    }
  }

  std::string_view json_;
  size_t at_ = 0;
};

}  // namespace

void AppendJsonText(std::string_view json, std::string* out) {
  if (CompactJson::Check(json)) {
    out->append(json);
    return;
  }
  absl::StatusOr<Json> value = JsonFromText(json);
  out->append(value.ok() ? DumpJson(*value) : "null");
}

std::string JsonString(std::string_view value) {
  std::string out;
  AppendJsonString(value, &out);
  return out;
}

Json RoundedNumber(double value, int decimals) {
  if (!std::isfinite(value)) return Json();
  if (decimals <= 0) {
    const double whole = std::round(value);
    // Beyond int64 (2^63): a double, which still prints without a fraction
    // only in exponent form.
    if (std::abs(whole) < 9.2e18) return static_cast<int64_t>(whole);
    return whole;
  }
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

absl::StatusOr<Json> JsonFromText(std::string_view text) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", error.what()));
  } catch (const Json::out_of_range& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", error.what()));
  }
}

}  // namespace vigil::base
