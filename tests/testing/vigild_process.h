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

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
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
    std::ifstream before(log_path, std::ios::ate);
    log_offset_ = before ? static_cast<std::streamoff>(before.tellg()) : 0;
    log_path_ = log_path;
    pid_ = SpawnLogged(std::move(args), log_path);
  }
  ~VigildProcess() {
    if (pid_ > 0) Kill();
  }
  VigildProcess(const VigildProcess&) = delete;
  VigildProcess& operator=(const VigildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Waits (up to 30 s) for vigild's "serving gRPC on H:P and HTTP on H:Q"
  // line in what it logged (the log may hold earlier runs) and returns the
  // ports it bound, or {0, 0}. Start it with "127.0.0.1:0" for both, so no
  // test running in parallel can take them first.
  std::pair<int, int> WaitForPorts() const {
    static const std::regex kServing(
        "serving gRPC on [^ ]*:([0-9]+) and HTTP on [^ ]*:([0-9]+)");
    for (int i = 0; i < 300 && pid_ > 0; ++i) {
      std::ifstream in(log_path_);
      in.seekg(log_offset_);
      std::stringstream text;
      text << in.rdbuf();
      const std::string log = text.str();
      std::smatch match;
      if (std::regex_search(log, match, kServing)) {
        return {std::stoi(match[1]), std::stoi(match[2])};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return {0, 0};
  }

  // SIGTERM and wait; the exit status (-1 if it died of a signal).
  int Terminate() { return Signal(SIGTERM); }
  // SIGKILL and wait.
  void Kill() { Signal(SIGKILL); }
  // Waits up to `timeout` for it to exit by itself; its exit status, or
  // -1 when it died of a signal or had to be killed at the timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        Kill();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

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
  std::string log_path_;
  std::streamoff log_offset_ = 0;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_VIGILD_PROCESS_H_
