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

namespace vigil::testing {

// An EventLog that forwards to a real one, except that while its gate is
// closed appends wait (unanswered) until Open(): appends "in flight" for as
// long as a test needs.
class GatedLog final : public eventlog::EventLog {
 public:
  explicit GatedLog(std::unique_ptr<eventlog::EventLog> log)
      : log_(std::move(log)) {}

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

  absl::StatusOr<eventlog::AppendResult> Append(
      const eventlog::AppendRequest& request) override {
    return log_->Append(request);
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
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override {
    return log_->ReadStream(stream, from_revision, max_count, backwards);
  }
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count,
      const eventlog::Filter& filter, uint64_t max_scan,
      uint64_t* next_position) const override {
    return log_->ReadAll(from_position, max_count, filter, max_scan,
                         next_position);
  }
  absl::StatusOr<eventlog::StreamInfo> GetStream(
      const std::string& stream) const override {
    return log_->GetStream(stream);
  }
  uint64_t HeadPosition() const override { return log_->HeadPosition(); }
  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const override {
    return log_->WaitForHead(position, deadline);
  }
  uint64_t AddHeadListener(HeadListener listener) override {
    return log_->AddHeadListener(std::move(listener));
  }
  void RemoveHeadListener(uint64_t handle) override {
    log_->RemoveHeadListener(handle);
  }
  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const override {
    return log_->FindPosition(time_us);
  }
  absl::StatusOr<eventlog::VerifyResult> Verify(uint64_t from,
                                                uint64_t to) const override {
    return log_->Verify(from, to);
  }
  absl::StatusOr<eventlog::LogStats> Stats() const override {
    return log_->Stats();
  }
  absl::Status Refresh() override { return log_->Refresh(); }

 private:
  std::unique_ptr<eventlog::EventLog> log_;
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::pair<eventlog::AppendRequest, AppendCallback>> held_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_GATED_LOG_H_
