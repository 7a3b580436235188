// Runs the real vigild binary for a test: free loopback ports, spawn with
// output to a log file, SIGTERM or SIGKILL. VIGILD_BINARY comes from CMake.

#ifndef VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_
#define VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "tools/torture/child_process.h"

namespace vigil::testing {

using torture::FreePort;  // tools/torture/child_process.h
using torture::SpawnLogged;

class VigildProcess {
 public:
  // Starts `binary` with `args`; stdout and stderr appended to `log_path`.
  VigildProcess(const std::string& binary, std::vector<std::string> args,
                const std::string& log_path) {
    args.insert(args.begin(), binary);
    pid_ = SpawnLogged(std::move(args), log_path);
  }
  ~VigildProcess() {
    if (pid_ > 0) Kill();
  }
  VigildProcess(const VigildProcess&) = delete;
  VigildProcess& operator=(const VigildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; the exit status (-1 if it died of a signal).
  int Terminate() { return Signal(SIGTERM); }
  // SIGKILL and wait.
  void Kill() { Signal(SIGKILL); }

 private:
  int Signal(int signal) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_
