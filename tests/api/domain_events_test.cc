#include "api/domain_events.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "domain/event_types.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

using ::testing::HasSubstr;
// The table the check walks is domain/'s.
using domain::DescribeDomainEventType;
using domain::DomainEventType;
using domain::DomainEventTypes;
using domain::FindDomainEventType;

struct Case {
  std::string type;
  std::string data;
  // Empty: the event passes. Otherwise the whole INVALID_ARGUMENT message.
  std::string error;
  std::string content_type = "";
};

// Given this event (the first of its append), expect this answer.
const std::vector<Case>& Cases() {
  static const auto* const kCases = new std::vector<Case>{
      // Every known type, well-formed, with only the required fields.
      {"AgentRegistered", R"({"agent_id":"a1","role":"worker","name":"W"})"},
      {"AgentHeartbeat",
       R"({"agent_id":"a1","cpu_pct":12.5,"mem_bytes":1024,"queue_depth":0})"},
      {"AgentStopped", R"({"agent_id":"a1","reason":"done"})"},
      {"TaskCreated", R"({"task_id":"t1","manager_id":"m1","title":"T"})"},
      {"TaskAssigned",
       R"({"task_id":"t1","manager_id":"m1","worker_id":"w1"})"},
      {"TaskStarted", R"({"task_id":"t1","worker_id":"w1"})"},
      {"TaskProgress", R"({"task_id":"t1","worker_id":"w1","percent":50})"},
      {"TaskCompleted", R"({"task_id":"t1","worker_id":"w1"})"},
      {"TaskFailed", R"({"task_id":"t1","worker_id":"w1","error":"boom"})"},
      {"MessageSent", R"({"from_agent":"m1","to_agent":"w1","kind":"ask"})"},
      {"ToolCalled",
       R"({"agent_id":"w1","tool":"grep","duration_ms":3,"ok":false})"},
      {"LlmCallCompleted",
       R"({"agent_id":"w1","model":"m","input_tokens":10,"output_tokens":2,)"
       R"("cost_usd":0.001,"latency_ms":812})"},
      {"SpanRecorded",
       R"({"trace_id":"4bf9","span_id":"a1","name":"chat","kind":"client",)"
       R"("start_time_us":1,"end_time_us":2,"duration_ms":0.001,)"
       R"("status":"ok","attributes":{},"resource":{"service.name":"s"}})"},
      {"SpanRecorded",
       R"({"trace_id":"4bf9","span_id":"a1","parent_span_id":"a0",)"
       R"("name":"chat","kind":"client","start_time_us":1,"end_time_us":2,)"
       R"("duration_ms":0.001,"status":"error","error":"429",)"
       R"("operation":"chat","model":"m","input_tokens":3,"cost_usd":0.5,)"
       R"("attributes":{"k":[1,"x"]},"events":[{"name":"e"}],"links":[],)"
       R"("resource":{},"scope":{"name":"otel"}})"},
      {"SpanRecorded",
       R"({"trace_id":"4bf9","span_id":"a1","name":"x","kind":"rpc",)"
       R"("start_time_us":1,"end_time_us":2,"duration_ms":1,"status":"ok",)"
       R"("attributes":{},"resource":{}})",
       R"(events[0].data.kind: must be "unspecified"|"internal"|"server"|)"
       R"("client"|"producer"|"consumer", not "rpc")"},
      {"SpanRecorded",
       R"({"trace_id":"4bf9","span_id":"a1","name":"x","kind":"server",)"
       R"("start_time_us":1,"end_time_us":2,"duration_ms":1,"status":"ok",)"
       R"("resource":{}})",
       "events[0].data.attributes: required any JSON value"},
      // Optional fields, present and well-typed; null counts as absent;
      // extra fields are the producer's own.
      {"AgentRegistered",
       R"({"agent_id":"a1","role":"manager","name":"M","model":"gpt"})"},
      {"AgentRegistered",
       R"({"agent_id":"a1","role":"manager","name":"M","model":null})"},
      {"TaskCreated",
       R"({"task_id":"t2","manager_id":"m1","title":"T","priority":2,)"
       R"("parent_task_id":"t1","extra":[1,2]})"},
      {"TaskCompleted",
       R"({"task_id":"t1","worker_id":"w1","result":{"files":["a.cc"]}})"},
      {"TaskCompleted", R"({"task_id":"t1","worker_id":"w1","result":"ok"})"},
      {"MessageSent",
       R"({"from_agent":"m1","to_agent":"w1","kind":"ask","task_id":"t1",)"
       R"("summary":"s"})"},
      // Required fields missing, null, or mistyped.
      {"AgentRegistered", R"({"role":"worker","name":"W"})",
       "events[0].data.agent_id: required string"},
      {"AgentRegistered", R"({"agent_id":null,"role":"worker","name":"W"})",
       "events[0].data.agent_id: required string"},
      {"AgentRegistered", R"({"agent_id":7,"role":"worker","name":"W"})",
       "events[0].data.agent_id: must be string, not number"},
      {"AgentRegistered", R"({"agent_id":"a1","role":"boss","name":"W"})",
       R"(events[0].data.role: must be "manager"|"worker", not "boss")"},
      {"AgentRegistered", R"({"agent_id":"a1","name":"W"})",
       R"(events[0].data.role: required "manager"|"worker")"},
      {"AgentHeartbeat",
       R"({"agent_id":"a1","cpu_pct":"12","mem_bytes":1,"queue_depth":0})",
       "events[0].data.cpu_pct: must be number, not string"},
      {"AgentHeartbeat", R"({"agent_id":"a1","cpu_pct":1,"mem_bytes":1})",
       "events[0].data.queue_depth: required number"},
      {"ToolCalled",
       R"({"agent_id":"w1","tool":"grep","duration_ms":3,"ok":"yes"})",
       "events[0].data.ok: must be bool, not string"},
      {"ToolCalled", R"({"agent_id":"w1","tool":"grep","duration_ms":3})",
       "events[0].data.ok: required bool"},
      {"LlmCallCompleted",
       R"({"agent_id":"w1","model":"m","input_tokens":[],"output_tokens":2,)"
       R"("cost_usd":0.001,"latency_ms":812})",
       "events[0].data.input_tokens: must be number, not array"},
      // Optional fields mistyped.
      {"AgentRegistered",
       R"({"agent_id":"a1","role":"worker","name":"W","model":1})",
       "events[0].data.model: must be string, not number"},
      {"TaskCreated",
       R"({"task_id":"t1","manager_id":"m1","title":"T","priority":"high"})",
       "events[0].data.priority: must be number, not string"},
      {"TaskProgress",
       R"({"task_id":"t1","worker_id":"w1","percent":5,"note":{}})",
       "events[0].data.note: must be string, not object"},
      // A repeated key is checked at every occurrence.
      {"AgentStopped", R"({"agent_id":"a1","reason":"x","agent_id":false})",
       "events[0].data.agent_id: must be string, not bool"},
      // Not an object, not JSON.
      {"AgentStopped", R"(["a1"])", "events[0].data: must be a JSON object"},
      {"AgentStopped", R"({"agent_id":)", "events[0].data: invalid JSON: "},
      // Custom types and other content types are not checked.
      {"CustomThing", R"({"anything":1})"},
      {"agentregistered", R"({})"},
      {"AgentRegistered", "\x01\x02", "", "application/octet-stream"},
      {"AgentRegistered", R"({"agent_id":"a1","role":"worker","name":"W"})", "",
       "application/json"},
      {"AgentRegistered", R"({})", "events[0].data.agent_id: required string",
       "application/json"},
  };
  return *kCases;
}

