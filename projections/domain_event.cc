#include "projections/domain_event.h"

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"

namespace vigil::projections {
namespace {

absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

absl::Status FieldError(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("field \"", AsAbsl(field), "\" ", AsAbsl(problem)));
}

// Reads the fields of one object. Missing optional fields leave the output
// untouched.
class Fields {
 public:
  explicit Fields(simdjson::dom::object object) : object_(object) {}

  absl::Status String(std::string_view field, bool required,
                      std::string* out) const {
    simdjson::dom::element value;
    if (object_[field].get(value) != simdjson::SUCCESS) {
      return required ? FieldError(field, "is required") : absl::OkStatus();
    }
    if (value.is_null() && !required) return absl::OkStatus();
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return FieldError(field, "must be a string");
    }
    if (text.find('\0') != std::string_view::npos) {
      // PostgreSQL text cannot hold it; better parked than mangled.
      return FieldError(field, "must not contain U+0000");
    }
    out->assign(text);
    return absl::OkStatus();
  }

  absl::Status Double(std::string_view field, bool required, double* out,
                      bool* present = nullptr) const {
    simdjson::dom::element value;
    if (object_[field].get(value) != simdjson::SUCCESS ||
        (!required && value.is_null())) {
      return required ? FieldError(field, "is required") : absl::OkStatus();
    }
    double number;
    if (value.get_double().get(number) != simdjson::SUCCESS) {
      return FieldError(field, "must be a number");
    }
    if (!std::isfinite(number) || number < 0) {
      return FieldError(field, "must be a finite number >= 0");
    }
    *out = number;
    if (present != nullptr) *present = true;
    return absl::OkStatus();
  }

  // A count: a whole number in [0, 2^53], the range in which JSON numbers
  // are exact everywhere (and far beyond any token or byte count).
  absl::Status Count(std::string_view field, bool required, int64_t* out,
                     bool* present = nullptr) const {
    double number = 0;
    bool found = false;
    RETURN_IF_ERROR(Double(field, required, &number, &found));
    if (!found) return absl::OkStatus();
    if (number != std::floor(number) || number > 9007199254740992.0) {
      return FieldError(field, "must be a whole number <= 2^53");
    }
    *out = static_cast<int64_t>(number);
    if (present != nullptr) *present = true;
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view field, bool* out) const {
    simdjson::dom::element value;
    if (object_[field].get(value) != simdjson::SUCCESS) {
      return FieldError(field, "is required");
    }
    if (value.get_bool().get(*out) != simdjson::SUCCESS) {
      return FieldError(field, "must be true or false");
    }
    return absl::OkStatus();
  }

  absl::Status Raw(std::string_view field, std::string* out) const {
    simdjson::dom::element value;
    if (object_[field].get(value) != simdjson::SUCCESS || value.is_null()) {
      return absl::OkStatus();
    }
    *out = simdjson::minify(value);
    return absl::OkStatus();
  }

 private:
  simdjson::dom::object object_;
};

constexpr bool kRequired = true;
constexpr bool kOptional = false;

