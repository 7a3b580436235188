// Appends: expected revisions, atomicity, positions and revisions under
// concurrency, validation and limits.

#include <atomic>
#include <set>
#include <thread>

#include "eventlog/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using ::testing::HasSubstr;
using testing::Json;
using testing::Request;

class LogAppendTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    log_.reset();
    auto log = EventLog::Open(options_, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }
  absl::StatusOr<AppendResult> Append(const std::string& stream,
                                      ExpectedRevision expected,
                                      int count = 1) {
    std::vector<EventData> events;
    for (int i = 0; i < count; ++i) events.push_back(Json("Something"));
    return log_->Append(Request(stream, std::move(events), expected));
  }

  vigil::testing::TempDir dir_;
  Options options_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(LogAppendTest, FirstAppendGetsPositionOneAndRevisionZero) {
  auto result = Append("agent-1", ExpectedRevision::Any());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, (AppendResult{.first_position = 1,
                                   .last_position = 1,
                                   .next_expected_revision = 0,
                                   .deduplicated = false}));
  EXPECT_EQ(log_->HeadPosition(), 1u);
}

TEST_F(LogAppendTest, ExpectedNoStream) {
  ASSERT_TRUE(Append("s", ExpectedRevision::NoStream()).ok());
  auto again = Append("s", ExpectedRevision::NoStream());
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(again.status().message(), HasSubstr("actual 0"));
  EXPECT_EQ(again.status().GetPayload(kActualRevisionPayload).value(), "0");
  EXPECT_EQ(log_->HeadPosition(), 1u);
}

TEST_F(LogAppendTest, ExpectedStreamExists) {
  auto missing = Append("s", ExpectedRevision::StreamExists());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(missing.status().GetPayload(kActualRevisionPayload).value(), "none");
  ASSERT_TRUE(Append("s", ExpectedRevision::Any()).ok());
  EXPECT_TRUE(Append("s", ExpectedRevision::StreamExists()).ok());
}

TEST_F(LogAppendTest, ExpectedExactRevision) {
  EXPECT_EQ(Append("s", ExpectedRevision::Exact(0)).status().code(),
            absl::StatusCode::kAborted);
  auto first = Append("s", ExpectedRevision::NoStream(), 3);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->next_expected_revision, 2u);
  auto stale = Append("s", ExpectedRevision::Exact(1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(stale.status().GetPayload(kActualRevisionPayload).value(), "2");
  auto next = Append("s", ExpectedRevision::Exact(2));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->next_expected_revision, 3u);
  EXPECT_EQ(next->first_position, 4u);
}

TEST_F(LogAppendTest, ExpectedAnyAlwaysAppends) {
  EXPECT_TRUE(Append("s", ExpectedRevision::Any()).ok());
  EXPECT_TRUE(Append("s", ExpectedRevision::Any()).ok());
  EXPECT_EQ(log_->GetStream("s")->event_count, 2u);
}

TEST_F(LogAppendTest, MultiEventAppendIsContiguousAndAtomic) {
  ASSERT_TRUE(Append("other", ExpectedRevision::Any()).ok());
  auto result = Append("s", ExpectedRevision::Any(), 5);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->first_position, 2u);
  EXPECT_EQ(result->last_position, 6u);
  auto events = log_->ReadStream("s", 0, 0, false);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ((*events)[i].revision, i);
    EXPECT_EQ((*events)[i].position, 2 + i);
  }

  // One bad event fails the whole append: nothing of it lands.
  auto bad = log_->Append(
      Request("s", {Json("Good"), Json("Bad", "[1,2]"), Json("Good")}));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("events[1].data"));
  EXPECT_EQ(log_->HeadPosition(), 6u);
  EXPECT_EQ(log_->GetStream("s")->event_count, 5u);
}

