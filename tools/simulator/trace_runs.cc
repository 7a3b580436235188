#include "tools/simulator/trace_runs.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil::simulator {
namespace {

using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

constexpr uint64_t kMillis = 1'000'000;  // nanoseconds

struct Worker {
  const char* id;  // after the prefix
  const char* name;
  const char* model;
  const char* tools[2];
};
constexpr Worker kWorkers[] = {
    {"researcher", "Researcher", "gpt-4o-mini", {"web_search", "fetch_page"}},
    {"writer", "Writer", "gpt-4.1", {"outline", "spell_check"}},
};

// Spans of one run under construction, with times relative to its start.
class RunBuilder {
 public:
  RunBuilder(std::mt19937_64* random, std::string trace_id)
      : random_(random), trace_id_(std::move(trace_id)) {}

  uint64_t Between(uint64_t low, uint64_t high) {
    return low + (*random_)() % (high - low + 1);
  }

  std::string NewSpanId() {
    std::string id(8, '\0');
    const uint64_t bits = (*random_)() | 1;  // never all zero
    for (int i = 0; i < 8; ++i) id[i] = static_cast<char>(bits >> (8 * i));
    return id;
  }

  // A span of `operation` named "<operation> <what>" under `parent` ("" for
  // the root), from `start` for `duration` (relative nanoseconds).
  Span Make(const std::string& parent, const std::string& operation,
            const std::string& what, uint64_t start, uint64_t duration) {
    Span span;
    span.set_trace_id(trace_id_);
    span.set_span_id(NewSpanId());
    span.set_parent_span_id(parent);
    span.set_name(absl::StrCat(operation, " ", what));
    span.set_kind(operation == "chat" ? Span::SPAN_KIND_CLIENT
                                      : Span::SPAN_KIND_INTERNAL);
    span.set_start_time_unix_nano(start);
    span.set_end_time_unix_nano(start + duration);
    Set(&span, "gen_ai.operation.name", operation);
    return span;
  }

  static void Set(Span* span, const std::string& key, const std::string& value) {
    auto* attribute = span->add_attributes();
    attribute->set_key(key);
    attribute->mutable_value()->set_string_value(value);
  }
  static void Set(Span* span, const std::string& key, int64_t value) {
    auto* attribute = span->add_attributes();
    attribute->set_key(key);
    attribute->mutable_value()->set_int_value(value);
  }
  static void Fail(Span* span, const std::string& message) {
    span->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
    span->mutable_status()->set_message(message);
  }

 private:
  std::mt19937_64* const random_;
  const std::string trace_id_;
};

}  // namespace

// The random stream of (seed, prefix): FNV-1a of the prefix mixed into the
// seed, so runs with another prefix draw other trace ids.
uint64_t StreamSeed(uint64_t seed, const std::string& prefix) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : prefix) hash = (hash ^ c) * 1099511628211ull;
  return seed ^ hash;
}

TraceRuns::TraceRuns(TraceRunOptions options)
    : options_(std::move(options)),
      random_(StreamSeed(options_.seed, options_.prefix)) {}

