#include "gateway/internal/live_ticker.h"

namespace vigil::gateway::internal {

void LiveTicker::Start(const boost::asio::any_io_executor& executor) {
  absl::MutexLock lock(&mu_);
  if (timer_ != nullptr) return;
  timer_ = std::make_unique<boost::asio::steady_timer>(executor);
  ArmLocked();
}

void LiveTicker::Stop() {
  absl::MutexLock lock(&mu_);
  // The wait's handler, if pending, is dropped with the io_context uncalled.
  timer_.reset();
  targets_.clear();
}

void LiveTicker::Add(std::weak_ptr<Target> target) {
  absl::MutexLock lock(&mu_);
  targets_.push_back(std::move(target));
}

void LiveTicker::ArmLocked() {
  timer_->expires_after(kInterval);
  timer_->async_wait([this](boost::system::error_code ec) {
    if (!ec) OnTimer();
  });
}

void LiveTicker::OnTimer() {
  std::vector<std::shared_ptr<Target>> due;
  {
    absl::MutexLock lock(&mu_);
    if (timer_ == nullptr) return;
    due.reserve(targets_.size());
    for (size_t i = 0; i < targets_.size();) {
      if (std::shared_ptr<Target> target = targets_[i].lock()) {
        due.push_back(std::move(target));
        ++i;
      } else {
        targets_[i] = std::move(targets_.back());
        targets_.pop_back();
      }
    }
    if (targets_.capacity() > 2 * targets_.size() + 64) {
      targets_.shrink_to_fit();
    }
    ArmLocked();
  }
  // Outside the lock: a connection let go here is destroyed here.
  const auto now = std::chrono::steady_clock::now();
  for (const std::shared_ptr<Target>& target : due) target->Tick(now);
}

}  // namespace vigil::gateway::internal