TEST_F(LogAppendTest, RecordsWhatWasAppended) {
  EventData event{.event_id = "0190F1C2-3A4B-7C5D-8E6F-0123456789AB",
                  .type = "TaskCreated",
                  .data = R"({"task_id":"t1"})",
                  .content_type = "application/json",
                  .metadata = R"({"correlation_id":"c1"})"};
  EventData binary{.type = "Blob", .data = std::string("\0\1\2", 3),
                   .content_type = "application/octet-stream"};
  ASSERT_TRUE(log_->Append(Request("task-t1", {event, binary})).ok());
  Reopen();
  auto events = log_->ReadAll(1, 10, Filter{});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  const RecordedEvent& first = (*events)[0];
  EXPECT_EQ(first.event_id, "0190f1c2-3a4b-7c5d-8e6f-0123456789ab");
  EXPECT_EQ(first.stream, "task-t1");
  EXPECT_EQ(first.type, "TaskCreated");
  EXPECT_EQ(first.data, event.data);
  EXPECT_EQ(first.metadata, event.metadata);
  EXPECT_EQ(first.content_type, "application/json");
  EXPECT_EQ(first.hash.size(), 32u);
  EXPECT_GT(first.recorded_time_us, 0);
  const RecordedEvent& second = (*events)[1];
  EXPECT_EQ(second.data, binary.data);
  EXPECT_EQ(second.content_type, "application/octet-stream");
  // The server made a UUIDv7: version nibble 7, variant 10xx.
  ASSERT_EQ(second.event_id.size(), 36u);
  EXPECT_EQ(second.event_id[14], '7');
  EXPECT_NE(std::string("89ab").find(second.event_id[19]), std::string::npos);
  EXPECT_NE(first.hash, second.hash);
}

TEST_F(LogAppendTest, ConcurrentAppendersGetContiguousPositionsAndRevisions) {
  constexpr int kThreads = 64;
  constexpr int kAppendsPerThread = 20;
  std::vector<std::thread> threads;
  std::vector<std::vector<AppendResult>> results(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        // Four shared streams, so revisions are contended too.
        auto result = Append("shared-" + std::to_string(t % 4),
                             ExpectedRevision::Any(), 1 + i % 3);
        if (!result.ok()) {
          ++failures;
          continue;
        }
        results[t].push_back(*result);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(failures.load(), 0);

  std::set<uint64_t> positions;
  uint64_t total = 0;
  for (const auto& per_thread : results) {
    for (const AppendResult& r : per_thread) {
      for (uint64_t p = r.first_position; p <= r.last_position; ++p) {
        EXPECT_TRUE(positions.insert(p).second) << "position " << p << " twice";
      }
      total += r.last_position - r.first_position + 1;
    }
  }
  EXPECT_EQ(positions.size(), total);
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), total);  // no gaps
  EXPECT_EQ(log_->HeadPosition(), total);

  for (int s = 0; s < 4; ++s) {
    auto events = log_->ReadStream("shared-" + std::to_string(s), 0, 0, false);
    ASSERT_TRUE(events.ok());
    uint64_t last_position = 0;
    for (uint64_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*events)[i].revision, i);
      EXPECT_GT((*events)[i].position, last_position);
      last_position = (*events)[i].position;
    }
  }
  auto verify = log_->Verify(1, 0);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
  EXPECT_EQ(verify->checked, total);
}

TEST_F(LogAppendTest, ReadStreamBackwardsAndFromRevision) {
  ASSERT_TRUE(Append("s", ExpectedRevision::Any(), 10).ok());
  auto tail = log_->ReadStream("s", UINT64_MAX, 3, /*backwards=*/true);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail->size(), 3u);
  EXPECT_EQ((*tail)[0].revision, 9u);
  EXPECT_EQ((*tail)[2].revision, 7u);
  auto middle = log_->ReadStream("s", 4, 2, false);
  ASSERT_TRUE(middle.ok());
  ASSERT_EQ(middle->size(), 2u);
  EXPECT_EQ((*middle)[0].revision, 4u);
  EXPECT_EQ(log_->ReadStream("missing", 0, 0, false).status().code(),
            absl::StatusCode::kNotFound);
  // A stream whose name is a prefix of another reads only its own events.
  ASSERT_TRUE(Append("s.x", ExpectedRevision::Any(), 2).ok());
  EXPECT_EQ(log_->ReadStream("s", 0, 0, false)->size(), 10u);
}

