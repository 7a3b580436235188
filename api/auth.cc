#include "api/auth.h"

#include <arpa/inet.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/sha256.h"

namespace vigil::api {
namespace {

constexpr size_t kMinTokenBytes = 16;
constexpr size_t kMaxTokenBytes = 512;

bool ValidToken(std::string_view token) {
  if (token.size() < kMinTokenBytes || token.size() > kMaxTokenBytes) {
    return false;
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromFile(
    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the tokens file ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return FromText(text.str());
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::FromText(
    std::string_view text) {
  auto auth = std::make_unique<Authenticator>();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens file line ", line_number, ": expected `<token> <role>`"));
    }
    const std::string_view token(fields[0].data(), fields[0].size());
    if (!ValidToken(token)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens file line ", line_number, ": a token is 16 to 512 "
          "printable ASCII bytes"));
    }
    Role role;
    if (fields[1] == "agent") {
      role = Role::kAgent;
    } else if (fields[1] == "reader") {
      role = Role::kReader;
    } else if (fields[1] == "admin") {
      role = Role::kAdmin;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file line ", line_number, ": unknown role \"",
                       fields[1], "\" (agent, reader or admin)"));
    }
    auth->roles_[base::Sha256Digest(token)] = role;
  }
  return auth;
}

absl::StatusOr<Principal> Authenticator::Authenticate(
    std::string_view authorization) const {
  if (anonymous_mode()) return Principal{};
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(
          absl::string_view(authorization.data(), kBearer.size()),
          absl::string_view(kBearer.data(), kBearer.size()))) {
    return absl::UnauthenticatedError(
        "missing or malformed credentials: send `Authorization: Bearer "
        "<token>`");
  }
  const std::string digest = base::Sha256Digest(authorization.substr(kBearer.size()));
  auto it = roles_.find(digest);
  if (it == roles_.end()) return absl::UnauthenticatedError("unknown token");
  return Principal{.role = it->second,
                   .anonymous = false,
                   .id = absl::BytesToHexString(digest.substr(0, 4))};
}

absl::StatusOr<Principal> Authenticate(const Authenticator* authenticator,
                                       std::string_view authorization) {
  if (authenticator == nullptr) return Principal{};
  return authenticator->Authenticate(authorization);
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  std::string text(host);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

}  // namespace vigil::api
