// The model behind vigil-lazyfs without FUSE (tools/lazyfs/durable_state.h):
// written ranges, renamed directories, hard links, a directory under two
// durable parents, and the refusals. The mounts are tested, as root, in
// lazyfs_test.cc.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/file_contents.h"
#include "tests/testing/temp_dir.h"
#include "tools/lazyfs/dirty_ranges.h"
#include "tools/lazyfs/durable_state.h"

namespace vigil::lazyfs {
namespace {

namespace fs = std::filesystem;

using testing::ReadFileBytes;
using testing::WriteFileBytes;

TEST(DirtyRangesTest, MergesOverlappingAndAdjacentRanges) {
  struct Case {
    std::vector<std::pair<uint64_t, uint64_t>> adds;
    std::map<uint64_t, uint64_t> want;
  };
  const std::vector<Case> cases = {
      {{}, {}},
      {{{5, 5}}, {}},
      {{{0, 4}, {4, 8}}, {{0, 8}}},
      {{{0, 4}, {6, 8}}, {{0, 4}, {6, 8}}},
      {{{6, 8}, {0, 4}, {3, 7}}, {{0, 8}}},
      {{{10, 20}, {12, 15}}, {{10, 20}}},
      {{{10, 20}, {0, 30}}, {{0, 30}}},
      {{{0, 2}, {4, 6}, {8, 10}, {1, 9}}, {{0, 10}}},
      {{{0, 2}, {4, 6}, {8, 10}, {5, 7}}, {{0, 2}, {4, 7}, {8, 10}}},
  };
  for (const Case& c : cases) {
    DirtyRanges ranges;
    for (const auto& [begin, end] : c.adds) ranges.Add(begin, end);
    EXPECT_EQ(ranges.ranges(), c.want);
  }
}

TEST(DirtyRangesTest, CollapsesPastTheBound) {
  DirtyRanges ranges;
  for (uint64_t i = 0; i <= DirtyRanges::kMaxRanges; ++i) {
    ranges.Add(i * 10, i * 10 + 1);
  }
  EXPECT_EQ(ranges.ranges(),
            (std::map<uint64_t, uint64_t>{
                {0, DirtyRanges::kMaxRanges * 10 + 1}}));
}

class DurableStateTest : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(backing_); }
  std::unique_ptr<DurableState> Create() {
    auto state = DurableState::Create(backing_, state_dir_);
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? std::move(*state) : nullptr;
  }
  std::string B(const std::string& name) const { return backing_ + name; }

  testing::TempDir dir_;
  const std::string backing_ = dir_.Sub("backing");
  const std::string state_dir_ = dir_.Sub("state");
};

TEST_F(DurableStateTest, SyncedRangesAndDurableNamesAreWhatIsRebuilt) {
  WriteFileBytes(B("/kept"), "at mount");
  auto state = Create();
  ASSERT_NE(state, nullptr);
  // A new file: written, synced, written again; its name made durable.
  const int fd = open(B("/new").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  const FileId id = state->OnCreate("/new");
  ASSERT_EQ(pwrite(fd, "synced", 6, 0), 6);
  state->OnWrite(id, 0, 6);
  ASSERT_TRUE(state->SyncFile(id, fd).ok());
  ASSERT_EQ(pwrite(fd, "+lost", 5, 6), 5);
  state->OnWrite(id, 6, 5);
  close(fd);
  state->SyncDir(0);
  // Gone live, durable still.
  fs::remove(B("/kept"));
  state->OnRemove("/kept");
  ASSERT_TRUE(state->Materialize().ok());
  EXPECT_EQ(ReadFileBytes(B("/kept")), "at mount");
  EXPECT_EQ(ReadFileBytes(B("/new")), "synced");
  EXPECT_FALSE(fs::exists(state_dir_));
}

TEST_F(DurableStateTest, RenamedDirectoryKeepsItsDurableEntries) {
  fs::create_directories(B("/d"));
  WriteFileBytes(B("/d/x"), "x");
  auto state = Create();
  ASSERT_NE(state, nullptr);
  state->OnRename("/d", "/e");
  EXPECT_EQ(state->DirAt("/d"), std::nullopt);
  ASSERT_TRUE(state->DirAt("/e").has_value());
  EXPECT_NE(state->FileAt("/e/x"), kNoFile);
  state->SyncDir(0);
  ASSERT_TRUE(state->Materialize().ok());
  EXPECT_FALSE(fs::exists(B("/d")));
  EXPECT_EQ(ReadFileBytes(B("/e/x")), "x");
}

TEST_F(DurableStateTest, DirectoryDurableUnderTwoParentsIsPlacedOnce) {
  auto state = Create();
  ASSERT_NE(state, nullptr);
  state->OnMkdir("/p");
  state->OnMkdir("/q");
  state->OnMkdir("/p/c");
  state->SyncDir(0);
  state->SyncDir(*state->DirAt("/p"));
  state->OnRename("/p/c", "/q/c");
  state->SyncDir(*state->DirAt("/q"));
  ASSERT_TRUE(state->Materialize().ok());
  EXPECT_TRUE(fs::is_directory(B("/p")));
  EXPECT_TRUE(fs::is_directory(B("/q")));
  EXPECT_EQ(fs::exists(B("/p/c")) + fs::exists(B("/q/c")), 1);
}

TEST_F(DurableStateTest, HardLinksStayOneFile) {
  WriteFileBytes(B("/h1"), "linked");
  fs::create_hard_link(B("/h1"), B("/h2"));
  auto state = Create();
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->FileAt("/h1"), state->FileAt("/h2"));
  ASSERT_TRUE(state->Materialize().ok());
  struct stat a, b;
  ASSERT_EQ(stat(B("/h1").c_str(), &a), 0);
  ASSERT_EQ(stat(B("/h2").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(ReadFileBytes(B("/h2")), "linked");
}

TEST_F(DurableStateTest, RefusesALeftoverOrMisplacedStateDirectory) {
  fs::create_directories(state_dir_);
  auto leftover = DurableState::Create(backing_, state_dir_);
  EXPECT_EQ(leftover.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(leftover.status().message().find(state_dir_), std::string::npos);
  auto inside = DurableState::Create(backing_, B("/state"));
  EXPECT_EQ(inside.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(B("/state")));
  auto missing = DurableState::Create(dir_.Sub("nope"), dir_.Sub("s2"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::lazyfs