// The stream index holds one entry per append (FORMAT.md): reads that
// start, stop or turn inside an append's range give exactly the revisions a
// per-event index would.
TEST_F(LogAppendTest, ReadStreamAcrossMultiEventAppendsMatchesEveryRevision) {
  std::vector<uint64_t> positions;  // of stream "s", by revision
  for (int count : {1, 5, 1, 1, 7, 3, 1}) {
    ASSERT_TRUE(Append("other", ExpectedRevision::Any(), 2).ok());
    auto result = Append("s", ExpectedRevision::Any(), count);
    ASSERT_TRUE(result.ok()) << result.status();
    for (uint64_t p = result->first_position; p <= result->last_position; ++p) {
      positions.push_back(p);
    }
  }
  const uint64_t revisions = positions.size();
  auto info = log_->GetStream("s");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->last_revision, revisions - 1);
  EXPECT_EQ(info->last_position, positions.back());
  EXPECT_EQ(info->event_count, revisions);
  for (uint64_t from = 0; from <= revisions + 1; ++from) {
    for (uint64_t max_count : {0, 1, 2, 4, 100}) {
      for (bool backwards : {false, true}) {
        std::vector<uint64_t> want;
        if (backwards) {
          for (int64_t r = std::min(from, revisions - 1);
               r >= 0 && (max_count == 0 || want.size() < max_count); --r) {
            want.push_back(static_cast<uint64_t>(r));
          }
        } else {
          for (uint64_t r = from;
               r < revisions && (max_count == 0 || want.size() < max_count); ++r) {
            want.push_back(r);
          }
        }
        auto events = log_->ReadStream("s", from, max_count, backwards);
        ASSERT_TRUE(events.ok()) << events.status();
        std::vector<uint64_t> got;
        for (const RecordedEvent& event : *events) {
          got.push_back(event.revision);
          EXPECT_EQ(event.position, positions[event.revision]);
          EXPECT_EQ(event.stream, "s");
        }
        EXPECT_EQ(got, want) << "from " << from << " max " << max_count
                             << (backwards ? " backwards" : " forwards");
      }
    }
  }
  auto verify = log_->Verify(1, 0);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
  // Appends go on from the last revision of a multi-event append.
  auto next = Append("s", ExpectedRevision::Exact(revisions - 1), 2);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->next_expected_revision, revisions + 1);
  Reopen();
  EXPECT_EQ(log_->GetStream("s")->last_revision, revisions + 1);
}

TEST_F(LogAppendTest, ReadAllFiltersAndBoundsTheScan) {
  ASSERT_TRUE(log_->Append(Request("agent-1", {Json("AgentRegistered")})).ok());
  ASSERT_TRUE(log_->Append(Request("task-1", {Json("TaskCreated")})).ok());
  ASSERT_TRUE(log_->Append(Request("agent-2", {Json("AgentHeartbeat")})).ok());
  ASSERT_TRUE(log_->Append(Request("agent-1", {Json("AgentHeartbeat")})).ok());

  Filter agents{.stream_prefixes = {"agent-"}};
  auto events = log_->ReadAll(1, 0, agents);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 3u);

  Filter heartbeats{.event_types = {"AgentHeartbeat"}};
  uint64_t next = 0;
  auto bounded = log_->ReadAll(1, 0, heartbeats, /*max_scan=*/2, &next);
  ASSERT_TRUE(bounded.ok());
  EXPECT_TRUE(bounded->empty());
  EXPECT_EQ(next, 3u);
  auto rest = log_->ReadAll(next, 0, heartbeats, 0, &next);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 2u);
  EXPECT_EQ((*rest)[0].position, 3u);
  EXPECT_EQ(next, 5u);
}

