#include "projections/embedded_postgres.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"

namespace vigil::projections {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kBinDir[] = "/usr/lib/postgresql/15/bin";

std::string QueryOne(const std::string& url, const std::string& sql) {
  pqxx::connection connection{url};
  pqxx::work tx{connection};
  pqxx::row row = tx.exec1(sql);
  tx.commit();
  return row[0].as<std::string>();
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection connection{url};
  pqxx::work tx{connection};
  tx.exec0(sql);
  tx.commit();
}

pid_t PostmasterPid(const std::string& cluster_dir) {
  std::ifstream in(cluster_dir + "/data/postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

class EmbeddedPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access((std::string(kBinDir) + "/initdb").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "PostgreSQL 15 is not installed in " << kBinDir;
    }
    // As root the server runs as `postgres`, which must traverse the
    // (mode 0700) temporary directory.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
    options_.cluster_dir = dir_.Sub("postgres");
    options_.start_timeout = absl::Seconds(30);
  }

  void TearDown() override {
    // A test that failed half-way must not leave a server behind.
    pid_t pid = PostmasterPid(options_.cluster_dir);
    if (pid > 0) kill(pid, SIGQUIT);
  }

  testing::TempDir dir_;
  EmbeddedPostgresOptions options_;
};

TEST_F(EmbeddedPostgresTest, InitializesOnceAndKeepsDataAcrossRestarts) {
  auto first = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE((*first)->adopted());
  const std::string url = (*first)->url();
  EXPECT_EQ(url, "postgresql://postgres@/vigil?host=" + options_.cluster_dir + "&port=5432");
  EXPECT_EQ(QueryOne(url, "SELECT current_database()"), "vigil");
  EXPECT_EQ(QueryOne(url, "SHOW listen_addresses"), "");
  EXPECT_EQ(QueryOne(url, "SHOW fsync"), "on");
  Exec(url, "CREATE TABLE agents (id int PRIMARY KEY, name text)");
  Exec(url, "INSERT INTO agents VALUES (1, 'scout')");
  ASSERT_TRUE((*first)->Stop().ok());
  EXPECT_EQ(PostmasterPid(options_.cluster_dir), 0) << "server still running";

  const auto initdb_time =
      std::filesystem::last_write_time(options_.cluster_dir + "/initdb.log");
  auto second = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)->adopted());
  EXPECT_EQ((*second)->url(), url);
  EXPECT_EQ(QueryOne(url, "SELECT name FROM agents WHERE id = 1"), "scout");
  EXPECT_EQ(std::filesystem::last_write_time(options_.cluster_dir + "/initdb.log"),
            initdb_time)
      << "initdb ran again";
  EXPECT_TRUE((*second)->Stop().ok());
}

TEST_F(EmbeddedPostgresTest, DestructorStopsTheServer) {
  {
    auto postgres = EmbeddedPostgres::Start(options_);
    ASSERT_TRUE(postgres.ok()) << postgres.status();
  }
  EXPECT_EQ(PostmasterPid(options_.cluster_dir), 0) << "server still running";
}

// What happens when vigild is killed: the server keeps running, and the next
// Start adopts it.
TEST_F(EmbeddedPostgresTest, AdoptsTheServerOfAKilledOwner) {
  auto first = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(first.ok()) << first.status();
  Exec((*first)->url(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
  const pid_t pid = PostmasterPid(options_.cluster_dir);
  (*first)->Detach();
  first->reset();
  ASSERT_EQ(kill(pid, 0), 0) << "server stopped although detached";

  auto second = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE((*second)->adopted());
  EXPECT_EQ(PostmasterPid(options_.cluster_dir), pid);
  EXPECT_EQ(QueryOne((*second)->url(), "SELECT x FROM t"), "7");
  EXPECT_TRUE((*second)->Stop().ok());
  EXPECT_EQ(PostmasterPid(options_.cluster_dir), 0) << "adopted server still running";
}

// The server itself was killed: its postmaster.pid stays behind.
TEST_F(EmbeddedPostgresTest, RestartsAfterTheServerWasKilled) {
  auto first = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(first.ok()) << first.status();
  Exec((*first)->url(), "CREATE TABLE t (x int); INSERT INTO t VALUES (7)");
  const pid_t pid = PostmasterPid(options_.cluster_dir);
  (*first)->Detach();
  first->reset();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  while (kill(pid, 0) == 0) usleep(10000);

  auto second = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)->adopted());
  EXPECT_EQ(QueryOne((*second)->url(), "SELECT x FROM t"), "7");
  EXPECT_TRUE((*second)->Stop().ok());
}

