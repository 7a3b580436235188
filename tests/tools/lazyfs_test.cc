// vigil-lazyfs keeps only what was made durable: real mounts, real
// syscalls through them, then a power cut (unmount) and a look at what the
// backing directory holds. Needs root and /dev/fuse; skipped otherwise.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tools/torture/lazyfs_mount.h"
#include "tests/testing/file_contents.h"
#include "tests/testing/temp_dir.h"

namespace vigil {
namespace {

using torture::LazyFsMount;

// The contents of `path`, or nullopt when it does not exist.
using testing::ReadFileBytes;
using testing::WriteFileBytes;

void Fsync(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0) << path;
  EXPECT_EQ(fsync(fd), 0) << path;
  close(fd);
}

// Appends `data` to `path` (created if missing), fsynced if `sync`.
void Append(const std::string& path, const std::string& data, bool sync) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(write(fd, data.data(), data.size()),
            static_cast<ssize_t>(data.size()));
  if (sync) {
    EXPECT_EQ(fdatasync(fd), 0);
  }
  close(fd);
}

class LazyFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = LazyFsMount::Unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    std::filesystem::create_directories(backing_);
    std::filesystem::create_directories(mount_point_);
  }
  void TearDown() override {
    if (mount_ != nullptr) mount_->Cut();
    mount_.reset();
  }

  void Mount() {
    mount_ = std::make_unique<LazyFsMount>(LAZYFS_BINARY, backing_,
                                           mount_point_, dir_.Sub("log"));
    ASSERT_TRUE(mount_->ok()) << ReadFileBytes(dir_.Sub("log")).value_or("");
  }
  void Cut() {
    ASSERT_EQ(mount_->Cut(), 0) << ReadFileBytes(dir_.Sub("log")).value_or("");
    mount_.reset();
  }
  // A path through the mount, and the same path in the backing directory.
  std::string M(const std::string& name) const {
    return mount_point_ + "/" + name;
  }
  std::string B(const std::string& name) const { return backing_ + "/" + name; }

  testing::TempDir dir_;
  const std::string backing_ = dir_.Sub("backing");
  const std::string mount_point_ = dir_.Sub("mnt");
  std::unique_ptr<LazyFsMount> mount_;
};

TEST_F(LazyFsTest, WritesSurviveOnlyWhenFsynced) {
  WriteFileBytes(B("unsynced"), "");
  WriteFileBytes(B("synced"), "");
  WriteFileBytes(B("partial"), "");
  ASSERT_NO_FATAL_FAILURE(Mount());
  Append(M("unsynced"), "lost bytes", /*sync=*/false);
  Append(M("synced"), "kept bytes", /*sync=*/true);
  Append(M("partial"), "A-part", /*sync=*/true);
  Append(M("partial"), "B-part", /*sync=*/false);
  EXPECT_EQ(ReadFileBytes(M("partial")), "A-partB-part");  // readers see every write
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("unsynced")), "");
  EXPECT_EQ(ReadFileBytes(B("synced")), "kept bytes");
  EXPECT_EQ(ReadFileBytes(B("partial")), "A-part");
}

TEST_F(LazyFsTest, NewFileNeedsItsDirectoryFsynced) {
  std::filesystem::create_directories(B("synced-dir"));
  ASSERT_NO_FATAL_FAILURE(Mount());
  Append(M("only-file-synced"), "data", /*sync=*/true);
  Append(M("synced-dir/file"), "data", /*sync=*/true);
  Fsync(M("synced-dir"));
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("only-file-synced")), std::nullopt);
  EXPECT_EQ(ReadFileBytes(B("synced-dir/file")), "data");
}

TEST_F(LazyFsTest, NewDirectoryNeedsItsParentFsynced) {
  ASSERT_NO_FATAL_FAILURE(Mount());
  std::filesystem::create_directories(M("lost/inner"));
  std::filesystem::create_directories(M("kept/inner"));
  Append(M("kept/inner/file"), "data", /*sync=*/true);
  Fsync(M("kept/inner"));
  Fsync(M("kept"));
  Fsync(M("lost"));
  Fsync(mount_point_);
  // Removed after its parent was synced: it comes back.
  std::filesystem::remove(M("lost/inner"));
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_TRUE(std::filesystem::is_directory(B("lost/inner")));
  EXPECT_EQ(ReadFileBytes(B("kept/inner/file")), "data");
}

