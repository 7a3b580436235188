// The domain event types (schemas/events/README.md: AgentRegistered,
// TaskCreated, ...), described once: for each type its name and, for each
// field, the JSON type, whether it is required, the values it may take and
// the DomainEvent member it lands in. The server's check on append
// (api/domain_events.h) and the parse the folds read (domain_event.h) both
// walk this table; schemas/events/README.md lists it in the form
// DescribeDomainEventType prints, and tests/api/domain_events_test.cc keeps
// the two in step. Immutable; safe from any thread.

#ifndef VIGIL_DOMAIN_EVENT_TYPES_H_
#define VIGIL_DOMAIN_EVENT_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>

#include "domain/domain_event.h"

namespace vigil::domain {

// A field's JSON type, and how a parse reads it into its member.
enum class FieldType {
  kString,   // a string; std::string member
  kMeasure,  // a number; a parse wants it finite and >= 0; double member
  kCount,    // a number; a parse wants a whole number in [0, 2^53]; int64_t
  kBool,     // true or false; bool member
  kAny,      // any JSON value; its minified text in a std::string member
};

enum class Presence { kRequired, kOptional };

struct DomainField {
  std::string_view name;
  FieldType type;
  Presence presence;
  // The member the value lands in: the one of `type`'s C++ type.
  std::string DomainEvent::*text = nullptr;  // kString, kAny
  double DomainEvent::*measure = nullptr;    // kMeasure
  int64_t DomainEvent::*count = nullptr;     // kCount
  bool DomainEvent::*flag = nullptr;         // kBool
  // Optional: set to true when the field is given.
  bool DomainEvent::*present = nullptr;
  // kString: the only values allowed (plain words); empty allows any.
  std::span<const std::string_view> allowed = {};
  // kMeasure: the largest value a parse accepts. The check on append checks
  // JSON types only, not ranges.
  double max = std::numeric_limits<double>::infinity();
};

// No type has more fields (the check on append tracks them in a bitset).
inline constexpr size_t kMaxDomainFields = 32;

struct DomainEventType {
  std::string_view type;  // its name, e.g. "AgentRegistered"
  DomainType domain_type;
  std::span<const DomainField> fields;
};

// Every known type, in the order of schemas/events/README.md.
std::span<const DomainEventType> DomainEventTypes();

// The known type named `type`; nullptr for a custom type.
const DomainEventType* FindDomainEventType(std::string_view type);

// What a field takes, as the README writes it: `string`, `number`, `bool`,
// `any JSON value`, or the allowed strings as `"manager"|"worker"`.
std::string ExpectedValue(const DomainField& field);

// One line: `AgentRegistered {agent_id: string, role: "manager"|"worker",
// name: string, model?: string}` (optional fields end in `?`).
std::string DescribeDomainEventType(const DomainEventType& type);

}  // namespace vigil::domain

#endif  // VIGIL_DOMAIN_EVENT_TYPES_H_
