#include "replication/subject.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::replication {
namespace {

constexpr size_t kMaxPrefixBytes = 100;
constexpr char kHex[] = "0123456789ABCDEF";

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

// Kept as is in a stream's token; everything else is %XX.
bool IsPlain(char c) { return IsAlnum(c) || c == '_' || c == ':' || c == '-'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lowercase is not what SubjectFor writes
}

}  // namespace

std::string SubjectFor(std::string_view prefix, std::string_view stream) {
  std::string subject(prefix);
  subject.push_back('.');
  for (const char c : stream) {
    if (IsPlain(c)) {
      subject.push_back(c);
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    subject.push_back('%');
    subject.push_back(kHex[byte >> 4]);
    subject.push_back(kHex[byte & 0xf]);
  }
  return subject;
}

absl::StatusOr<std::string> StreamOfSubject(std::string_view prefix,
                                            std::string_view subject) {
  const auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject \"", std::string(subject),
                     "\" is not a Vigil stream's under \"", std::string(prefix),
                     "\": ", std::string(why)));
  };
  if (subject.size() <= prefix.size() + 1 ||
      subject.substr(0, prefix.size()) != prefix ||
      subject[prefix.size()] != '.') {
    return refuse("no such prefix");
  }
  std::string stream;
  const std::string_view token = subject.substr(prefix.size() + 1);
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    if (IsPlain(c)) {
      stream.push_back(c);
      continue;
    }
    if (c != '%' || i + 2 >= token.size()) {
      return refuse(absl::StrCat("byte ", i, " is not an escape"));
    }
    const int high = HexValue(token[i + 1]);
    const int low = HexValue(token[i + 2]);
    const char decoded = static_cast<char>(high * 16 + low);
    if (high < 0 || low < 0 || IsPlain(decoded)) {
      return refuse(absl::StrCat("bad escape at byte ", i));
    }
    stream.push_back(decoded);
    i += 2;
  }
  return stream;
}

absl::Status CheckSubjectPrefix(std::string_view prefix) {
  const auto refuse = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject prefix \"", std::string(prefix), "\": ",
                     std::string(why)));
  };
  if (prefix.empty() || prefix.size() > kMaxPrefixBytes) {
    return refuse(absl::StrCat("must have 1 to ", kMaxPrefixBytes, " bytes"));
  }
  bool token_start = true;
  for (const char c : prefix) {
    if (c == '.') {
      if (token_start) return refuse("empty token");
      token_start = true;
      continue;
    }
    if (!IsAlnum(c) && c != '_' && c != '-') {
      return refuse("only [A-Za-z0-9_-] tokens separated by dots");
    }
    token_start = false;
  }
  if (token_start) return refuse("empty token");
  return absl::OkStatus();
}

}  // namespace vigil::replication