// A postmaster.pid whose PID now belongs to another program (here: this
// test) would make the server refuse to start.
TEST_F(EmbeddedPostgresTest, RemovesAPostmasterPidOfAnotherProgram) {
  auto first = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Stop().ok());
  {
    std::ofstream pid_file(options_.cluster_dir + "/data/postmaster.pid");
    pid_file << getpid() << "\n" << options_.cluster_dir << "/data\n";
  }

  auto second = EmbeddedPostgres::Start(options_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE((*second)->adopted());
  EXPECT_NE(PostmasterPid(options_.cluster_dir), getpid());
  EXPECT_TRUE((*second)->Stop().ok());
}

TEST_F(EmbeddedPostgresTest, BadBinDirIsNotFound) {
  options_.bin_dir = "/nonexistent/bin";
  auto postgres = EmbeddedPostgres::Start(options_);
  ASSERT_EQ(postgres.status().code(), absl::StatusCode::kNotFound) << postgres.status();
  EXPECT_THAT(postgres.status().message(), HasSubstr("/nonexistent/bin/initdb"));
  EXPECT_THAT(postgres.status().message(), HasSubstr("bin_dir"));
}

TEST_F(EmbeddedPostgresTest, TooLongSocketPathIsInvalidArgument) {
  options_.cluster_dir = dir_.Sub(std::string(100, 'p'));
  auto postgres = EmbeddedPostgres::Start(options_);
  ASSERT_EQ(postgres.status().code(), absl::StatusCode::kInvalidArgument) << postgres.status();
  EXPECT_THAT(postgres.status().message(), HasSubstr("107-byte limit"));
}

TEST_F(EmbeddedPostgresTest, UntraversableParentIsFailedPreconditionForRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "only root switches to the postgres user";
  ASSERT_EQ(chmod(dir_.path().c_str(), 0700), 0);
  auto postgres = EmbeddedPostgres::Start(options_);
  ASSERT_EQ(postgres.status().code(), absl::StatusCode::kFailedPrecondition)
      << postgres.status();
  EXPECT_THAT(postgres.status().message(), HasSubstr("cannot traverse " + dir_.path()));
}

TEST_F(EmbeddedPostgresTest, InitdbFailureQuotesItsLog) {
  // A leftover scratch directory from an initdb that was killed is replaced.
  std::filesystem::create_directories(options_.cluster_dir + "/data.initdb/x");
  options_.bin_dir = dir_.Sub("bin");
  std::filesystem::create_directories(options_.bin_dir);
  for (const char* tool : {"pg_ctl", "postgres"}) {
    std::filesystem::create_symlink(std::string(kBinDir) + "/" + tool,
                                    options_.bin_dir + "/" + tool);
  }
  {
    std::ofstream script(options_.bin_dir + "/initdb");
    script << "#!/bin/sh\necho 'initdb: error: simulated failure' >&2\nexit 1\n";
  }
  ASSERT_EQ(chmod((options_.bin_dir + "/initdb").c_str(), 0755), 0);
  auto postgres = EmbeddedPostgres::Start(options_);
  ASSERT_EQ(postgres.status().code(), absl::StatusCode::kInternal) << postgres.status();
  EXPECT_THAT(postgres.status().message(), HasSubstr("simulated failure"));
  EXPECT_FALSE(std::filesystem::exists(options_.cluster_dir + "/data"));
  EXPECT_FALSE(std::filesystem::exists(options_.cluster_dir + "/data.initdb/x"));
}

}  // namespace
}  // namespace vigil::projections