TEST_F(LazyFsTest, RenameOverAFileIsDurableOnlyWithTheDirectory) {
  for (bool sync_dir : {false, true}) {
    SCOPED_TRACE(sync_dir ? "directory fsynced" : "directory not fsynced");
    std::filesystem::remove_all(backing_);
    std::filesystem::create_directories(backing_);
    WriteFileBytes(B("CURRENT"), "old");
    ASSERT_NO_FATAL_FAILURE(Mount());
    Append(M("CURRENT.tmp"), "new", /*sync=*/true);
    std::filesystem::rename(M("CURRENT.tmp"), M("CURRENT"));
    if (sync_dir) Fsync(mount_point_);
    ASSERT_NO_FATAL_FAILURE(Cut());
    EXPECT_EQ(ReadFileBytes(B("CURRENT")), sync_dir ? "new" : "old");
    EXPECT_EQ(ReadFileBytes(B("CURRENT.tmp")), std::nullopt);
  }
}

TEST_F(LazyFsTest, UnlinkWithoutDirectoryFsyncComesBackWithDurableBytes) {
  WriteFileBytes(B("existing"), "durable at mount");
  ASSERT_NO_FATAL_FAILURE(Mount());
  Append(M("new"), "synced", /*sync=*/true);
  Fsync(mount_point_);
  Append(M("new"), "+unsynced", /*sync=*/false);
  std::filesystem::remove(M("existing"));
  std::filesystem::remove(M("new"));
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("existing")), "durable at mount");
  EXPECT_EQ(ReadFileBytes(B("new")), "synced");
}

TEST_F(LazyFsTest, ReusedInodeNumberDoesNotMixFiles) {
  WriteFileBytes(B("old"), "OLD-BYTES");
  WriteFileBytes(B("other"), "");
  ASSERT_NO_FATAL_FAILURE(Mount());
  struct stat before;
  ASSERT_EQ(stat(B("old").c_str(), &before), 0);
  std::filesystem::remove(M("old"));
  Append(M("new"), "NEW", /*sync=*/true);
  struct stat after;
  ASSERT_EQ(stat(B("new").c_str(), &after), 0);
  // Often the same number: the model must not care.
  RecordProperty("inode_reused", before.st_ino == after.st_ino ? "yes" : "no");
  // The directory stays unsynced: the old name keeps the old bytes.
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("old")), "OLD-BYTES");
  EXPECT_EQ(ReadFileBytes(B("new")), std::nullopt);

  // The same with the directory synced: the new file, and nothing of the old.
  ASSERT_NO_FATAL_FAILURE(Mount());
  std::filesystem::remove(M("old"));
  Append(M("new"), "NEW", /*sync=*/true);
  Fsync(mount_point_);
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("old")), std::nullopt);
  EXPECT_EQ(ReadFileBytes(B("new")), "NEW");
}

TEST_F(LazyFsTest, TruncateThenWriteThenFsyncKeepsExactlyTheContents) {
  WriteFileBytes(B("file"), std::string(100, 'x'));
  WriteFileBytes(B("by-path"), std::string(100, 'y'));
  ASSERT_NO_FATAL_FAILURE(Mount());
  const int fd = open(M("file").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 10), 0);
  ASSERT_EQ(pwrite(fd, "abc", 3, 20), 3);  // a hole of zeros at [10, 20)
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(ftruncate(fd, 5), 0);  // unsynced: the cut forgets it
  close(fd);
  ASSERT_EQ(truncate(M("by-path").c_str(), 50), 0);
  ASSERT_EQ(truncate(M("by-path").c_str(), 70), 0);  // zeros at [50, 70)
  Fsync(M("by-path"));
  const std::optional<std::string> by_path = ReadFileBytes(M("by-path"));
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("file")),
            std::string(10, 'x') + std::string(10, '\0') + "abc");
  EXPECT_EQ(ReadFileBytes(B("by-path")), by_path);
  EXPECT_EQ(by_path, std::string(50, 'y') + std::string(20, '\0'));
}

