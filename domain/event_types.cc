#include "domain/event_types.h"

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace vigil::domain {
namespace {

using enum Presence;
using E = DomainEvent;

absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }

constexpr DomainField String(std::string_view name, Presence presence,
                             std::string E::*member,
                             std::span<const std::string_view> allowed = {}) {
  return {.name = name, .type = FieldType::kString, .presence = presence,
          .text = member, .allowed = allowed};
}
constexpr DomainField Measure(
    std::string_view name, Presence presence, double E::*member,
    double max = std::numeric_limits<double>::infinity()) {
  return {.name = name, .type = FieldType::kMeasure, .presence = presence,
          .measure = member, .max = max};
}
constexpr DomainField Count(std::string_view name, Presence presence,
                            int64_t E::*member, bool E::*present = nullptr) {
  return {.name = name, .type = FieldType::kCount, .presence = presence,
          .count = member, .present = present};
}
constexpr DomainField Bool(std::string_view name, Presence presence,
                           bool E::*member) {
  return {.name = name, .type = FieldType::kBool, .presence = presence,
          .flag = member};
}
constexpr DomainField Any(std::string_view name, Presence presence,
                          std::string E::*member) {
  return {.name = name, .type = FieldType::kAny, .presence = presence,
          .text = member};
}

// One row a field, in the README's order. `priority` is not typed by the
// product contract: a count, so that tasks sort by it. `result` may be any
// JSON value. Names follow OpenTelemetry's gen_ai conventions where they
// overlap.
// clang-format off
constexpr std::string_view kRoles[] = {"manager", "worker"};

constexpr DomainField kAgentRegistered[] = {
    String("agent_id", kRequired, &E::agent_id),
    String("role", kRequired, &E::role, kRoles),
    String("name", kRequired, &E::name),
    String("model", kOptional, &E::model),
};
constexpr DomainField kAgentHeartbeat[] = {
    String("agent_id", kRequired, &E::agent_id),
    Measure("cpu_pct", kRequired, &E::cpu_pct),
    Count("mem_bytes", kRequired, &E::mem_bytes),
    Count("queue_depth", kRequired, &E::queue_depth),
};
constexpr DomainField kAgentStopped[] = {
    String("agent_id", kRequired, &E::agent_id),
    String("reason", kRequired, &E::reason),
};
constexpr DomainField kTaskCreated[] = {
    String("task_id", kRequired, &E::task_id),
    String("manager_id", kRequired, &E::manager_id),
    String("title", kRequired, &E::title),
    Count("priority", kOptional, &E::priority, &E::has_priority),
    String("parent_task_id", kOptional, &E::parent_task_id),
};
constexpr DomainField kTaskAssigned[] = {
    String("task_id", kRequired, &E::task_id),
    String("manager_id", kRequired, &E::manager_id),
    String("worker_id", kRequired, &E::worker_id),
};
constexpr DomainField kTaskStarted[] = {
    String("task_id", kRequired, &E::task_id),
    String("worker_id", kRequired, &E::worker_id),
};
constexpr DomainField kTaskProgress[] = {
    String("task_id", kRequired, &E::task_id),
    String("worker_id", kRequired, &E::worker_id),
    Measure("percent", kRequired, &E::percent, /*max=*/100),
    String("note", kOptional, &E::note),
};
constexpr DomainField kTaskCompleted[] = {
    String("task_id", kRequired, &E::task_id),
    String("worker_id", kRequired, &E::worker_id),
    Any("result", kOptional, &E::result),
};
constexpr DomainField kTaskFailed[] = {
    String("task_id", kRequired, &E::task_id),
    String("worker_id", kRequired, &E::worker_id),
    String("error", kRequired, &E::error),
};
constexpr DomainField kMessageSent[] = {
    String("from_agent", kRequired, &E::from_agent),
    String("to_agent", kRequired, &E::to_agent),
    String("task_id", kOptional, &E::task_id),
    String("kind", kRequired, &E::kind),
    String("summary", kOptional, &E::summary),
};
constexpr DomainField kToolCalled[] = {
    String("agent_id", kRequired, &E::agent_id),
    String("task_id", kOptional, &E::task_id),
    String("tool", kRequired, &E::tool),
    Measure("duration_ms", kRequired, &E::duration_ms),
    Bool("ok", kRequired, &E::ok),
};
constexpr DomainField kLlmCallCompleted[] = {
    String("agent_id", kRequired, &E::agent_id),
    String("task_id", kOptional, &E::task_id),
    String("model", kRequired, &E::model),
    Count("input_tokens", kRequired, &E::input_tokens),
    Count("output_tokens", kRequired, &E::output_tokens),
    Measure("cost_usd", kRequired, &E::cost_usd),
    Measure("latency_ms", kRequired, &E::latency_ms),
};

// SpanRecorded: one OpenTelemetry span (docs/otlp.md "SpanRecorded"); the
// OTLP ingest writes it, stream `trace-<trace_id>`.
constexpr std::string_view kSpanKinds[] = {"unspecified", "internal", "server",
                                           "client",      "producer", "consumer"};
constexpr std::string_view kSpanStatuses[] = {"unset", "ok", "error"};

constexpr DomainField kSpanRecorded[] = {
    String("trace_id", kRequired, &E::trace_id),
    String("span_id", kRequired, &E::span_id),
    String("parent_span_id", kOptional, &E::parent_span_id),
    String("name", kRequired, &E::name),
    String("kind", kRequired, &E::kind, kSpanKinds),
    Count("start_time_us", kRequired, &E::start_time_us),
    Count("end_time_us", kRequired, &E::end_time_us),
    Measure("duration_ms", kRequired, &E::duration_ms),
    String("status", kRequired, &E::status, kSpanStatuses),
    String("error", kOptional, &E::error),
    String("operation", kOptional, &E::operation),
    String("agent_id", kOptional, &E::agent_id),
    String("agent_name", kOptional, &E::agent_name),
    String("caller_agent_id", kOptional, &E::caller_agent_id),
    String("tool", kOptional, &E::tool),
    String("tool_call_id", kOptional, &E::tool_call_id),
    String("provider", kOptional, &E::provider),
    String("model", kOptional, &E::model),
    Count("input_tokens", kOptional, &E::input_tokens, &E::has_input_tokens),
    Count("output_tokens", kOptional, &E::output_tokens, &E::has_output_tokens),
    Count("cached_tokens", kOptional, &E::cached_tokens, &E::has_cached_tokens),
    Measure("cost_usd", kOptional, &E::cost_usd),
    Any("attributes", kRequired, &E::attributes),
    Any("events", kOptional, &E::span_events),
    Any("links", kOptional, &E::links),
    Any("resource", kRequired, &E::resource),
    Any("scope", kOptional, &E::scope),
};

constexpr DomainEventType kTypes[] = {
    {"AgentRegistered", DomainType::kAgentRegistered, kAgentRegistered},
    {"AgentHeartbeat", DomainType::kAgentHeartbeat, kAgentHeartbeat},
    {"AgentStopped", DomainType::kAgentStopped, kAgentStopped},
    {"TaskCreated", DomainType::kTaskCreated, kTaskCreated},
    {"TaskAssigned", DomainType::kTaskAssigned, kTaskAssigned},
    {"TaskStarted", DomainType::kTaskStarted, kTaskStarted},
    {"TaskProgress", DomainType::kTaskProgress, kTaskProgress},
    {"TaskCompleted", DomainType::kTaskCompleted, kTaskCompleted},
    {"TaskFailed", DomainType::kTaskFailed, kTaskFailed},
    {"MessageSent", DomainType::kMessageSent, kMessageSent},
    {"ToolCalled", DomainType::kToolCalled, kToolCalled},
    {"LlmCallCompleted", DomainType::kLlmCallCompleted, kLlmCallCompleted},
    {"SpanRecorded", DomainType::kSpanRecorded, kSpanRecorded},
};
// clang-format on

// Every field names the member of its type, and only that one; no type has
// more than kMaxDomainFields fields.
constexpr bool MembersMatchTypes() {
  for (const DomainEventType& type : kTypes) {
    for (const DomainField& f : type.fields) {
      const bool text = f.text != nullptr, measure = f.measure != nullptr,
                 count = f.count != nullptr, flag = f.flag != nullptr;
      if (text + measure + count + flag != 1) return false;
      switch (f.type) {
        case FieldType::kString:
        case FieldType::kAny:
          if (!text) return false;
          break;
        case FieldType::kMeasure:
          if (!measure) return false;
          break;
        case FieldType::kCount:
          if (!count) return false;
          break;
        case FieldType::kBool:
          if (!flag) return false;
          break;
      }
      if (!f.allowed.empty() && f.type != FieldType::kString) return false;
    }
    if (type.fields.size() > kMaxDomainFields) return false;
  }
  return true;
}
static_assert(MembersMatchTypes());

}  // namespace

