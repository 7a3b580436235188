// A realistic multi-agent trace as SpanRecorded events (docs/otlp.md): a
// manager invoking two workers (one through a hand-off span that is no
// run), tool and chat spans, a workflow inside a worker's run, a failing
// tool call and a failing worker. For the tests that fold it in many
// orders. Header-only.

#ifndef VIGIL_TESTS_TESTING_AGENT_TRACE_H_
#define VIGIL_TESTS_TESTING_AGENT_TRACE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil::testing {

inline constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
inline constexpr int64_t kTraceStartUs = 1764000000000000;

struct TraceSpan {
  std::string span_id;
  std::string parent_span_id;  // "": a root
  std::string name;
  std::string operation;  // "": none
  int64_t start_ms = 0;   // after kTraceStartUs
  int64_t end_ms = 0;
  std::string agent_id;
  std::string agent_name;
  std::string tool;
  std::string model;
  int64_t input_tokens = -1;  // -1: not given
  int64_t output_tokens = -1;
  double cost_usd = 0;  // binary fractions, so sums are exact in any order
  std::string error;    // "": status ok
};

// SpanRecorded data for `span` of trace `trace_id`.
inline std::string SpanRecordedJson(const TraceSpan& s,
                                    const std::string& trace_id = kTraceId) {
  const auto text = [](const char* name, const std::string& value) {
    return value.empty() ? std::string()
                         : absl::StrCat(",\"", name, "\":\"", value, "\"");
  };
  std::string out = absl::StrCat(
      "{\"trace_id\":\"", trace_id, "\",\"span_id\":\"", s.span_id, "\"",
      text("parent_span_id", s.parent_span_id), ",\"name\":\"", s.name,
      "\",\"kind\":\"", s.operation == "chat" ? "client" : "internal",
      "\",\"start_time_us\":", kTraceStartUs + s.start_ms * 1000,
      ",\"end_time_us\":", kTraceStartUs + s.end_ms * 1000,
      ",\"duration_ms\":", s.end_ms - s.start_ms, ",\"status\":\"",
      s.error.empty() ? "ok" : "error", "\"", text("error", s.error),
      text("operation", s.operation), text("agent_id", s.agent_id),
      text("agent_name", s.agent_name), text("tool", s.tool),
      text("model", s.model));
  if (s.input_tokens >= 0) absl::StrAppend(&out, ",\"input_tokens\":", s.input_tokens);
  if (s.output_tokens >= 0) absl::StrAppend(&out, ",\"output_tokens\":", s.output_tokens);
  if (s.cost_usd > 0) absl::StrAppend(&out, ",\"cost_usd\":", s.cost_usd);
  absl::StrAppend(&out, ",\"attributes\":{\"gen_ai.operation.name\":\"",
                  s.operation, "\",\"n\":[1,2]},\"resource\":{\"service.name\":"
                  "\"crew\"},\"scope\":{\"name\":\"test\",\"version\":\"1\"}}");
  return out;
}

// The spans of the trace, parents first. The first kSmallTrace of them
// are a trace of their own (every parent among them), small enough to fold
// in every order.
inline constexpr size_t kSmallTrace = 7;
inline std::vector<TraceSpan> AgentTraceSpans() {
  return {
      // The manager's run.
      {.span_id = "a000000000000001", .name = "invoke_agent Planner",
       .operation = "invoke_agent", .start_ms = 0, .end_ms = 61000,
       .agent_id = "planner", .agent_name = "Planner", .model = "gpt-4o"},
      // A hand-off span (no run) and the worker run under it.
      {.span_id = "a000000000000004", .parent_span_id = "a000000000000001",
       .name = "transfer_to_researcher", .start_ms = 3000, .end_ms = 50000},
      {.span_id = "a000000000000005", .parent_span_id = "a000000000000004",
       .name = "invoke_agent Researcher", .operation = "invoke_agent",
       .start_ms = 3100, .end_ms = 40000, .agent_id = "researcher",
       .agent_name = "Researcher", .model = "claude-3"},
      {.span_id = "a000000000000007", .parent_span_id = "a000000000000005",
       .name = "execute_tool fetch", .operation = "execute_tool",
       .start_ms = 4000, .end_ms = 5000, .tool = "fetch", .error = "timeout"},
      {.span_id = "a000000000000006", .parent_span_id = "a000000000000005",
       .name = "chat claude-3", .operation = "chat", .start_ms = 3200,
       .end_ms = 4000, .model = "claude-3", .input_tokens = 50,
       .output_tokens = 10, .cost_usd = 0.25},
      // The second worker fails.
      {.span_id = "a000000000000008", .parent_span_id = "a000000000000001",
       .name = "invoke_agent Writer", .operation = "invoke_agent",
       .start_ms = 41000, .end_ms = 55000, .agent_id = "writer",
       .agent_name = "Writer", .error = "rate limited"},
      {.span_id = "a000000000000009", .parent_span_id = "a000000000000008",
       .name = "chat gpt-4o", .operation = "chat", .start_ms = 41500,
       .end_ms = 42000, .model = "gpt-4o", .input_tokens = 10,
       .output_tokens = 0, .cost_usd = 0.125, .error = "429"},
      // The rest of the larger trace.
      {.span_id = "a000000000000002", .parent_span_id = "a000000000000001",
       .name = "chat gpt-4o", .operation = "chat", .start_ms = 1000,
       .end_ms = 2000, .model = "gpt-4o", .input_tokens = 100,
       .output_tokens = 20, .cost_usd = 0.5},
      {.span_id = "a000000000000003", .parent_span_id = "a000000000000001",
       .name = "execute_tool search", .operation = "execute_tool",
       .start_ms = 2000, .end_ms = 2500, .tool = "search"},
      {.span_id = "a00000000000000c", .parent_span_id = "a000000000000003",
       .name = "GET /search", .start_ms = 2100, .end_ms = 2400},
      {.span_id = "a00000000000000a", .parent_span_id = "a000000000000005",
       .name = "invoke_workflow summarize", .operation = "invoke_workflow",
       .start_ms = 6000, .end_ms = 9000},
      {.span_id = "a00000000000000b", .parent_span_id = "a00000000000000a",
       .name = "execute_tool count", .operation = "execute_tool",
       .start_ms = 6500, .end_ms = 7000, .tool = "count"},
      {.span_id = "a00000000000000d", .parent_span_id = "a00000000000000a",
       .name = "chat gpt-4o-mini", .operation = "chat", .start_ms = 7000,
       .end_ms = 8000, .model = "gpt-4o-mini", .input_tokens = 7,
       .output_tokens = 3, .cost_usd = 0.0625},
  };
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_AGENT_TRACE_H_
