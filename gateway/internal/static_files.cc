#include "gateway/internal/static_files.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::gateway::internal {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kAssets = "/assets/";

absl::StatusOr<std::string> ReadFile(const fs::path& path, size_t size) {
  std::ifstream in(path, std::ios::binary);
  std::string body(size, '\0');
  if (!in.read(body.data(), static_cast<std::streamsize>(size)) ||
      in.peek() != std::ifstream::traits_type::eof()) {
    return absl::UnavailableError(
        absl::StrCat("dashboard: cannot read ", path.string(),
                     " (or it changed while being read)"));
  }
  return body;
}

}  // namespace

std::string_view StaticFiles::ContentTypeFor(std::string_view name) {
  static constexpr struct {
    std::string_view extension;
    std::string_view type;
  } kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  for (const auto& t : kTypes) {
    if (name.ends_with(t.extension)) return t.type;
  }
  return "application/octet-stream";
}

bool StaticFiles::Owns(std::string_view path) {
  return path == "/" || path == "/index.html" || path.starts_with(kAssets);
}

absl::StatusOr<StaticFiles> StaticFiles::Load(const std::string& dir) {
  StaticFiles files;
  size_t total = 0;
  // Adds the regular file `path` (already checked) under URL `url`.
  auto add = [&](const fs::path& path, std::string url,
                 std::string cache_control) -> absl::Status {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "dashboard: cannot stat ", path.string(), ": ", ec.message()));
    }
    if (size > kMaxFileBytes || total + size > kMaxTotalBytes ||
        files.files_.size() >= kMaxFiles) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "dashboard: ", dir, " holds more than the server serves (files of "
          "at most ", kMaxFileBytes, " bytes, ", kMaxTotalBytes,
          " bytes and ", kMaxFiles, " files in all); at ", path.string()));
    }
    absl::StatusOr<std::string> body = ReadFile(path, size);
    if (!body.ok()) return body.status();
    total += size;
    StaticFile file{.content_type = std::string(ContentTypeFor(url)),
                    .cache_control = std::move(cache_control),
                    .body = *std::move(body)};
    files.files_.emplace(std::move(url), std::move(file));
    return absl::OkStatus();
  };

  const fs::path root(dir);
  const fs::path index = root / "index.html";
  std::error_code ec;
  if (!fs::is_regular_file(fs::symlink_status(index, ec))) {
    return absl::NotFoundError(absl::StrCat(
        "dashboard: no ", index.string(),
        " (build it with tools/build-dashboard, or point --dashboard-dir "
        "at a built dist/ directory)"));
  }
  if (absl::Status s = add(index, "/index.html", "no-cache"); !s.ok()) return s;

  const fs::path assets = root / "assets";
  if (fs::is_directory(fs::symlink_status(assets, ec))) {
    // Does not follow directory links; the per-entry checks below skip file
    // links, so everything served is really under `dir`.
    fs::recursive_directory_iterator it(assets, ec), end;
    if (ec) {
      return absl::UnavailableError(absl::StrCat(
          "dashboard: cannot list ", assets.string(), ": ", ec.message()));
    }
    for (; it != end; it.increment(ec)) {
      if (ec) {
        return absl::UnavailableError(absl::StrCat(
            "dashboard: cannot list ", assets.string(), ": ", ec.message()));
      }
      const fs::path& path = it->path();
      const std::string name = path.filename().string();
      if (name.starts_with('.')) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      const std::string relative =
          fs::relative(path, assets, ec).generic_string();
      if (ec || relative.empty() || relative.starts_with("..")) continue;
      if (absl::Status s =
              add(path, std::string(kAssets) + relative,
                  "public, max-age=31536000, immutable");
          !s.ok()) {
        return s;
      }
    }
  }
  return files;
}

const StaticFile* StaticFiles::Find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace vigil::gateway::internal
