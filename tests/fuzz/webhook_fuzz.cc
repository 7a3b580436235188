// Webhook registration (POST /v1/webhooks, gateway/internal/webhook_routes.h
// ServeWebhooks) and the SSRF guard on its target URL
// (projections/webhooks/target.h: ParseUrl, Resolve, IsForbidden). The
// input is the body; the registration's url, and the input itself, go to
// ParseUrl. Resolve runs only on numeric hosts (getaddrinfo with
// AI_NUMERICHOST: no DNS from a fuzzer), which are the SSRF tricks anyway
// (127.1, 0x7f.0.0.1, [::ffff:10.0.0.1], ...).
// Properties: a parsed URL written back parses to the same URL; Resolve
// without allow_private accepts a host exactly when none of its addresses
// is forbidden.
#include <netdb.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/webhook_admin.h"
#include "gateway/internal/webhook_routes.h"
#include "projections/webhooks/target.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;
namespace webhooks = vigil::webhooks;

// Keeps the registration the route hands over; the other operations are
// not reached by POST /v1/webhooks.
class Capture : public vigil::api::WebhookAdmin {
 public:
  std::optional<vigil::api::WebhookRegistration> registration;

  absl::StatusOr<std::string> Register(
      const vigil::api::WebhookRegistration& r) override {
    registration = r;
    return std::string("{}");
  }
  absl::StatusOr<std::string> List() override { return Unused(); }
  absl::StatusOr<std::string> Get(const std::string&) override {
    return Unused();
  }
  absl::StatusOr<std::string> Delete(const std::string&) override {
    return Unused();
  }
  absl::StatusOr<std::string> RotateSecret(const std::string&) override {
    return Unused();
  }
  absl::StatusOr<std::string> Enable(const std::string&) override {
    return Unused();
  }
  absl::StatusOr<std::string> DeadLetters(const std::string&) override {
    return Unused();
  }
  absl::StatusOr<std::string> Redeliver(
      const std::string&, const std::optional<std::string>&) override {
    return Unused();
  }

 private:
  static absl::StatusOr<std::string> Unused() {
    __builtin_trap();  // POST /v1/webhooks only registers
  }
};

bool NumericHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_flags = AI_NUMERICHOST;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return false;
  freeaddrinfo(found);
  return true;
}

void CheckUrl(std::string_view text) {
  absl::StatusOr<webhooks::Url> url = webhooks::ParseUrl(text);
  if (!url.ok()) return;
  Check(!url->host.empty() && !url->target.empty() && url->target[0] == '/');
  std::string host = url->host.find(':') != std::string::npos
                         ? absl::StrCat("[", url->host, "]")
                         : url->host;
  absl::StatusOr<webhooks::Url> again = webhooks::ParseUrl(
      absl::StrCat(url->https ? "https://" : "http://", host, ":", url->port,
                   url->target));
  Check(again.ok() && again->https == url->https && again->host == url->host &&
        again->port == url->port && again->target == url->target);

  if (url->host.find('\0') != std::string::npos || !NumericHost(url->host)) {
    return;
  }
  absl::StatusOr<std::vector<webhooks::Address>> all =
      webhooks::Resolve(*url, /*allow_private=*/true);
  absl::StatusOr<std::vector<webhooks::Address>> allowed =
      webhooks::Resolve(*url, /*allow_private=*/false);
  if (!all.ok()) return;
  bool any_forbidden = false;
  for (const webhooks::Address& address : *all) {
    any_forbidden = any_forbidden || webhooks::IsForbidden(address);
  }
  Check(allowed.ok() == !any_forbidden);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Capture admin;
  absl::StatusOr<vigil::gateway::internal::WebhookAnswer> answer =
      vigil::gateway::internal::ServeWebhooks(admin, "POST", "/v1/webhooks",
                                              body);
  Check(answer.ok() == admin.registration.has_value());
  if (admin.registration.has_value()) CheckUrl(admin.registration->url);
  CheckUrl(body);
  return 0;
}
