// ForwardingLog: an EventLog that passes every call to another one, for
// logs that change a few calls of a real log and keep the rest: a vigild
// service's view that appends where the leader is
// (tools/vigild/leader_log.h), a test's log with appends held at a gate
// (tests/testing/gated_log.h). A subclass overrides what it changes.
//
// Thread safety: as the log it forwards to.

#ifndef VIGIL_EVENTLOG_FORWARDING_LOG_H_
#define VIGIL_EVENTLOG_FORWARDING_LOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eventlog/event_log.h"

namespace vigil::eventlog {

class ForwardingLog : public EventLog {
 public:
  // `target` must outlive this log.
  explicit ForwardingLog(EventLog* target) : target_(target) {}

  absl::StatusOr<AppendResult> Append(const AppendRequest& request) override {
    return target_->Append(request);
  }
  void AppendAsync(const AppendRequest& request,
                   AppendCallback done) override {
    target_->AppendAsync(request, std::move(done));
  }
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      const std::string& stream, uint64_t from_revision, uint64_t max_count,
      bool backwards) const override {
    return target_->ReadStream(stream, from_revision, max_count, backwards);
  }
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(
      uint64_t from_position, uint64_t max_count, const Filter& filter,
      uint64_t max_scan = 0, uint64_t* next_position = nullptr) const override {
    return target_->ReadAll(from_position, max_count, filter, max_scan,
                            next_position);
  }
  absl::StatusOr<StreamInfo> GetStream(
      const std::string& stream) const override {
    return target_->GetStream(stream);
  }
  uint64_t HeadPosition() const override { return target_->HeadPosition(); }
  uint64_t WaitForHead(uint64_t position, absl::Time deadline) const override {
    return target_->WaitForHead(position, deadline);
  }
  uint64_t AddHeadListener(HeadListener listener) override {
    return target_->AddHeadListener(std::move(listener));
  }
  void RemoveHeadListener(uint64_t handle) override {
    target_->RemoveHeadListener(handle);
  }
  absl::StatusOr<uint64_t> FindPosition(int64_t time_us) const override {
    return target_->FindPosition(time_us);
  }
  absl::StatusOr<VerifyResult> Verify(uint64_t from,
                                      uint64_t to) const override {
    return target_->Verify(from, to);
  }
  absl::StatusOr<LogStats> Stats() const override { return target_->Stats(); }
  absl::StatusOr<LogBytes> BytesByKind() const override {
    return target_->BytesByKind();
  }
  absl::Status WriteHealth() const override { return target_->WriteHealth(); }
  absl::Status Refresh() override { return target_->Refresh(); }
  absl::StatusOr<AppendResult> Import(
      const std::vector<RecordedEvent>& events) override {
    return target_->Import(events);
  }
  absl::Status WriteSnapshot(
      std::string_view name, uint64_t position,
      const std::vector<SnapshotEntry>& changed) override {
    return target_->WriteSnapshot(name, position, changed);
  }
  absl::StatusOr<uint64_t> FindSnapshot(std::string_view name,
                                        uint64_t position) const override {
    return target_->FindSnapshot(name, position);
  }
  absl::StatusOr<std::optional<std::string>> ReadSnapshotEntry(
      std::string_view name, uint64_t position,
      std::string_view key) const override {
    return target_->ReadSnapshotEntry(name, position, key);
  }
  absl::StatusOr<std::vector<std::optional<std::string>>> ReadSnapshotEntries(
      std::string_view name, uint64_t position,
      const std::vector<std::string>& keys) const override {
    return target_->ReadSnapshotEntries(name, position, keys);
  }
  absl::Status ScanSnapshot(
      std::string_view name, uint64_t position, std::string_view key_prefix,
      const std::function<void(std::string_view key, std::string_view value)>&
          visit) const override {
    return target_->ScanSnapshot(name, position, key_prefix, visit);
  }

 protected:
  EventLog* target() const { return target_; }

 private:
  EventLog* const target_;
};

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_FORWARDING_LOG_H_
