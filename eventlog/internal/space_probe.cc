#include "eventlog/internal/space_probe.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "eventlog/internal/log_db.h"

namespace vigil::eventlog::internal {
namespace {

absl::Status ProbeError(const std::string& path, const char* step, int error) {
  const std::string detail =
      absl::StrCat("probing for free space: ", step, " ", path, ": ",
                   std::strerror(error));
  if (error == ENOSPC || error == EDQUOT) return DiskFullError(detail);
  return absl::UnavailableError(detail);
}

}  // namespace

absl::Status ProbeSpace(const std::string& dir) {
  const std::string path = absl::StrCat(dir, "/", kSpaceProbeFile);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0600);
  if (fd < 0) return ProbeError(path, "creating", errno);
  static const char kZeros[64 << 10] = {};
  absl::Status status;
  for (size_t written = 0; written < kSpaceProbeBytes && status.ok();) {
    const ssize_t n = ::write(fd, kZeros, sizeof(kZeros));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      status = ProbeError(path, "writing", n < 0 ? errno : ENOSPC);
    } else {
      written += static_cast<size_t>(n);
    }
  }
  if (status.ok() && ::fdatasync(fd) != 0) {
    status = ProbeError(path, "syncing", errno);
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (!status.ok()) return status;
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return ProbeError(dir, "statvfs", errno);
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes < kReopenFreeBytes) {
    return DiskFullError(absl::StrCat(
        "only ", free_bytes, " bytes free in ", dir, ", less than the ",
        kReopenFreeBytes, " a reopen may need"));
  }
  return absl::OkStatus();
}

}  // namespace vigil::eventlog::internal