std::span<const DomainEventType> DomainEventTypes() { return kTypes; }

const DomainEventType* FindDomainEventType(std::string_view type) {
  for (const DomainEventType& known : kTypes) {
    if (known.type == type) return &known;
  }
  return nullptr;
}

std::string ExpectedValue(const DomainField& field) {
  if (!field.allowed.empty()) {
    std::vector<std::string> quoted;
    for (std::string_view value : field.allowed) {
      quoted.push_back(absl::StrCat("\"", AsAbsl(value), "\""));
    }
    return absl::StrJoin(quoted, "|");
  }
  switch (field.type) {
    case FieldType::kString:
      return "string";
    case FieldType::kMeasure:
    case FieldType::kCount:
      return "number";
    case FieldType::kBool:
      return "bool";
    case FieldType::kAny:
      break;
  }
  return "any JSON value";
}

std::string DescribeDomainEventType(const DomainEventType& type) {
  std::vector<std::string> fields;
  for (const DomainField& field : type.fields) {
    fields.push_back(absl::StrCat(
        AsAbsl(field.name), field.presence == Presence::kOptional ? "?" : "",
        ": ", ExpectedValue(field)));
  }
  return absl::StrCat(AsAbsl(type.type), " {", absl::StrJoin(fields, ", "),
                      "}");
}

}  // namespace vigil::domain
