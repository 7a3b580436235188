// LogCursor: paging with a filter and bounds, the switch to live, falling
// behind, an explicit end, seeking by time, and waiting for new heads.

#include "eventlog/log_cursor.h"

#include <string>
#include <thread>
#include <vector>

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;

class LogCursorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.clock = [this] { return now_us_; };
    auto log = EventLog::Open(options, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // Appends `count` events to `stream` (types T0, T1, ...), one per append.
  void Fill(const std::string& stream, int count, std::string type = "T") {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(log_->Append(Request(stream, {Json(type)})).ok());
      now_us_ += 1000;
    }
  }

  static std::vector<uint64_t> Positions(const CursorPage& page) {
    std::vector<uint64_t> positions;
    for (const RecordedEvent& event : page.events) {
      positions.push_back(event.position);
    }
    return positions;
  }

  vigil::testing::TempDir dir_;
  int64_t now_us_ = 1'700'000'000'000'000;
  std::unique_ptr<EventLog> log_;
};

TEST_F(LogCursorTest, PagesThroughTheLogThenIsLive) {
  Fill("s", 5);
  LogCursor cursor(log_.get(), 1, {}, {.page_events = 2});
  std::vector<uint64_t> seen;
  while (!cursor.AtEnd()) {
    absl::StatusOr<CursorPage> page = cursor.Next();
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_LE(page->events.size(), 2u);
    for (uint64_t p : Positions(*page)) seen.push_back(p);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(cursor.live());
  EXPECT_EQ(cursor.next_position(), 6u);
  absl::StatusOr<CursorPage> empty = cursor.Next();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->events.empty());
}

TEST_F(LogCursorTest, FilterSkipsWithinTheScanBoundAndStillMoves) {
  Fill("noise", 10);
  Fill("wanted", 1);
  Filter filter;
  filter.stream_prefixes = {"wanted"};
  LogCursor cursor(log_.get(), 1, filter, {.page_events = 10, .page_scan = 4});
  absl::StatusOr<CursorPage> page = cursor.Next();
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->events.empty());
  EXPECT_EQ(cursor.next_position(), 5u);  // examined 1..4
  EXPECT_FALSE(cursor.AtEnd());
  std::vector<uint64_t> seen;
  while (!cursor.AtEnd()) {
    page = cursor.Next();
    ASSERT_TRUE(page.ok());
    for (uint64_t p : Positions(*page)) seen.push_back(p);
  }
  EXPECT_EQ(seen, (std::vector<uint64_t>{11}));
}

TEST_F(LogCursorTest, FallsBehindWhenALivePageComesBackFull) {
  Fill("s", 2);
  LogCursor cursor(log_.get(), 1, {}, {.page_events = 2});
  ASSERT_FALSE(cursor.Next()->fell_behind);  // catching up: not live yet
  ASSERT_TRUE(cursor.AtEnd());
  Fill("s", 1);
  absl::StatusOr<CursorPage> page = cursor.Next();
  EXPECT_FALSE(page->fell_behind);  // one event: still live
  EXPECT_TRUE(cursor.live());
  ASSERT_TRUE(cursor.AtEnd());
  Fill("s", 3);
  page = cursor.Next();
  EXPECT_EQ(page->events.size(), 2u);
  EXPECT_TRUE(page->fell_behind);
  EXPECT_FALSE(cursor.live());
}

TEST_F(LogCursorTest, NeverReadsPastAnExplicitEnd) {
  Fill("a", 6);
  Filter filter;
  filter.stream_prefixes = {"a"};
  LogCursor cursor(log_.get(), 2, filter,
                   {.page_events = 100, .page_scan = 0, .end_position = 4});
  absl::StatusOr<CursorPage> page = cursor.Next();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_TRUE(cursor.AtEnd());
  EXPECT_TRUE(cursor.Next()->events.empty());
  EXPECT_FALSE(cursor.WaitForMore(absl::Now() + absl::Seconds(5)));
}

TEST_F(LogCursorTest, BytesBoundAPageButNotBelowOneEvent) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        log_->Append(Request("s", {Json("T", std::string(R"({"x":")") +
                                                  std::string(100, 'x') +
                                                  "\"}")}))
            .ok());
  }
  LogCursor cursor(log_.get(), 1, {},
                   {.page_events = 100, .page_bytes = 1});
  absl::StatusOr<CursorPage> page = cursor.Next();
  ASSERT_TRUE(page.ok());
  // One chunk: the bound is reached within the first read.
  EXPECT_EQ(page->events.size(), 5u);
  EXPECT_EQ(cursor.next_position(), 6u);
}

TEST_F(LogCursorTest, SeeksByTime) {
  Fill("s", 3);  // times t, t+1ms, t+2ms
  LogCursor cursor(log_.get(), 1);
  ASSERT_TRUE(cursor.SeekToTime(now_us_ - 2000).ok());
  EXPECT_EQ(cursor.next_position(), 2u);
  ASSERT_TRUE(cursor.SeekToTime(now_us_ + 1'000'000).ok());
  EXPECT_EQ(cursor.next_position(), 4u);  // past the head: waits for new ones
  EXPECT_TRUE(cursor.AtEnd());
}

TEST_F(LogCursorTest, WaitsForTheNextHead) {
  Fill("s", 1);
  LogCursor cursor(log_.get(), 2);
  EXPECT_FALSE(cursor.WaitForMore(absl::Now() + absl::Milliseconds(20)));
  std::thread appender([this] { Fill("s", 1); });
  EXPECT_TRUE(cursor.WaitForMore(absl::Now() + absl::Seconds(30)));
  appender.join();
  absl::StatusOr<CursorPage> page = cursor.Next();
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Positions(*page), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace vigil::eventlog
