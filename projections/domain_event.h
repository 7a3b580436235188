// The domain events of docs/contract.md "Domain events", parsed out of a
// RecordedEvent into one flat value the read-model folds switch on. Parsing is
// separate from folding so that every fold (the PostgreSQL projections, and the
// in-memory replays of time travel) reads the same fields the same way.

#ifndef VIGIL_PROJECTIONS_DOMAIN_EVENT_H_
#define VIGIL_PROJECTIONS_DOMAIN_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::projections {

enum class DomainType {
  kOther,  // a custom event type: folds skip it
  kAgentRegistered,
  kAgentHeartbeat,
  kAgentStopped,
  kTaskCreated,
  kTaskAssigned,
  kTaskStarted,
  kTaskProgress,
  kTaskCompleted,
  kTaskFailed,
  kMessageSent,
  kToolCalled,
  kLlmCallCompleted,
};

// DomainType for an event type name; kOther for anything else.
DomainType DomainTypeOf(std::string_view type);

// Every field of every known type; a field a type does not have stays
// empty or zero. Optional fields absent from the data are empty too.
struct DomainEvent {
  DomainType type = DomainType::kOther;
  uint64_t position = 0;
  int64_t time_us = 0;  // the log's recorded_time_us

  std::string agent_id;
  std::string role;  // "manager" | "worker"
  std::string name;
  std::string model;
  std::string reason;
  double cpu_pct = 0;
  int64_t mem_bytes = 0;
  int64_t queue_depth = 0;

  std::string task_id;
  std::string manager_id;
  std::string worker_id;
  std::string title;
  bool has_priority = false;
  int64_t priority = 0;
  std::string parent_task_id;
  double percent = 0;
  std::string note;
  std::string result;  // the JSON text of `result`, as sent
  std::string error;

  std::string from_agent;
  std::string to_agent;
  std::string kind;
  std::string summary;

  std::string tool;
  double duration_ms = 0;
  bool ok = true;

  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  double latency_ms = 0;
};

// Parses `event`. A custom type gives kOther without looking at its data.
// A known type whose data is not what docs/contract.md says (not JSON, a
// missing required field, a wrong JSON type, a count that is not a whole number
// within int64, a non-finite or negative measurement) is INVALID_ARGUMENT
// naming the field: a projection parks such an event (a poison event)
// rather than guess. The server validates known types on append, so this
// only happens for events written around that check (another content type,
// an older server).
absl::StatusOr<DomainEvent> ParseDomainEvent(
    const eventlog::RecordedEvent& event);

}  // namespace vigil::projections

#endif  // VIGIL_PROJECTIONS_DOMAIN_EVENT_H_
