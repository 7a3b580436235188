#include "otlp/trace_ingest.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "api/principal.h"
#include "otlp/recorded_spans.h"

namespace vigil::otlp {
namespace {

// Retrying cannot make these appends succeed: their spans are rejected.
bool Rejects(const absl::Status& status) {
  return status.code() == absl::StatusCode::kInvalidArgument ||
         status.code() == absl::StatusCode::kFailedPrecondition;
}

// The answers of one export's appends, until the last.
class Pending {
 public:
  Pending(size_t appends, MappedExport mapped, TraceIngest::Done done,
          base::Counter* recorded, base::Counter* rejected)
      : results_(appends),
        left_(appends),
        mapped_(std::move(mapped)),
        done_(std::move(done)),
        recorded_(recorded),
        rejected_(rejected) {}

  // The `index`th append's answer, with the number of spans it held.
  void Answer(size_t index, size_t spans, absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      results_[index] = {spans, std::move(status)};
      if (--left_ > 0) return;
    }
    Finish();
  }

  // Also when there was nothing to append.
  void Finish() {
    int64_t rejected = mapped_.rejected_spans;
    uint64_t recorded = 0;
    std::string message = mapped_.error_message;
    for (auto& [spans, status] : results_) {
      if (status.ok()) {
        recorded += spans;
      } else if (Rejects(status)) {
        rejected += static_cast<int64_t>(spans);
        if (!message.empty()) message.append("; ");
        message.append(std::string(status.message()));
      } else {
        done_(std::move(status));  // the first failure in request order
        return;
      }
    }
    if (recorded_ != nullptr) recorded_->Increment(recorded);
    if (rejected_ != nullptr)
      rejected_->Increment(static_cast<uint64_t>(rejected));
    TraceIngest::Response response;
    if (rejected > 0) {
      response.mutable_partial_success()->set_rejected_spans(rejected);
      response.mutable_partial_success()->set_error_message(std::move(message));
    }
    done_(std::move(response));
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<size_t, absl::Status>> results_ ABSL_GUARDED_BY(mu_);
  size_t left_ ABSL_GUARDED_BY(mu_);
  const MappedExport mapped_;  // its appends moved out
  const TraceIngest::Done done_;
  base::Counter* const recorded_;
  base::Counter* const rejected_;
};

// One trace's appends, in order: each filtered against what the log holds
// (RecordedSpans), sent when anything is left, and answered to `pending`
// under its index in the export.
class Chain : public std::enable_shared_from_this<Chain> {
 public:
  Chain(api::AppendPath* append_path, RecordedSpans* recorded_spans,
        api::Principal principal, std::shared_ptr<Pending> pending,
        size_t first_index, std::vector<eventlog::AppendRequest> appends)
      : append_path_(append_path),
        recorded_spans_(recorded_spans),
        principal_(std::move(principal)),
        pending_(std::move(pending)),
        first_index_(first_index),
        appends_(std::move(appends)) {}

  // Sends the next append, or answers the ones that need no append.
  void Step() {
    while (next_ < appends_.size()) {
      eventlog::AppendRequest& append = appends_[next_];
      const size_t spans = append.events.size();
      absl::StatusOr<size_t> removed = recorded_spans_->Filter(&append);
      if (!removed.ok()) return FailRest(removed.status());
      if (append.events.empty()) {  // every span already in the log
        pending_->Answer(first_index_ + next_++, spans, absl::OkStatus());
        continue;
      }
      std::vector<std::string> ids;
      ids.reserve(append.events.size());
      for (const eventlog::EventData& event : append.events) {
        ids.push_back(event.event_id);
      }
      std::string stream = append.stream;
      append_path_->Append(
          principal_, std::move(append),
          [self = shared_from_this(), spans, stream = std::move(stream),
           ids = std::move(ids)](absl::StatusOr<eventlog::AppendResult> result) {
            self->Answered(spans, stream, ids, std::move(result));
          },
          api::EventSource::kServerBuilt);
      return;
    }
  }

