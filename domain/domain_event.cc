#include "domain/domain_event.h"

#include <simdjson.h>

#include <bitset>
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "base/status_macros.h"
#include "domain/event_types.h"

namespace vigil::domain {
namespace {

absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status FieldError(std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("field \"", AsAbsl(field), "\" ", AsAbsl(problem)));
}

// A number a parse accepts for a kMeasure or kCount field.
absl::StatusOr<double> Number(const DomainField& field,
                              simdjson::dom::element value) {
  double number;
  if (value.get_double().get(number) != simdjson::SUCCESS) {
    return FieldError(field.name, "must be a number");
  }
  if (!std::isfinite(number) || number < 0) {
    return FieldError(field.name, "must be a finite number >= 0");
  }
  if (number > field.max) {
    return FieldError(field.name, absl::StrCat("must be <= ", field.max));
  }
  // A count: a whole number in [0, 2^53], the range in which JSON numbers
  // are exact everywhere (and far beyond any token or byte count).
  if (field.type == FieldType::kCount &&
      (number != std::floor(number) || number > 9007199254740992.0)) {
    return FieldError(field.name, "must be a whole number <= 2^53");
  }
  return number;
}

absl::Status ParseString(const DomainField& field,
                         simdjson::dom::element value, std::string* out) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return FieldError(field.name, "must be a string");
  }
  if (text.find('\0') != std::string_view::npos) {
    // PostgreSQL text cannot hold it; better parked than mangled.
    return FieldError(field.name, "must not contain U+0000");
  }
  if (!field.allowed.empty()) {
    bool allowed = false;
    std::vector<std::string> quoted;
    for (std::string_view value : field.allowed) {
      allowed = allowed || text == value;
      quoted.push_back(absl::StrCat("\"", AsAbsl(value), "\""));
    }
    if (!allowed) {
      return FieldError(field.name,
                        absl::StrCat("must be ", absl::StrJoin(quoted, " or ")));
    }
  }
  out->assign(text);
  return absl::OkStatus();
}

// Reads `field` of `object` into its member of `event`. A missing optional
// field, or one that is null, leaves the member untouched.
absl::Status ParseValue(const DomainField& field, simdjson::dom::element value,
                        DomainEvent* event);

absl::Status ParseField(const DomainField& field, simdjson::dom::object object,
                        DomainEvent* event) {
  simdjson::dom::element value;
  if (object[field.name].get(value) != simdjson::SUCCESS) {
    return field.presence == Presence::kRequired
               ? FieldError(field.name, "is required")
               : absl::OkStatus();
  }
  if (value.is_null() && field.presence == Presence::kOptional) {
    return absl::OkStatus();
  }
  return ParseValue(field, value, event);
}

// Reads one occurrence `value` of `field` into its member of `event`.
absl::Status ParseValue(const DomainField& field, simdjson::dom::element value,
                        DomainEvent* event) {
  switch (field.type) {
    case FieldType::kString:
      RETURN_IF_ERROR(ParseString(field, value, &(event->*field.text)));
      break;
    case FieldType::kMeasure: {
      ASSIGN_OR_RETURN(event->*field.measure, Number(field, value));
      break;
    }
    case FieldType::kCount: {
      ASSIGN_OR_RETURN(const double number, Number(field, value));
      event->*field.count = static_cast<int64_t>(number);
      break;
    }
    case FieldType::kBool:
      if (value.get_bool().get(event->*field.flag) != simdjson::SUCCESS) {
        return FieldError(field.name, "must be true or false");
      }
      break;
    case FieldType::kAny:
      event->*field.text = simdjson::minify(value);
      break;
  }
  if (field.present != nullptr) event->*field.present = true;
  return absl::OkStatus();
}

}  // namespace

DomainType DomainTypeOf(std::string_view type) {
  const DomainEventType* known = FindDomainEventType(type);
  return known == nullptr ? DomainType::kOther : known->domain_type;
}

absl::StatusOr<DomainEvent> ParseDomainEvent(
    const eventlog::RecordedEvent& event) {
  DomainEvent parsed;
  const DomainEventType* type = FindDomainEventType(event.type);
  parsed.position = event.position;
  parsed.time_us = event.recorded_time_us;
  if (type == nullptr) return parsed;
  parsed.type = type->domain_type;
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
  for (const DomainField& field : type->fields) {
    if (absl::Status status = ParseField(field, object, &parsed);
        !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(event.type, ": ", status.message()));
    }
  }
  // A repeated field: the first occurrence is folded (above), and every
  // other one must be valid too, as the check on append requires
  // (api/domain_events.h), so a reader that takes the last occurrence
  // (JSON.parse) never sees a value the projections did not check. Found
  // by tests/fuzz (domain_events).
  std::bitset<kMaxDomainFields> seen;
  DomainEvent repeated;
  for (const simdjson::dom::key_value_pair member : object) {
    for (size_t i = 0; i < type->fields.size(); ++i) {
      const DomainField& field = type->fields[i];
      if (field.name != member.key) continue;
      if (seen.test(i) && !member.value.is_null()) {
        if (absl::Status status = ParseValue(field, member.value, &repeated);
            !status.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(event.type, ": ", status.message()));
        }
      }
      seen.set(i);
      break;
    }
  }
  return parsed;
}

}  // namespace vigil::domain
