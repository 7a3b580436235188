// RecentRecords: the last committed records in memory (bounds, order), and
// ReadAll answered from them exactly as from RocksDB.

#include "eventlog/internal/recent_records.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using internal::RecentRecords;
using testing::Json;
using testing::Request;

std::vector<std::string> Records(uint64_t first, size_t count) {
  std::vector<std::string> records;
  for (size_t i = 0; i < count; ++i) {
    records.push_back(absl::StrCat("record ", first + i));
  }
  return records;
}

// The positions Visit hands over from `from`, at most `at_most`.
std::vector<uint64_t> Visited(const RecentRecords& recent, uint64_t from,
                              size_t at_most, uint64_t* next = nullptr) {
  std::vector<uint64_t> positions;
  const uint64_t after =
      recent.Visit(from, at_most, [&](uint64_t position, std::string_view r) {
        EXPECT_EQ(r, absl::StrCat("record ", position));
        positions.push_back(position);
        return true;
      });
  if (next != nullptr) *next = after;
  return positions;
}

TEST(RecentRecordsTest, KeepsTheLastRecordsWithinItsBounds) {
  RecentRecords recent(/*max_records=*/10, /*max_bytes=*/1 << 20);
  EXPECT_TRUE(Visited(recent, 1, 0).empty());
  for (uint64_t first = 1; first <= 13; first += 4) {
    std::vector<std::string> records = Records(first, 4);
    recent.Add(first, &records);
    EXPECT_TRUE(records.empty());
  }
  // 16 added in groups of 4: the oldest groups went until 10 or fewer
  // were left; whole groups only.
  uint64_t next = 0;
  EXPECT_EQ(Visited(recent, 9, 0, &next),
            (std::vector<uint64_t>{9, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(next, 17u);
  EXPECT_TRUE(Visited(recent, 8, 0, &next).empty());  // dropped
  EXPECT_EQ(next, 8u);
  EXPECT_TRUE(Visited(recent, 17, 0, &next).empty());  // not written
  EXPECT_EQ(next, 17u);
  EXPECT_EQ(Visited(recent, 11, 3, &next),
            (std::vector<uint64_t>{11, 12, 13}));
  EXPECT_EQ(next, 14u);
  // A visitor that stops: the position it refused comes back.
  EXPECT_EQ(recent.Visit(10, 0,
                         [](uint64_t position, std::string_view) {
                           return position < 12;
                         }),
            12u);

  // Records that do not follow the last ones replace them all.
  std::vector<std::string> later = Records(30, 2);
  recent.Add(30, &later);
  EXPECT_TRUE(Visited(recent, 16, 0).empty());
  EXPECT_EQ(Visited(recent, 30, 0), (std::vector<uint64_t>{30, 31}));
  recent.Clear();
  EXPECT_TRUE(Visited(recent, 30, 0).empty());

  // The byte bound: each record is 8 bytes.
  RecentRecords small(/*max_records=*/100, /*max_bytes=*/25);
  for (uint64_t first = 1; first <= 5; ++first) {
    std::vector<std::string> one = Records(first, 1);
    small.Add(first, &one);
  }
  EXPECT_TRUE(Visited(small, 2, 0).empty());
  EXPECT_EQ(Visited(small, 3, 0), (std::vector<uint64_t>{3, 4, 5}));
}

// ReadAll of a writable log (records from memory where it has them) and of
// a reader of the same directory (RocksDB only) answer the same, for every
// start, filter and bound.
TEST(RecentRecordsTest, ReadAllFromMemoryEqualsReadAllFromRocksDb) {
  vigil::testing::TempDir dir;
  Options options;
  options.recent_records = 40;  // the oldest positions come from RocksDB
  auto writer = EventLog::Open(options, dir.path());
  ASSERT_TRUE(writer.ok()) << writer.status();
  EventLog& log = **writer;
  // Groups of several appends: concurrent appenders.
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t) {
    appenders.emplace_back([&log, t] {
      for (int i = 0; i < 20; ++i) {
        std::vector<EventData> events;
        for (int e = 0; e <= i % 3; ++e) {
          events.push_back(Json(absl::StrCat("T", e),
                                absl::StrCat(R"({"i":)", i, "}")));
        }
        const std::string key = i % 5 == 0 ? absl::StrCat("k", t, "-", i) : "";
        ASSERT_TRUE(log.Append(Request(absl::StrCat(t % 2 ? "a-" : "b-", t),
                                       events, ExpectedRevision::Any(), key))
                        .ok());
        if (!key.empty()) {  // the same again: deduplicated, nothing new
          auto again = log.Append(Request(absl::StrCat(t % 2 ? "a-" : "b-", t),
                                          events, ExpectedRevision::Any(), key));
          ASSERT_TRUE(again.ok() && again->deduplicated);
        }
        // Refused: nothing written.
        EXPECT_FALSE(log.Append(Request("a-1", {Json("X")},
                                        ExpectedRevision::Exact(1000000)))
                         .ok());
      }
    });
  }
  for (std::thread& appender : appenders) appender.join();
  auto reader = EventLog::OpenReader(options, dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  const uint64_t head = log.HeadPosition();
  ASSERT_EQ((*reader)->HeadPosition(), head);
  ASSERT_GT(head, 100u);

  const std::vector<Filter> filters = {
      Filter{}, Filter{.stream_prefixes = {"a-"}},
      Filter{.event_types = {"T2"}}};
  int compared = 0;
  for (uint64_t from = 0; from <= head + 2; ++from) {
    for (const Filter& filter : filters) {
      for (uint64_t max_count : {0, 1, 7}) {
        for (uint64_t max_scan : {0, 5}) {
          uint64_t next_memory = 0;
          uint64_t next_disk = 0;
          auto memory = log.ReadAll(from, max_count, filter, max_scan,
                                    &next_memory);
          auto disk = (*reader)->ReadAll(from, max_count, filter, max_scan,
                                         &next_disk);
          ASSERT_TRUE(memory.ok()) << memory.status();
          ASSERT_TRUE(disk.ok()) << disk.status();
          ASSERT_EQ(*memory, *disk) << "from " << from << " count "
                                    << max_count << " scan " << max_scan;
          ASSERT_EQ(next_memory, next_disk) << "from " << from;
          ++compared;
        }
      }
    }
  }
  EXPECT_GT(compared, 1000);
}

}  // namespace
}  // namespace vigil::eventlog