TEST_F(LogAppendTest, GetStreamDescribesTheStream) {
  ASSERT_TRUE(Append("other", ExpectedRevision::Any()).ok());
  ASSERT_TRUE(Append("s", ExpectedRevision::Any(), 2).ok());
  ASSERT_TRUE(Append("s", ExpectedRevision::Any(), 1).ok());
  auto info = log_->GetStream("s");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->stream, "s");
  EXPECT_EQ(info->last_revision, 2u);
  EXPECT_EQ(info->last_position, 4u);
  EXPECT_EQ(info->event_count, 3u);
  EXPECT_GT(info->created_time_us, 0);
  EXPECT_GE(info->updated_time_us, info->created_time_us);
  EXPECT_EQ(log_->GetStream("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LogAppendTest, HeadListenersAndWaitForHead) {
  std::atomic<uint64_t> seen{0};
  const uint64_t handle = log_->AddHeadListener([&](uint64_t head) { seen = head; });
  std::thread appender([&] {
    absl::SleepFor(absl::Milliseconds(20));
    ASSERT_TRUE(Append("s", ExpectedRevision::Any(), 3).ok());
  });
  EXPECT_EQ(log_->WaitForHead(0, absl::Now() + absl::Seconds(10)), 3u);
  appender.join();
  EXPECT_EQ(seen.load(), 3u);
  log_->RemoveHeadListener(handle);
  ASSERT_TRUE(Append("s", ExpectedRevision::Any()).ok());
  EXPECT_EQ(seen.load(), 3u);
  // A deadline in the past returns at once with the current head.
  EXPECT_EQ(log_->WaitForHead(10, absl::Now()), 4u);
}

TEST_F(LogAppendTest, FindPositionByTime) {
  int64_t now = 1'000'000;
  options_.clock = [&now] { return now; };
  Reopen();
  for (int i = 0; i < 10; ++i) {
    now = 1'000'000 + i * 1000;
    ASSERT_TRUE(Append("s", ExpectedRevision::Any(), 2).ok());
  }
  // Positions 2i+1 and 2i+2 were recorded at 1'000'000 + i*1000.
  EXPECT_EQ(*log_->FindPosition(0), 1u);
  EXPECT_EQ(*log_->FindPosition(1'000'000), 1u);
  EXPECT_EQ(*log_->FindPosition(1'000'001), 3u);
  EXPECT_EQ(*log_->FindPosition(1'005'000), 11u);
  EXPECT_EQ(*log_->FindPosition(1'009'000), 19u);
  EXPECT_EQ(*log_->FindPosition(1'009'001), 21u);  // after the head

  // A clock that goes backwards does not make recorded times decrease.
  now = 10;
  ASSERT_TRUE(Append("s", ExpectedRevision::Any()).ok());
  auto last = log_->ReadAll(21, 1, Filter{});
  ASSERT_TRUE(last.ok());
  EXPECT_EQ((*last)[0].recorded_time_us, 1'009'000);
}

TEST_F(LogAppendTest, AppendAsyncAnswersEveryAppendOnce) {
  options_.max_queued_appends = 1;
  Reopen();
  constexpr int kAppends = 200;
  absl::Mutex mu;
  std::vector<absl::StatusOr<AppendResult>> results;
  int answered = 0;
  // Invalid requests are answered at once, on this thread.
  log_->AppendAsync(Request("bad name", {Json("E")}),
                    [&](absl::StatusOr<AppendResult> r) {
                      EXPECT_EQ(r.status().code(),
                                absl::StatusCode::kInvalidArgument);
                      absl::MutexLock lock(&mu);
                      ++answered;
                    });
  for (int i = 0; i < kAppends; ++i) {
    log_->AppendAsync(Request("s", {Json("E")}),
                      [&](absl::StatusOr<AppendResult> r) {
                        absl::MutexLock lock(&mu);
                        results.push_back(std::move(r));
                        ++answered;
                      });
  }
  absl::MutexLock lock(&mu);
  auto all_answered = [&] { return answered == kAppends + 1; };
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&all_answered),
                                  absl::Seconds(30)));
  std::set<uint64_t> positions;
  int refused = 0;
  for (const auto& r : results) {
    if (!r.ok()) {
      // With room for one queued append, 200 fired within one fsync overflow.
      EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
      ++refused;
      continue;
    }
    EXPECT_TRUE(positions.insert(r->first_position).second);
  }
  EXPECT_GT(refused, 0);
  ASSERT_FALSE(positions.empty());
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), positions.size());  // no gaps
  EXPECT_EQ(log_->HeadPosition(), positions.size());
}