absl::Status ParseFields(const Fields& f, DomainEvent* e) {
  switch (e->type) {
    case DomainType::kOther:
      return absl::OkStatus();
    case DomainType::kAgentRegistered:
      RETURN_IF_ERROR(f.String("agent_id", kRequired, &e->agent_id));
      RETURN_IF_ERROR(f.String("role", kRequired, &e->role));
      if (e->role != "manager" && e->role != "worker") {
        return FieldError("role", "must be \"manager\" or \"worker\"");
      }
      RETURN_IF_ERROR(f.String("name", kRequired, &e->name));
      return f.String("model", kOptional, &e->model);
    case DomainType::kAgentHeartbeat:
      RETURN_IF_ERROR(f.String("agent_id", kRequired, &e->agent_id));
      RETURN_IF_ERROR(f.Double("cpu_pct", kRequired, &e->cpu_pct));
      RETURN_IF_ERROR(f.Count("mem_bytes", kRequired, &e->mem_bytes));
      return f.Count("queue_depth", kRequired, &e->queue_depth);
    case DomainType::kAgentStopped:
      RETURN_IF_ERROR(f.String("agent_id", kRequired, &e->agent_id));
      return f.String("reason", kRequired, &e->reason);
    case DomainType::kTaskCreated:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      RETURN_IF_ERROR(f.String("manager_id", kRequired, &e->manager_id));
      RETURN_IF_ERROR(f.String("title", kRequired, &e->title));
      RETURN_IF_ERROR(
          f.Count("priority", kOptional, &e->priority, &e->has_priority));
      return f.String("parent_task_id", kOptional, &e->parent_task_id);
    case DomainType::kTaskAssigned:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      RETURN_IF_ERROR(f.String("manager_id", kRequired, &e->manager_id));
      return f.String("worker_id", kRequired, &e->worker_id);
    case DomainType::kTaskStarted:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      return f.String("worker_id", kRequired, &e->worker_id);
    case DomainType::kTaskProgress:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      RETURN_IF_ERROR(f.String("worker_id", kRequired, &e->worker_id));
      RETURN_IF_ERROR(f.Double("percent", kRequired, &e->percent));
      if (e->percent > 100) return FieldError("percent", "must be <= 100");
      return f.String("note", kOptional, &e->note);
    case DomainType::kTaskCompleted:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      RETURN_IF_ERROR(f.String("worker_id", kRequired, &e->worker_id));
      return f.Raw("result", &e->result);
    case DomainType::kTaskFailed:
      RETURN_IF_ERROR(f.String("task_id", kRequired, &e->task_id));
      RETURN_IF_ERROR(f.String("worker_id", kRequired, &e->worker_id));
      return f.String("error", kRequired, &e->error);
    case DomainType::kMessageSent:
      RETURN_IF_ERROR(f.String("from_agent", kRequired, &e->from_agent));
      RETURN_IF_ERROR(f.String("to_agent", kRequired, &e->to_agent));
      RETURN_IF_ERROR(f.String("task_id", kOptional, &e->task_id));
      RETURN_IF_ERROR(f.String("kind", kRequired, &e->kind));
      return f.String("summary", kOptional, &e->summary);
    case DomainType::kToolCalled:
      RETURN_IF_ERROR(f.String("agent_id", kRequired, &e->agent_id));
      RETURN_IF_ERROR(f.String("task_id", kOptional, &e->task_id));
      RETURN_IF_ERROR(f.String("tool", kRequired, &e->tool));
      RETURN_IF_ERROR(f.Double("duration_ms", kRequired, &e->duration_ms));
      return f.Bool("ok", &e->ok);
    case DomainType::kLlmCallCompleted:
      RETURN_IF_ERROR(f.String("agent_id", kRequired, &e->agent_id));
      RETURN_IF_ERROR(f.String("task_id", kOptional, &e->task_id));
      RETURN_IF_ERROR(f.String("model", kRequired, &e->model));
      RETURN_IF_ERROR(f.Count("input_tokens", kRequired, &e->input_tokens));
      RETURN_IF_ERROR(f.Count("output_tokens", kRequired, &e->output_tokens));
      RETURN_IF_ERROR(f.Double("cost_usd", kRequired, &e->cost_usd));
      return f.Double("latency_ms", kRequired, &e->latency_ms);
  }
  return absl::OkStatus();
}

}  // namespace

DomainType DomainTypeOf(std::string_view type) {
  static constexpr struct {
    std::string_view name;
    DomainType type;
  } kTypes[] = {
      {"AgentRegistered", DomainType::kAgentRegistered},
      {"AgentHeartbeat", DomainType::kAgentHeartbeat},
      {"AgentStopped", DomainType::kAgentStopped},
      {"TaskCreated", DomainType::kTaskCreated},
      {"TaskAssigned", DomainType::kTaskAssigned},
      {"TaskStarted", DomainType::kTaskStarted},
      {"TaskProgress", DomainType::kTaskProgress},
      {"TaskCompleted", DomainType::kTaskCompleted},
      {"TaskFailed", DomainType::kTaskFailed},
      {"MessageSent", DomainType::kMessageSent},
      {"ToolCalled", DomainType::kToolCalled},
      {"LlmCallCompleted", DomainType::kLlmCallCompleted},
  };
  for (const auto& entry : kTypes) {
    if (entry.name == type) return entry.type;
  }
  return DomainType::kOther;
}

absl::StatusOr<DomainEvent> ParseDomainEvent(
    const eventlog::RecordedEvent& event) {
  DomainEvent parsed;
  parsed.type = DomainTypeOf(event.type);
  parsed.position = event.position;
  parsed.time_us = event.recorded_time_us;
  if (parsed.type == DomainType::kOther) return parsed;
  if (!event.content_type.empty() &&
      event.content_type != eventlog::kJsonContentType) {
    return absl::InvalidArgumentError(
        absl::StrCat(event.type, " must be application/json, not ",
                     event.content_type));
  }
  // One parser per thread: it keeps its buffers between documents.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (simdjson::error_code error =
          parser.parse(event.data.data(), event.data.size(), true)
              .get_object()
              .get(object);
      error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        event.type, " data is not a JSON object: ",
        simdjson::error_message(error)));
  }
  if (absl::Status status = ParseFields(Fields(object), &parsed);
      !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(event.type, ": ", status.message()));
  }
  return parsed;
}

}  // namespace vigil::projections
