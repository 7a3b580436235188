#include "api/event_proto.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

using eventlog::ExpectedRevision;

TEST(EventProtoTest, AppendRequestRoundTripsWithEveryExpectedRevision) {
  for (const ExpectedRevision& expected :
       {ExpectedRevision::Any(), ExpectedRevision::NoStream(),
        ExpectedRevision::StreamExists(), ExpectedRevision::Exact(0),
        ExpectedRevision::Exact(41)}) {
    SCOPED_TRACE(expected.ToString());
    eventlog::AppendRequest request;
    request.stream = "task-7";
    request.expected_revision = expected;
    request.idempotency_key = "key";
    request.events = {
        {.event_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
         .type = "TaskCreated",
         .data = R"({"task_id":"7"})",
         .content_type = "application/json",
         .metadata = R"({"trace_id":"t"})"},
        {.type = "Blob",
         .data = std::string("\0\1", 2),
         .content_type = "application/octet-stream"},
    };
    vigil::v1::AppendRequest proto;
    ToProto(request, &proto);
    absl::StatusOr<eventlog::AppendRequest> back = FromProto(proto);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->stream, request.stream);
    EXPECT_EQ(back->expected_revision, request.expected_revision);
    EXPECT_EQ(back->idempotency_key, request.idempotency_key);
    ASSERT_EQ(back->events.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_EQ(back->events[i].event_id, request.events[i].event_id);
      EXPECT_EQ(back->events[i].type, request.events[i].type);
      EXPECT_EQ(back->events[i].data, request.events[i].data);
      EXPECT_EQ(back->events[i].content_type, request.events[i].content_type);
      EXPECT_EQ(back->events[i].metadata, request.events[i].metadata);
    }
  }
}

TEST(EventProtoTest, UnsetExpectedRevisionIsAny) {
  vigil::v1::AppendRequest proto;
  proto.set_stream("s");
  absl::StatusOr<eventlog::AppendRequest> request = FromProto(proto);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->expected_revision, ExpectedRevision::Any());
}

TEST(EventProtoTest, RecordedEventAndResultsRoundTrip) {
  const eventlog::RecordedEvent event = {
      .event_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
      .stream = "agent-1",
      .revision = 3,
      .position = 17,
      .type = "AgentHeartbeat",
      .data = R"({"agent_id":"1"})",
      .content_type = "application/json",
      .metadata = "",
      .recorded_time_us = 1700000000123456,
      .hash = std::string(32, '\xab'),
  };
  vigil::v1::RecordedEvent event_proto;
  ToProto(event, &event_proto);
  EXPECT_EQ(FromProto(event_proto), event);

  const eventlog::AppendResult result = {.first_position = 5,
                                         .last_position = 7,
                                         .next_expected_revision = 2,
                                         .deduplicated = true};
  vigil::v1::AppendResponse result_proto;
  ToProto(result, &result_proto);
  EXPECT_EQ(FromProto(result_proto), result);

  vigil::v1::StreamInfo info_proto;
  ToProto(eventlog::StreamInfo{.stream = "agent-1",
                               .last_revision = 3,
                               .last_position = 17,
                               .event_count = 4,
                               .created_time_us = 10,
                               .updated_time_us = 20},
          &info_proto);
  EXPECT_EQ(info_proto.stream(), "agent-1");
  EXPECT_EQ(info_proto.last_revision(), 3u);
  EXPECT_EQ(info_proto.last_position(), 17u);
  EXPECT_EQ(info_proto.event_count(), 4u);
  EXPECT_EQ(info_proto.created_time_us(), 10);
  EXPECT_EQ(info_proto.updated_time_us(), 20);
}

TEST(EventProtoTest, Filter) {
  vigil::v1::Filter proto;
  EXPECT_TRUE(FromProto(proto).Empty());
  proto.add_stream_prefixes("agent-");
  proto.add_stream_prefixes("task-");
  proto.add_event_types("TaskFailed");
  const eventlog::Filter filter = FromProto(proto);
  EXPECT_THAT(filter.stream_prefixes,
              ::testing::ElementsAre("agent-", "task-"));
  EXPECT_THAT(filter.event_types, ::testing::ElementsAre("TaskFailed"));
}

}  // namespace
}  // namespace vigil::api
