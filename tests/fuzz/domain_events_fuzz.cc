// The JSON data of each known domain event type, through both of its
// readers: the check on append (api::ValidateDomainEvent, JSON types only)
// and the projections' parse (domain::ParseDomainEvent, types and ranges).
// The first byte picks the type (domain/event_types.h), the rest is data.
// Property: the parse is stricter, so whatever it accepts the append check
// accepts too (otherwise an event the projections can fold would be refused
// on append).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "api/domain_events.h"
#include "domain/domain_event.h"
#include "domain/event_types.h"
#include "eventlog/event.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::span<const vigil::domain::DomainEventType> types =
      vigil::domain::DomainEventTypes();
  vigil::eventlog::EventData event;
  event.type = std::string(types[data[0] % types.size()].type);
  event.content_type = vigil::eventlog::kJsonContentType;
  event.data.assign(reinterpret_cast<const char*>(data + 1), size - 1);

  absl::Status checked = vigil::api::ValidateDomainEvent(event, 0);

  vigil::eventlog::RecordedEvent recorded;
  recorded.stream = "agent-1";
  recorded.type = event.type;
  recorded.content_type = event.content_type;
  recorded.data = event.data;
  absl::StatusOr<vigil::domain::DomainEvent> parsed =
      vigil::domain::ParseDomainEvent(recorded);
  if (parsed.ok()) Check(checked.ok());
  return 0;
}
