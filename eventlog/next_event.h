// NextRecordedEvent: the event a log would record next, built outside the
// log's writer, for a writer that must store it elsewhere first and only
// then Import it (replication::Standby::Claim: a new leader publishes its
// first event to the JetStream stream before its log holds it, so both
// hold the very same event, hash included). Free function; any thread.

#ifndef VIGIL_EVENTLOG_NEXT_EVENT_H_
#define VIGIL_EVENTLOG_NEXT_EVENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"

namespace vigil::eventlog {

// `event` as `log` would record it appended to `stream` after its head
// now: position HeadPosition() + 1, the stream's next revision, the event
// id given or a new UUIDv7, the content type given or application/json,
// recorded now (not before the head event), its hash chained from the
// head event's. Import takes it while the head has not moved, and checks
// the names; the data and metadata are not checked here. The log's read
// errors as they come.
absl::StatusOr<RecordedEvent> NextRecordedEvent(const EventLog& log,
                                                const std::string& stream,
                                                const EventData& event);

}  // namespace vigil::eventlog

#endif  // VIGIL_EVENTLOG_NEXT_EVENT_H_
