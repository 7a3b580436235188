// Where a webhook goes: its URL, parsed, and the addresses it may be sent
// to. Targets on loopback, private, link-local and other special-purpose
// ranges are refused unless allowed (server-side request forgery): the host
// is resolved, every address is checked, and deliveries connect only to
// the addresses checked, so DNS cannot swap in a private one later.
// Functions, safe from any thread; Resolve blocks on DNS.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_TARGET_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_TARGET_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::webhooks {

inline constexpr size_t kMaxUrlBytes = 2048;

struct Url {
  bool https = false;
  std::string host;    // without brackets for IPv6
  uint16_t port = 0;   // 80 or 443 when not given
  std::string target;  // path and query, "/" at least
  // "host" or "host:port" as the Host header carries it.
  std::string HostHeader() const;
};

// Parses "http[s]://host[:port][/path][?query]". No user info, no fragment,
// no whitespace or control characters, at most kMaxUrlBytes.
// INVALID_ARGUMENT otherwise.
absl::StatusOr<Url> ParseUrl(std::string_view url);

// An IPv4 or IPv6 address to connect to.
struct Address {
  sockaddr_storage storage{};
  socklen_t size = 0;
  std::string ToString() const;
};

// True for addresses a webhook must not reach without the flag: loopback,
// unspecified, RFC 1918 and unique-local, link-local, CGNAT 100.64/10,
// multicast, broadcast, reserved and documentation ranges, and IPv4-mapped
// or NAT64 forms of those.
bool IsForbidden(const Address& address);

// The addresses of `url` (getaddrinfo). INVALID_ARGUMENT when the host does
// not resolve, or when any address is forbidden and `allow_private` is
// false (all or none: a name that also resolves to a private address is
// refused).
absl::StatusOr<std::vector<Address>> Resolve(const Url& url,
                                             bool allow_private);

}  // namespace vigil::webhooks

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_TARGET_H_
