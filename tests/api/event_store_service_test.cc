// The EventStore service over a real loopback gRPC channel: a server on
// 127.0.0.1:0 in this process, a real log in a temporary directory. One
// component under test; over ~500 lines because it covers every RPC.

#include "api/event_store_service.h"

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/grpc_status.h"
#include "api/subscription.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/api/loopback_service.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr uint64_t kEnd = std::numeric_limits<uint64_t>::max();

v1::EventData Event(const std::string& type, const std::string& data) {
  v1::EventData event;
  event.set_type(type);
  event.set_data(data);
  return event;
}

// `count` events of `type` with data {"i":first..}.
v1::AppendRequest Request(const std::string& stream, const std::string& type,
                          int count, int first = 0) {
  v1::AppendRequest request;
  request.set_stream(stream);
  for (int i = first; i < first + count; ++i) {
    *request.add_events() = Event(type, absl::StrCat(R"({"i":)", i, "}"));
  }
  return request;
}

class EventStoreServiceTest : public LoopbackServiceTest {
 protected:
  grpc::Status Append(const v1::AppendRequest& request,
                      v1::AppendResponse* response = nullptr,
                      grpc::ClientContext* context = nullptr) {
    v1::AppendResponse ignored;
    grpc::ClientContext own;
    return stub_->Append(context != nullptr ? context : &own, request,
                         response != nullptr ? response : &ignored);
  }

  void MustAppend(const v1::AppendRequest& request) {
    const grpc::Status status = Append(request);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // 60 events: ten rounds of three to "a-1" (type A), then three to "b-1"
  // (type B). Positions 1-3, 7-9, ... are a-1's; 4-6, 10-12, ... b-1's.
  void AppendInterleaved() {
    for (int round = 0; round < 10; ++round) {
      MustAppend(Request("a-1", "A", 3, round * 3));
      MustAppend(Request("b-1", "B", 3, round * 3));
    }
  }

  grpc::Status GetStream(const std::string& stream,
                         v1::StreamInfo* info = nullptr) {
    v1::GetStreamRequest request;
    request.set_stream(stream);
    v1::StreamInfo ignored;
    grpc::ClientContext context;
    return stub_->GetStream(&context, request,
                            info != nullptr ? info : &ignored);
  }

  // Every event of a server stream, and its status in *status.
  template <typename Request>
  std::vector<v1::RecordedEvent> Read(
      std::unique_ptr<grpc::ClientReader<v1::RecordedEvent>> (
          v1::EventStore::Stub::*method)(grpc::ClientContext*, const Request&),
      const Request& request, grpc::Status* status) {
    grpc::ClientContext context;
    auto reader = (stub_.get()->*method)(&context, request);
    std::vector<v1::RecordedEvent> events;
    v1::RecordedEvent event;
    while (reader->Read(&event)) events.push_back(event);
    *status = reader->Finish();
    return events;
  }

  std::vector<v1::RecordedEvent> ReadAll(uint64_t from, uint64_t max_count,
                                         grpc::Status* status,
                                         v1::Filter filter = {}) {
    v1::ReadAllRequest request;
    request.set_from_position(from);
    request.set_max_count(max_count);
    *request.mutable_filter() = filter;
    return Read(&v1::EventStore::Stub::ReadAll, request, status);
  }

  std::vector<v1::RecordedEvent> ReadStream(const std::string& stream,
                                            uint64_t from, uint64_t max_count,
                                            bool backwards,
                                            grpc::Status* status) {
    v1::ReadStreamRequest request;
    request.set_stream(stream);
    request.set_from_revision(from);
    request.set_max_count(max_count);
    request.set_backwards(backwards);
    return Read(&v1::EventStore::Stub::ReadStream, request, status);
  }

};

std::vector<uint64_t> Positions(const std::vector<v1::RecordedEvent>& events) {
  std::vector<uint64_t> positions;
  for (const v1::RecordedEvent& event : events) {
    positions.push_back(event.position());
  }
  return positions;
}

std::vector<uint64_t> Revisions(const std::vector<v1::RecordedEvent>& events) {
  std::vector<uint64_t> revisions;
  for (const v1::RecordedEvent& event : events) {
    revisions.push_back(event.revision());
  }
  return revisions;
}

std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> values;
  if (first <= last) {
    for (uint64_t v = first; v <= last; ++v) values.push_back(v);
  } else {
    for (uint64_t v = first; v + 1 > last; --v) values.push_back(v);
  }
  return values;
}

