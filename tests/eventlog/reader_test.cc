// OpenReader: reading a log that another EventLog holds open for writing.

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;

TEST(ReaderTest, ReadsWhileAWriterHoldsTheLog) {
  vigil::testing::TempDir dir;
  auto writer = EventLog::Open(Options{}, dir.path());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append(Request("s", {Json("A"), Json("B")})).ok());

  // A second writer is refused: the directory is locked.
  EXPECT_FALSE(EventLog::Open(Options{}, dir.path()).ok());

  auto reader = EventLog::OpenReader(Options{}, dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->HeadPosition(), 2u);
  EXPECT_EQ((*reader)->ReadStream("s", 0, 0, false)->size(), 2u);

  ASSERT_TRUE((*writer)->Append(Request("s", {Json("C")})).ok());
  ASSERT_TRUE((*reader)->Refresh().ok());
  EXPECT_EQ((*reader)->HeadPosition(), 3u);
  auto all = (*reader)->ReadAll(1, 0, Filter{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].type, "C");
  EXPECT_TRUE((*reader)->Verify(1, 0)->ok);

  EXPECT_EQ((*reader)->Append(Request("s", {Json("D")})).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(ReaderTest, MissingLogIsNotFound) {
  vigil::testing::TempDir dir;
  EXPECT_EQ(EventLog::OpenReader(Options{}, dir.Sub("none")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReaderTest, StatsCountStreamsAndBytes) {
  vigil::testing::TempDir dir;
  auto writer = EventLog::Open(Options{}, dir.path());
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        (*writer)->Append(Request("s-" + std::to_string(i % 2), {Json("A")})).ok());
  }
  auto stats = (*writer)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->head_position, 5u);
  EXPECT_EQ(stats->stream_count, 2u);
  EXPECT_GT(stats->disk_bytes, 0u);
}

}  // namespace
}  // namespace vigil::eventlog
