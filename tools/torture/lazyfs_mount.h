// Runs the real vigil-lazyfs (tools/lazyfs/README.md) for a test or a
// torture run: mounts a
// backing directory, waits until the mount is up, and cuts the power
// (unmount, then wait for the daemon to materialize the durable state).
// Never leaves a mount behind: the destructor cuts, and a daemon that does
// not finish is killed and its mount detached. One thread uses an instance.

#ifndef VIGIL_TOOLS_TORTURE_LAZYFS_MOUNT_H_
#define VIGIL_TOOLS_TORTURE_LAZYFS_MOUNT_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tools/torture/child_process.h"

namespace vigil::torture {

class LazyFsMount {
 public:
  // statfs(2)'s f_type of a FUSE mount.
  static constexpr long kFuseSuperMagic = 0x65735546;
  // How long mounting and a power cut may take before the test gives up.
  static constexpr std::chrono::seconds kTimeout{20};

  // Why a test cannot mount (not root, no /dev/fuse), or "" when it can.
  static std::string Unavailable() {
    if (geteuid() != 0) return "needs root to mount FUSE (tools/test runs as root)";
    if (access("/dev/fuse", R_OK | W_OK) != 0) return "needs /dev/fuse";
    return "";
  }

  // Starts `binary` BACKING MOUNT; its stdout and stderr go to `log_path`.
  // ok() says whether the mount came up within kTimeout.
  LazyFsMount(const std::string& binary, const std::string& backing,
              const std::string& mount_point, const std::string& log_path)
      : mount_point_(mount_point) {
    pid_ = SpawnLogged({binary, backing, mount_point}, log_path);
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
      struct statfs st;
      if (statfs(mount_point_.c_str(), &st) == 0 &&
          st.f_type == kFuseSuperMagic) {
        up_ = true;
        return;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;  // died before mounting
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~LazyFsMount() { Cut(); }
  LazyFsMount(const LazyFsMount&) = delete;
  LazyFsMount& operator=(const LazyFsMount&) = delete;

  bool ok() const { return up_; }

  // The power cut: unmounts (busy for a while: detaches) and waits for the
  // daemon to rebuild the backing directory. Its exit code, or -1 if it
  // had to be killed. Processes writing to the mount should be dead.
  int Cut() {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    if (up_) {
      while (umount2(mount_point_.c_str(), 0) != 0 && errno == EBUSY &&
             std::chrono::steady_clock::now() < deadline - kTimeout / 2) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      umount2(mount_point_.c_str(), MNT_DETACH);  // no-op once unmounted
    }
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        umount2(mount_point_.c_str(), MNT_DETACH);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  std::string mount_point_;
  pid_t pid_ = -1;
  bool up_ = false;
};

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_LAZYFS_MOUNT_H_
