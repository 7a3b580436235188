#include "otlp/recorded_spans.h"

#include <utility>
#include <vector>

namespace vigil::otlp {
namespace {

// Events per read when a trace is loaded from the log.
constexpr uint64_t kLoadPage = 1000;

}  // namespace

RecordedSpans::RecordedSpans(const eventlog::EventLog* log,
                             size_t max_span_ids)
    : log_(log), max_span_ids_(max_span_ids) {}

absl::StatusOr<RecordedSpans::Trace> RecordedSpans::Load(
    const std::string& stream) const {
  Trace trace;
  uint64_t from = 0;
  while (true) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> page =
        log_->ReadStream(stream, from, kLoadPage, /*backwards=*/false);
    if (absl::IsNotFound(page.status())) return trace;
    if (!page.ok()) return page.status();
    for (eventlog::RecordedEvent& event : *page) {
      trace.last_revision = event.revision;
      trace.event_ids.insert(std::move(event.event_id));
    }
    if (page->size() < kLoadPage) return trace;
    from = *trace.last_revision + 1;
  }
}

absl::StatusOr<size_t> RecordedSpans::Filter(eventlog::AppendRequest* append) {
  bool known;
  {
    absl::MutexLock lock(&mu_);
    known = traces_.contains(append->stream);
  }
  if (!known) {
    // Read outside the lock: other traces go on meanwhile.
    absl::StatusOr<Trace> loaded = Load(append->stream);
    if (!loaded.ok()) return loaded.status();
    absl::MutexLock lock(&mu_);
    if (!traces_.contains(append->stream)) {
      span_ids_ += loaded->event_ids.size();
      lru_.push_front(append->stream);
      loaded->lru = lru_.begin();
      traces_.emplace(append->stream, *std::move(loaded));
    }
  }
  absl::MutexLock lock(&mu_);
  Trace& trace = traces_.at(append->stream);
  Touch(trace);
  std::vector<eventlog::EventData>& events = append->events;
  const size_t before = events.size();
  std::erase_if(events, [&](const eventlog::EventData& event) {
    return trace.event_ids.contains(event.event_id);
  });
  append->expected_revision =
      trace.last_revision.has_value()
          ? eventlog::ExpectedRevision::Exact(*trace.last_revision)
          : eventlog::ExpectedRevision::NoStream();
  EvictOverBound();
  return before - events.size();
}

void RecordedSpans::Recorded(const std::string& stream,
                             const std::vector<std::string>& event_ids,
                             const eventlog::AppendResult& result) {
  absl::MutexLock lock(&mu_);
  auto it = traces_.find(stream);
  if (it == traces_.end()) return;  // evicted meanwhile: loaded again if needed
  Trace& trace = it->second;
  for (const std::string& id : event_ids) {
    if (trace.event_ids.insert(id).second) ++span_ids_;
  }
  trace.last_revision = result.next_expected_revision;
  Touch(trace);
  EvictOverBound();
}

void RecordedSpans::Forget(const std::string& stream) {
  absl::MutexLock lock(&mu_);
  EraseLocked(stream);
}

size_t RecordedSpans::span_ids() const {
  absl::MutexLock lock(&mu_);
  return span_ids_;
}

void RecordedSpans::Touch(Trace& trace) {
  lru_.splice(lru_.begin(), lru_, trace.lru);
}

void RecordedSpans::EvictOverBound() {
  // The most recent trace stays even when alone over the bound: its
  // append is being filtered right now.
  while (span_ids_ > max_span_ids_ && lru_.size() > 1) {
    EraseLocked(lru_.back());
  }
}

void RecordedSpans::EraseLocked(const std::string& stream) {
  auto it = traces_.find(stream);
  if (it == traces_.end()) return;
  span_ids_ -= it->second.event_ids.size();
  lru_.erase(it->second.lru);
  traces_.erase(it);
}

}  // namespace vigil::otlp