TEST_F(LazyFsTest, HardLinkSharesDurableBytes) {
  ASSERT_NO_FATAL_FAILURE(Mount());
  Append(M("a"), "shared", /*sync=*/true);
  ASSERT_EQ(link(M("a").c_str(), M("b").c_str()), 0);
  Fsync(mount_point_);
  Append(M("b"), "+more", /*sync=*/true);
  ASSERT_NO_FATAL_FAILURE(Cut());
  EXPECT_EQ(ReadFileBytes(B("a")), "shared+more");
  EXPECT_EQ(ReadFileBytes(B("b")), "shared+more");
  struct stat a, b;
  ASSERT_EQ(stat(B("a").c_str(), &a), 0);
  ASSERT_EQ(stat(B("b").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

// Writers on many files at once: each file keeps exactly what its last
// fdatasync covered (the daemon's books under concurrent calls).
TEST_F(LazyFsTest, ConcurrentWritersEachKeepWhatTheySynced) {
  constexpr int kWriters = 8;
  constexpr int kWrites = 200;
  for (int w = 0; w < kWriters; ++w) {
    WriteFileBytes(B("f" + std::to_string(w)), "");
  }
  ASSERT_NO_FATAL_FAILURE(Mount());
  std::vector<std::string> synced(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      const int fd = open(M("f" + std::to_string(w)).c_str(), O_WRONLY);
      std::string written;
      for (int i = 0; i < kWrites; ++i) {
        const std::string chunk = std::to_string(w * 100000 + i) + ";";
        if (write(fd, chunk.data(), chunk.size()) !=
            static_cast<ssize_t>(chunk.size())) {
          break;
        }
        written += chunk;
        if (i % 3 == 0 && fdatasync(fd) == 0) synced[w] = written;
      }
      close(fd);
    });
  }
  for (std::thread& writer : writers) writer.join();
  ASSERT_NO_FATAL_FAILURE(Cut());
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_EQ(ReadFileBytes(B("f" + std::to_string(w))), synced[w]) << w;
    EXPECT_FALSE(synced[w].empty());
  }
}

// Waits for `child`; kills it if it is not done within a minute (a hang
// in the file system must fail the test, not outlive it). Its status.
int WaitOrKill(pid_t child) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  int status = 0;
  while (waitpid(child, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "child " << child << " hung: killed";
      kill(child, SIGKILL);
      waitpid(child, &status, 0);
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status;
}

// RocksDB in a child that dies by SIGKILL after `keys` puts, each with
// WriteOptions::sync when sync_every divides its index (0: never); the
// keys are found afterwards with FindKeys.
std::string Key(int i) { return "key" + std::to_string(100000 + i); }

void WriteAndDie(const std::string& db_path, const rocksdb::Options& options,
                 int keys, const std::function<bool(int)>& sync) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    rocksdb::DB* db = nullptr;
    if (!rocksdb::DB::Open(options, db_path, &db).ok()) _exit(1);
    const std::string value(100, 'v');
    for (int i = 0; i < keys; ++i) {
      rocksdb::WriteOptions write;
      write.sync = sync(i);
      if (!db->Put(write, Key(i), value).ok()) _exit(2);
    }
    kill(getpid(), SIGKILL);  // no Close, no flush
    _exit(3);
  }
  const int status = WaitOrKill(child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exit " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

// Which of keys [0, keys) the DB at `db_path` has (empty if it cannot be
// opened). Read in a child too: RocksDB's background threads must never
// exist in this process, or a later fork would inherit their locks
// without them.
std::vector<bool> FindKeys(const std::string& db_path, int keys) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(pipe_fds[0]);
    rocksdb::DB* db = nullptr;
    if (!rocksdb::DB::Open(rocksdb::Options(), db_path, &db).ok()) _exit(1);
    std::string found(keys, '0');
    for (int i = 0; i < keys; ++i) {
      std::string value;
      if (db->Get(rocksdb::ReadOptions(), Key(i), &value).ok()) found[i] = '1';
    }
    for (size_t done = 0; done < found.size();) {
      const ssize_t n = write(pipe_fds[1], found.data() + done, found.size() - done);
      if (n <= 0) _exit(2);
      done += n;
    }
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string found;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0;) {
    found.append(buffer, n);
  }
  close(pipe_fds[0]);
  const int status = WaitOrKill(child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "cannot open the database at " << db_path;
  std::vector<bool> result(keys, false);
  for (int i = 0; i < keys && i < static_cast<int>(found.size()); ++i) {
    result[i] = found[i] == '1';
  }
  return result;
}

