// AppendPath over a real event log (gated, to hold appends in flight): the
// order of its refusals, the role and client checks, the per-token rate
// limit, the in-flight bound, and the append metrics counted once per
// append. The transports sharing one path are tested in
// tests/gateway/append_transports_test.cc.

#include "api/append_path.h"

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/types/optional.h"
#include "api/auth.h"
#include "api/rate_limiter.h"
#include "api/status_mapping.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/gated_log.h"
#include "tests/testing/temp_dir.h"

namespace vigil::api {
namespace {

using ::testing::HasSubstr;
using vigil::testing::GatedLog;

using Result = absl::StatusOr<eventlog::AppendResult>;

Principal Agent(std::string id = "agent-1") {
  return Principal{.role = Role::kAgent, .anonymous = false, .id = id};
}

eventlog::AppendRequest Request(std::string stream, size_t events = 1,
                                std::string idempotency_key = "") {
  eventlog::AppendRequest request;
  request.stream = std::move(stream);
  request.idempotency_key = std::move(idempotency_key);
  for (size_t i = 0; i < events; ++i) {
    request.events.push_back(
        {.type = "Noted", .data = R"({"n":1})", .metadata = R"({"m":2})"});
  }
  return request;
}

// The seconds a rate-limited status asks the client to wait, if any.
absl::optional<std::string> RetryAfter(const absl::Status& status) {
  absl::optional<absl::Cord> seconds = status.GetPayload(kRateLimitedPayload);
  if (!seconds.has_value()) return absl::nullopt;
  return std::string(*seconds);
}

// An append whose answer may come later, from the log's thread.
class Pending {
 public:
  Pending() : future_(promise_->get_future()) {}

  AppendPath::Done Done() {
    return [promise = promise_](Result result) {
      promise->set_value(std::move(result));
    };
  }
  bool answered() const {
    return future_.wait_for(std::chrono::seconds(0)) ==
           std::future_status::ready;
  }
  Result Get() { return future_.get(); }

 private:
  std::shared_ptr<std::promise<Result>> promise_ =
      std::make_shared<std::promise<Result>>();
  std::future<Result> future_;
};

class AppendPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::make_unique<GatedLog>(*std::move(log));
  }
  void TearDown() override { log_->Open(); }

  // A path over the log counting into metrics_.
  std::unique_ptr<AppendPath> MakePath(AppendPathOptions options = {},
                                       RateLimiter* limiter = nullptr) {
    return std::make_unique<AppendPath>(log_.get(), options, limiter,
                                        &metrics_);
  }

  Result AppendNow(AppendPath& path, const Principal& principal,
                   eventlog::AppendRequest request) {
    Pending pending;
    path.Append(principal, std::move(request), pending.Done());
    return pending.Get();
  }

