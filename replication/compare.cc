#include "replication/compare.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "eventlog/event.h"
#include "replication/event_headers.h"
#include "replication/internal/jetstream.h"

namespace vigil::replication {
namespace {

// Events read from the log per ReadAll.
constexpr uint64_t kLogPage = 256;

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
  for (uint64_t position = 1; position <= end;) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
        log.ReadAll(position, std::min(kLogPage, end - position + 1),
                    eventlog::Filter{});
    if (!page.ok()) return page.status();
    if (page->empty()) {
      return absl::DataLossError(
          absl::StrCat("the log has no event at position ", position,
                       " below its head ", result.log_head));
    }
    for (const eventlog::RecordedEvent& event : *page) {
      ++result.compared;
      absl::StatusOr<eventlog::RecordedEvent> stored =
          (*js)->GetEvent(options.stream, event.position);
      if (absl::IsNotFound(stored.status())) {
        ++result.gaps;
        Note(&result, event.position, "no message");
      } else if (!stored.ok()) {
        return stored.status();
      } else if (stored->position != event.position) {
        ++result.duplicates;
        Note(&result, event.position,
             absl::StrCat("holds position ", stored->position));
      } else if (*stored != event) {
        ++result.mismatches;
        Note(&result, event.position,
             "differs from the log's event (fields or hash)");
      } else {
        ++result.mirrored;
      }
      position = event.position + 1;
    }
  }
  return result;
}

}  // namespace vigil::replication