 private:
  void Answered(size_t spans, const std::string& stream,
                const std::vector<std::string>& ids,
                absl::StatusOr<eventlog::AppendResult> result) {
    if (result.ok()) {
      recorded_spans_->Recorded(stream, ids, *result);
      pending_->Answer(first_index_ + next_++, spans, absl::OkStatus());
      return Step();
    }
    // Another append to the trace came between the filter and this
    // append (the expected revision failed): what is known of the trace
    // is stale. Filter again from the log, a few times.
    recorded_spans_->Forget(stream);
    if (absl::IsAborted(result.status()) && ++conflicts_ <= kMaxConflicts) {
      return Step();
    }
    if (absl::IsAborted(result.status())) {
      return FailRest(absl::UnavailableError(absl::StrCat(
          "trace stream ", stream,
          " kept changing under this export (concurrent exports of one "
          "trace); retry")));
    }
    // A rejection (INVALID_ARGUMENT, FAILED_PRECONDITION) covers this
    // append's spans only: the trace's other appends go on.
    const bool rejected = absl::IsInvalidArgument(result.status()) ||
                          absl::IsFailedPrecondition(result.status());
    pending_->Answer(first_index_ + next_++, spans, result.status());
    if (rejected) return Step();
    FailRest(result.status());
  }

  // Answers every append not yet answered with `status`.
  void FailRest(const absl::Status& status) {
    while (next_ < appends_.size()) {
      const size_t spans = appends_[next_].events.size();
      pending_->Answer(first_index_ + next_++, spans, status);
    }
  }

  static constexpr int kMaxConflicts = 2;

  api::AppendPath* const append_path_;
  RecordedSpans* const recorded_spans_;
  const api::Principal principal_;
  const std::shared_ptr<Pending> pending_;
  const size_t first_index_;
  std::vector<eventlog::AppendRequest> appends_;
  size_t next_ = 0;  // touched by one append's thread at a time
  int conflicts_ = 0;
};

}  // namespace

TraceIngest::TraceIngest(const eventlog::EventLog* log,
                         api::AppendPath* appends, MappingOptions options,
                         base::Metrics* metrics)
    : appends_(appends),
      recorded_spans_(log),
      options_(options),
      spans_(metrics == nullptr
                 ? nullptr
                 : metrics->AddCounter(
                       "vigil_otlp_spans_total",
                       "OTLP spans answered, by outcome: recorded (appended "
                       "or already in the log) or rejected "
                       "(partial_success).",
                       {"outcome"})),
      recorded_(spans_ == nullptr ? nullptr : spans_->WithLabels({"recorded"})),
      rejected_(spans_ == nullptr ? nullptr
                                  : spans_->WithLabels({"rejected"})) {}

void TraceIngest::Export(const api::Principal& principal,
                         const Request& request, Done done) {
  // Before anything is read: a caller who may not append learns nothing
  // of what the log holds.
  if (absl::Status allowed =
          api::Authorize(principal, api::Action::kAppend);
      !allowed.ok()) {
    return done(allowed);
  }
  MappedExport mapped = MapExport(request, options_);
  std::vector<eventlog::AppendRequest> appends = std::move(mapped.appends);
  mapped.appends.clear();
  auto pending = std::make_shared<Pending>(
      appends.size(), std::move(mapped), std::move(done), recorded_, rejected_);
  if (appends.empty()) return pending->Finish();
  // The mapping gives a trace's appends one after another; each trace is
  // one chain, the traces go in parallel.
  std::vector<std::shared_ptr<Chain>> chains;
  size_t begin = 0;
  while (begin < appends.size()) {
    size_t end = begin + 1;
    while (end < appends.size() && appends[end].stream == appends[begin].stream) {
      ++end;
    }
    std::vector<eventlog::AppendRequest> trace(
        std::make_move_iterator(appends.begin() + begin),
        std::make_move_iterator(appends.begin() + end));
    chains.push_back(std::make_shared<Chain>(appends_, &recorded_spans_,
                                             principal, pending, begin,
                                             std::move(trace)));
    begin = end;
  }
  for (const std::shared_ptr<Chain>& chain : chains) chain->Step();
}

}  // namespace vigil::otlp
