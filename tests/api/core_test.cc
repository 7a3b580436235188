// Core over a real event log and append path: each operation asks the
// principal's role first, with the one table of principal.h, whatever the
// transport; the parts a server runs without answer UNIMPLEMENTED; the
// reads answer what the log holds. The transports' doors (HTTP 401/403,
// gRPC UNAUTHENTICATED/PERMISSION_DENIED) are tested with them:
// tests/api/event_store_auth_test.cc, tests/gateway/http_server_test.cc.

#include "api/core.h"

#include <future>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "api/append_path.h"
#include "api/principal.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vigil::api {
namespace {

Principal As(Role role) {
  return Principal{.role = role, .anonymous = false, .id = "abcd0123"};
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    append_path_ = std::make_unique<AppendPath>(log_.get(), AppendPathOptions{});
    core_ = std::make_unique<Core>(
        CoreParts{.log = log_.get(), .append_path = append_path_.get()});
  }

  absl::StatusOr<eventlog::AppendResult> Append(const Principal& principal,
                                                std::string stream) {
    std::promise<absl::StatusOr<eventlog::AppendResult>> answer;
    core_->Append(principal,
                  {.stream = std::move(stream),
                   .events = {{.type = "Noted", .data = R"({"n":1})"}}},
                  [&](absl::StatusOr<eventlog::AppendResult> result) {
                    answer.set_value(std::move(result));
                  });
    return answer.get_future().get();
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<AppendPath> append_path_;
  std::unique_ptr<Core> core_;
};

TEST_F(CoreTest, AReaderReadsButDoesNotAppend) {
  ASSERT_TRUE(Append(As(Role::kAgent), "orders").ok());
  absl::StatusOr<eventlog::AppendResult> refused =
      Append(As(Role::kReader), "orders");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.status().message(), "the role reader may not append");

  absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
      core_->ReadStream(As(Role::kReader), {.stream = "orders", .max_count = 10});
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 1u);  // the agent's, and only it

  absl::StatusOr<eventlog::StreamInfo> info =
      core_->GetStream(As(Role::kReader), "orders");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->event_count, 1u);
}

TEST_F(CoreTest, ReadAllGivesACursorOverTheLog) {
  for (const char* stream : {"a", "b", "a"}) {
    ASSERT_TRUE(Append(Principal{}, stream).ok());
  }
  absl::StatusOr<eventlog::LogCursor> cursor = core_->ReadAll(
      As(Role::kAgent), {.from_position = 2, .filter = {.stream_prefixes = {"a"}}});
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  absl::StatusOr<eventlog::CursorPage> page = cursor->Next(10);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->events.size(), 1u);
  EXPECT_EQ(page->events[0].position, 3u);
  EXPECT_TRUE(cursor->AtEnd());
}

TEST_F(CoreTest, PartsTheServerRunsWithoutAreUnimplementedForThoseAllowed) {
  const Principal reader = As(Role::kReader);
  EXPECT_EQ(core_->ReadModel(reader, {}).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(core_->State(reader, {}).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(core_->Diff(reader, {}).status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_EQ(core_->Webhooks(As(Role::kAdmin)).status().code(),
            absl::StatusCode::kUnimplemented);
  // The role is asked first: a reader learns nothing of what runs.
  absl::Status denied = core_->Webhooks(reader).status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.message(), "the role reader may not administer");
}

// Every operation for every role: the rules of docs/contract.md
// "Security", decided in one place.
using RoleOperation = std::tuple<Role, Operation, bool>;
class CoreRulesTest : public ::testing::TestWithParam<RoleOperation> {};

TEST_P(CoreRulesTest, OneTableDecides) {
  const auto& [role, operation, allowed] = GetParam();
  absl::Status status = Authorize(As(role), operation);
  if (allowed) {
    EXPECT_TRUE(status.ok()) << status;
  } else {
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  }
}

constexpr Operation kReads[] = {Operation::kReadStream, Operation::kReadAll,
                                Operation::kGetStream, Operation::kReadModel,
                                Operation::kState, Operation::kDiff};

std::vector<RoleOperation> Rules() {
  std::vector<RoleOperation> rules;
  for (Operation read : kReads) {
    for (Role role : {Role::kAgent, Role::kReader, Role::kAdmin}) {
      rules.emplace_back(role, read, true);
    }
  }
  rules.emplace_back(Role::kAgent, Operation::kAppend, true);
  rules.emplace_back(Role::kReader, Operation::kAppend, false);
  rules.emplace_back(Role::kAdmin, Operation::kAppend, true);
  rules.emplace_back(Role::kAgent, Operation::kSubscribe, false);
  rules.emplace_back(Role::kReader, Operation::kSubscribe, true);
  rules.emplace_back(Role::kAdmin, Operation::kSubscribe, true);
  rules.emplace_back(Role::kAgent, Operation::kAdministerWebhooks, false);
  rules.emplace_back(Role::kReader, Operation::kAdministerWebhooks, false);
  rules.emplace_back(Role::kAdmin, Operation::kAdministerWebhooks, true);
  return rules;
}

INSTANTIATE_TEST_SUITE_P(EveryRoleAndOperation, CoreRulesTest,
                         ::testing::ValuesIn(Rules()));

TEST(CoreRulesTest, AnAnonymousCallerMayDoEverything) {
  for (const RoleOperation& rule : Rules()) {
    EXPECT_TRUE(Authorize(Principal{}, std::get<1>(rule)).ok());
  }
}

}  // namespace
}  // namespace vigil::api
