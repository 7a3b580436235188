#include "base/durable_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace vigil::base {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open directory", dir);
  const int synced = fsync(fd);
  const int saved = errno;
  close(fd);
  errno = saved;
  return synced == 0 ? absl::OkStatus() : Errno("fsync directory", dir);
}

}  // namespace

absl::Status CreateDirectoriesDurably(const std::string& dir) {
  // The missing directories, outermost first.
  std::vector<std::filesystem::path> missing;
  std::error_code ec;
  for (std::filesystem::path p = std::filesystem::absolute(dir, ec);
       !p.empty() && !std::filesystem::exists(p, ec);
       p = p.parent_path()) {
    missing.insert(missing.begin(), p);
    if (p == p.parent_path()) break;
  }
  for (const std::filesystem::path& p : missing) {
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
      return Errno("create directory", p.string());
    }
    const absl::Status synced = SyncDirectory(p.parent_path().string());
    if (!synced.ok()) return synced;
  }
  return absl::OkStatus();
}

}  // namespace vigil::base
