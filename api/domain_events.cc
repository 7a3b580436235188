#include "api/domain_events.h"

#include <simdjson.h>

#include <bitset>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "api/internal/json.h"
#include "domain/event_types.h"

namespace vigil::api {
namespace {

using domain::DomainEventType;
using domain::DomainField;
using domain::ExpectedValue;
using domain::FieldType;
using domain::Presence;
using internal::AsAbsl;

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
    case FieldType::kString: {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS) return false;
      if (field.allowed.empty()) return true;
      for (std::string_view allowed : field.allowed) {
        if (text == allowed) return true;
      }
      return false;
    }
    case FieldType::kMeasure:
    case FieldType::kCount:
      return value.is_number();
    case FieldType::kBool:
      return value.is_bool();
    case FieldType::kAny:
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

absl::Status ValidateDomainEvent(const eventlog::EventData& event,
                                 size_t index) {
  const DomainEventType* type = domain::FindDomainEventType(event.type);
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
  std::bitset<domain::kMaxDomainFields> present;
  for (const simdjson::dom::key_value_pair member : object) {
    for (size_t i = 0; i < type->fields.size(); ++i) {
      const DomainField& field = type->fields[i];
      if (field.name != member.key) continue;
      if (member.value.is_null()) break;
      if (!HasType(member.value, field)) {
        return FieldError(
            index, field.name,
            absl::StrCat("must be ", ExpectedValue(field), ", not ",
                         field.type == FieldType::kString
                             ? Found(member.value)
                             : std::string(JsonTypeName(member.value))));
      }
      present.set(i);
      break;
    }
  }
  for (size_t i = 0; i < type->fields.size(); ++i) {
    const DomainField& field = type->fields[i];
    if (field.presence == Presence::kRequired && !present.test(i)) {
      return FieldError(index, field.name,
                        absl::StrCat("required ", ExpectedValue(field)));
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
