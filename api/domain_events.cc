#include "api/domain_events.h"

#include <simdjson.h>

#include <bitset>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "api/event_json.h"
#include "api/internal/json.h"

namespace vigil::api {
namespace {

using enum FieldType;
using enum Presence;
using internal::AsAbsl;

// docs/contract.md "Domain events", one row a field, in its order.
// `priority` is not typed by the contract: a number, so that tasks sort by it.
// `result` may be any JSON value.
// clang-format off
constexpr std::string_view kRoles[] = {"manager", "worker"};

constexpr DomainField kAgentRegistered[] = {
    {"agent_id", kString, kRequired},
    {"role", kString, kRequired, kRoles},
    {"name", kString, kRequired},
    {"model", kString, kOptional},
};
constexpr DomainField kAgentHeartbeat[] = {
    {"agent_id", kString, kRequired},
    {"cpu_pct", kNumber, kRequired},
    {"mem_bytes", kNumber, kRequired},
    {"queue_depth", kNumber, kRequired},
};
constexpr DomainField kAgentStopped[] = {
    {"agent_id", kString, kRequired},
    {"reason", kString, kRequired},
};
constexpr DomainField kTaskCreated[] = {
    {"task_id", kString, kRequired},
    {"manager_id", kString, kRequired},
    {"title", kString, kRequired},
    {"priority", kNumber, kOptional},
    {"parent_task_id", kString, kOptional},
};
constexpr DomainField kTaskAssigned[] = {
    {"task_id", kString, kRequired},
    {"manager_id", kString, kRequired},
    {"worker_id", kString, kRequired},
};
constexpr DomainField kTaskStarted[] = {
    {"task_id", kString, kRequired},
    {"worker_id", kString, kRequired},
};
constexpr DomainField kTaskProgress[] = {
    {"task_id", kString, kRequired},
    {"worker_id", kString, kRequired},
    {"percent", kNumber, kRequired},
    {"note", kString, kOptional},
};
constexpr DomainField kTaskCompleted[] = {
    {"task_id", kString, kRequired},
    {"worker_id", kString, kRequired},
    {"result", kAny, kOptional},
};
constexpr DomainField kTaskFailed[] = {
    {"task_id", kString, kRequired},
    {"worker_id", kString, kRequired},
    {"error", kString, kRequired},
};
constexpr DomainField kMessageSent[] = {
    {"from_agent", kString, kRequired},
    {"to_agent", kString, kRequired},
    {"task_id", kString, kOptional},
    {"kind", kString, kRequired},
    {"summary", kString, kOptional},
};
constexpr DomainField kToolCalled[] = {
    {"agent_id", kString, kRequired},
    {"task_id", kString, kOptional},
    {"tool", kString, kRequired},
    {"duration_ms", kNumber, kRequired},
    {"ok", kBool, kRequired},
};
constexpr DomainField kLlmCallCompleted[] = {
    {"agent_id", kString, kRequired},
    {"task_id", kString, kOptional},
    {"model", kString, kRequired},
    {"input_tokens", kNumber, kRequired},
    {"output_tokens", kNumber, kRequired},
    {"cost_usd", kNumber, kRequired},
    {"latency_ms", kNumber, kRequired},
};

constexpr DomainEventType kTypes[] = {
    {"AgentRegistered", kAgentRegistered},
    {"AgentHeartbeat", kAgentHeartbeat},
    {"AgentStopped", kAgentStopped},
    {"TaskCreated", kTaskCreated},
    {"TaskAssigned", kTaskAssigned},
    {"TaskStarted", kTaskStarted},
    {"TaskProgress", kTaskProgress},
    {"TaskCompleted", kTaskCompleted},
    {"TaskFailed", kTaskFailed},
    {"MessageSent", kMessageSent},
    {"ToolCalled", kToolCalled},
    {"LlmCallCompleted", kLlmCallCompleted},
};
// clang-format on

// The fields of one type are tracked in a bitset.
constexpr size_t kMaxFields = 16;
static_assert([] {
  for (const DomainEventType& type : kTypes) {
    if (type.fields.size() > kMaxFields) return false;
  }
  return true;
}());

// `string`, `number`, `bool`, `any JSON value`, or the allowed strings as
// `"manager"|"worker"`.
std::string Expected(const DomainField& field) {
  if (!field.allowed.empty()) {
    std::vector<std::string> quoted;
    for (std::string_view value : field.allowed) {
      AppendJsonString(value, &quoted.emplace_back());
    }
    return absl::StrJoin(quoted, "|");
  }
  switch (field.type) {
    case kString:
      return "string";
    case kNumber:
      return "number";
    case kBool:
      return "bool";
    case kAny:
      break;
  }
  return "any JSON value";
}

std::string_view JsonTypeName(simdjson::dom::element value) {
  switch (value.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "bool";
    case simdjson::dom::element_type::NULL_VALUE:
      break;
  }
  return "null";
}

bool HasType(simdjson::dom::element value, const DomainField& field) {
  switch (field.type) {
    case kString: {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) return false;
      if (field.allowed.empty()) return true;
      for (std::string_view allowed : field.allowed) {
        if (text == allowed) return true;
      }
      return false;
    }
    case kNumber:
      return value.is_number();
    case kBool:
      return value.is_bool();
    case kAny:
      break;
  }
  return true;
}

// What was found instead: the JSON type, or for a string that is not one
// of the allowed values, the value itself (shortened).
std::string Found(simdjson::dom::element value) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return std::string(JsonTypeName(value));
  }
  return internal::Quote(text, 40);
}

