#include "tools/torture/fault_disk.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "tools/torture/lazyfs_mount.h"

namespace vigil::torture {
namespace {

// Size of the disk-full scenario's tmpfs: room for a few thousand cycles'
// events, small enough to fill in a moment.
constexpr char kTmpfsSize[] = "size=256m";

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
    mount_.emplace(binary_, backing_, mount_point_, log_path_);
    if (!mount_->ok()) {
      mount_.reset();
      return absl::UnavailableError(absl::StrCat(
          "lazyfs did not mount ", mount_point_, "; see ", log_path_));
    }
    return absl::OkStatus();
  }

  // The power cut: vigild is dead, so nothing holds the mount.
  absl::Status Detach() override {
    const int code = mount_->Cut();
    mount_.reset();
    if (code != 0) {
      return absl::InternalError(absl::StrCat(
          "lazyfs did not keep the durable state after the cut (exit ", code,
          "); see ", log_path_));
    }
    return absl::OkStatus();
  }

  std::string data_dir() const override { return mount_point_ + "/data"; }
  std::string detached_data_dir() const override { return backing_ + "/data"; }

  void Cleanup() override { mount_.reset(); }  // cuts, never leaves a mount

 private:
  std::string binary_;
  std::string backing_;
  std::string mount_point_;
  std::string log_path_;
  std::optional<LazyFsMount> mount_;
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
    if (const std::string why = LazyFsMount::Unavailable(); !why.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the power scenario ", why));
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
