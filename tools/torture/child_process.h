// A child process of the torture run (vigild, the lazyfs daemon, vigil
// verify): spawned with its output appended to a log file, waited for with
// a timeout, killed on destruction so that no run leaves one behind.

#ifndef VIGIL_TOOLS_TORTURE_CHILD_PROCESS_H_
#define VIGIL_TOOLS_TORTURE_CHILD_PROCESS_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <fcntl.h>
#include <spawn.h>

#include <optional>
#include <string>
#include <vector>

extern char** environ;

namespace vigil::torture {

// Runs args[0] with `args` (args[0] is also argv[0]) and, when `env` is
// given, that environment instead of this process's; stdout and stderr are
// appended to `log_path`. The child's pid, or -1 if it could not start.
inline pid_t SpawnLogged(std::vector<std::string> args,
                         const std::string& log_path,
                         std::vector<std::string>* env = nullptr) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (env != nullptr) {
    for (std::string& e : *env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int error =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(),
                  env != nullptr ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

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
