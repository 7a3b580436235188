// A domain event (schemas/events/README.md) parsed out of a RecordedEvent
// into one flat value the read-model folds switch on. Parsing is separate
// from folding so that every fold (the PostgreSQL projections, and the
// in-memory replays of time travel) reads the same fields the same way.
// Which field of which type lands in which member is the table of
// domain/event_types.h; this header only holds the result.

#ifndef VIGIL_DOMAIN_DOMAIN_EVENT_H_
#define VIGIL_DOMAIN_DOMAIN_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::domain {

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
  kSpanRecorded,
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

  // SpanRecorded (docs/otlp.md): also name, kind, error, agent_id, tool,
  // model, duration_ms, input_tokens, output_tokens and cost_usd above.
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
  int64_t start_time_us = 0;
  int64_t end_time_us = 0;
  std::string status;  // "unset" | "ok" | "error"
  std::string operation;
  std::string agent_name;
  std::string caller_agent_id;
  std::string tool_call_id;
  std::string provider;
  bool has_input_tokens = false;
  bool has_output_tokens = false;
  bool has_cached_tokens = false;
  int64_t cached_tokens = 0;
  std::string attributes;  // JSON text, as sent
  std::string span_events;  // JSON text of `events`
  std::string links;        // JSON text
  std::string resource;     // JSON text
  std::string scope;        // JSON text
};

// Parses `event`. A custom type gives kOther without looking at its data.
// A known type whose data is not what its description says (not JSON, a
// missing required field, a wrong JSON type, a count that is not a whole
// number within 2^53, a non-finite or negative measurement, a value out of
// its range or not one of its allowed values, a string holding U+0000) is
// INVALID_ARGUMENT naming the field: a projection parks such an event (a
// poison event) rather than guess. The server validates known types on
// append (api/domain_events.h), so this only happens for events written
// around that check (another content type, an older server). Thread-safe.
absl::StatusOr<DomainEvent> ParseDomainEvent(
    const eventlog::RecordedEvent& event);

}  // namespace vigil::domain

#endif  // VIGIL_DOMAIN_DOMAIN_EVENT_H_
