// The check of known domain event types on append. The types are described
// once, in domain/event_types.h; this walks that table over a client's
// event and answers in the words of the append API.
//
// Only JSON types are checked, not ranges: ids and free text are strings,
// counts and measures numbers, `ok` a bool, `role` "manager" or "worker".
// Fields beyond the listed ones are allowed (clients may add their own);
// `null` counts as absent. Events of other types, and events whose content
// type is not application/json, are not checked here. Thread-safe.

#ifndef VIGIL_API_DOMAIN_EVENTS_H_
#define VIGIL_API_DOMAIN_EVENTS_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "eventlog/event.h"

namespace vigil::api {

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
