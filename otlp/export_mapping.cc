#include "otlp/export_mapping.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::ResourceSpans;
using opentelemetry::proto::trace::v1::ScopeSpans;
using opentelemetry::proto::trace::v1::Span;

// Reasons quoted in the answer; the rest are counted.
constexpr int kMaxReasons = 5;

struct MappedSpan {
  std::string span_id;  // raw bytes
  eventlog::EventData event;
};

struct Trace {
  std::string trace_id;  // raw bytes
  std::vector<MappedSpan> spans;
  absl::flat_hash_set<std::string> span_ids;
};

class Rejections {
 public:
  void Add(const Span& span, absl::string_view why) {
    ++count_;
    if (count_ > kMaxReasons) return;
    if (!message_.empty()) message_.append("; ");
    absl::StrAppend(&message_, "span ", HexId(span.trace_id()), "/",
                    HexId(span.span_id()), ": ", why);
  }
  int64_t count() const { return count_; }
  std::string Message() const {
    if (count_ <= kMaxReasons) return message_;
    return absl::StrCat(message_, "; and ", count_ - kMaxReasons, " more");
  }

 private:
  int64_t count_ = 0;
  std::string message_;
};

// A trace's spans, in request order, cut into appends within the log's
// bounds.
void AppendTrace(Trace trace, const MappingOptions& options,
                 std::vector<eventlog::AppendRequest>* appends) {
  const std::string stream = TraceStream(trace.trace_id);
  size_t begin = 0;
  while (begin < trace.spans.size()) {
    size_t end = begin;
    size_t bytes = 0;
    while (end < trace.spans.size() &&
           end - begin < options.max_append_events &&
           (end == begin || bytes + trace.spans[end].event.data.size() <=
                                options.max_append_bytes)) {
      bytes += trace.spans[end].event.data.size();
      ++end;
    }
    eventlog::AppendRequest append;
    append.stream = stream;
    append.events.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      append.events.push_back(std::move(trace.spans[i].event));
    }
    appends->push_back(std::move(append));
    begin = end;
  }
}

}  // namespace

std::string TraceStream(std::string_view trace_id) {
  return absl::StrCat("trace-", HexId(trace_id));
}

MappedExport MapExport(const ExportTraceServiceRequest& request,
                       const MappingOptions& options) {
  Rejections rejections;
  std::vector<Trace> traces;
  absl::flat_hash_map<std::string, size_t> trace_index;
  for (const ResourceSpans& resource_spans : request.resource_spans()) {
    std::string resource_json;
    const absl::Status resource =
        AppendAttributesJson(resource_spans.resource().attributes(),
                             options.span_limits, &resource_json);
    for (const ScopeSpans& scope_spans : resource_spans.scope_spans()) {
      const std::string scope_json = ScopeJson(scope_spans.scope());
      for (const Span& span : scope_spans.spans()) {
        if (!resource.ok()) {
          rejections.Add(span, absl::StrCat("resource: ", resource.message()));
          continue;
        }
        absl::StatusOr<std::string> data =
            SpanRecordedJson(span, resource_json, scope_json, *options.prices,
                             options.span_limits);
        if (!data.ok()) {
          rejections.Add(span, data.status().message());
          continue;
        }
        auto [it, added] =
            trace_index.try_emplace(span.trace_id(), traces.size());
        if (added) {
          traces.emplace_back();
          traces.back().trace_id = span.trace_id();
        }
        Trace& trace = traces[it->second];
        if (!trace.span_ids.insert(span.span_id()).second) continue;
        MappedSpan mapped;
        mapped.span_id = span.span_id();
        mapped.event.event_id = SpanEventId(span.trace_id(), span.span_id());
        mapped.event.type = kSpanRecordedType;
        mapped.event.content_type = eventlog::kJsonContentType;
        mapped.event.data = *std::move(data);
        trace.spans.push_back(std::move(mapped));
      }
    }
  }
  MappedExport mapped;
  for (Trace& trace : traces) {
    AppendTrace(std::move(trace), options, &mapped.appends);
  }
  mapped.rejected_spans = rejections.count();
  mapped.error_message = rejections.Message();
  return mapped;
}

}  // namespace vigil::otlp
