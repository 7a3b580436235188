#include "replication/internal/stream_reader.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "replication/event_headers.h"

namespace vigil::replication::internal {

absl::StatusOr<StreamReader> StreamReader::Start(JetStream* js,
                                                 StreamReaderOptions options) {
  RETURN_IF_ERROR(js->StartReading(options.stream, options.first));
  return StreamReader(js, std::move(options));
}

StreamReader::StreamReader(JetStream* js, StreamReaderOptions options)
    : js_(js),
      options_(std::move(options)),
      next_(options_.first),
      stream_last_(options_.first - 1),
      progress_(absl::Now()) {}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> StreamReader::Next() {
  if (skipped_to_ != 0) return Behind();
  ASSIGN_OR_RETURN(std::vector<StoredEvent> fetched,
                   js_->Fetch(options_.batch_events, options_.fetch_wait));
  std::vector<eventlog::RecordedEvent> events;
  if (fetched.empty()) {
    ASSIGN_OR_RETURN(const uint64_t last, js_->LastSequence(options_.stream));
    stream_last_ = std::max(stream_last_, last);
    if (last < next_) {
      progress_ = absl::Now();
    } else if (absl::Now() - progress_ > options_.api_timeout) {
      return Behind();
    }
    return events;
  }
  for (StoredEvent& stored : fetched) {
    if (stored.sequence > next_) {
      // The consumer went past next_: a gap in the stream, or deliveries
      // lost on the way (a fetch answered as a NATS node went away: with
      // no acks, the consumer counts them as delivered). The stream tells
      // which; what came before is taken first.
      skipped_to_ = stored.sequence;
      if (!events.empty()) break;
      return Behind();
    }
    if (stored.sequence < next_) {
      return absl::DataLossError(absl::StrCat(
          "the JetStream stream ", options_.stream, " delivered sequence ",
          stored.sequence, " where ", next_, " was due"));
    }
    if (stored.event.position != stored.sequence) {
      return absl::DataLossError(absl::StrCat(
          "sequence ", stored.sequence, " of the JetStream stream ",
          options_.stream, " holds position ", stored.event.position,
          ": sequence and position must be equal"));
    }
    if (options_.previous_hash.has_value()) {
      const std::string chained =
          eventlog::ChainedHash(*options_.previous_hash, stored.event);
      if (chained != stored.event.hash) {
        return absl::DataLossError(absl::StrCat(
            "sequence ", stored.sequence, " of the JetStream stream ",
            options_.stream, " carries hash ", HashHex(stored.event.hash),
            " but its event chains to ", HashHex(chained),
            ": the hash chain is broken"));
      }
      options_.previous_hash = stored.event.hash;
    }
    ++next_;
    events.push_back(std::move(stored.event));
  }
  stream_last_ = std::max(stream_last_, next_ - 1);
  progress_ = absl::Now();
  return events;
}

// The consumer delivered nothing for api_timeout though the stream ends at
// or past next_, or went past next_ (skipped_to_): a hole at next_ is for
// good; otherwise the consumer is stuck (its node gone) or lost deliveries,
// and another must be started at next_.
absl::Status StreamReader::Behind() {
  absl::StatusOr<eventlog::RecordedEvent> stored =
      js_->GetEvent(options_.stream, next_);
  if (absl::IsNotFound(stored.status())) {
    return absl::DataLossError(absl::StrCat(
        "the JetStream stream ", options_.stream,
        " has no message at sequence ", next_, " though ",
        skipped_to_ != 0
            ? absl::StrCat("its consumer delivered sequence ", skipped_to_)
            : absl::StrCat("it ends at ", stream_last_),
        ": a gap"));
  }
  RETURN_IF_ERROR(stored.status());
  if (skipped_to_ != 0) {
    return absl::UnavailableError(absl::StrCat(
        "the JetStream consumer on ", options_.stream, " delivered sequence ",
        skipped_to_, " where ", next_,
        " was due, which the stream holds: deliveries were lost (a NATS node "
        "gone?); reading again from ", next_));
  }
  return absl::UnavailableError(absl::StrCat(
      "the JetStream consumer delivered nothing for ",
      absl::FormatDuration(options_.api_timeout), " though the stream ",
      options_.stream, " ends at ", stream_last_, " and the reader is at ",
      next_ - 1));
}

}  // namespace vigil::replication::internal
