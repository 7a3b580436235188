// RecordedSpans: which spans of a trace the log already holds, so that an
// export appends each span once, whatever the exporter re-sends or how it
// batches (docs/otlp.md "Idempotency").
//
// A span's event id is derived from its trace id and span id
// (span_recorded.h SpanEventId), so "already recorded" means "an event of
// stream trace-<trace_id> has this id". Filter drops those events from an
// append and sets its expected revision to the stream's last revision as
// known here; the log refuses the append (ABORTED) when another append to
// the trace came in between, so a stale entry can never record a span
// twice: the caller forgets the trace and the client retries.
//
// What is known is a cache of the log, bounded by `max_span_ids` ids over
// all traces (least recently used traces go first); a trace not in it is
// read from the log (its stream, in pages). The log stays the only truth.
//
// Thread-safe.

#ifndef VIGIL_OTLP_RECORDED_SPANS_H_
#define VIGIL_OTLP_RECORDED_SPANS_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace vigil::otlp {

class RecordedSpans {
 public:
  // 1M ids: about 100 MB at most (an id, its hash-set slot and the
  // trace's list node), far beyond the traces in flight at once.
  static constexpr size_t kDefaultMaxSpanIds = 1'000'000;

  // `log` must outlive this.
  explicit RecordedSpans(const eventlog::EventLog* log,
                         size_t max_span_ids = kDefaultMaxSpanIds);
  RecordedSpans(const RecordedSpans&) = delete;
  RecordedSpans& operator=(const RecordedSpans&) = delete;

  // Removes from `append` (to a trace stream) the events whose ids the
  // stream already holds, and sets its expected revision: the stream's
  // last revision, or no_stream. Returns the number of events removed.
  // Reads the stream from the log when the trace is not known here; an
  // error of that read is returned.
  absl::StatusOr<size_t> Filter(eventlog::AppendRequest* append);

  // The events `event_ids` (of an append Filter left) were appended to
  // `stream` with `result`.
  void Recorded(const std::string& stream,
                const std::vector<std::string>& event_ids,
                const eventlog::AppendResult& result);

  // Drops what is known of `stream` (after an append to it was refused).
  void Forget(const std::string& stream);

  // Ids known now, over all traces (for tests and bounds).
  size_t span_ids() const;

 private:
  struct Trace {
    std::optional<uint64_t> last_revision;  // nullopt: no stream
    absl::flat_hash_set<std::string> event_ids;
    std::list<std::string>::iterator lru;  // its place in lru_
  };

  // Reads `stream` from the log. NOT_FOUND becomes an empty trace.
  absl::StatusOr<Trace> Load(const std::string& stream) const;
  void Touch(Trace& trace) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictOverBound() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EraseLocked(const std::string& stream)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const eventlog::EventLog* const log_;
  const size_t max_span_ids_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Trace> traces_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // front: most recent
  size_t span_ids_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::otlp

#endif  // VIGIL_OTLP_RECORDED_SPANS_H_
