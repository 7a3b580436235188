// The parse the folds read, walking domain/event_types.h: given this event,
// expect these members or this error (the words a parked event keeps).

#include "domain/domain_event.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace vigil::domain {
namespace {

absl::StatusOr<DomainEvent> Parse(std::string type, std::string data) {
  return ParseDomainEvent({.position = 7,
                           .type = std::move(type),
                           .data = std::move(data),
                           .recorded_time_us = 42});
}

TEST(DomainEventTest, FieldsLandInTheirMembers) {
  absl::StatusOr<DomainEvent> e = Parse(
      "TaskCreated",
      R"({"task_id":"t1","manager_id":"m1","title":"T","priority":3,"x":1})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, DomainType::kTaskCreated);
  EXPECT_EQ(e->position, 7u);
  EXPECT_EQ(e->time_us, 42);
  EXPECT_EQ(e->task_id, "t1");
  EXPECT_EQ(e->manager_id, "m1");
  EXPECT_TRUE(e->has_priority);
  EXPECT_EQ(e->priority, 3);
  EXPECT_EQ(e->parent_task_id, "");

  e = Parse("TaskCompleted",
            R"({"task_id":"t1","worker_id":"w1","result":{"a": [1, 2]}})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->result, R"({"a":[1,2]})");

  e = Parse("ToolCalled",
            R"({"agent_id":"a","tool":"t","duration_ms":1.5,"ok":false})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->ok);
  EXPECT_EQ(e->duration_ms, 1.5);

  e = Parse("TaskCreated",
            R"({"task_id":"t1","manager_id":"m1","title":"T","priority":null})");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->has_priority);

  e = Parse("Custom", "not even JSON");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->type, DomainType::kOther);
  EXPECT_EQ(DomainTypeOf("LlmCallCompleted"), DomainType::kLlmCallCompleted);
  EXPECT_EQ(DomainTypeOf("llmcallcompleted"), DomainType::kOther);
}

// Found by tests/fuzz (domain_events): the append check refuses a repeated
// field with any invalid occurrence (api/domain_events.h), but the parse
// read only the first, so it folded an event whose last occurrence (what
// JSON.parse shows) was never checked.
TEST(DomainEventTest, EveryOccurrenceOfARepeatedFieldIsChecked) {
  EXPECT_EQ(Parse("AgentRegistered",
                  R"({"agent_id":"a","role":"worker","name":"n","role":"boss"})")
                .status(),
            absl::InvalidArgumentError(
                R"(AgentRegistered: field "role" must be "manager" or "worker")"));
  EXPECT_EQ(
      Parse("SpanRecorded",
            R"({"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",)"
            R"("span_id":"a000000000000001","name":"tch","kind":"internal",)"
            R"("start_time_us":1764000000000000,"end_time_us":1764000001000000,)"
            R"("duration_ms":1000,"status":"ok","kind":"internZl"})")
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  // Valid repeats (and null ones) still parse; the first occurrence counts.
  absl::StatusOr<DomainEvent> parsed = Parse(
      "AgentRegistered",
      R"({"agent_id":"a","role":"worker","name":"n","role":"manager","name":null})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->role, "worker");
}

TEST(DomainEventTest, ErrorsNameTheField) {
  struct Case {
    std::string type, data, error;
  };
  const std::vector<Case> cases = {
      {"AgentStopped", R"({"reason":"x"})",
       R"(AgentStopped: field "agent_id" is required)"},
      {"AgentStopped", R"({"agent_id":null,"reason":"x"})",
       R"(AgentStopped: field "agent_id" must be a string)"},
      {"AgentStopped", "{\"agent_id\":\"a\\u0000\",\"reason\":\"x\"}",
       R"(AgentStopped: field "agent_id" must not contain U+0000)"},
      {"AgentRegistered", R"({"agent_id":"a","role":"boss","name":"n"})",
       R"(AgentRegistered: field "role" must be "manager" or "worker")"},
      {"AgentHeartbeat",
       R"({"agent_id":"a","cpu_pct":-1,"mem_bytes":1,"queue_depth":1})",
       R"(AgentHeartbeat: field "cpu_pct" must be a finite number >= 0)"},
      {"AgentHeartbeat",
       R"({"agent_id":"a","cpu_pct":1,"mem_bytes":1.5,"queue_depth":1})",
       R"(AgentHeartbeat: field "mem_bytes" must be a whole number <= 2^53)"},
      {"AgentHeartbeat",
       R"({"agent_id":"a","cpu_pct":"1","mem_bytes":1,"queue_depth":1})",
       R"(AgentHeartbeat: field "cpu_pct" must be a number)"},
      {"TaskProgress", R"({"task_id":"t","worker_id":"w","percent":101})",
       R"(TaskProgress: field "percent" must be <= 100)"},
      {"ToolCalled", R"({"agent_id":"a","tool":"t","duration_ms":1,"ok":1})",
       R"(ToolCalled: field "ok" must be true or false)"},
      {"ToolCalled", R"({"agent_id":"a","tool":"t","duration_ms":1})",
       R"(ToolCalled: field "ok" is required)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.data);
    EXPECT_EQ(Parse(c.type, c.data).status(),
              absl::InvalidArgumentError(c.error));
  }
  EXPECT_EQ(Parse("AgentStopped", "[1]").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDomainEvent({.type = "AgentStopped",
                              .data = "x",
                              .content_type = "text/plain"})
                .status(),
            absl::InvalidArgumentError(
                "AgentStopped must be application/json, not text/plain"));
}

}  // namespace
}  // namespace vigil::domain
