#include "projections/webhooks/target.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil::webhooks {
namespace {

absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

bool InV4(uint32_t address, uint32_t network, int bits) {
  const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (address & mask) == (network & mask);
}

constexpr uint32_t V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d;
}

bool ForbiddenV4(uint32_t a) {
  struct Range {
    uint32_t network;
    int bits;
  };
  static constexpr Range kRanges[] = {
      {V4(0, 0, 0, 0), 8},        // "this network"
      {V4(10, 0, 0, 0), 8},       // private
      {V4(100, 64, 0, 0), 10},    // carrier-grade NAT
      {V4(127, 0, 0, 0), 8},      // loopback
      {V4(169, 254, 0, 0), 16},   // link-local (cloud metadata)
      {V4(172, 16, 0, 0), 12},    // private
      {V4(192, 0, 0, 0), 24},     // IETF protocol assignments
      {V4(192, 0, 2, 0), 24},     // documentation
      {V4(192, 88, 99, 0), 24},   // 6to4 relay anycast
      {V4(192, 168, 0, 0), 16},   // private
      {V4(198, 18, 0, 0), 15},    // benchmarking
      {V4(198, 51, 100, 0), 24},  // documentation
      {V4(203, 0, 113, 0), 24},   // documentation
      {V4(224, 0, 0, 0), 4},      // multicast
      {V4(240, 0, 0, 0), 4},      // reserved, broadcast
  };
  for (const Range& range : kRanges) {
    if (InV4(a, range.network, range.bits)) return true;
  }
  return false;
}

bool ForbiddenV6(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  static const uint8_t kZero[16] = {};
  // ::, ::1
  if (std::memcmp(b, kZero, 15) == 0 && (b[15] == 0 || b[15] == 1)) {
    return true;
  }
  auto v4_at = [&](int i) { return V4(b[i], b[i + 1], b[i + 2], b[i + 3]); };
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated)
  if (std::memcmp(b, kZero, 10) == 0 &&
      ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0))) {
    return ForbiddenV4(v4_at(12));
  }
  // 64:ff9b::/96 NAT64
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b};
  if (std::memcmp(b, kNat64, 12) == 0) return ForbiddenV4(v4_at(12));
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;  // fec0::/10
  if (b[0] == 0xff) return true;                           // multicast
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return true;  // 2001:db8::/32 documentation
  }
  if (b[0] == 0x20 && b[1] == 0x02) return ForbiddenV4(v4_at(2));  // 6to4
  return false;
}

bool IsUnreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string Url::HostHeader() const {
  std::string host_text =
      host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port == (https ? 443 : 80)) return host_text;
  return absl::StrCat(host_text, ":", port);
}

absl::StatusOr<Url> ParseUrl(std::string_view text) {
  if (text.size() > kMaxUrlBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("url: longer than ", kMaxUrlBytes, " bytes"));
  }
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "url: must not contain spaces or control characters");
    }
  }
  Url url;
  std::string_view rest;
  if (text.substr(0, 8) == "https://") {
    url.https = true;
    rest = text.substr(8);
  } else if (text.substr(0, 7) == "http://") {
    rest = text.substr(7);
  } else {
    return absl::InvalidArgumentError("url: the scheme must be http or https");
  }
  if (rest.find('#') != std::string_view::npos) {
    return absl::InvalidArgumentError("url: no fragment (#) allowed");
  }
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  if (slash == std::string_view::npos) {
    url.target = "/";
  } else if (rest[slash] == '?') {
    url.target = absl::StrCat("/", AsAbsl(rest.substr(slash)));
  } else {
    url.target = std::string(rest.substr(slash));
  }
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("url: no user information (@) allowed");
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError("url: an unclosed [ in the host");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return absl::InvalidArgumentError("url: malformed host");
      }
      port_text = after.substr(1);
    }
    in6_addr parsed;
    if (inet_pton(AF_INET6, url.host.c_str(), &parsed) != 1) {
      return absl::InvalidArgumentError("url: malformed IPv6 address");
    }
  } else {
    const size_t colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
    for (char& c : url.host) {
      if (!IsUnreserved(c)) {
        return absl::InvalidArgumentError(
            "url: the host may hold letters, digits, '-', '.', '_', '~'");
      }
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  if (url.host.empty()) return absl::InvalidArgumentError("url: no host");
  url.port = url.https ? 443 : 80;
  if (!port_text.empty()) {
    uint32_t port = 0;
    if (port_text.find_first_not_of("0123456789") != std::string_view::npos ||
        !absl::SimpleAtoi(AsAbsl(port_text), &port) || port == 0 ||
        port > 65535) {
      return absl::InvalidArgumentError("url: the port must be 1 to 65535");
    }
    url.port = static_cast<uint16_t>(port);
  }
  return url;
}

std::string Address::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    return text;
  }
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
  inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
  return absl::StrCat("[", text, "]");
}

bool IsForbidden(const Address& address) {
  if (address.storage.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    return ForbiddenV4(ntohl(v4->sin_addr.s_addr));
  }
  if (address.storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    return ForbiddenV6(v6->sin6_addr);
  }
  return true;
}

absl::StatusOr<std::vector<Address>> Resolve(const Url& url,
                                             bool allow_private) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (int error = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found);
      error != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "url: cannot resolve host \"", url.host, "\": ", gai_strerror(error)));
  }
  std::vector<Address> addresses;
  for (addrinfo* info = found; info != nullptr; info = info->ai_next) {
    if (info->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address address;
    std::memcpy(&address.storage, info->ai_addr, info->ai_addrlen);
    address.size = info->ai_addrlen;
    addresses.push_back(address);
  }
  freeaddrinfo(found);
  if (addresses.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("url: host \"", url.host, "\" has no address"));
  }
  if (!allow_private) {
    for (const Address& address : addresses) {
      if (IsForbidden(address)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "url: host \"", url.host, "\" resolves to ", address.ToString(),
            ", a loopback, private, link-local or reserved address; webhooks "
            "may not target those (vigild --webhooks-allow-private allows "
            "them)"));
      }
    }
  }
  return addresses;
}

}  // namespace vigil::webhooks
