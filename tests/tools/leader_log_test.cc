// LeaderLog (tools/vigild/leader_log.h) against a real leader: the
// EventStore service on loopback over its own log, taking `$webhooks`
// appends from the admin role as a --webhooks=elsewhere primary does, and a
// local log that receives the leader's events only when the test copies
// them over (Import, the standby's part), so that "returns once the local
// log holds them" can be seen both ways.

#include "tools/vigild/leader_log.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
        log_.get(), api::AppendPathOptions{.admin_streams = {"$webhooks"}});
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
                 absl::Duration arrival_timeout = absl::Seconds(10)) {
    return LeaderLog({.leader = std::move(leader),
                      .call_timeout = absl::Seconds(2),
                      .arrival_timeout = arrival_timeout},
                     local_.get());
  }

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
