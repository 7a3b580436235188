#include "tools/vigild/leader_services.h"

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace vigil::vigild {
namespace {

// Starts the service `factory` makes into `*slot` (guarded by `mu`) unless
// it is off or running.
template <typename Service>
absl::Status StartService(
    const std::function<absl::StatusOr<std::unique_ptr<Service>>()>& factory,
    const char* name, absl::Mutex* mu, std::shared_ptr<Service>* slot) {
  if (!factory) return absl::OkStatus();
  {
    absl::MutexLock lock(mu);
    if (*slot != nullptr) return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Service>> started = factory();
  if (!started.ok()) {
    return absl::Status(started.status().code(),
                        absl::StrCat(name, ": ", started.status().message()));
  }
  absl::MutexLock lock(mu);
  *slot = *std::move(started);
  return absl::OkStatus();
}

}  // namespace

// The admin interfaces the HTTP server holds: each call goes to the
// running service, or answers why there is none.
class LeaderServices::Webhooks : public api::WebhookAdmin {
 public:
  explicit Webhooks(LeaderServices* services) : services_(services) {}

  absl::StatusOr<std::string> Register(
      const api::WebhookRegistration& registration) override {
    return Call([&](auto& s) { return s.Register(registration); });
  }
  absl::StatusOr<std::string> List() override {
    return Call([](auto& s) { return s.List(); });
  }
  absl::StatusOr<std::string> Get(const std::string& id) override {
    return Call([&](auto& s) { return s.Get(id); });
  }
  absl::StatusOr<std::string> Delete(const std::string& id) override {
    return Call([&](auto& s) { return s.Delete(id); });
  }
  absl::StatusOr<std::string> RotateSecret(const std::string& id) override {
    return Call([&](auto& s) { return s.RotateSecret(id); });
  }
  absl::StatusOr<std::string> Enable(const std::string& id) override {
    return Call([&](auto& s) { return s.Enable(id); });
  }
  absl::StatusOr<std::string> DeadLetters(const std::string& id) override {
    return Call([&](auto& s) { return s.DeadLetters(id); });
  }
  absl::StatusOr<std::string> Redeliver(
      const std::string& id,
      const std::optional<std::string>& event_id) override {
    return Call([&](auto& s) { return s.Redeliver(id, event_id); });
  }

 private:
  template <typename F>
  absl::StatusOr<std::string> Call(F call) {
    auto running = services_->RunningWebhooks();
    if (!running.ok()) return running.status();
    return call(**running);
  }
  LeaderServices* const services_;
};

class LeaderServices::Alerts : public api::AlertAdmin {
 public:
  explicit Alerts(LeaderServices* services) : services_(services) {}

  absl::StatusOr<std::string> RegisterRule(std::string_view body) override {
    return Call([&](auto& s) { return s.RegisterRule(body); });
  }
  absl::StatusOr<std::string> ListRules() override {
    return Call([](auto& s) { return s.ListRules(); });
  }
  absl::StatusOr<std::string> GetRule(const std::string& id) override {
    return Call([&](auto& s) { return s.GetRule(id); });
  }
  absl::StatusOr<std::string> DeleteRule(const std::string& id) override {
    return Call([&](auto& s) { return s.DeleteRule(id); });
  }
  absl::StatusOr<std::string> OpenAlerts() override {
    return Call([](auto& s) { return s.OpenAlerts(); });
  }

 private:
  template <typename F>
  absl::StatusOr<std::string> Call(F call) {
    auto running = services_->RunningAlerts();
    if (!running.ok()) return running.status();
    return call(**running);
  }
  LeaderServices* const services_;
};

LeaderServices::LeaderServices(LeaderServiceFactories factories)
    : factories_(std::move(factories)) {
  if (factories_.webhooks) webhook_admin_ = std::make_unique<Webhooks>(this);
  if (factories_.alerts) alert_admin_ = std::make_unique<Alerts>(this);
}

LeaderServices::~LeaderServices() { Stop(); }

absl::Status LeaderServices::Start() {
  absl::MutexLock start_lock(&start_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return absl::OkStatus();
  }
  RETURN_IF_ERROR(StartService(factories_.webhooks, "webhooks", &mu_,
                               &webhooks_));
  return StartService(factories_.alerts, "alerts", &mu_, &alerts_);
}

void LeaderServices::Stop() {
  absl::MutexLock start_lock(&start_mu_);
  std::shared_ptr<webhooks::WebhookService> hooks;
  std::shared_ptr<alerts::AlertService> alerts;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    hooks = std::move(webhooks_);
    alerts = std::move(alerts_);
  }
  // Calls in flight hold their own reference and end with UNAVAILABLE.
  if (hooks != nullptr) hooks->Stop();
  if (alerts != nullptr) alerts->Stop();
}

api::WebhookAdmin* LeaderServices::webhook_admin() {
  return webhook_admin_.get();
}

api::AlertAdmin* LeaderServices::alert_admin() { return alert_admin_.get(); }

absl::StatusOr<std::shared_ptr<webhooks::WebhookService>>
LeaderServices::RunningWebhooks() {
  {
    absl::MutexLock lock(&mu_);
    if (webhooks_ != nullptr) return webhooks_;
  }
  return NotRunning();
}

absl::StatusOr<std::shared_ptr<alerts::AlertService>>
LeaderServices::RunningAlerts() {
  {
    absl::MutexLock lock(&mu_);
    if (alerts_ != nullptr) return alerts_;
  }
  return NotRunning();
}

absl::Status LeaderServices::NotRunning() const {
  absl::Status writable = factories_.writable();
  if (!writable.ok()) return writable;
  return absl::UnavailableError("the server is stopping");
}

}  // namespace vigil::vigild