  uint64_t EventsCounted() { return counted_.events->Value(); }
  uint64_t BytesCounted() { return counted_.bytes->Value(); }
  uint64_t DurationsCounted() {
    return counted_.duration->Take().cumulative.back();
  }
  void ExpectNothingCounted() {
    EXPECT_EQ(EventsCounted(), 0u);
    EXPECT_EQ(BytesCounted(), 0u);
    EXPECT_EQ(DurationsCounted(), 0u);
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<GatedLog> log_;
  base::Metrics metrics_;
  // The same series the path records into (Register returns them again).
  base::AppendMetrics counted_ = base::AppendMetrics::Register(&metrics_);
};

TEST_F(AppendPathTest, AppendsAndCountsEachAppendOnce) {
  std::unique_ptr<AppendPath> path = MakePath();
  Result first = AppendNow(*path, Agent(), Request("s", 3, "key-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->first_position, 1u);
  EXPECT_EQ(first->last_position, 3u);
  EXPECT_FALSE(first->deduplicated);
  EXPECT_EQ(EventsCounted(), 3u);
  EXPECT_EQ(BytesCounted(), 3 * (std::string(R"({"n":1})").size() +
                                 std::string(R"({"m":2})").size()));
  EXPECT_EQ(DurationsCounted(), 1u);

  // A retry with the same key is answered, not appended, not counted.
  Result retried = AppendNow(*path, Agent(), Request("s", 3, "key-1"));
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_TRUE(retried->deduplicated);
  EXPECT_EQ(retried->first_position, 1u);
  EXPECT_EQ(EventsCounted(), 3u);
  EXPECT_EQ(DurationsCounted(), 1u);
  EXPECT_EQ(log_->HeadPosition(), 3u);
  EXPECT_EQ(path->inflight(), 0u);
}

TEST_F(AppendPathTest, RolesThatMayNotAppendAreRefused) {
  std::unique_ptr<AppendPath> path = MakePath();
  Result refused = AppendNow(
      *path, {.role = Role::kReader, .anonymous = false, .id = "r"},
      Request("s"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AppendNow(*path, Principal{}, Request("s")).ok());  // anonymous
  EXPECT_TRUE(
      AppendNow(*path, {.role = Role::kAdmin, .anonymous = false, .id = "a"},
                Request("s"))
          .ok());
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

TEST_F(AppendPathTest, ClientChecksRefuseBeforeTheLog) {
  std::unique_ptr<AppendPath> path = MakePath();
  Result reserved = AppendNow(*path, Agent(), Request("$webhooks"));
  EXPECT_EQ(reserved.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(reserved.status().message(), HasSubstr("reserved"));

  eventlog::AppendRequest malformed = Request("agents");
  malformed.events[0].type = "AgentRegistered";  // lacks agent_id, role, name
  Result invalid = AppendNow(*path, Agent(), std::move(malformed));
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(log_->HeadPosition(), 0u);
  ExpectNothingCounted();
}

TEST_F(AppendPathTest, AdminStreamsTakeTheAdminsAppendsOnly) {
  AppendPathOptions options;
  options.admin_streams = {"$webhooks"};
  std::unique_ptr<AppendPath> path = MakePath(options);
  const Principal admin{.role = Role::kAdmin, .anonymous = false, .id = "a"};
  EXPECT_TRUE(AppendNow(*path, admin, Request("$webhooks")).ok());
  // Another role, another reserved stream, or no admin_streams: refused.
  EXPECT_EQ(AppendNow(*path, Agent(), Request("$webhooks")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AppendNow(*path, admin, Request("$alerts")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AppendNow(*MakePath(), admin, Request("$webhooks")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(log_->HeadPosition(), 1u);
}

TEST_F(AppendPathTest, WritableRefusesBeforeTheRateLimitAndTheLog) {
  RateLimiter limiter({.events_per_second = 1, .burst = 1});
  bool writable = false;
  std::unique_ptr<AppendPath> path = MakePath(
      {.writable =
           [&writable] {
             return writable ? absl::OkStatus()
                             : NotPrimaryError("a standby", "http://p:7601");
           }},
      &limiter);
  Result refused = AppendNow(*path, Agent(), Request("s"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(HttpStatusFor(refused.status()), 503);
  EXPECT_THAT(ProblemJson(refused.status(), 503),
              HasSubstr(R"("type":"urn:vigil:problem:not-primary")"));
  EXPECT_THAT(ProblemJson(refused.status(), 503),
              HasSubstr(R"("primary":"http://p:7601")"));
  // Refused before the rate limit: the token's one event is still there.
  writable = true;
  EXPECT_TRUE(AppendNow(*path, Agent(), Request("s")).ok());
  EXPECT_EQ(log_->HeadPosition(), 1u);
  EXPECT_EQ(path->inflight(), 0u);
}

TEST_F(AppendPathTest, RateLimitIsPerTokenAndSparesAnonymousCallers) {
  RateLimiter limiter({.events_per_second = 1, .burst = 3});
  std::unique_ptr<AppendPath> path = MakePath({}, &limiter);
  EXPECT_TRUE(AppendNow(*path, Agent("a"), Request("s", 2)).ok());
  Result limited = AppendNow(*path, Agent("a"), Request("s", 2));
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryAfter(limited.status()), "1");
  // Another token has its own bucket; anonymous callers have none.
  EXPECT_TRUE(AppendNow(*path, Agent("b"), Request("s", 2)).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(AppendNow(*path, Principal{}, Request("s", 2)).ok());
  }
  // Larger than the burst: never passes, so no retry is suggested.
  Result too_large = AppendNow(*path, Agent("c"), Request("s", 4));
  EXPECT_EQ(too_large.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryAfter(too_large.status()), absl::nullopt);

  EXPECT_EQ(EventsCounted(), 2u + 2u + 3 * 2u);
  EXPECT_EQ(DurationsCounted(), 5u);
}

TEST_F(AppendPathTest, ChecksComeBeforeTheRateLimit) {
  // A refused append takes no tokens.
  RateLimiter limiter({.events_per_second = 1, .burst = 1});
  std::unique_ptr<AppendPath> path = MakePath({}, &limiter);
  EXPECT_EQ(AppendNow(*path, Agent(), Request("$system")).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(AppendNow(*path, Agent(), Request("s")).ok());
}

TEST_F(AppendPathTest, InflightBoundRefusesWithRetryAfterOneSecond) {
  std::unique_ptr<AppendPath> path = MakePath({.max_inflight_appends = 2});
  log_->Close();
  Pending first;
  Pending second;
  path->Append(Agent(), Request("s"), first.Done());
  path->Append(Agent(), Request("s"), second.Done());
  log_->AwaitHeld(2);
  EXPECT_EQ(path->inflight(), 2u);

  Result refused = AppendNow(*path, Agent(), Request("s"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(RetryAfter(refused.status()), "1");
  EXPECT_THAT(refused.status().message(),
              HasSubstr("too many appends in flight on this server (2)"));
  EXPECT_FALSE(first.answered());

  log_->Open();
  EXPECT_TRUE(first.Get().ok());
  EXPECT_TRUE(second.Get().ok());
  EXPECT_EQ(path->inflight(), 0u);
  EXPECT_TRUE(AppendNow(*path, Agent(), Request("s")).ok());  // room again
  EXPECT_EQ(EventsCounted(), 3u);
  EXPECT_EQ(DurationsCounted(), 3u);
}

TEST_F(AppendPathTest, RefusedAppendsTakeNoInflightSlot) {
  std::unique_ptr<AppendPath> path = MakePath({.max_inflight_appends = 1});
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(AppendNow(*path, Agent(), Request("$s")).ok());
  }
  EXPECT_EQ(path->inflight(), 0u);
  EXPECT_TRUE(AppendNow(*path, Agent(), Request("s")).ok());
}

TEST_F(AppendPathTest, TheLogsRefusalIsPassedOnAndNotCounted) {
  std::unique_ptr<AppendPath> path = MakePath();
  eventlog::AppendRequest request = Request("s");
  request.expected_revision = eventlog::ExpectedRevision::Exact(4);
  Result refused = AppendNow(*path, Agent(), std::move(request));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(path->inflight(), 0u);
  ExpectNothingCounted();
}

TEST_F(AppendPathTest, WithoutMetricsNothingIsCounted) {
  AppendPath path(log_.get(), {});
  EXPECT_TRUE(AppendNow(path, Agent(), Request("s")).ok());
  ExpectNothingCounted();
}


// --replication=sync's hook: the answer waits for it, a refusal replaces
// the result (the events stay in the log), and the append stays in flight
// meanwhile.
TEST(AppendPathReplicationTest, TheAnswerWaitsForAwaitReplicated) {
  vigil::testing::TempDir dir;
  auto log = eventlog::EventLog::Open(eventlog::Options{}, dir.path());
  ASSERT_TRUE(log.ok()) << log.status();
  std::mutex mu;
  std::vector<std::pair<uint64_t, std::function<void(absl::Status)>>> asked;
  AppendPath path(log->get(),
                  {.await_replicated =
                       [&](uint64_t position,
                           std::function<void(absl::Status)> stored) {
                         std::lock_guard<std::mutex> lock(mu);
                         asked.emplace_back(position, std::move(stored));
                       }});
  const auto take = [&]() -> std::pair<uint64_t, std::function<void(absl::Status)>> {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!asked.empty()) {
          auto first = std::move(asked.front());
          asked.erase(asked.begin());
          return first;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return {0, nullptr};
  };

  Pending stored;
  path.Append(Agent(), Request("s", 2), stored.Done());
  auto [position, answer] = take();
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(position, 2u);  // the append's last position
  EXPECT_FALSE(stored.answered());
  EXPECT_EQ(path.inflight(), 1u);
  answer(absl::OkStatus());
  Result result = stored.Get();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->last_position, 2u);
  EXPECT_EQ(path.inflight(), 0u);

  Pending refused;
  path.Append(Agent(), Request("s", 1), refused.Done());
  auto [position3, refuse] = take();
  ASSERT_NE(refuse, nullptr);
  EXPECT_EQ(position3, 3u);
  refuse(absl::UnavailableError("no quorum"));
  Result failed = refused.Get();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(failed.status().message(), "no quorum");
  EXPECT_EQ((*log)->HeadPosition(), 3u);  // durable locally all the same
}

}  // namespace
}  // namespace vigil::api
