#include "otlp/trace_ingest.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

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

}  // namespace

TraceIngest::TraceIngest(api::AppendPath* appends, MappingOptions options,
                         base::Metrics* metrics)
    : appends_(appends),
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
  MappedExport mapped = MapExport(request, options_);
  std::vector<eventlog::AppendRequest> appends = std::move(mapped.appends);
  mapped.appends.clear();
  auto pending = std::make_shared<Pending>(
      appends.size(), std::move(mapped), std::move(done), recorded_, rejected_);
  if (appends.empty()) return pending->Finish();
  for (size_t i = 0; i < appends.size(); ++i) {
    const size_t spans = appends[i].events.size();
    appends_->Append(
        principal, std::move(appends[i]),
        [pending, i, spans](absl::StatusOr<eventlog::AppendResult> result) {
          pending->Answer(i, spans, result.status());
        });
  }
}

}  // namespace vigil::otlp
