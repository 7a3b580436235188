// StaticFiles: the dashboard's built files (gateway/dashboard/dist), read
// into memory once, when the server starts, and served from there: `GET /`
// is index.html, `GET /assets/...` the hashed bundles Vite writes. Only the
// files found under the directory at load time can ever be answered (the
// request path is looked up in a map, never joined to a file system path),
// so no request can reach outside it; symbolic links and dot files are
// skipped, and the sizes are bounded.
//
// Thread safety: Load builds it; afterwards Find may be called from any
// number of threads at once (it only reads).

#ifndef VIGIL_GATEWAY_INTERNAL_STATIC_FILES_H_
#define VIGIL_GATEWAY_INTERNAL_STATIC_FILES_H_

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::gateway::internal {

struct StaticFile {
  std::string content_type;
  // "no-cache" for index.html (it names the current bundles); a year,
  // immutable, for /assets/ (their names change with their content).
  std::string cache_control;
  std::string body;
};

class StaticFiles {
 public:
  // Bounds of what Load reads: one file, all files together, and files.
  static constexpr size_t kMaxFileBytes = 16 << 20;   // 16 MiB
  static constexpr size_t kMaxTotalBytes = 64 << 20;  // 64 MiB
  static constexpr size_t kMaxFiles = 1024;

  // Reads index.html and everything under assets/ in `dir` (regular files
  // only; symbolic links and names starting with '.' are skipped).
  // NOT_FOUND when `dir` or its index.html does not exist;
  // RESOURCE_EXHAUSTED past a bound; UNAVAILABLE when a file cannot be
  // read.
  static absl::StatusOr<StaticFiles> Load(const std::string& dir);

  // The file answering GET `path` (no query string): "/" and "/index.html"
  // give index.html, "/assets/<name>" a file under assets/. Null for
  // anything else.
  const StaticFile* Find(std::string_view path) const;

  // True for the paths the dashboard owns ("/", "/index.html",
  // "/assets/..."), whether or not the file exists.
  static bool Owns(std::string_view path);

  // The Content-Type for a file name, by extension; text types carry
  // charset=utf-8. application/octet-stream when unknown.
  static std::string_view ContentTypeFor(std::string_view name);

  size_t file_count() const { return files_.size(); }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;  // by URL path
};

}  // namespace vigil::gateway::internal

#endif  // VIGIL_GATEWAY_INTERNAL_STATIC_FILES_H_