absl::Status FieldError(size_t index, std::string_view field,
                        std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("events[", index, "].data", field.empty() ? "" : ".",
                   AsAbsl(field), ": ", AsAbsl(problem)));
}

}  // namespace

std::span<const DomainEventType> DomainEventTypes() { return kTypes; }

const DomainEventType* FindDomainEventType(std::string_view type) {
  for (const DomainEventType& known : kTypes) {
    if (known.type == type) return &known;
  }
  return nullptr;
}

std::string DescribeDomainEventType(const DomainEventType& type) {
  std::vector<std::string> fields;
  for (const DomainField& field : type.fields) {
    fields.push_back(absl::StrCat(AsAbsl(field.name),
                                  field.presence == kOptional ? "?" : "", ": ",
                                  Expected(field)));
  }
  return absl::StrCat(AsAbsl(type.type), " {", absl::StrJoin(fields, ", "),
                      "}");
}

absl::Status ValidateDomainEvent(const eventlog::EventData& event,
                                 size_t index) {
  const DomainEventType* type = FindDomainEventType(event.type);
  if (type == nullptr) return absl::OkStatus();
  if (!event.content_type.empty() &&
      event.content_type != eventlog::kJsonContentType) {
    return absl::OkStatus();
  }
  thread_local simdjson::dom::parser parser;
  absl::StatusOr<simdjson::dom::element> root =
      internal::ParseJson(parser, event.data);
  if (!root.ok()) {
    return FieldError(index, "", std::string(root.status().message()));
  }
  simdjson::dom::object object;
  if (root->get_object().get(object) != simdjson::SUCCESS) {
    return FieldError(index, "", "must be a JSON object");
  }
  // Every occurrence of a field is checked, so a repeated key cannot hide
  // a mistyped value from a reader that takes the last one.
  std::bitset<kMaxFields> present;
  for (const simdjson::dom::key_value_pair member : object) {
    for (size_t i = 0; i < type->fields.size(); ++i) {
      const DomainField& field = type->fields[i];
      if (field.name != member.key) continue;
      if (member.value.is_null()) break;
      if (!HasType(member.value, field)) {
        return FieldError(
            index, field.name,
            absl::StrCat("must be ", Expected(field), ", not ",
                         field.type == kString
                             ? Found(member.value)
                             : std::string(JsonTypeName(member.value))));
      }
      present.set(i);
      break;
    }
  }
  for (size_t i = 0; i < type->fields.size(); ++i) {
    const DomainField& field = type->fields[i];
    if (field.presence == kRequired && !present.test(i)) {
      return FieldError(index, field.name,
                        absl::StrCat("required ", Expected(field)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDomainEvents(
    const std::vector<eventlog::EventData>& events) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (absl::Status status = ValidateDomainEvent(events[i], i); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::api
