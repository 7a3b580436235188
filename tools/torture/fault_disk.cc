#include "tools/torture/fault_disk.h"

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace vigil::torture {
namespace {

// Size of the disk-full scenario's tmpfs: room for a few thousand cycles'
// events, small enough to fill in a moment.
constexpr char kTmpfsSize[] = "size=256m";

bool IsMounted(const std::string& mount_point) {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    if (fields.size() > 1 && fields[1] == mount_point) return true;
  }
  return false;
}

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

class PlainDisk final : public FaultDisk {
 public:
  explicit PlainDisk(std::string dir) : dir_(std::move(dir)) {}
  std::string data_dir() const override { return dir_; }

 private:
  std::string dir_;
};

// The log on a lazyfs mount over `backing`; a cut is an unmount, after
// which the daemon leaves in `backing` only what was durable and exits.
class LazyfsDisk final : public FaultDisk {
 public:
  LazyfsDisk(std::string binary, const std::string& work_dir)
      : binary_(std::move(binary)),
        backing_(work_dir + "/backing"),
        mount_point_(work_dir + "/mnt"),
        log_path_(work_dir + "/lazyfs.log") {
    std::filesystem::create_directories(backing_);
    std::filesystem::create_directories(mount_point_);
  }
  ~LazyfsDisk() override { Cleanup(); }

  absl::Status Attach() override {
    daemon_.emplace(std::vector<std::string>{binary_, backing_, mount_point_},
                    std::vector<std::string>{}, log_path_);
    if (!daemon_->started()) {
      return absl::UnavailableError(absl::StrCat("cannot start ", binary_));
    }
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (!IsMounted(mount_point_)) {
      if (!daemon_->Running() || absl::Now() > deadline) {
        daemon_.reset();
        return absl::UnavailableError(absl::StrCat(
            "lazyfs did not mount ", mount_point_, "; see ", log_path_));
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return absl::OkStatus();
  }

  // The power cut: vigild is dead, so nothing holds the mount.
  absl::Status Detach() override {
    if (umount2(mount_point_.c_str(), 0) != 0) {
      return Errno(absl::StrCat("unmounting ", mount_point_));
    }
    const std::optional<int> status = daemon_->Wait(120'000);
    daemon_.reset();
    if (!status.has_value() || !WIFEXITED(*status) ||
        WEXITSTATUS(*status) != 0) {
      return absl::InternalError(absl::StrCat(
          "lazyfs did not keep the durable state after the cut; see ",
          log_path_));
    }
    return absl::OkStatus();
  }

  std::string data_dir() const override { return mount_point_ + "/data"; }
  std::string detached_data_dir() const override { return backing_ + "/data"; }

  void Cleanup() override {
    if (IsMounted(mount_point_)) umount2(mount_point_.c_str(), MNT_DETACH);
    daemon_.reset();  // kills it if still running
  }

 private:
  std::string binary_;
  std::string backing_;
  std::string mount_point_;
  std::string log_path_;
  std::optional<ChildProcess> daemon_;
};

// The log on a small tmpfs, mounted for the whole run.
class TmpfsDisk final : public FaultDisk {
 public:
  explicit TmpfsDisk(const std::string& work_dir)
      : mount_point_(work_dir + "/tmpfs") {
    std::filesystem::create_directories(mount_point_);
  }
  ~TmpfsDisk() override { Cleanup(); }

  absl::Status Mount() {
    if (mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, kTmpfsSize) != 0) {
      return Errno(absl::StrCat("mounting a tmpfs on ", mount_point_,
                                " (needs root)"));
    }
    mounted_ = true;
    return absl::OkStatus();
  }

  std::string data_dir() const override { return mount_point_ + "/data"; }

  // Writes zeros until the file system says it is full.
  absl::Status Fill() override {
    std::ofstream out(filler(), std::ios::binary);
    const std::string chunk(256 * 1024, '\0');
    while (out.write(chunk.data(), chunk.size()) && out.flush()) {
    }
    return absl::OkStatus();
  }

  absl::Status Free() override {
    std::error_code ec;
    std::filesystem::remove(filler(), ec);
    return ec ? absl::UnavailableError(ec.message()) : absl::OkStatus();
  }

  void Cleanup() override {
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
    mounted_ = false;
  }

 private:
  std::string filler() const { return mount_point_ + "/filler"; }

  std::string mount_point_;
  bool mounted_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<FaultDisk>> MakeFaultDisk(
    const std::string& scenario, const std::string& work_dir,
    const std::string& lazyfs) {
  if (scenario == "crash") {
    return std::make_unique<PlainDisk>(work_dir + "/data");
  }
  if (scenario == "power") {
    if (geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
      return absl::FailedPreconditionError(
          "the power scenario needs root and /dev/fuse (a lazyfs mount)");
    }
    return std::make_unique<LazyfsDisk>(lazyfs, work_dir);
  }
  if (scenario == "disk-full") {
    auto disk = std::make_unique<TmpfsDisk>(work_dir);
    if (absl::Status mounted = disk->Mount(); !mounted.ok()) return mounted;
    return disk;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown scenario \"", scenario, "\" (crash, power or disk-full)"));
}

}  // namespace vigil::torture
