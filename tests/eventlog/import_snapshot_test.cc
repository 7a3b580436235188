// EventLog::Import (lossless copies of a log) and the snapshot entries
// time travel keeps beside the log.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;

std::unique_ptr<EventLog> OpenLog(const std::string& dir) {
  auto log = EventLog::Open(Options(), dir);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = OpenLog(dir_.Sub("source"));
    for (int i = 0; i < 30; ++i) {
      const std::string stream = "s-" + std::to_string(i % 4);
      ASSERT_TRUE(source_
                      ->Append(Request(stream, {Json("A", "{\"i\":1}"),
                                                Json("B", "{\"x\": 2.50}")}))
                      .ok());
    }
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<EventLog> source_;
};

TEST_F(ImportTest, ReproducesTheHashChainInPagesAndVerifies) {
  auto events = source_->ReadAll(1, 0, {});
  ASSERT_TRUE(events.ok());
  auto copy = OpenLog(dir_.Sub("copy"));
  for (size_t begin = 0; begin < events->size(); begin += 7) {
    std::vector<RecordedEvent> page(
        events->begin() + begin,
        events->begin() + std::min(events->size(), begin + 7));
    auto result = copy->Import(page);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->first_position, page.front().position);
    EXPECT_EQ(result->last_position, page.back().position);
  }
  EXPECT_EQ(*copy->ReadAll(1, 0, {}), *events);
  EXPECT_EQ(*copy->GetStream("s-1"), *source_->GetStream("s-1"));
  auto verified = copy->Verify(1, 0);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok) << verified->problem;
  EXPECT_EQ(verified->checked, events->size());
  // Appends go on after an import, never earlier in time.
  auto appended = copy->Append(Request("s-1", {Json("C")}));
  ASSERT_TRUE(appended.ok()) << appended.status();
  auto last = copy->ReadAll(appended->first_position, 1, {});
  EXPECT_GE((*last)[0].recorded_time_us, events->back().recorded_time_us);
  EXPECT_EQ((*last)[0].revision, source_->GetStream("s-1")->last_revision + 1);
}

TEST_F(ImportTest, RefusesGapsTamperedHashesAndWrongRevisions) {
  auto events = *source_->ReadAll(1, 0, {});
  auto copy = OpenLog(dir_.Sub("copy"));
  EXPECT_EQ(copy->Import({events[1]}).status().code(),
            absl::StatusCode::kInvalidArgument);  // a gap
  std::vector<RecordedEvent> tampered(events.begin(), events.begin() + 3);
  tampered[2].data = "{\"i\":2}";
  EXPECT_EQ(copy->Import(tampered).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(copy->HeadPosition(), 0u);  // nothing of a refused import
  std::vector<RecordedEvent> renumbered(events.begin(), events.begin() + 1);
  renumbered[0].revision = 3;
  EXPECT_EQ(copy->Import(renumbered).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(copy->Import({events[0], events[1]}).ok());
  EXPECT_EQ(copy->HeadPosition(), 2u);
}

TEST(SnapshotTest, EntriesAreReadAsOfTheirSnapshot) {
  vigil::testing::TempDir dir;
  auto log = OpenLog(dir.Sub("log"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(log->Append(Request("s", {Json("A")})).ok());
  }
  EXPECT_EQ(*log->FindSnapshot("f", 10), 0u);
  ASSERT_TRUE(log->WriteSnapshot("f", 3, {{"a", "1"}, {"b", "1"}}).ok());
  ASSERT_TRUE(log->WriteSnapshot("f", 6, {{"a", "2"}, {"c", "2"}}).ok());
  ASSERT_TRUE(log->WriteSnapshot("g", 8, {{"a", "other"}}).ok());
  EXPECT_EQ(*log->FindSnapshot("f", 2), 0u);
  EXPECT_EQ(*log->FindSnapshot("f", 5), 3u);
  EXPECT_EQ(*log->FindSnapshot("f", 10), 6u);
  EXPECT_EQ(**log->ReadSnapshotEntry("f", 3, "a"), "1");
  EXPECT_EQ(**log->ReadSnapshotEntry("f", 6, "a"), "2");
  EXPECT_EQ(**log->ReadSnapshotEntry("f", 6, "b"), "1");
  EXPECT_FALSE(log->ReadSnapshotEntry("f", 3, "c")->has_value());
  std::vector<std::string> seen;
  ASSERT_TRUE(log->ScanSnapshot("f", 6, "",
                                [&](std::string_view k, std::string_view v) {
                                  seen.push_back(std::string(k) + "=" +
                                                 std::string(v));
                                })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a=2", "b=1", "c=2"}));
  seen.clear();
  ASSERT_TRUE(log->ScanSnapshot("f", 3, "",
                                [&](std::string_view k, std::string_view v) {
                                  seen.push_back(std::string(k) + "=" +
                                                 std::string(v));
                                })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a=1", "b=1"}));
  EXPECT_EQ(log->WriteSnapshot("f", 11, {}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->WriteSnapshot("f", 9, {{std::string("a\0b", 3), ""}}).code(),
            absl::StatusCode::kInvalidArgument);
  // Snapshots are not events: the chain still verifies.
  EXPECT_TRUE(log->Verify(1, 0)->ok);
  EXPECT_EQ(log->Stats()->stream_count, 1u);
}

// ReadSnapshotEntries steps forward through many keys in key order (and
// seeks for far keys and keys with many versions): each value is the one
// ReadSnapshotEntry, a seek per key, finds.
TEST(SnapshotTest, ManyEntriesReadAsEachAlone) {
  vigil::testing::TempDir dir;
  auto log = OpenLog(dir.Sub("log"));
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(log->Append(Request("s", {Json("A")})).ok());
  }
  // Key k changes every (k % 7 + 1) snapshots from its first; "hot" at
  // every one; keys 200.. only from snapshot 40 on.
  auto key = [](int k) {
    return absl::StrCat("k", k / 100, k % 100 / 10, k % 10);
  };
  for (uint64_t p = 1; p <= 60; ++p) {
    std::vector<EventLog::SnapshotEntry> changed = {
        {"hot", absl::StrCat("hot@", p)}};
    for (int k = 0; k < 260; ++k) {
      if (k >= 200 && p < 40) continue;
      if ((p + k) % (k % 7 + 1) == 0) {
        changed.emplace_back(key(k), absl::StrCat(k, "@", p));
      }
    }
    ASSERT_TRUE(log->WriteSnapshot("f", p, changed).ok());
  }
  std::mt19937_64 random(3);
  for (uint64_t position : {1, 2, 7, 39, 40, 41, 60}) {
    for (int round = 0; round < 4; ++round) {
      std::vector<std::string> keys = {"hot", "absent", "zz", "k0"};
      for (int i = 0; i < 80; ++i) {
        // Dense runs, far jumps and repeats.
        keys.push_back(key(round % 2 == 0 ? random() % 260 : i * 3 % 260));
      }
      std::shuffle(keys.begin(), keys.end(), random);
      auto values = log->ReadSnapshotEntries("f", position, keys);
      ASSERT_TRUE(values.ok()) << values.status();
      ASSERT_EQ(values->size(), keys.size());
      for (size_t i = 0; i < keys.size(); ++i) {
        auto alone = log->ReadSnapshotEntry("f", position, keys[i]);
        ASSERT_TRUE(alone.ok());
        EXPECT_EQ((*values)[i], *alone) << keys[i] << " at " << position;
      }
    }
  }
}

}  // namespace
}  // namespace vigil::eventlog
