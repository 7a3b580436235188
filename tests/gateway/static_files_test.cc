// StaticFiles: what the dashboard directory serves, and what it never does.

#include "gateway/internal/static_files.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vigil::gateway::internal {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& body) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << body;
}

TEST(StaticFilesTest, ServesIndexAndAssetsWithTheirTypes) {
  testing::TempDir dir;
  Write(dir.Sub("index.html"), "<!doctype html>");
  Write(dir.Sub("assets/index-abc.js"), "console.log(1)");
  Write(dir.Sub("assets/index-abc.css"), "body{}");
  Write(dir.Sub("assets/img/logo.svg"), "<svg/>");
  Write(dir.Sub("assets/blob.bin"), "\x01\x02");
  absl::StatusOr<StaticFiles> files = StaticFiles::Load(dir.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->file_count(), 5u);

  const StaticFile* index = files->Find("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->body, "<!doctype html>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(index->cache_control, "no-cache");
  EXPECT_EQ(files->Find("/index.html"), index);

  const StaticFile* js = files->Find("/assets/index-abc.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js->cache_control, "public, max-age=31536000, immutable");
  EXPECT_EQ(files->Find("/assets/index-abc.css")->content_type,
            "text/css; charset=utf-8");
  EXPECT_EQ(files->Find("/assets/img/logo.svg")->content_type,
            "image/svg+xml");
  EXPECT_EQ(files->Find("/assets/blob.bin")->content_type,
            "application/octet-stream");
  EXPECT_EQ(files->Find("/assets/missing.js"), nullptr);
}

TEST(StaticFilesTest, NothingOutsideTheDirectoryIsReachable) {
  testing::TempDir outside;
  Write(outside.Sub("secret.txt"), "secret");
  testing::TempDir dir;
  Write(dir.Sub("index.html"), "x");
  Write(dir.Sub("assets/a.js"), "a");
  Write(dir.Sub("assets/.hidden.js"), "h");
  Write(dir.Sub("top-level.js"), "not under assets/");
  fs::create_symlink(outside.Sub("secret.txt"), dir.Sub("assets/link.txt"));
  fs::create_directory_symlink(outside.path(), dir.Sub("assets/linked-dir"));
  absl::StatusOr<StaticFiles> files = StaticFiles::Load(dir.path());
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(files->file_count(), 2u);  // index.html and assets/a.js
  for (const char* path :
       {"/assets/link.txt", "/assets/linked-dir/secret.txt",
        "/assets/.hidden.js", "/top-level.js", "/assets/../index.html",
        "/assets/../../secret.txt", "/assets/%2e%2e/index.html",
        "/assets//a.js", "/assets/", "/../index.html", ""}) {
    EXPECT_EQ(files->Find(path), nullptr) << path;
  }
}

TEST(StaticFilesTest, MissingDirectoryOrIndexIsNotFound) {
  testing::TempDir dir;
  EXPECT_EQ(StaticFiles::Load(dir.Sub("nope")).status().code(),
            absl::StatusCode::kNotFound);
  Write(dir.Sub("assets/a.js"), "a");
  EXPECT_EQ(StaticFiles::Load(dir.path()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(StaticFilesTest, OversizedFileIsRefused) {
  testing::TempDir dir;
  Write(dir.Sub("index.html"), "x");
  Write(dir.Sub("assets/big.js"),
        std::string(StaticFiles::kMaxFileBytes + 1, 'a'));
  EXPECT_EQ(StaticFiles::Load(dir.path()).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(StaticFilesTest, OwnsTheDashboardPathsOnly) {
  EXPECT_TRUE(StaticFiles::Owns("/"));
  EXPECT_TRUE(StaticFiles::Owns("/index.html"));
  EXPECT_TRUE(StaticFiles::Owns("/assets/x.js"));
  EXPECT_FALSE(StaticFiles::Owns("/v1/agents"));
  EXPECT_FALSE(StaticFiles::Owns("/healthz"));
  EXPECT_FALSE(StaticFiles::Owns("/assetsx"));
}

}  // namespace
}  // namespace vigil::gateway::internal
