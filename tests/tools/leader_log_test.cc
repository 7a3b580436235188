// LeaderLog (tools/vigild/leader_log.h) against a real leader: the
// EventStore service on loopback over its own log, taking `$webhooks`
// appends from the admin role as a --webhooks=elsewhere primary does, and a
// local log that receives the leader's events only when the test copies
// them over (Import, the standby's part), so that "returns once the local
// log holds them" can be seen both ways. The leader can be told to answer
// its next appends UNAVAILABLE after its log took them (as a sync-mode
// leader whose quorum did not store them in time): an answer lost, with
// the append in the leader's log.

#include "tools/vigild/leader_log.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/append_path.h"
#include "api/status_mapping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/api/loopback_service.h"

namespace vigil::vigild {
namespace {

using ::testing::HasSubstr;

eventlog::AppendRequest Request(std::string stream) {
  eventlog::AppendRequest request;
  request.stream = std::move(stream);
  request.events.push_back({.type = "WebhookCheckpointed",
                            .data = R"({"webhook_id":"wh_1","position":1})"});
  return request;
}

class LeaderLogTest : public api::LoopbackServiceTest {
 protected:
  void SetUp() override {
    OpenLog();
    leader_path_ = std::make_unique<api::AppendPath>(
        log_.get(),
        api::AppendPathOptions{
            .await_replicated =
                [this](uint64_t position,
                       std::function<void(absl::Status)> stored) {
                  int refused = refused_answers_.load();
                  while (refused > 0 && !refused_answers_.compare_exchange_weak(
                                            refused, refused - 1)) {
                  }
                  if (hold_next_.exchange(false)) {
                    absl::MutexLock lock(&held_mu_);
                    held_ = std::move(stored);
                    return;
                  }
                  if (refused > 0) {
                    return stored(absl::UnavailableError(absl::StrCat(
                        "position ", position,
                        " is durable locally but a JetStream quorum did not "
                        "store it in time")));
                  }
                  stored(absl::OkStatus());
                },
            .admin_streams = {"$webhooks"}});
    StartServer({}, {}, leader_path_.get());
    auto local = eventlog::EventLog::Open({}, dir_.Sub("local"));
    ASSERT_TRUE(local.ok()) << local.status();
    local_ = *std::move(local);
  }
  void TearDown() override {
    StopMirror();
    LoopbackServiceTest::TearDown();
  }

  std::string Leader() const { return absl::StrCat("127.0.0.1:", port_); }