int Count(const std::vector<bool>& found, int begin, int end) {
  return static_cast<int>(std::count(found.begin() + begin, found.begin() + end, true));
}

rocksdb::Options CreateIfMissing() {
  rocksdb::Options options;
  options.create_if_missing = true;
  return options;
}

TEST_F(LazyFsTest, RocksDbKeepsSyncedWritesAndLosesUnsyncedOnes) {
  // 1000 puts with sync, then 1000 without.
  constexpr int kKeys = 2000;
  const auto first_half = [](int i) { return i < kKeys / 2; };
  // The control: on a plain directory a SIGKILL loses nothing, since the
  // page cache survives the process.
  const std::string plain = dir_.Sub("plain-db");
  ASSERT_NO_FATAL_FAILURE(WriteAndDie(plain, CreateIfMissing(), kKeys, first_half));
  EXPECT_EQ(Count(FindKeys(plain, kKeys), 0, kKeys), kKeys);

  ASSERT_NO_FATAL_FAILURE(Mount());
  // RocksDB creates its directory without syncing the parent, so a power
  // cut would take the whole database: the directory is made durable first.
  std::filesystem::create_directories(M("db"));
  Fsync(mount_point_);
  ASSERT_NO_FATAL_FAILURE(WriteAndDie(M("db"), CreateIfMissing(), kKeys, first_half));
  ASSERT_NO_FATAL_FAILURE(Cut());
  const std::vector<bool> found = FindKeys(B("db"), kKeys);
  EXPECT_EQ(Count(found, 0, kKeys / 2), kKeys / 2);
  const int unsynced = Count(found, kKeys / 2, kKeys);
  EXPECT_LT(unsynced, kKeys / 2) << "the power cut lost no unsynced write";
  RecordProperty("unsynced_keys_kept", unsynced);
}

// Small memtables: flushes, SST files, compactions, obsolete files deleted
// while open, MANIFEST and CURRENT renames, all on the mount. Every key up
// to the last synced put survives the cut.
TEST_F(LazyFsTest, RocksDbFlushesAndCompactionsSurviveACut) {
  constexpr int kKeys = 20000;
  constexpr int kSyncEvery = 100;
  rocksdb::Options options = CreateIfMissing();
  options.write_buffer_size = 64 << 10;
  options.level0_file_num_compaction_trigger = 2;
  options.max_bytes_for_level_base = 256 << 10;
  options.target_file_size_base = 64 << 10;
  ASSERT_NO_FATAL_FAILURE(Mount());
  std::filesystem::create_directories(M("db"));
  Fsync(mount_point_);
  ASSERT_NO_FATAL_FAILURE(WriteAndDie(
      M("db"), options, kKeys, [](int i) { return i % kSyncEvery == 0; }));
  ASSERT_NO_FATAL_FAILURE(Cut());
  const int last_synced = (kKeys - 1) / kSyncEvery * kSyncEvery;
  const std::vector<bool> found = FindKeys(B("db"), kKeys);
  EXPECT_EQ(Count(found, 0, last_synced + 1), last_synced + 1);
  int sst_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(B("db"))) {
    sst_files += entry.path().extension() == ".sst";
  }
  EXPECT_GT(sst_files, 0) << "no flush happened: the test tests less";
}

}  // namespace
}  // namespace vigil
