// A full disk fails appends with UNAVAILABLE, loses nothing acknowledged,
// and the log takes writes again once space is back. Runs the log on a
// small tmpfs, so it needs root (as tools/test and CI run); elsewhere it is
// skipped with a message.

#include <sys/mount.h>
#include <unistd.h>

#include <fstream>
#include <map>

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/eventlog/log_test_util.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

using testing::Json;
using testing::Request;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_point_ = dir_.Sub("mnt");
    std::filesystem::create_directories(mount_point_);
    if (geteuid() != 0 ||
        mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=160m") != 0) {
      GTEST_SKIP() << "needs root to mount a tmpfs (tools/test runs as root)";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Writes zeros until the file system is full.
  void Fill(const std::string& path) {
    std::ofstream out(path, std::ios::binary);
    const std::string chunk(64 * 1024, '\0');
    while (out.write(chunk.data(), chunk.size()) && out.flush()) {
    }
  }

  vigil::testing::TempDir dir_;
  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(DiskFullTest, FailsCleanlyAndRecoversWhenSpaceIsBack) {
  const std::string log_dir = mount_point_ + "/log";
  const std::string filler = mount_point_ + "/filler";
  auto log = EventLog::Open(Options{}, log_dir);
  ASSERT_TRUE(log.ok()) << log.status();

  std::map<uint64_t, std::string> acknowledged;  // position -> data
  int sequence = 0;
  auto append = [&]() -> absl::Status {
    const std::string data = R"({"n":)" + std::to_string(sequence++) +
                             R"(,"pad":")" + std::string(16 * 1024, 'x') + "\"}";
    auto result = (*log)->Append(Request("s", {Json("E", data)}));
    if (result.ok()) acknowledged[result->first_position] = data;
    return result.status();
  };
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(append().ok());

  Fill(filler);
  absl::Status failure;
  for (int i = 0; i < 5000 && failure.ok(); ++i) failure = append();
  ASSERT_FALSE(failure.ok()) << "the disk never filled up";
  EXPECT_EQ(failure.code(), absl::StatusCode::kUnavailable) << failure;
  EXPECT_TRUE(IsDiskFull(failure)) << failure;
  EXPECT_NE(failure.message().find("the event log's disk is full (No space "
                                   "left on device)"),
            absl::string_view::npos)
      << failure;
  EXPECT_TRUE(IsDiskFull((*log)->WriteHealth())) << (*log)->WriteHealth();
  // While the disk stays (nearly) full every answer is either a durable
  // acknowledgement or UNAVAILABLE: reopening after the failure frees the
  // failed WAL's preallocated space, so some appends may fit again.
  for (int i = 0; i < 20; ++i) {
    const absl::Status s = append();
    EXPECT_TRUE(s.ok() || s.code() == absl::StatusCode::kUnavailable) << s;
  }

  std::filesystem::remove(filler);
  absl::Status recovered = absl::UnknownError("not tried");
  for (int i = 0; i < 300 && !recovered.ok(); ++i) {
    recovered = append();
    if (!recovered.ok()) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(recovered.ok()) << recovered;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append().ok());

  log->reset();
  auto reopened = EventLog::Open(Options{}, log_dir);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  const uint64_t head = (*reopened)->HeadPosition();
  auto events = (*reopened)->ReadAll(1, 0, Filter{});
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), head);
  for (uint64_t i = 0; i < head; ++i) {
    EXPECT_EQ((*events)[i].position, i + 1);
    EXPECT_EQ((*events)[i].revision, i);
  }
  for (const auto& [position, data] : acknowledged) {
    ASSERT_LE(position, head);
    EXPECT_EQ((*events)[position - 1].data, data) << "position " << position;
  }
  auto verify = (*reopened)->Verify(1, 0);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
}

// While the disk is full the log still reads, refuses snapshot writes
// without harm, and says why in WriteHealth; once space is back
// WriteHealth turns OK on its own (the writer's idle probe), appends and
// snapshots are written again, and an idempotency key acknowledged before
// still deduplicates.
TEST_F(DiskFullTest, ReadsSnapshotsKeysAndHealthAcrossAFullDisk) {
  const std::string log_dir = mount_point_ + "/log";
  const std::string filler = mount_point_ + "/filler";
  auto log = EventLog::Open(Options{}, log_dir);
  ASSERT_TRUE(log.ok()) << log.status();
  AppendRequest keyed = Request("keyed", {Json("E", R"({"k":1})")});
  keyed.idempotency_key = "key-before-the-full-disk";
  auto first = (*log)->Append(keyed);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*log)->WriteSnapshot("fold", 1, {{"a", "1"}}).ok());
  EXPECT_TRUE((*log)->WriteHealth().ok());

  Fill(filler);
  const std::string pad(16 * 1024, 'x');
  absl::Status failure;
  for (int i = 0; i < 5000 && failure.ok(); ++i) {
    failure = (*log)
                  ->Append(Request("s", {Json("E", R"({"pad":")" + pad +
                                                       "\"}")}))
                  .status();
  }
  ASSERT_TRUE(IsDiskFull(failure)) << failure;
  const uint64_t head = (*log)->HeadPosition();
  auto read = (*log)->ReadAll(1, 0, Filter{});
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), head);
  const absl::Status snapshot =
      (*log)->WriteSnapshot("fold", head, {{"a", "2"}});
  EXPECT_EQ(snapshot.code(), absl::StatusCode::kUnavailable) << snapshot;
  auto found = (*log)->FindSnapshot("fold", head);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, 1u);
  EXPECT_TRUE(IsDiskFull((*log)->WriteHealth()));

  std::filesystem::remove(filler);
  absl::Status health = (*log)->WriteHealth();
  for (int i = 0; i < 100 && !health.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    health = (*log)->WriteHealth();
  }
  EXPECT_TRUE(health.ok()) << health;
  auto again = (*log)->Append(keyed);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->first_position, first->first_position);
  ASSERT_TRUE((*log)->WriteSnapshot("fold", head, {{"a", "2"}}).ok());
  auto entry = (*log)->ReadSnapshotEntry("fold", head, "a");
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(entry->value_or(""), "2");
  auto verify = (*log)->Verify(1, 0);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
}

}  // namespace
}  // namespace vigil::eventlog
