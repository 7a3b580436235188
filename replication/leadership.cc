#include "replication/leadership.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/status_macros.h"

namespace vigil::replication {

absl::Status CheckLeadershipOptions(const LeadershipOptions& options) {
  if (options.key.empty()) {
    return absl::InvalidArgumentError("leadership: an empty leader key");
  }
  if (options.ttl < absl::Seconds(2) ||
      options.ttl != absl::Seconds(absl::ToInt64Seconds(options.ttl))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leadership: the lease TTL must be whole seconds, at least 2, not ",
        absl::FormatDuration(options.ttl)));
  }
  if (options.margin <= absl::ZeroDuration() || options.margin >= options.ttl) {
    return absl::InvalidArgumentError(
        "leadership: the margin must be positive and below the TTL");
  }
  return EtcdClient::Create(options.etcd).status();
}

class Leadership::Impl {
 public:
  Impl(LeadershipOptions options, std::unique_ptr<EtcdClient> client,
       int64_t lease, int64_t token, absl::Time valid_until,
       std::function<void()> on_lost)
      : options_(std::move(options)),
        client_(std::move(client)),
        lease_(lease),
        token_(token),
        on_lost_(std::move(on_lost)),
        valid_until_(valid_until) {
    renewer_ = std::thread([this] { Renew(); });
  }

  ~Impl() { Resign(); }

  absl::Status Held() const {
    absl::MutexLock lock(&mu_);
    if (lost_.empty() && absl::Now() >= valid_until_ - options_.margin) {
      return absl::UnavailableError(LostByTime());
    }
    if (!lost_.empty()) return absl::UnavailableError(lost_);
    return absl::OkStatus();
  }

  int64_t token() const { return token_; }

  void Resign() {
    bool revoke = false;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      stopping_ = true;
      revoke = lost_.empty();
      if (lost_.empty()) lost_ = "this vigild resigned the leadership";
    }
    renewer_.join();
    if (revoke) (void)client_->Revoke(lease_);
  }

 private:
  std::string LostByTime() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrCat(
        "this vigild lost the leader lease (", options_.key,
        ", fencing token ", token_, "): not renewed in time, and another "
        "vigild may be promoted");
  }

  // The renewal thread: renews every ttl / 3 (every ttl / 10 after a
  // failed renewal) until stopping or lost.
  void Renew() {
    const absl::Duration period = options_.ttl / 3;
    const absl::Duration retry = options_.ttl / 10;
    absl::Time next = absl::Now() + period;
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        const absl::Time wake = std::min(next, valid_until_ - options_.margin);
        mu_.AwaitWithDeadline(absl::Condition(&stopping_), wake);
        if (stopping_) return;
        if (absl::Now() >= valid_until_ - options_.margin) {
          lost_ = LostByTime();
          break;
        }
        if (absl::Now() < next) continue;
      }
      const absl::Time sent = absl::Now();
      absl::StatusOr<int64_t> ttl = client_->KeepAlive(lease_);
      absl::MutexLock lock(&mu_);
      if (absl::Now() >= valid_until_ - options_.margin) {
        // Too late, even if renewed: Held() may already have said no.
        lost_ = LostByTime();
        break;
      }
      if (ttl.ok()) {
        valid_until_ = std::max(valid_until_, sent + absl::Seconds(*ttl));
        next = sent + period;
      } else if (absl::IsNotFound(ttl.status())) {
        lost_ = absl::StrCat("this vigild lost the leader lease (",
                             options_.key, ", fencing token ", token_,
                             "): ", ttl.status().message());
        break;
      } else {
        next = absl::Now() + retry;
      }
    }
    if (on_lost_) on_lost_();
  }

  const LeadershipOptions options_;
  const std::unique_ptr<EtcdClient> client_;
  const int64_t lease_;
  const int64_t token_;
  const std::function<void()> on_lost_;
  mutable absl::Mutex mu_;
  absl::Time valid_until_ ABSL_GUARDED_BY(mu_);
  std::string lost_ ABSL_GUARDED_BY(mu_);  // why, once lost or resigned
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread renewer_;
};

absl::StatusOr<std::unique_ptr<Leadership>> Leadership::Acquire(
    LeadershipOptions options, std::function<void()> on_lost) {
  RETURN_IF_ERROR(CheckLeadershipOptions(options));
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.etcd));
  const absl::Time granted_at = absl::Now();
  ASSIGN_OR_RETURN(const int64_t lease, client->GrantLease(absl::ToInt64Seconds(
                                            options.ttl)));
  absl::StatusOr<int64_t> token =
      client->CreateIfAbsent(options.key, options.holder, lease);
  if (!token.ok()) {
    (void)client->Revoke(lease);
    return token.status();
  }
  const absl::Time valid_until = granted_at + options.ttl;
  return std::unique_ptr<Leadership>(new Leadership(std::make_unique<Impl>(
      std::move(options), std::move(client), lease, *token, valid_until,
      std::move(on_lost))));
}

absl::StatusOr<std::optional<std::string>> Leadership::Holder(
    const LeadershipOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client,
                   EtcdClient::Create(options.etcd));
  ASSIGN_OR_RETURN(std::optional<EtcdKeyValue> kv, client->Get(options.key));
  if (!kv.has_value()) return std::nullopt;
  return std::move(kv->value);
}

Leadership::Leadership(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Leadership::~Leadership() = default;

absl::Status Leadership::Held() const { return impl_->Held(); }

int64_t Leadership::fencing_token() const { return impl_->token(); }

void Leadership::Resign() { impl_->Resign(); }

}  // namespace vigil::replication
