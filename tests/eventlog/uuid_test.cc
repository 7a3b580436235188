// Event ids: RFC 9562 version 7 layout, uniqueness across threads and across
// fork() (the random bytes are buffered per thread).

#include "eventlog/internal/uuid.h"

#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace vigil::eventlog::internal {
namespace {

constexpr int64_t kTimeUs = int64_t{1764633600} * 1000 * 1000 + 123456;

TEST(UuidV7, LaysOutTimeVersionAndVariant) {
  const std::string id = NewUuidV7(kTimeUs);
  ASSERT_EQ(id.size(), 36u);
  // 48-bit milliseconds: 1764633600123 = 0x019adc5b_e07b.
  EXPECT_EQ(id.substr(0, 13), "019adc5b-e07b") << id;
  EXPECT_EQ(id[14], '7') << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  EXPECT_EQ(NormalizeUuid(id), id);
}

TEST(UuidV7, IdsFromManyThreadsAreDistinct) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;  // several refills of each buffer
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewUuidV7(kTimeUs));
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::flat_hash_set<std::string> seen;
  for (const auto& list : ids) {
    for (const std::string& id : list) EXPECT_TRUE(seen.insert(id).second) << id;
  }
  EXPECT_EQ(seen.size(), size_t{kThreads} * kPerThread);
}

TEST(UuidV7, AForkedChildDoesNotRepeatItsParentsIds) {
  NewUuidV7(kTimeUs);  // the parent's buffer now holds unused bytes
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    std::string out;
    for (int i = 0; i < 10; ++i) out += NewUuidV7(kTimeUs);
    const bool written =
        write(pipe_fds[1], out.data(), out.size()) == static_cast<ssize_t>(out.size());
    _exit(written ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string from_child;
  char buf[512];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof(buf))) > 0;) {
    from_child.append(buf, n);
  }
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(from_child.size(), 360u);
  std::set<std::string> parent;
  for (int i = 0; i < 10; ++i) parent.insert(NewUuidV7(kTimeUs));
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(parent.count(from_child.substr(36 * i, 36)), 0u);
  }
}

}  // namespace
}  // namespace vigil::eventlog::internal