TEST(DomainEventsTest, Table) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.type + " " + c.data);
    const absl::Status status = ValidateDomainEvent(
        {.type = c.type, .data = c.data, .content_type = c.content_type}, 0);
    if (c.error.empty()) {
      EXPECT_TRUE(status.ok()) << status;
    } else if (c.error.back() == ' ') {  // a prefix: simdjson's words follow
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(status.message()), HasSubstr(c.error));
    } else {
      EXPECT_EQ(status, absl::InvalidArgumentError(c.error));
    }
  }
}

TEST(DomainEventsTest, BatchNamesTheEventIndex) {
  std::vector<eventlog::EventData> events = {
      {.type = "TaskStarted", .data = R"({"task_id":"t1","worker_id":"w1"})"},
      {.type = "Custom", .data = R"({})"},
      {.type = "TaskStarted", .data = R"({"task_id":"t1"})"},
  };
  EXPECT_EQ(
      ValidateDomainEvents(events),
      absl::InvalidArgumentError("events[2].data.worker_id: required string"));
  events.pop_back();
  EXPECT_TRUE(ValidateDomainEvents(events).ok());
}

TEST(DomainEventsTest, EveryTypeOfTheSpecIsKnown) {
  std::vector<std::string> names;
  for (const DomainEventType& type : DomainEventTypes()) {
    names.emplace_back(type.type);
  }
  EXPECT_THAT(names, ::testing::ElementsAre(
                         "AgentRegistered", "AgentHeartbeat", "AgentStopped",
                         "TaskCreated", "TaskAssigned", "TaskStarted",
                         "TaskProgress", "TaskCompleted", "TaskFailed",
                         "MessageSent", "ToolCalled", "LlmCallCompleted",
                         "SpanRecorded"));
  EXPECT_EQ(FindDomainEventType("Nope"), nullptr);
  ASSERT_NE(FindDomainEventType("ToolCalled"), nullptr);
  EXPECT_EQ(DescribeDomainEventType(*FindDomainEventType("ToolCalled")),
            "ToolCalled {agent_id: string, task_id?: string, tool: string, "
            "duration_ms: number, ok: bool}");
}

// schemas/events/README.md lists every type as DescribeDomainEventType
// prints it, so the document cannot drift from the table.
TEST(DomainEventsTest, ReadmeListsTheTable) {
  std::ifstream in(VIGIL_SOURCE_DIR "/schemas/events/README.md");
  ASSERT_TRUE(in.good());
  std::stringstream readme;
  readme << in.rdbuf();
  for (const DomainEventType& type : DomainEventTypes()) {
    EXPECT_THAT(readme.str(),
                HasSubstr("- `" + DescribeDomainEventType(type) + "`\n"));
  }
}

}  // namespace
}  // namespace vigil::api
