// A child process of the torture run (vigild, the lazyfs daemon, vigil
// verify): spawned with its output appended to a log file, waited for with
// a timeout, killed on destruction so that no run leaves one behind.

#ifndef VIGIL_TOOLS_TORTURE_CHILD_PROCESS_H_
#define VIGIL_TOOLS_TORTURE_CHILD_PROCESS_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

namespace vigil::torture {

// A port that was free a moment ago on 127.0.0.1.
inline int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class ChildProcess {
 public:
  // Starts argv[0] with `argv` and, added to the environment, `env`
  // ("NAME=value" each). stdout and stderr go to the end of `log_path`.
  ChildProcess(const std::vector<std::string>& argv,
               const std::vector<std::string>& env,
               const std::string& log_path);
  ~ChildProcess();  // SIGKILL and reap, if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // True while the process has not exited (reaps it if it has).
  bool Running();
  // Sends `signal` (if running).
  void Signal(int signal);
  // Waits up to `timeout_ms` for the process to exit: its wait status, or
  // nullopt on timeout (it keeps running).
  std::optional<int> Wait(int timeout_ms);
  // SIGKILL and wait.
  void Kill();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Runs argv to completion (killed after `timeout_ms`); its exit code, or -1
// when it died of a signal or timed out.
int RunToCompletion(const std::vector<std::string>& argv,
                    const std::string& log_path, int timeout_ms);

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_CHILD_PROCESS_H_