struct InvalidCase {
  std::string name;
  AppendRequest request;
  absl::StatusCode code;
  std::string message;
};

class LogValidationTest : public LogAppendTest,
                          public ::testing::WithParamInterface<InvalidCase> {};

TEST_P(LogValidationTest, RejectsAndAppendsNothing) {
  options_.max_event_bytes = 1000;
  options_.max_append_bytes = 3000;
  options_.max_append_events = 10;
  Reopen();
  const InvalidCase& c = GetParam();
  auto result = log_->Append(c.request);
  EXPECT_EQ(result.status().code(), c.code) << result.status();
  EXPECT_THAT(result.status().message(), HasSubstr(c.message));
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

std::vector<InvalidCase> InvalidCases() {
  const std::string big(1001, 'x');
  const std::string json_900 = "{\"a\":\"" + std::string(892, 'x') + "\"}";
  std::vector<EventData> eleven(11, Json("E"));
  std::vector<EventData> four_big(4, Json("E", json_900));
  using C = absl::StatusCode;
  return {
      {"EmptyStream", Request("", {Json("E")}), C::kInvalidArgument, "stream"},
      {"StreamBadStart", Request("-s", {Json("E")}), C::kInvalidArgument, "stream"},
      {"StreamBadChar", Request("a b", {Json("E")}), C::kInvalidArgument, "stream"},
      {"StreamTooLong", Request(std::string(201, 'a'), {Json("E")}),
       C::kInvalidArgument, "stream"},
      {"NoEvents", Request("s", {}), C::kInvalidArgument, "at least one event"},
      {"EmptyType", Request("s", {Json("")}), C::kInvalidArgument, "type"},
      {"TypeBadStart", Request("s", {Json("1E")}), C::kInvalidArgument, "type"},
      {"TypeTooLong", Request("s", {Json(std::string(101, 'E'))}),
       C::kInvalidArgument, "type"},
      {"BadJson", Request("s", {Json("E", "{\"a\":")}), C::kInvalidArgument,
       "events[0].data"},
      {"JsonNotObject", Request("s", {Json("E", "42")}), C::kInvalidArgument,
       "events[0].data"},
      {"MetadataNotObject",
       Request("s", {EventData{.type = "E", .data = "{}", .metadata = "[]"}}),
       C::kInvalidArgument, "metadata"},
      {"BadEventId",
       Request("s", {EventData{.event_id = "nope", .type = "E", .data = "{}"}}),
       C::kInvalidArgument, "event_id"},
      {"KeyTooLong",
       Request("s", {Json("E")}, ExpectedRevision::Any(), std::string(256, 'k')),
       C::kInvalidArgument, "idempotency_key"},
      {"KeyNotPrintable",
       Request("s", {Json("E")}, ExpectedRevision::Any(), "a\tb"),
       C::kInvalidArgument, "idempotency_key"},
      {"EventTooLarge",
       Request("s", {EventData{.type = "E", .data = big,
                               .content_type = "text/plain"}}),
       C::kResourceExhausted, "limit is 1000"},
      {"TooManyEvents", Request("s", eleven), C::kResourceExhausted,
       "limit is 10"},
      {"AppendTooLarge", Request("s", four_big), C::kResourceExhausted,
       "limit is 3000"},
  };
}

INSTANTIATE_TEST_SUITE_P(Limits, LogValidationTest,
                         ::testing::ValuesIn(InvalidCases()),
                         [](const auto& info) { return info.param.name; });

TEST_F(LogAppendTest, SystemStreamsAreAllowedInTheLog) {
  // `$` names are reserved for the system; the API layer keeps clients out,
  // the log itself stores them.
  EXPECT_TRUE(Append("$webhooks", ExpectedRevision::Any()).ok());
  EXPECT_EQ(Append("$", ExpectedRevision::Any()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::eventlog
