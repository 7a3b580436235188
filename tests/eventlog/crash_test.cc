// Kill -9 at random moments: a child process appends from many threads and
// reports each acknowledgement on a pipe; this test kills it with SIGKILL,
// reopens the log, and checks that every acknowledged event is at its
// acknowledged position, that positions have no gap, and that the hash chain
// verifies. VIGIL_CRASH_CYCLES sets the number of cycles (default 20).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vigil::eventlog {
namespace {

struct Ack {
  std::string stream;
  uint64_t first_position;
  uint64_t last_position;
  uint64_t last_revision;
};

// Starts the child with its stdout on a pipe; returns its pid and the read end.
pid_t StartChild(const std::string& dir, int* read_fd) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(VIGIL_CRASH_CHILD, VIGIL_CRASH_CHILD, dir.c_str(), "16",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  *read_fd = fds[0];
  return pid;
}

std::vector<Ack> ParseAcks(const std::string& output, bool* ready) {
  std::vector<Ack> acks;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "ready") *ready = true;
    std::istringstream fields(line);
    std::string word;
    Ack ack;
    // A line cut short by the kill is not an acknowledgement.
    if (fields >> word && word == "ack" &&
        fields >> ack.stream >> ack.first_position >> ack.last_position >>
            ack.last_revision &&
        in.good()) {
      acks.push_back(ack);
    }
  }
  return acks;
}

TEST(CrashTest, AcknowledgedEventsSurviveKill9) {
  const char* cycles_env = std::getenv("VIGIL_CRASH_CYCLES");
  const int cycles = cycles_env ? std::atoi(cycles_env) : 20;
  vigil::testing::TempDir dir;
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(20, 400);
  size_t total_acks = 0;

  for (int cycle = 0; cycle < cycles; ++cycle) {
    int fd = -1;
    const pid_t pid = StartChild(dir.path(), &fd);
    ASSERT_GT(pid, 0);
    std::string output;
    char buf[65536];
    // Let it run for a random while, then kill it mid-flight. Every fourth
    // cycle counts from the start, so some kills land while the log opens
    // and recovers; the others count from "ready", so a slow start (a
    // sanitizer build, a loaded machine) still leaves time to append.
    if (cycle % 4 != 0) {
      for (ssize_t n; output.find("ready\n") == std::string::npos &&
                      (n = read(fd, buf, sizeof(buf))) > 0;) {
        output.append(buf, n);
      }
    }
    usleep(run_ms(random) * 1000);
    kill(pid, SIGKILL);
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) output.append(buf, n);
    close(fd);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    ASSERT_TRUE(WIFSIGNALED(wstatus))
        << "cycle " << cycle << ": the child exited by itself: " << wstatus;
    bool ready = false;
    std::vector<Ack> acks = ParseAcks(output, &ready);
    total_acks += acks.size();

    auto log = EventLog::Open(Options{}, dir.path());
    ASSERT_TRUE(log.ok()) << "cycle " << cycle << ": " << log.status();
    const uint64_t head = (*log)->HeadPosition();
    for (const Ack& ack : acks) {
      ASSERT_LE(ack.last_position, head) << "cycle " << cycle;
      auto events =
          (*log)->ReadAll(ack.first_position,
                          ack.last_position - ack.first_position + 1, Filter{});
      ASSERT_TRUE(events.ok());
      ASSERT_EQ(events->size(), ack.last_position - ack.first_position + 1);
      const uint64_t first_revision =
          ack.last_revision - (ack.last_position - ack.first_position);
      for (size_t i = 0; i < events->size(); ++i) {
        const RecordedEvent& e = (*events)[i];
        EXPECT_EQ(e.position, ack.first_position + i);
        EXPECT_EQ(e.stream, ack.stream);
        EXPECT_EQ(e.revision, first_revision + i);
        EXPECT_EQ(e.data, "{\"stream\":\"" + ack.stream + "\",\"revision\":" +
                              std::to_string(first_revision + i) + "}");
      }
    }
    // No gaps: every position up to the head holds a record.
    uint64_t next = 1;
    size_t count = 0;
    while (next <= head) {
      auto page = (*log)->ReadAll(next, 10000, Filter{}, 0, &next);
      ASSERT_TRUE(page.ok());
      for (const RecordedEvent& e : *page) ASSERT_EQ(e.position, ++count);
      if (page->empty()) break;
    }
    ASSERT_EQ(count, head) << "cycle " << cycle;
    auto verify = (*log)->Verify(1, 0);
    ASSERT_TRUE(verify.ok());
    ASSERT_TRUE(verify->ok) << "cycle " << cycle << ": position "
                            << verify->first_bad_position << ": "
                            << verify->problem;
  }
  // The test means nothing if the child never got to append.
  EXPECT_GT(total_acks, static_cast<size_t>(cycles));
  std::printf("%d kill -9 cycles, %zu acknowledged appends checked\n", cycles,
              total_acks);
}

}  // namespace
}  // namespace vigil::eventlog
