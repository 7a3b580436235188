// LogCursor: the one way Vigil follows the log. A cursor stands at a
// position (the next one to read), reads forwards in bounded pages of the
// events that match its filter, says when it has reached the head (catching
// up, then live), and waits for new heads. Subscriptions, the live feed,
// projections, webhook deliveries, time travel's replays and rebuilds all
// read the log through it, so paging, filtering and the switch to live are
// written once.
//
// A cursor is a small value (the log, a filter, a position, options): copy
// it, keep it in a loop, or make one for a single read. Reads never wait for
// the writer, except WaitForMore, which waits for the head.
//
// Thread safety: one cursor is used by one thread at a time (callers that
// read on an executor hand it over under their own lock); any number of
// cursors may read the same log at once.

#ifndef VIGIL_EVENTLOG_LOG_CURSOR_H_
#define VIGIL_EVENTLOG_LOG_CURSOR_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace vigil::eventlog {

struct CursorOptions {
  // Most events one page holds (Next's max_events overrides it per call).
  size_t page_events = 256;
  // Most positions one page examines while the filter skips events, so a
  // selective filter cannot turn one read into a scan of the whole log
  // (0 = no bound). A page that examined this many and matched nothing is
  // empty, but the cursor has moved on. Unused without a filter.
  size_t page_scan = 4096;
  // A page stops growing once its events' data and metadata reach this
  // many bytes (0 = no bound). It still holds at least one event.
  size_t page_bytes = 0;
  // The last position to read, when the cursor should stop there (a read
  // of history up to the head as of some moment); unset, it follows the
  // log's head.
  std::optional<uint64_t> end_position;
};

// What one read returned.
struct CursorPage {
  // The matching events, in position order.
  std::vector<RecordedEvent> events;
  // The cursor was live and this page came back full: it fell behind the
  // head and is catching up from the log again.
  bool fell_behind = false;
};

class LogCursor {
 public:
  // A cursor whose next read starts at `next_position` (1 = the whole log).
  // `log` must outlive it.
  LogCursor(const EventLog* log, uint64_t next_position, Filter filter = {},
            CursorOptions options = {});

  // The next page: up to `max_events` (0 = options.page_events) matching
  // events from next_position(), never past the end (the head, or
  // options.end_position). Moves the cursor past every position it
  // examined, matched or not. Empty at the end. Errors are the log's.
  absl::StatusOr<CursorPage> Next(size_t max_events = 0);

  // True when every position up to the end has been read. The cursor is
  // live from then on, until a page comes back full (see fell_behind).
  bool AtEnd();

  // Blocks until the log's head reaches next_position() or `deadline`
  // passes; true when there is something to read.
  bool WaitForMore(absl::Time deadline) const;

  // Moves the cursor; it catches up again from there.
  void Seek(uint64_t next_position);
  // Moves the cursor to the first event recorded at or after `time_us`.
  absl::Status SeekToTime(int64_t time_us);
  void SetFilter(Filter filter) { filter_ = std::move(filter); }

  // The next position a read examines; everything before it was read.
  uint64_t next_position() const { return next_position_; }
  const Filter& filter() const { return filter_; }
  // Reached the end since it last fell behind or moved.
  bool live() const { return live_; }

 private:
  uint64_t End() const;

  const EventLog* log_;
  Filter filter_;
  CursorOptions options_;
  uint64_t next_position_;
  bool live_ = false;
};

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_LOG_CURSOR_H_
