// FollowerLog (follower_log.h): the window, the head and its listeners of a
// log followed from elsewhere. Every read looks in the window first under
// its one lock; what is older goes to the subclass's ReadOlder, a page at a
// time, outside the lock.

#include "eventlog/follower_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "eventlog/internal/log_head.h"

namespace vigil::eventlog {
namespace {

// Events asked of ReadOlder per call when a filter or the window decides
// how many are needed.
constexpr uint64_t kOlderPage = 1000;

size_t Weight(const RecordedEvent& event) {
  return event.data.size() + event.metadata.size() + event.stream.size() +
         event.type.size() + event.event_id.size() + 64;
}

}  // namespace

absl::Status FollowerLog::CheckWindowOptions(
    const FollowerWindowOptions& options) {
  if (options.window_events == 0) {
    return absl::InvalidArgumentError("the window must hold an event");
  }
  return absl::OkStatus();
}

FollowerLog::FollowerLog(FollowerWindowOptions options)
    : options_(std::move(options)),
      head_(std::make_unique<internal::LogHead>()) {}

FollowerLog::~FollowerLog() = default;

absl::Status FollowerLog::ReadOnly(absl::string_view what) const {
  return absl::UnimplementedError(absl::StrCat(
      "this is a gateway replica (vigild --gateway-only): ", what,
      " is the primary's; send it to ",
      options_.primary.empty() ? "the primary" : options_.primary));
}

absl::StatusOr<AppendResult> FollowerLog::Append(const AppendRequest&) {
  return ReadOnly("appending");
}

void FollowerLog::AppendAsync(const AppendRequest&, AppendCallback done) {
  done(ReadOnly("appending"));
}

absl::StatusOr<VerifyResult> FollowerLog::Verify(uint64_t, uint64_t) const {
  return ReadOnly("verifying the hash chain");
}

absl::StatusOr<LogStats> FollowerLog::Stats() const {
  return LogStats{.head_position = HeadPosition()};
}

uint64_t FollowerLog::HeadPosition() const { return head_->Get(); }

uint64_t FollowerLog::WaitForHead(uint64_t position,
                                  absl::Time deadline) const {
  return head_->WaitFor(position, deadline);
}

uint64_t FollowerLog::AddHeadListener(HeadListener listener) {
  return head_->AddListener(std::move(listener));
}

void FollowerLog::RemoveHeadListener(uint64_t handle) {
  head_->RemoveListener(handle);
}

absl::Status FollowerLog::Receive(RecordedEvent event) {
  uint64_t head = 0;
  {
    absl::MutexLock lock(&mu_);
    head = head_->Get();
    if (have_head_ && event.position != head + 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "position ", event.position, " came after ", head));
    }
    have_head_ = true;
    head = event.position;
    window_bytes_ += Weight(event);
    window_.push_back(std::move(event));
    while (window_.size() > 1 &&
           (window_.size() > options_.window_events ||
            window_bytes_ > options_.window_bytes)) {
      window_bytes_ -= Weight(window_.front());
      window_.pop_front();
    }
    head_->Publish(head);
  }
  head_->Notify(head);
  return absl::OkStatus();
}

absl::Status FollowerLog::CaughtUp(uint64_t position) {
  {
    absl::MutexLock lock(&mu_);
    if (have_head_ && position != head_->Get()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the source is caught up at ", position,
                       " but this replica has ", head_->Get(),
                       " (a different or restored log?)"));
    }
    have_head_ = true;
    head_->Publish(position);
  }
  head_->Notify(position);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<RecordedEvent>> FollowerLog::ReadAll(
    uint64_t from, uint64_t max_count, const Filter& filter, uint64_t max_scan,
    uint64_t* next_position) const {
  const uint64_t head = HeadPosition();
  std::vector<RecordedEvent> out;
  uint64_t position = std::max<uint64_t>(from, 1);
  uint64_t scanned = 0;
  auto done = [&] {
    return (max_count != 0 && out.size() >= max_count) || position > head ||
           (max_scan != 0 && scanned >= max_scan);
  };
  while (!done()) {
    uint64_t window_start = 0;
    {
      absl::MutexLock lock(&mu_);
      if (!window_.empty()) window_start = window_.front().position;
      if (window_start != 0 && position >= window_start) {
        for (size_t i = position - window_start; i < window_.size() && !done();
             ++i) {
          const RecordedEvent& event = window_[i];
          ++scanned;
          position = event.position + 1;
          if (filter.Matches(event)) out.push_back(event);
        }
        // The window ends at head_ >= head: done() holds now.
        break;
      }
    }
    // Older than the window: ask the source, a page at a time.
    uint64_t want = std::min(head - position + 1, kOlderPage);
    if (filter.Empty() && max_count != 0) {
      want = std::min(want, max_count - out.size());
    }
    if (max_scan != 0) want = std::min(want, max_scan - scanned);
    if (window_start != 0) want = std::min(want, window_start - position);
    absl::StatusOr<std::vector<RecordedEvent>> page = ReadOlder(position, want);
    if (!page.ok()) return page.status();
    if (page->empty()) break;  // the source has no more (cannot be)
    for (RecordedEvent& event : *page) {
      if (event.position > head || done()) break;
      ++scanned;
      position = event.position + 1;
      if (filter.Matches(event)) out.push_back(std::move(event));
    }
  }
  if (next_position != nullptr) *next_position = position;
  return out;
}

absl::StatusOr<uint64_t> FollowerLog::FindPosition(int64_t time_us) const {
  uint64_t high = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!window_.empty() && window_.front().recorded_time_us < time_us) {
      auto it = std::partition_point(
          window_.begin(), window_.end(), [time_us](const RecordedEvent& e) {
            return e.recorded_time_us < time_us;
          });
      return it == window_.end() ? head_->Get() + 1 : it->position;
    }
    high = window_.empty() ? head_->Get() + 1 : window_.front().position;
  }
  uint64_t low = 1;  // the answer is in [low, high]
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    absl::StatusOr<std::vector<RecordedEvent>> page = ReadOlder(middle, 1);
    if (!page.ok()) return page.status();
    if (page->empty() || page->front().recorded_time_us >= time_us) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

}  // namespace vigil::eventlog
