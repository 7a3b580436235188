// Verify walks the hash chain and names the first position that does not
// match. Tampering is done with RocksDB directly on the closed log, using
// the key layout of eventlog/FORMAT.md.

#include <rocksdb/db.h>

#include "eventlog/event_log.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using ::testing::HasSubstr;
using testing::Json;
using testing::Request;

std::string RecordKey(uint64_t position) {
  std::string key(1, 'p');
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(position >> (8 * i)));
  return key;
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = EventLog::Open(Options{}, dir_.path());
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*log)
                      ->Append(Request("agent-" + std::to_string(i % 3),
                                       {Json("AgentHeartbeat",
                                             R"({"cpu_pct":)" + std::to_string(i) + "}")}))
                      .ok());
    }
  }

  // Applies `change` to the stored value under `key` in the closed log.
  void Tamper(const std::string& key,
              const std::function<void(std::string*)>& change) {
    std::unique_ptr<internal::RocksDb> db;
    ASSERT_TRUE(internal::RocksDb::Open(internal::ToRocksOptions(Options{}),
                                        dir_.path(), &db)
                    .ok());
    rocksdb::ColumnFamilyHandle* family = db->For(key);
    std::string value;
    ASSERT_TRUE(db->db()->Get({}, family, key, &value).ok());
    change(&value);
    if (value.empty()) {
      ASSERT_TRUE(db->db()->Delete(rocksdb::WriteOptions(), family, key).ok());
    } else {
      ASSERT_TRUE(db->db()->Put(rocksdb::WriteOptions(), family, key, value).ok());
    }
  }

  // One append of `count` events to "task-9", at positions 21 and on.
  void AppendToTask9(int count) {
    auto log = EventLog::Open(Options{}, dir_.path());
    ASSERT_TRUE(log.ok());
    std::vector<EventData> events(count, Json("TaskProgress"));
    auto appended = (*log)->Append(Request("task-9", std::move(events)));
    ASSERT_TRUE(appended.ok()) << appended.status();
    ASSERT_EQ(appended->first_position, 21u);
  }

  VerifyResult VerifyAll() {
    auto log = EventLog::Open(Options{}, dir_.path());
    EXPECT_TRUE(log.ok()) << log.status();
    auto result = (*log)->Verify(1, 0);
    EXPECT_TRUE(result.ok()) << result.status();
    return *result;
  }

  vigil::testing::TempDir dir_;
};

TEST_F(VerifyTest, IntactLogVerifies) {
  VerifyResult result = VerifyAll();
  EXPECT_TRUE(result.ok) << result.problem;
  EXPECT_EQ(result.checked, 20u);
}

TEST_F(VerifyTest, ChangedDataIsCaughtAtItsPosition) {
  // The data's last digit sits just before the metadata length and hash.
  Tamper(RecordKey(7), [](std::string* v) { (*v)[v->size() - 32 - 4 - 2] ^= 1; });
  VerifyResult result = VerifyAll();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.first_bad_position, 7u);
  EXPECT_THAT(result.problem, HasSubstr("hash"));
}

TEST_F(VerifyTest, RewrittenHashBreaksTheNextLink) {
  // Someone who changes a record and recomputes its own hash still breaks
  // the chain: here only the stored hash changes, so position 12 no longer
  // matches its record, and position 13's link does not either.
  Tamper(RecordKey(12), [](std::string* v) { (*v)[v->size() - 1] ^= 0x55; });
  VerifyResult result = VerifyAll();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.first_bad_position, 12u);
}

TEST_F(VerifyTest, MissingRecordIsCaught) {
  Tamper(RecordKey(15), [](std::string* v) { v->clear(); });
  VerifyResult result = VerifyAll();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.first_bad_position, 15u);
  EXPECT_THAT(result.problem, HasSubstr("missing"));
}

TEST_F(VerifyTest, GarbageRecordIsCaught) {
  Tamper(RecordKey(3), [](std::string* v) { *v = "garbage"; });
  VerifyResult result = VerifyAll();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.first_bad_position, 3u);
}

TEST_F(VerifyTest, RangeVerifiesFromAnInnerPosition) {
  auto log = EventLog::Open(Options{}, dir_.path());
  ASSERT_TRUE(log.ok());
  auto result = (*log)->Verify(5, 10);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->checked, 6u);
}

// One stream-index entry covers a whole append; an entry that no longer
// covers every event of its append is caught at the first one it misses.
TEST_F(VerifyTest, ShortenedIndexRangeIsCaught) {
  AppendToTask9(5);
  Tamper(internal::RevisionKey("task-9", 0), [](std::string* v) {
    *v = internal::EncodeRevisionRange(21, 3);
  });
  VerifyResult result = VerifyAll();
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.first_bad_position, 24u);
}

// Logs written before ranges hold one 8-byte entry per event; they read
// and verify the same.
TEST_F(VerifyTest, PerEventIndexEntriesStillReadAndVerify) {
  AppendToTask9(4);
  Tamper(internal::RevisionKey("task-9", 0), [](std::string* v) {
    *v = internal::EncodeRevisionRange(21, 1);
  });
  for (uint64_t revision = 1; revision < 4; ++revision) {
    std::unique_ptr<internal::RocksDb> db;
    ASSERT_TRUE(internal::RocksDb::Open(internal::ToRocksOptions(Options{}),
                                        dir_.path(), &db)
                    .ok());
    const std::string key = internal::RevisionKey("task-9", revision);
    ASSERT_TRUE(db->db()
                    ->Put(rocksdb::WriteOptions(), db->For(key), key,
                          internal::EncodeRevisionRange(21 + revision, 1))
                    .ok());
  }
  EXPECT_TRUE(VerifyAll().ok);
  auto log = EventLog::Open(Options{}, dir_.path());
  ASSERT_TRUE(log.ok());
  auto info = (*log)->GetStream("task-9");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->last_revision, 3u);
  EXPECT_EQ(info->last_position, 24u);
  auto events = (*log)->ReadStream("task-9", 1, 2, false);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].position, 22u);
  EXPECT_EQ((*events)[1].position, 23u);
  auto appended = (*log)->Append(
      Request("task-9", {Json("TaskProgress")}, ExpectedRevision::Exact(3)));
  ASSERT_TRUE(appended.ok()) << appended.status();
  EXPECT_EQ(appended->first_position, 25u);
}

}  // namespace
}  // namespace vigil::eventlog
