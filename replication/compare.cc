#include "replication/compare.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "eventlog/event.h"
#include "replication/event_headers.h"
#include "replication/internal/jetstream.h"

namespace vigil::replication {
namespace {

// Events read from the log per ReadAll, and messages per fetch.
constexpr uint64_t kLogPage = 256;
constexpr size_t kFetchBatch = 256;

void Note(StreamComparison* result, uint64_t sequence, absl::string_view what) {
  if (result->first_problem.empty()) {
    result->first_problem = absl::StrCat("sequence ", sequence, ": ", what);
  }
}

}  // namespace

std::string EventDifference(const eventlog::RecordedEvent& stored,
                            const eventlog::RecordedEvent& local) {
  if (stored.hash != local.hash) {
    return absl::StrCat("JetStream's hash ", HashHex(stored.hash),
                        " differs from the log's ", HashHex(local.hash));
  }
  if (!(stored == local)) {
    return "same hash, but the event's fields differ from the log's";
  }
  return "";
}

absl::StatusOr<StreamComparison> CompareStreamWithLog(
    const CompareOptions& options, const eventlog::EventLog& log) {
  // Nothing is published on this connection; the callback never runs.
  static const internal::AckCallback kNoAcks = [](uint64_t,
                                                  absl::StatusOr<uint64_t>) {};
  absl::StatusOr<std::unique_ptr<internal::JetStream>> js =
      internal::JetStream::Connect({.url = options.nats_url,
                                    .connect_timeout = absl::Seconds(2),
                                    .api_timeout = options.api_timeout,
                                    .max_pending = 1,
                                    .on_ack = &kNoAcks});
  if (!js.ok()) return js.status();
  absl::StatusOr<uint64_t> last = (*js)->LastSequence(options.stream);
  if (!last.ok()) return last.status();

  StreamComparison result;
  result.log_head = log.HeadPosition();
  result.stream_last = *last;
  if (result.stream_last > result.log_head) {
    result.duplicates += result.stream_last - result.log_head;
    Note(&result, result.log_head + 1, "past the log's head");
  }
  const uint64_t end = std::min(result.log_head, result.stream_last);
  if (end > 0) RETURN_IF_ERROR((*js)->StartReading(options.stream, 1));

  // The log's events from `next_position` on, a page at a time.
  std::vector<eventlog::RecordedEvent> page;
  size_t in_page = 0;
  uint64_t next_position = 1;
  auto next_event = [&]() -> absl::StatusOr<const eventlog::RecordedEvent*> {
    if (in_page == page.size()) {
      ASSIGN_OR_RETURN(page, log.ReadAll(next_position,
                                         std::min(kLogPage, end - next_position + 1),
                                         eventlog::Filter{}));
      in_page = 0;
      if (page.empty() || page.front().position != next_position) {
        return absl::DataLossError(
            absl::StrCat("the log has no event at position ", next_position,
                         " below its head ", result.log_head));
      }
    }
    ++next_position;
    return &page[in_page++];
  };
  // Each position in order: the message at its sequence, or a gap.
  auto compare = [&](const eventlog::RecordedEvent* stored) -> absl::Status {
    ASSIGN_OR_RETURN(const eventlog::RecordedEvent* event, next_event());
    ++result.compared;
    if (stored == nullptr) {
      ++result.gaps;
      Note(&result, event->position, "no message");
    } else if (stored->position != event->position) {
      ++result.duplicates;
      Note(&result, event->position,
           absl::StrCat("holds position ", stored->position));
    } else if (*stored != *event) {
      ++result.mismatches;
      Note(&result, event->position,
           "differs from the log's event (fields or hash)");
    } else {
      ++result.mirrored;
    }
    return absl::OkStatus();
  };
  // The consumer delivers the stream's messages in sequence order, a
  // batch per request, skipping sequences that hold none.
  absl::Time progress = absl::Now();
  while (next_position <= end) {
    ASSIGN_OR_RETURN(std::vector<internal::StoredEvent> fetched,
                     (*js)->Fetch(kFetchBatch, absl::Milliseconds(100)));
    if (fetched.empty()) {
      // Nothing more delivered though sequences up to `end` remain: no
      // message at the next one (the stream's last were deleted), or a
      // consumer that stalled.
      absl::StatusOr<eventlog::RecordedEvent> stored =
          (*js)->GetEvent(options.stream, next_position);
      if (absl::IsNotFound(stored.status())) {
        RETURN_IF_ERROR(compare(nullptr));
        progress = absl::Now();
      } else if (!stored.ok()) {
        return stored.status();
      } else if (absl::Now() - progress > options.api_timeout) {
        return absl::UnavailableError(absl::StrCat(
            "the JetStream consumer on ", options.stream,
            " delivered nothing for ", absl::FormatDuration(options.api_timeout),
            " though sequence ", next_position, " holds a message"));
      }
      continue;
    }
    progress = absl::Now();
    for (const internal::StoredEvent& stored : fetched) {
      if (stored.sequence < next_position) continue;  // taken already
      while (next_position < stored.sequence && next_position <= end) {
        RETURN_IF_ERROR(compare(nullptr));
      }
      if (next_position > end) break;
      RETURN_IF_ERROR(compare(&stored.event));
    }
  }
  return result;
}

}  // namespace vigil::replication
