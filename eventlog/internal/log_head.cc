#include "eventlog/internal/log_head.h"

#include <utility>

namespace vigil::eventlog::internal {

void LogHead::Publish(uint64_t head) {
  absl::MutexLock lock(&mu_);  // wakes WaitFor
  head_.store(head, std::memory_order_release);
}

uint64_t LogHead::WaitFor(uint64_t position, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto past = [this, position] {
    return head_.load(std::memory_order_acquire) > position;
  };
  mu_.AwaitWithDeadline(absl::Condition(&past), deadline);
  return head_.load(std::memory_order_acquire);
}

uint64_t LogHead::AddListener(EventLog::HeadListener listener) {
  absl::MutexLock lock(&listeners_mu_);
  const uint64_t handle = next_listener_++;
  listeners_.emplace(handle, std::move(listener));
  return handle;
}

void LogHead::RemoveListener(uint64_t handle) {
  // Listeners run under listeners_mu_, so once we hold it the listener is
  // not running, and after the erase it is never called again.
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(handle);
}

void LogHead::Notify(uint64_t head) {
  absl::MutexLock lock(&listeners_mu_);
  for (auto& [handle, listener] : listeners_) listener(head);
}

}  // namespace vigil::eventlog::internal
