// A small tmpfs for one test to fill up (a full disk on demand): mounted
// at construction when the test runs as root, detached (MNT_DETACH) when
// the object goes away, so a failed assertion leaves no mount behind.
// Fill writes zeros until ENOSPC; Free deletes them. Not thread-safe.

#ifndef VIGIL_TESTS_TESTING_TMPFS_MOUNT_H_
#define VIGIL_TESTS_TESTING_TMPFS_MOUNT_H_

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>

namespace vigil::testing {

class TmpfsMount {
 public:
  // Mounts a tmpfs of `size` (mount's size=, e.g. "160m") at `path`
  // (created), mode 0755 so another user (postgres) can reach below it.
  TmpfsMount(const std::string& path, const std::string& size) : path_(path) {
    std::error_code ignored;
    std::filesystem::create_directories(path_, ignored);
    if (geteuid() != 0) return;
    const std::string data = "size=" + size + ",mode=0755";
    mounted_ = mount("tmpfs", path_.c_str(), "tmpfs", 0, data.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  // False when not root or the mount failed: the test should GTEST_SKIP.
  bool mounted() const { return mounted_; }
  const std::string& path() const { return path_; }

  // Writes zeros to path()/`name` until the file system is full; returns
  // the bytes written. Bounded by the mount's size.
  size_t Fill(const std::string& name = "filler") const {
    std::FILE* out = std::fopen((path_ + "/" + name).c_str(), "wb");
    if (out == nullptr) return 0;
    static const char kZeros[64 << 10] = {};
    size_t written = 0;
    while (true) {
      const size_t n = std::fwrite(kZeros, 1, sizeof(kZeros), out);
      written += n;
      if (n < sizeof(kZeros) || std::fflush(out) != 0) break;
    }
    std::fclose(out);
    return written;
  }

  // Deletes what Fill wrote: the space is back.
  void Free(const std::string& name = "filler") const {
    std::error_code ignored;
    std::filesystem::remove(path_ + "/" + name, ignored);
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_TMPFS_MOUNT_H_