  // Copies the leader's events to the local log as they come (a standby).
  void StartMirror() {
    mirror_ = std::thread([this] {
      while (!stop_) {
        auto events = log_->ReadAll(local_->HeadPosition() + 1, 100, {});
        if (events.ok() && !events->empty()) {
          ASSERT_TRUE(local_->Import(*events).ok());
        }
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
  }
  void StopMirror() {
    stop_ = true;
    if (mirror_.joinable()) mirror_.join();
  }

  LeaderLog Make(std::function<absl::StatusOr<std::string>()> leader,
                 absl::Duration arrival_timeout = absl::Seconds(10),
                 bool idempotency_keys = true) {
    return LeaderLog({.leader = std::move(leader),
                      .call_timeout = absl::Seconds(2),
                      .arrival_timeout = arrival_timeout,
                      .idempotency_keys = idempotency_keys},
                     local_.get());
  }

  // An Append through `log` answered with its first call's result: at
  // position 1, deduplicated, once in the leader's log.
  void ExpectTheFirstAppendDeduplicated(LeaderLog& log) {
    absl::StatusOr<eventlog::AppendResult> appended =
        log.Append(Request("$webhooks"));
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_EQ(appended->last_position, 1u);
    EXPECT_TRUE(appended->deduplicated);
    EXPECT_EQ(LeaderEvents(), 1u);
  }

  // The `$webhooks` events in the leader's log.
  size_t LeaderEvents() const {
    auto events = log_->ReadAll(1, 100, {.stream_prefixes = {"$webhooks"}});
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? events->size() : 0;
  }

  // How many of the next appends the leader answers UNAVAILABLE once its
  // log holds them.
  std::atomic<int> refused_answers_{0};
  // Whether the leader holds its answer to the next append (unanswered
  // until the test calls held_), its log holding it.
  std::atomic<bool> hold_next_{false};
  absl::Mutex held_mu_;
  std::function<void(absl::Status)> held_ ABSL_GUARDED_BY(held_mu_);
  std::unique_ptr<api::AppendPath> leader_path_;
  std::unique_ptr<eventlog::EventLog> local_;
  std::atomic<bool> stop_{false};
  std::thread mirror_;
};

TEST_F(LeaderLogTest, AppendsOnTheLeaderAndReturnsOnceTheLocalLogHoldsThem) {
  StartMirror();
  LeaderLog log = Make([this] { return Leader(); });
  absl::StatusOr<eventlog::AppendResult> appended =
      log.Append(Request("$webhooks"));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->last_position, 1u);
  EXPECT_EQ(log_->HeadPosition(), 1u);
  // Read back through the LeaderLog: the local log's copy.
  auto read = log.ReadAll(1, 1, {});
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front().stream, "$webhooks");
}

TEST_F(LeaderLogTest, EventsThatDoNotArriveFailNamingTheirPosition) {
  LeaderLog log = Make([this] { return Leader(); }, absl::Milliseconds(200));
  absl::StatusOr<eventlog::AppendResult> appended =
      log.Append(Request("$webhooks"));
  EXPECT_EQ(appended.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(appended.status().message(), HasSubstr("position 1"));
  EXPECT_EQ(log_->HeadPosition(), 1u);  // on the leader all the same
  EXPECT_EQ(local_->HeadPosition(), 0u);
}

// The leader's answer to the first call is lost with the append in its
// log; the retry carries the same idempotency key and gets the first
// result: one event, answered OK.
TEST_F(LeaderLogTest, ARetryAfterALostAnswerIsDeduplicated) {
  StartMirror();
  refused_answers_ = 1;
  LeaderLog log = Make([this] { return Leader(); });
  ExpectTheFirstAppendDeduplicated(log);
  EXPECT_EQ(refused_answers_.load(), 0) << "the first answer was refused";
  // Another Append with the same events is another append: a key of its
  // own.
  absl::StatusOr<eventlog::AppendResult> appended =
      log.Append(Request("$webhooks"));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->last_position, 2u);
  EXPECT_FALSE(appended->deduplicated);
  EXPECT_EQ(LeaderEvents(), 2u);
}

// The leader's answer does not come before the call's deadline: the retry
// is deduplicated as well.
TEST_F(LeaderLogTest, ARetryAfterACallPastItsDeadlineIsDeduplicated) {
  StartMirror();
  hold_next_ = true;
  LeaderLog log = Make([this] { return Leader(); });
  ExpectTheFirstAppendDeduplicated(log);
  std::function<void(absl::Status)> held;
  {
    absl::MutexLock lock(&held_mu_);
    held = std::move(held_);
  }
  ASSERT_TRUE(held != nullptr) << "the first answer was held";
  held(absl::OkStatus());  // too late for its call
}

// Lost twice: the Append fails (the caller's 503), with the event in the
// leader's log once, not twice.
TEST_F(LeaderLogTest, AnAnswerLostOnEveryAttemptFailsWithOneEvent) {
  StartMirror();
  refused_answers_ = 2;
  LeaderLog log = Make([this] { return Leader(); });
  EXPECT_EQ(log.Append(Request("$webhooks")).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(LeaderEvents(), 1u);
}

// The control: without the key the retry appends the event again.
TEST_F(LeaderLogTest, ControlWithoutAKeyTheRetryAppendsTwice) {
  StartMirror();
  refused_answers_ = 1;
  LeaderLog log = Make([this] { return Leader(); }, absl::Seconds(10),
                       /*idempotency_keys=*/false);
  absl::StatusOr<eventlog::AppendResult> appended =
      log.Append(Request("$webhooks"));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->last_position, 2u);
  EXPECT_EQ(LeaderEvents(), 2u);
}

TEST_F(LeaderLogTest, AnUnreachableLeaderFailsFastNamingIt) {
  StopServer();
  const std::string gone = Leader();
  LeaderLog log = Make([gone] { return gone; });
  const absl::Time start = absl::Now();
  absl::StatusOr<eventlog::AppendResult> appended =
      log.Append(Request("$webhooks"));
  EXPECT_EQ(appended.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(appended.status().message(), HasSubstr(gone));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST_F(LeaderLogTest, TheLeadersRefusalAndTheRolesArePassedOn) {
  StartMirror();
  // The leader takes no other reserved stream.
  LeaderLog forwarding = Make([this] { return Leader(); });
  EXPECT_EQ(forwarding.Append(Request("$alerts")).status().code(),
            absl::StatusCode::kPermissionDenied);
  // No leader known: the role's refusal.
  LeaderLog refused = Make([]() -> absl::StatusOr<std::string> {
    return api::NotPrimaryError("a standby; primary unknown", "");
  });
  EXPECT_EQ(refused.Append(Request("$webhooks")).status().code(),
            absl::StatusCode::kUnavailable);
  // This vigild is the leader: the local log, the other untouched.
  LeaderLog here = Make([] { return std::string(); });
  ASSERT_TRUE(here.Append(Request("$webhooks")).ok());
  EXPECT_EQ(local_->HeadPosition(), 1u);
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

TEST_F(LeaderLogTest, ANewLeaderIsFollowedAtTheNextAppend) {
  StartMirror();
  std::string leader = "127.0.0.1:1";  // nobody listens
  LeaderLog log = Make([&leader] { return leader; });
  EXPECT_EQ(log.Append(Request("$webhooks")).status().code(),
            absl::StatusCode::kUnavailable);
  leader = Leader();
  EXPECT_TRUE(log.Append(Request("$webhooks")).ok());
  EXPECT_EQ(local_->HeadPosition(), 1u);
}

}  // namespace
}  // namespace vigil::vigild