std::vector<TraceRuns::Export> TraceRuns::Next(uint64_t end_unix_nanos) {
  std::string trace_id(16, '\0');
  for (int half = 0; half < 2; ++half) {
    const uint64_t bits = random_() | 1;
    for (int i = 0; i < 8; ++i) {
      trace_id[8 * half + i] = static_cast<char>(bits >> (8 * i));
    }
  }
  RunBuilder run(&random_, trace_id);
  const std::string& prefix = options_.prefix;

  // The Planner's run and its planning call; the workers' runs follow one
  // after the other, each a batch of its own spans (children first).
  Span planner = run.Make("", "invoke_agent", "Planner", 0, 0);
  RunBuilder::Set(&planner, "gen_ai.agent.id", absl::StrCat(prefix, "-planner"));
  RunBuilder::Set(&planner, "gen_ai.agent.name", "Planner");
  uint64_t cursor = run.Between(5, 20) * kMillis;
  Span plan = run.Make(planner.span_id(), "chat", "gpt-4o", cursor,
                       run.Between(300, 1200) * kMillis);
  RunBuilder::Set(&plan, "gen_ai.request.model", "gpt-4o");
  RunBuilder::Set(&plan, "gen_ai.usage.input_tokens",
                  static_cast<int64_t>(run.Between(400, 2000)));
  RunBuilder::Set(&plan, "gen_ai.usage.output_tokens",
                  static_cast<int64_t>(run.Between(50, 300)));
  cursor = plan.end_time_unix_nano();

  std::vector<std::vector<Span>> batches;
  for (const Worker& worker : kWorkers) {
    std::vector<Span> spans;
    const uint64_t begin = cursor + run.Between(5, 30) * kMillis;
    Span agent = run.Make(planner.span_id(), "invoke_agent", worker.name,
                          begin, 0);
    RunBuilder::Set(&agent, "gen_ai.agent.id",
                    absl::StrCat(prefix, "-", worker.id));
    RunBuilder::Set(&agent, "gen_ai.agent.name", worker.name);
    RunBuilder::Set(&agent, "gen_ai.request.model", worker.model);
    const bool fails = run.Between(0, 7) == 0;
    uint64_t at = begin + run.Between(2, 10) * kMillis;
    const uint64_t chats = run.Between(1, 3);
    const uint64_t tools = fails ? 1 + run.Between(0, 1) : run.Between(0, 2);
    // Calls alternate, a chat first: chat, tool, chat, tool, ...
    std::vector<bool> is_tool;
    for (uint64_t i = 0; i < std::max(chats, tools); ++i) {
      if (i < chats) is_tool.push_back(false);
      if (i < tools) is_tool.push_back(true);
    }
    uint64_t tools_left = tools;
    for (const bool tool_call : is_tool) {
      Span span;
      if (!tool_call) {
        span = run.Make(agent.span_id(), "chat", worker.model, at,
                        run.Between(300, 1500) * kMillis);
        RunBuilder::Set(&span, "gen_ai.request.model", worker.model);
        RunBuilder::Set(&span, "gen_ai.usage.input_tokens",
                        static_cast<int64_t>(run.Between(200, 4000)));
        RunBuilder::Set(&span, "gen_ai.usage.output_tokens",
                        static_cast<int64_t>(run.Between(20, 800)));
      } else {
        const char* tool = worker.tools[run.Between(0, 1)];
        span = run.Make(agent.span_id(), "execute_tool", tool, at,
                        run.Between(20, 400) * kMillis);
        RunBuilder::Set(&span, "gen_ai.tool.name", tool);
        // A failing run's last tool call fails.
        if (--tools_left == 0 && fails) {
          RunBuilder::Fail(&span, absl::StrCat(tool, " timed out"));
        }
      }
      at = span.end_time_unix_nano() + run.Between(1, 10) * kMillis;
      spans.push_back(std::move(span));
    }
    agent.set_end_time_unix_nano(at);
    if (fails) RunBuilder::Fail(&agent, "gave up after a failed tool call");
    cursor = at;
    spans.push_back(std::move(agent));  // a run ends after its calls
    batches.push_back(std::move(spans));
  }
  planner.set_end_time_unix_nano(cursor + run.Between(5, 20) * kMillis);
  batches.push_back({std::move(plan), std::move(planner)});

  // Shift the run so that it ends at `end_unix_nanos`.
  const uint64_t length = batches.back().back().end_time_unix_nano();
  const uint64_t start =
      end_unix_nanos > length ? end_unix_nanos - length : 0;
  std::vector<Export> exports;
  for (std::vector<Span>& batch : batches) {
    Export& request = exports.emplace_back();
    auto* resource_spans = request.add_resource_spans();
    auto* service = resource_spans->mutable_resource()->add_attributes();
    service->set_key("service.name");
    service->mutable_value()->set_string_value(prefix);
    auto* scope_spans = resource_spans->add_scope_spans();
    scope_spans->mutable_scope()->set_name("vigil-simulate");
    for (Span& span : batch) {
      span.set_start_time_unix_nano(span.start_time_unix_nano() + start);
      span.set_end_time_unix_nano(span.end_time_unix_nano() + start);
      *scope_spans->add_spans() = std::move(span);
    }
  }
  return exports;
}

}  // namespace vigil::simulator
