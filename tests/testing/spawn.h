// Starts a program for a test with its stdout and stderr appended to a log
// file: shared by the helpers that run vigild and vigil-lazyfs.

#ifndef VIGIL_TESTS_TESTING_SPAWN_H_
#define VIGIL_TESTS_TESTING_SPAWN_H_

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include <string>
#include <vector>

extern char** environ;

namespace vigil::testing {

// Runs args[0] with `args` (args[0] is also argv[0]); the child's pid, or
// -1 if it could not be started.
inline pid_t SpawnLogged(std::vector<std::string> args,
                         const std::string& log_path) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int error =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_SPAWN_H_
