#include "eventlog/log_cursor.h"

#include <algorithm>
#include <utility>

#include "base/status_macros.h"

namespace vigil::eventlog {
namespace {

// Events asked of the log per call while a page is bounded by bytes: the
// page may pass its byte bound by at most one such call.
constexpr uint64_t kByteBoundedChunk = 500;

}  // namespace

LogCursor::LogCursor(const EventLog* log, uint64_t next_position,
                     Filter filter, CursorOptions options)
    : log_(log),
      filter_(std::move(filter)),
      options_(options),
      next_position_(std::max<uint64_t>(next_position, 1)) {}

uint64_t LogCursor::End() const {
  const uint64_t head = log_->HeadPosition();
  return options_.end_position.has_value()
             ? std::min(head, *options_.end_position)
             : head;
}

absl::StatusOr<CursorPage> LogCursor::Next(size_t max_events) {
  if (max_events == 0) max_events = options_.page_events;
  CursorPage page;
  const uint64_t end = End();
  const bool bounded_end = options_.end_position.has_value();
  size_t bytes = 0;
  uint64_t scan_left = options_.page_scan;
  while (page.events.size() < max_events && next_position_ <= end) {
    // An explicit end is never read past; the log's head is only a hint
    // (what was appended since it was read may come along).
    uint64_t count = max_events - page.events.size();
    // Without a filter every position examined is an event: no scan bound.
    uint64_t scan = filter_.Empty() ? 0 : scan_left;
    if (bounded_end) {
      const uint64_t positions = end - next_position_ + 1;
      count = std::min(count, positions);
      scan = scan == 0 ? positions : std::min(scan, positions);
    }
    if (options_.page_bytes > 0) count = std::min(count, kByteBoundedChunk);
    uint64_t next = next_position_;
    ASSIGN_OR_RETURN(std::vector<RecordedEvent> events,
                     log_->ReadAll(next_position_, count, filter_, scan, &next));
    const uint64_t examined = next > next_position_ ? next - next_position_ : 0;
    next_position_ = std::max(next_position_, next);
    if (events.empty()) break;
    for (RecordedEvent& event : events) {
      bytes += event.data.size() + event.metadata.size();
      page.events.push_back(std::move(event));
    }
    // One read per page unless the page is bounded by bytes.
    if (options_.page_bytes == 0 || bytes >= options_.page_bytes) break;
    if (scan_left != 0) {
      if (examined >= scan_left) break;
      scan_left -= examined;
    }
  }
  if (live_ && page.events.size() >= max_events) {
    live_ = false;
    page.fell_behind = true;
  }
  return page;
}

bool LogCursor::AtEnd() {
  if (next_position_ <= End()) return false;
  live_ = true;
  return true;
}

bool LogCursor::WaitForMore(absl::Time deadline) const {
  if (options_.end_position.has_value() &&
      next_position_ > *options_.end_position) {
    return false;
  }
  return log_->WaitForHead(next_position_ - 1, deadline) >= next_position_;
}

void LogCursor::Seek(uint64_t next_position) {
  next_position_ = std::max<uint64_t>(next_position, 1);
  live_ = false;
}

absl::Status LogCursor::SeekToTime(int64_t time_us) {
  ASSIGN_OR_RETURN(uint64_t position, log_->FindPosition(time_us));
  Seek(position);
  return absl::OkStatus();
}

}  // namespace vigil::eventlog
