// GatedLog: an EventLog for tests that forwards to a real one, except that
// appends can be held "in flight" at a gate for as long as a test needs
// (bounds on appends in flight, shutdown with appends pending).

#ifndef VIGIL_TESTS_TESTING_GATED_LOG_H_
#define VIGIL_TESTS_TESTING_GATED_LOG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "eventlog/event_log.h"
#include "eventlog/forwarding_log.h"

namespace vigil::testing {

// An EventLog that forwards to a real one, except that while its gate is
// closed appends wait (unanswered) until Open(): appends "in flight" for as
// long as a test needs.
class GatedLog final : public eventlog::ForwardingLog {
 public:
  explicit GatedLog(std::unique_ptr<eventlog::EventLog> log)
      : ForwardingLog(log.get()), log_(std::move(log)) {}

  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() {
    std::vector<std::pair<eventlog::AppendRequest, AppendCallback>> held;
    {
      absl::MutexLock lock(&mu_);
      closed_ = false;
      held.swap(held_);
    }
    for (auto& [request, done] : held) log_->AppendAsync(request, done);
  }
  // Blocks until `n` appends are held at the gate.
  void AwaitHeld(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return held_.size() >= n;
    };
    mu_.Await(absl::Condition(&enough));
  }

  void AppendAsync(const eventlog::AppendRequest& request,
                   AppendCallback done) override {
    {
      absl::MutexLock lock(&mu_);
      if (closed_) {
        held_.emplace_back(request, std::move(done));
        return;
      }
    }
    log_->AppendAsync(request, std::move(done));
  }

 private:
  std::unique_ptr<eventlog::EventLog> log_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<eventlog::AppendRequest, AppendCallback>> held_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_GATED_LOG_H_
