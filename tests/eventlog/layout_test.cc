// The log's column families (FORMAT.md, "Column families"): a new log keeps
// its records apart from every other key, and a log of the old layout (one
// family for everything) is still read, written and verified as before.

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

#include "eventlog/event_log.h"
#include "eventlog/internal/rocks_db.h"
#include "eventlog/internal/rocks_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;
using ::testing::ElementsAre;

std::vector<std::string> Families(const std::string& dir) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok());
  return names;
}

// The first byte of every key in `family`.
std::string Prefixes(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family) {
  std::string prefixes;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator({}, family));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const char prefix = it->key()[0];
    if (prefixes.find(prefix) == std::string::npos) prefixes.push_back(prefix);
  }
  EXPECT_TRUE(it->status().ok());
  return prefixes;
}

// 30 events over three streams, each append with an idempotency key.
void Fill(EventLog& log) {
  for (int i = 0; i < 30; ++i) {
    auto result = log.Append(Request("agent-" + std::to_string(i % 3),
                                     {Json("AgentHeartbeat", "{}")},
                                     ExpectedRevision::Any(),
                                     "key-" + std::to_string(i)));
    ASSERT_TRUE(result.ok()) << result.status();
  }
}

TEST(LayoutTest, ANewLogKeepsRecordsApartFromTheIndex) {
  vigil::testing::TempDir dir;
  {
    auto log = EventLog::Open(Options{}, dir.path());
    ASSERT_TRUE(log.ok()) << log.status();
    Fill(**log);
  }
  EXPECT_THAT(Families(dir.path()), ElementsAre("default", "index"));
  std::unique_ptr<internal::RocksDb> db;
  ASSERT_TRUE(internal::RocksDb::Open(internal::ToRocksOptions(Options{}),
                                      dir.path(), &db)
                  .ok());
  EXPECT_TRUE(db->split());
  EXPECT_EQ(Prefixes(db->db(), db->records()), "p");
  const std::string index = Prefixes(db->db(), db->index());
  EXPECT_EQ(index.find('p'), std::string::npos) << index;
  for (char prefix : {'i', 'm', 's', 'x'}) {
    EXPECT_NE(index.find(prefix), std::string::npos) << prefix;
  }
}

// Rewrites a closed log of the new layout into the old one: every index key
// copied into the default family, the index family dropped.
void ToOldLayout(const std::string& dir) {
  std::unique_ptr<internal::RocksDb> db;
  ASSERT_TRUE(
      internal::RocksDb::Open(internal::ToRocksOptions(Options{}), dir, &db).ok());
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db->db()->NewIterator({}, db->index()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ASSERT_TRUE(batch.Put(db->records(), it->key(), it->value()).ok());
  }
  ASSERT_TRUE(it->status().ok());
  it.reset();
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db->db()->Write(sync, &batch).ok());
  ASSERT_TRUE(db->db()->DropColumnFamily(db->index()).ok());
}

TEST(LayoutTest, ALogOfTheOldLayoutIsReadWrittenAndVerified) {
  vigil::testing::TempDir dir;
  {
    auto log = EventLog::Open(Options{}, dir.path());
    ASSERT_TRUE(log.ok()) << log.status();
    Fill(**log);
  }
  ToOldLayout(dir.path());
  ASSERT_THAT(Families(dir.path()), ElementsAre("default"));
  {
    auto log = EventLog::Open(Options{}, dir.path());
    ASSERT_TRUE(log.ok()) << log.status();
    EventLog& l = **log;
    EXPECT_EQ(l.HeadPosition(), 30u);
    auto stream = l.ReadStream("agent-1", 0, 0, false);
    ASSERT_TRUE(stream.ok()) << stream.status();
    ASSERT_EQ(stream->size(), 10u);
    EXPECT_EQ((*stream)[9].position, 29u);
    auto info = l.GetStream("agent-2");
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->last_revision, 9u);
    // An idempotency key of the old layout answers as before.
    auto again = l.Append(Request("agent-0", {Json("AgentHeartbeat", "{}")},
                                  ExpectedRevision::Any(), "key-0"));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_TRUE(again->deduplicated);
    EXPECT_EQ(again->first_position, 1u);
    // New appends go on in the same layout, with revision checks.
    auto next = l.Append(Request("agent-0", {Json("AgentHeartbeat", "{}")},
                                 ExpectedRevision::Exact(9)));
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->first_position, 31u);
    EXPECT_EQ(l.Append(Request("agent-0", {Json("AgentHeartbeat", "{}")},
                               ExpectedRevision::Exact(9)))
                  .status()
                  .code(),
              absl::StatusCode::kAborted);
    auto verified = l.Verify(1, 0);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->problem;
    EXPECT_EQ(verified->checked, 31u);
    // A reader (secondary instance) of the old layout.
    auto reader = EventLog::OpenReader(Options{}, dir.path());
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto all = (*reader)->ReadAll(1, 0, Filter{}, 0, nullptr);
    ASSERT_TRUE(all.ok()) << all.status();
    EXPECT_EQ(all->size(), 31u);
    auto read_back = (*reader)->ReadStream("agent-0", 10, 0, false);
    ASSERT_TRUE(read_back.ok()) << read_back.status();
    ASSERT_EQ(read_back->size(), 1u);
    EXPECT_EQ((*read_back)[0].position, 31u);
  }
  EXPECT_THAT(Families(dir.path()), ElementsAre("default"));
}

}  // namespace
}  // namespace vigil::eventlog
