// NextRecordedEvent (eventlog/next_event.h): the event the log would record
// next, built outside it, is what Import takes, and what another log fed
// the same events records; once the head moves, Import refuses it.

#include <memory>
#include <string>
#include <vector>

#include "eventlog/event_log.h"
#include "eventlog/next_event.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;

class NextEventTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = EventLog::Open(Options(), dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<EventLog> log_;
};

TEST_F(NextEventTest, OnAnEmptyLogItIsPositionOneChainedFromGenesis) {
  auto next = NextRecordedEvent(*log_, "$leadership", Json("LeaderElected"));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->position, 1u);
  EXPECT_EQ(next->revision, 0u);
  EXPECT_EQ(next->content_type, kJsonContentType);
  EXPECT_EQ(next->event_id.size(), 36u);
  EXPECT_EQ(next->hash, ChainedHash(GenesisHash(), *next));
  auto imported = log_->Import({*next});
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(*log_->ReadAll(1, 1, {}), std::vector<RecordedEvent>{*next});
  auto verified = log_->Verify(1, 0);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->problem;
}

TEST_F(NextEventTest, ContinuesTheHeadAndItsStreamAndImportTakesIt) {
  ASSERT_TRUE(log_->Append(Request("$leadership", {Json("LeaderElected")})).ok());
  ASSERT_TRUE(log_->Append(Request("work", {Json("A"), Json("B")})).ok());
  EventData given = Json("LeaderElected", R"({"fencing_token":7})");
  given.event_id = "0190a5b6-7c8d-7e9f-8a0b-1c2d3e4f5a6b";
  auto next = NextRecordedEvent(*log_, "$leadership", given);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->position, 4u);
  EXPECT_EQ(next->revision, 1u);
  EXPECT_EQ(next->event_id, given.event_id);
  EXPECT_EQ(next->data, given.data);
  const RecordedEvent head = (*log_->ReadAll(3, 1, {}))[0];
  EXPECT_GE(next->recorded_time_us, head.recorded_time_us);
  EXPECT_EQ(next->hash, ChainedHash(head.hash, *next));
  ASSERT_TRUE(log_->Import({*next}).ok());
  EXPECT_EQ((*log_->ReadAll(4, 1, {}))[0], *next);
  auto verified = log_->Verify(1, 0);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->checked, 4u);
}

TEST_F(NextEventTest, OnceTheHeadMovesImportRefusesIt) {
  auto next = NextRecordedEvent(*log_, "$leadership", Json("LeaderElected"));
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(log_->Append(Request("work", {Json("A")})).ok());
  auto imported = log_->Import({*next});
  EXPECT_EQ(imported.status().code(), absl::StatusCode::kInvalidArgument)
      << imported.status();
}

}  // namespace
}  // namespace vigil::eventlog
