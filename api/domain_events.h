// The known domain event types (docs/contract.md "Domain events":
// AgentRegistered, TaskCreated, ...) and their check on append. The types are
// data, one table in domain_events.cc; schemas/events/README.md lists them in
// the form DescribeDomainEventType prints, and a test keeps the two in step.
//
// Only JSON types are checked, not ranges: ids and free text are strings,
// counts and measures numbers, `ok` a bool, `role` "manager" or "worker".
// Fields beyond the listed ones are allowed (clients may add their own);
// `null` counts as absent. Events of other types, and events whose content
// type is not application/json, are not checked here. Thread-safe.

#ifndef VIGIL_API_DOMAIN_EVENTS_H_
#define VIGIL_API_DOMAIN_EVENTS_H_

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "eventlog/event.h"

namespace vigil::api {

// The JSON type a field must have. kAny takes any JSON value.
enum class FieldType { kString, kNumber, kBool, kAny };

enum class Presence { kRequired, kOptional };

struct DomainField {
  std::string_view name;
  FieldType type;
  Presence presence;
  // For a kString field: the only values allowed; empty allows any string.
  std::span<const std::string_view> allowed = {};
};

struct DomainEventType {
  std::string_view type;
  std::span<const DomainField> fields;
};

// Every known type, in the order of docs/contract.md.
std::span<const DomainEventType> DomainEventTypes();

// The known type named `type`; nullptr for a custom type.
const DomainEventType* FindDomainEventType(std::string_view type);

// One line: `AgentRegistered {agent_id: string, role: "manager"|"worker",
// name: string, model?: string}` (optional fields end in `?`).
std::string DescribeDomainEventType(const DomainEventType& type);

// Checks `event`, the `index`-th of its append, when its type is known and
// its content type is JSON. INVALID_ARGUMENT naming the event and the field:
//   events[0].data.agent_id: required string
//   events[2].data.cpu_pct: must be number, not string
//   events[1].data: invalid JSON: ...
absl::Status ValidateDomainEvent(const eventlog::EventData& event,
                                 size_t index);

// ValidateDomainEvent for each event; the first failure.
absl::Status ValidateDomainEvents(
    const std::vector<eventlog::EventData>& events);

}  // namespace vigil::api

#endif  // VIGIL_API_DOMAIN_EVENTS_H_