TEST_F(EventStoreServiceTest, AppendThenReadBackEveryField) {
  StartServer();
  v1::AppendRequest request;
  request.set_stream("agent-w1");
  request.mutable_expected_revision()->mutable_no_stream();
  v1::EventData* registered = request.add_events();
  *registered = Event("AgentRegistered",
                      R"({"agent_id":"w1","role":"worker","name":"W1"})");
  registered->set_event_id("0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B");
  registered->set_metadata(R"({"trace_id":"t1"})");
  v1::EventData* blob = request.add_events();
  blob->set_type("Blob");
  blob->set_content_type("application/octet-stream");
  blob->set_data(std::string("\x00\xff\x01", 3));

  v1::AppendResponse response;
  ASSERT_TRUE(Append(request, &response).ok());
  EXPECT_EQ(response.first_position(), 1u);
  EXPECT_EQ(response.last_position(), 2u);
  EXPECT_EQ(response.next_expected_revision(), 1u);
  EXPECT_FALSE(response.deduplicated());

  grpc::Status status;
  std::vector<v1::RecordedEvent> events =
      ReadStream("agent-w1", 0, 0, false, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event_id(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(events[0].stream(), "agent-w1");
  EXPECT_EQ(events[0].revision(), 0u);
  EXPECT_EQ(events[0].position(), 1u);
  EXPECT_EQ(events[0].type(), "AgentRegistered");
  EXPECT_EQ(events[0].data(),
            R"({"agent_id":"w1","role":"worker","name":"W1"})");
  EXPECT_EQ(events[0].content_type(), "application/json");
  EXPECT_EQ(events[0].metadata(), R"({"trace_id":"t1"})");
  EXPECT_GT(events[0].recorded_time_us(), 0);
  EXPECT_EQ(events[0].hash().size(), 32u);
  EXPECT_EQ(events[1].data(), std::string("\x00\xff\x01", 3));
  EXPECT_EQ(events[1].content_type(), "application/octet-stream");
  EXPECT_EQ(events[1].event_id().size(), 36u);  // a UUIDv7 from the server
  EXPECT_GE(events[1].recorded_time_us(), events[0].recorded_time_us());

  v1::StreamInfo info;
  ASSERT_TRUE(GetStream("agent-w1", &info).ok());
  EXPECT_EQ(info.stream(), "agent-w1");
  EXPECT_EQ(info.last_revision(), 1u);
  EXPECT_EQ(info.last_position(), 2u);
  EXPECT_EQ(info.event_count(), 2u);
  EXPECT_EQ(info.created_time_us(), events[0].recorded_time_us());
  EXPECT_EQ(info.updated_time_us(), events[1].recorded_time_us());
}

// Given this append, expect this status code and a message naming the
// problem; nothing is appended.
TEST_F(EventStoreServiceTest, RefusedAppends) {
  eventlog::Options options;
  options.max_event_bytes = 1024;
  options.max_append_events = 10;
  StartServer(options);

  struct Case {
    std::string name;
    v1::AppendRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, grpc::StatusCode code, std::string message,
                 auto edit) {
    v1::AppendRequest request = Request("s-1", "Custom", 1);
    edit(request);
    cases.push_back({std::move(name), request, code, std::move(message)});
  };
  using grpc::StatusCode;
  add("bad stream name", StatusCode::INVALID_ARGUMENT, "stream",
      [](auto& r) { r.set_stream("bad name"); });
  add("empty stream name", StatusCode::INVALID_ARGUMENT, "stream",
      [](auto& r) { r.set_stream(""); });
  add("bad type", StatusCode::INVALID_ARGUMENT, "type",
      [](auto& r) { r.mutable_events(0)->set_type("1x"); });
  add("bad JSON", StatusCode::INVALID_ARGUMENT, "JSON",
      [](auto& r) { r.mutable_events(0)->set_data("{"); });
  add("data not an object", StatusCode::INVALID_ARGUMENT, "object",
      [](auto& r) { r.mutable_events(0)->set_data("[1]"); });
  add("metadata not an object", StatusCode::INVALID_ARGUMENT, "metadata",
      [](auto& r) { r.mutable_events(0)->set_metadata("7"); });
  add("bad event id", StatusCode::INVALID_ARGUMENT, "event_id",
      [](auto& r) { r.mutable_events(0)->set_event_id("not-a-uuid"); });
  add("bad idempotency key", StatusCode::INVALID_ARGUMENT, "idempotency",
      [](auto& r) { r.set_idempotency_key("tab\there"); });
  add("empty append", StatusCode::INVALID_ARGUMENT, "event",
      [](auto& r) { r.clear_events(); });
  add("domain field missing", StatusCode::INVALID_ARGUMENT,
      "events[1].data.agent_id: required string", [](auto& r) {
        *r.add_events() = Event("AgentStopped", R"({"reason":"done"})");
      });
  add("domain field mistyped", StatusCode::INVALID_ARGUMENT,
      "events[0].data.ok: must be bool, not number", [](auto& r) {
        *r.mutable_events(0) =
            Event("ToolCalled",
                  R"({"agent_id":"w","tool":"t","duration_ms":1,"ok":1})");
      });
  add("event too large", StatusCode::RESOURCE_EXHAUSTED, "", [](auto& r) {
    r.mutable_events(0)->set_data(
        absl::StrCat(R"({"x":")", std::string(2000, 'x'), R"("})"));
  });
  add("too many events", StatusCode::RESOURCE_EXHAUSTED, "",
      [](auto& r) { r = Request("s-1", "Custom", 11); });
  add("reserved stream", StatusCode::PERMISSION_DENIED, "reserved",
      [](auto& r) { r.set_stream("$system"); });

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const grpc::Status status = Append(c.request);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

TEST_F(EventStoreServiceTest, ExpectedRevisionMismatchNamesTheActualRevision) {
  StartServer();
  struct Case {
    std::string name;
    std::string stream;
    void (*expect)(v1::ExpectedRevision*);
    std::string trailer;  // empty: the append succeeds
  };
  const std::vector<Case> cases = {
      {"exact on a missing stream", "s-1",
       [](v1::ExpectedRevision* e) { e->set_exact(0); }, "none"},
      {"stream_exists on a missing stream", "s-1",
       [](v1::ExpectedRevision* e) { e->mutable_stream_exists(); }, "none"},
      {"no_stream creates it", "s-1",
       [](v1::ExpectedRevision* e) { e->mutable_no_stream(); }, ""},
      {"no_stream again", "s-1",
       [](v1::ExpectedRevision* e) { e->mutable_no_stream(); }, "0"},
      {"exact, stale", "s-1", [](v1::ExpectedRevision* e) { e->set_exact(5); },
       "0"},
      {"exact, current", "s-1",
       [](v1::ExpectedRevision* e) { e->set_exact(0); }, ""},
      {"any", "s-1", [](v1::ExpectedRevision* e) { e->mutable_any(); }, ""},
      {"unset means any", "s-1", [](v1::ExpectedRevision*) {}, ""},
      {"exact, stale after three", "s-1",
       [](v1::ExpectedRevision* e) { e->set_exact(1); }, "3"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::AppendRequest request = Request(c.stream, "Custom", 1);
    c.expect(request.mutable_expected_revision());
    if (request.expected_revision().kind_case() ==
        v1::ExpectedRevision::KIND_NOT_SET) {
      request.clear_expected_revision();
    }
    grpc::ClientContext context;
    const grpc::Status status = Append(request, nullptr, &context);
    if (c.trailer.empty()) {
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(Trailer(context, kActualRevisionTrailer), "<absent>");
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
      EXPECT_THAT(status.error_message(), HasSubstr(c.trailer));
      EXPECT_EQ(Trailer(context, kActualRevisionTrailer), c.trailer);
      // And back in a client's absl::Status, as the log gave it.
      EXPECT_EQ(FromGrpcStatus(status, &context)
                    .GetPayload(eventlog::kActualRevisionPayload),
                absl::Cord(c.trailer));
    }
  }
}

TEST_F(EventStoreServiceTest, IdempotencyKeys) {
  StartServer();
  v1::AppendRequest request = Request("s-1", "Custom", 3);
  request.set_idempotency_key("key-1");
  MustAppend(Request("other", "Custom", 2));  // positions 1 and 2

  v1::AppendResponse first;
  ASSERT_TRUE(Append(request, &first).ok());
  EXPECT_FALSE(first.deduplicated());
  EXPECT_EQ(first.first_position(), 3u);

  v1::AppendResponse again;
  ASSERT_TRUE(Append(request, &again).ok());
  EXPECT_TRUE(again.deduplicated());
  EXPECT_EQ(again.first_position(), first.first_position());
  EXPECT_EQ(again.last_position(), first.last_position());
  EXPECT_EQ(again.next_expected_revision(), first.next_expected_revision());
  EXPECT_EQ(log_->HeadPosition(), 5u);

  v1::AppendRequest different = Request("s-1", "Custom", 3, 1);
  different.set_idempotency_key("key-1");
  const grpc::Status status = Append(different);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(log_->HeadPosition(), 5u);
}

TEST_F(EventStoreServiceTest, FiftyWritersOneExpectedRevisionOneWinner) {
  StartServer();
  MustAppend(Request("race", "Custom", 1));
  constexpr int kWriters = 50;
  std::atomic<int> winners = 0;
  std::vector<grpc::Status> statuses(kWriters);
  std::vector<std::string> trailers(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      v1::AppendRequest request = Request("race", "Custom", 1, i);
      request.mutable_expected_revision()->set_exact(0);
      grpc::ClientContext context;
      statuses[i] = Append(request, nullptr, &context);
      trailers[i] = Trailer(context, kActualRevisionTrailer);
      if (statuses[i].ok()) ++winners;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
  for (int i = 0; i < kWriters; ++i) {
    if (statuses[i].ok()) continue;
    EXPECT_EQ(statuses[i].error_code(), grpc::StatusCode::ABORTED);
    EXPECT_EQ(trailers[i], "1");
  }
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

TEST_F(EventStoreServiceTest, MissingStreamsAndBadNames) {
  StartServer();
  grpc::Status status;
  EXPECT_TRUE(ReadStream("missing", 0, 0, false, &status).empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("missing"));

  EXPECT_EQ(GetStream("missing").error_code(), grpc::StatusCode::NOT_FOUND);

  ReadStream("bad name", 0, 0, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetStream("bad name").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// Small pages, so every read below crosses several of them.
ServiceOptions SmallPages() {
  ServiceOptions options;
  options.page_events = 5;
  options.page_scan = 7;
  options.default_max_count = 40;
  return options;
}

TEST_F(EventStoreServiceTest, ReadAllPages) {
  StartServer({}, SmallPages());
  AppendInterleaved();
  grpc::Status status;
  // max_count 0: the default cap.
  EXPECT_THAT(Positions(ReadAll(0, 0, &status)),
              ElementsAreArray(Range(1, 40)));
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(Positions(ReadAll(1, 1000, &status)),
              ElementsAreArray(Range(1, 60)));
  EXPECT_THAT(Positions(ReadAll(55, 0, &status)),
              ElementsAreArray(Range(55, 60)));
  EXPECT_THAT(Positions(ReadAll(20, 3, &status)),
              ElementsAreArray(Range(20, 22)));
  EXPECT_TRUE(ReadAll(61, 0, &status).empty());
  EXPECT_TRUE(status.ok());

  v1::Filter by_stream;
  by_stream.add_stream_prefixes("b-");
  std::vector<v1::RecordedEvent> b = ReadAll(0, 1000, &status, by_stream);
  ASSERT_EQ(b.size(), 30u);
  EXPECT_THAT(Revisions(b), ElementsAreArray(Range(0, 29)));
  for (const v1::RecordedEvent& event : b) EXPECT_EQ(event.stream(), "b-1");

  v1::Filter by_type;
  by_type.add_event_types("A");
  std::vector<v1::RecordedEvent> a = ReadAll(30, 4, &status, by_type);
  EXPECT_THAT(Positions(a), ElementsAreArray({31, 32, 33, 37}));

  v1::Filter nothing;
  nothing.add_event_types("Nothing");
  EXPECT_TRUE(ReadAll(0, 0, &status, nothing).empty());
  EXPECT_TRUE(status.ok());
}

TEST_F(EventStoreServiceTest, ReadStreamPagesForwardsAndBackwards) {
  StartServer({}, SmallPages());
  AppendInterleaved();
  struct Case {
    uint64_t from;
    uint64_t max_count;
    bool backwards;
    std::vector<uint64_t> revisions;
  };
  const std::vector<Case> cases = {
      {0, 0, false, Range(0, 29)},  // under the default cap of 40
      {10, 5, false, Range(10, 14)},
      {27, 100, false, Range(27, 29)},
      {30, 0, false, {}},
      {kEnd, 0, true, Range(29, 0)},
      {kEnd, 3, true, Range(29, 27)},
      {12, 6, true, Range(12, 7)},
      {2, 0, true, Range(2, 0)},
      {0, 0, true, {0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("from ", c.from, " max ", c.max_count,
                              c.backwards ? " backwards" : ""));
    grpc::Status status;
    std::vector<v1::RecordedEvent> events =
        ReadStream("a-1", c.from, c.max_count, c.backwards, &status);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(Revisions(events), ElementsAreArray(c.revisions));
    for (const v1::RecordedEvent& event : events) {
      EXPECT_EQ(event.data(), absl::StrCat(R"({"i":)", event.revision(), "}"));
    }
  }
}

TEST_F(EventStoreServiceTest, ReadersBusyIsResourceExhausted) {
  ServiceOptions options;
  options.max_queued_reads = 0;  // every read finds the queue full
  StartServer({}, options);
  MustAppend(Request("s-1", "Custom", 1));

  grpc::Status status;
  ReadStream("s-1", 0, 0, false, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ReadAll(0, 0, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(GetStream("s-1").error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// A client that stops reading holds one read open until its deadline; the
// server then ends the call and frees it. While it is open, a second read
// is refused (max_active_reads 1).
TEST_F(EventStoreServiceTest, DeadlineEndsAStalledRead) {
  ServiceOptions options;
  options.max_active_reads = 1;
  StartServer({}, options);
  const std::string big =
      absl::StrCat(R"({"x":")", std::string(60 << 10, 'x'), R"("})");
  for (int batch = 0; batch < 5; ++batch) {
    v1::AppendRequest request;
    request.set_stream("big");
    for (int i = 0; i < 60; ++i) *request.add_events() = Event("Big", big);
    MustAppend(request);
  }

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(500));
  v1::ReadAllRequest request;
  auto reader = stub_->ReadAll(&context, request);
  v1::RecordedEvent event;
  ASSERT_TRUE(reader->Read(&event));  // then the client stops reading
  EXPECT_EQ(service_->active_reads(), 1u);

  grpc::Status status;
  ReadAll(0, 1, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  absl::SleepFor(absl::Milliseconds(800));
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (service_->active_reads() != 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(service_->active_reads(), 0u);
  EXPECT_THAT(Positions(ReadAll(300, 0, &status)), ElementsAreArray({300}));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(EventStoreServiceTest, SubscribeGoesThroughTheHub) {
  StartServer();
  MustAppend(Request("s-1", "Custom", 2));
  grpc::ClientContext context;
  v1::SubscribeRequest request;
  auto reader = stub_->Subscribe(&context, request);
  v1::SubscribeResponse response;
  std::vector<uint64_t> positions;
  while (reader->Read(&response) && !response.has_caught_up()) {
    if (response.has_event()) positions.push_back(response.event().position());
  }
  EXPECT_EQ(response.caught_up(), 2u);
  MustAppend(Request("s-1", "Custom", 1, 2));
  while (reader->Read(&response) && !response.has_event()) {
  }
  EXPECT_EQ(response.event().position(), 3u);
  EXPECT_THAT(positions, ElementsAreArray({1, 2}));
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// Streaming calls are counted by how they end, like unary ones.
TEST_F(EventStoreServiceTest, StreamingCallsAreCountedByFinalStatus) {
  StartServer();
  MustAppend(Request("s-1", "Custom", 2));
  grpc::Status status;
  ReadStream("missing", 0, 0, false, &status);
  ReadStream("s-1", 0, 0, false, &status);
  EXPECT_EQ(Requests("ReadStream", "NOT_FOUND"), "1");
  EXPECT_EQ(Requests("ReadStream", "OK"), "1");
  {
    grpc::ClientContext context;
    auto reader = stub_->Subscribe(&context, v1::SubscribeRequest());
    v1::SubscribeResponse response;
    while (reader->Read(&response) && !response.has_caught_up()) {
    }
    context.TryCancel();
    while (reader->Read(&response)) {
    }
    reader->Finish();
  }
  // The server learns of the cancellation a moment after the client.
  for (int i = 0; i < 100 && Requests("Subscribe", "CANCELLED") == "0"; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(Requests("Subscribe", "CANCELLED"), "1");
}

}  // namespace
}  // namespace vigil::api
