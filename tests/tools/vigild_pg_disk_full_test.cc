// The real vigild projecting into a PostgreSQL cluster whose directory is
// a small tmpfs that fills up (docs/operations.md "A full disk"): the log,
// on another disk, keeps acknowledging appends (it is the source of
// truth); the projections stall, say so on stderr, in GET /v1/projections
// (state "retrying", last_error naming the full disk) and in /metrics
// (vigil_projection_stalled 1, the lag growing), while /readyz stays 200;
// once space is freed they catch up without a restart, and the read models
// equal a fresh rebuild row for row. Needs root (the tmpfs) and
// PostgreSQL 15's binaries (tools/pg-cluster); skipped otherwise.

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/fresh_rebuild.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/tmpfs_mount.h"
#include "tests/testing/vigild_process.h"
#include "tests/testing/wait_until.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using testing::HttpConnection;
using testing::HttpResponse;

const absl::Duration kWait = absl::Seconds(60);
constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin/initdb";

std::string PgCluster(const std::string& command, const std::string& dir) {
  const std::string line = absl::StrCat(VIGIL_SOURCE_DIR, "/tools/pg-cluster ",
                                        command, " ", dir, " 2>&1");
  std::string out;
  if (std::FILE* pipe = popen(line.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
    pclose(pipe);
  }
  // The last line: a retry on another port prints its failure first.
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

class VigildPgDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPgBin, X_OK) != 0) {
      GTEST_SKIP() << "needs PostgreSQL 15 (" << kPgBin << ")";
    }
    mount_ = std::make_unique<testing::TmpfsMount>(dir_.Sub("pgdisk"), "160m");
    if (!mount_->mounted()) {
      GTEST_SKIP() << "needs root to mount a tmpfs (tools/test runs as root)";
    }
    cluster_ = mount_->path() + "/cluster";
    url_ = PgCluster("start", cluster_);
    ASSERT_EQ(url_.rfind("postgresql://", 0), 0u) << url_;
    pg_started_ = true;
    vigild_ = std::make_unique<testing::VigildProcess>(
        VIGILD_BINARY,
        std::vector<std::string>{
            "--data-dir", dir_.Sub("data"), "--grpc-listen", "127.0.0.1:0",
            "--http-listen", "127.0.0.1:0", "--pg-url", url_,
            "--webhooks", "off"},
        dir_.Sub("vigild.log"));
    ASSERT_TRUE(vigild_->started());
    std::tie(grpc_port_, http_port_) = vigild_->WaitForPorts();
    ASSERT_GT(grpc_port_, 0) << ServerLog();
    ASSERT_TRUE(WaitUntil([&] {
      std::optional<HttpResponse> r = Get("/healthz");
      return r.has_value() && r->status == 200;
    })) << ServerLog();
    stub_ = v1::EventStore::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    stop_ = true;
    if (client_.joinable()) client_.join();
    vigild_.reset();
    if (pg_started_) PgCluster("stop", cluster_);
    mount_.reset();  // MNT_DETACH
  }

  // The cluster's superuser (trust authentication, as pg-cluster makes it).
  std::string SuperuserUrl(const std::string& database) const {
    return absl::StrReplaceAll(testing::WithDatabase(url_, database),
                               {{"vigil:vigil@", "postgres@"}});
  }

  std::string ServerLog() const {
    std::ifstream in(dir_.Sub("vigild.log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::optional<HttpResponse> Get(const std::string& target) {
    HttpConnection connection(static_cast<uint16_t>(http_port_));
    if (!connection.connected()) return std::nullopt;
    return connection.Request("GET", target);
  }

  template <typename F>
  static bool WaitUntil(F done) {
    return testing::WaitUntil(done, kWait, absl::Milliseconds(100));
  }

  // Tasks with ~1.5 KB titles: every few rows need a new page, so a full
  // disk stops the projections within a batch or two.
  void StartClient() {
    client_ = std::thread([this] {
      for (int n = 0; !stop_.load(); ++n) {
        v1::AppendRequest request;
        request.set_stream(absl::StrCat("task-t", n));
        v1::EventData* event = request.add_events();
        event->set_type("TaskCreated");
        event->set_data(absl::StrCat(R"({"task_id":"t)", n,
                                     R"(","manager_id":"m1","title":")",
                                     std::string(1500, 'x'), "\"}"));
        grpc::ClientContext context;
        v1::AppendResponse response;
        const grpc::Status status = stub_->Append(&context, request, &response);
        if (status.ok()) {
          last_ack_ = response.last_position();
          ++acks_;
        } else {
          ++failures_;
        }
        absl::SleepFor(absl::Milliseconds(2));
      }
    });
  }

  // GET /v1/projections, summed up.
  struct Projected {
    int count = 0;                // projections listed
    uint64_t min_checkpoint = 0;  // the least checkpoint
    uint64_t head = 0;
    bool stalled_on_full_disk = false;  // one retries, its error says so
    std::string body;
  };
  Projected Projections() {
    Projected out;
    std::optional<HttpResponse> r = Get("/v1/projections");
    if (!r.has_value() || r->status != 200) return out;
    out.body = r->body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r->body).get(doc) != simdjson::SUCCESS) return out;
    out.min_checkpoint = UINT64_MAX;
    for (simdjson::dom::element p : doc["projections"].get_array()) {
      ++out.count;
      const uint64_t checkpoint = p["checkpoint"].get_uint64();
      out.head = p["head"].get_uint64();
      out.min_checkpoint = std::min(out.min_checkpoint, checkpoint);
      std::string_view state;
      std::string_view error;  // null after a success: stays empty
      if (p["status"].get(state) != simdjson::SUCCESS) state = {};
      if (p["last_error"].get(error) != simdjson::SUCCESS) error = {};
      out.stalled_on_full_disk =
          out.stalled_on_full_disk ||
          (state == "retrying" &&
           error.find("No space left on device") != std::string_view::npos);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TmpfsMount> mount_;
  std::string cluster_;
  std::string url_;
  bool pg_started_ = false;
  std::unique_ptr<testing::VigildProcess> vigild_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::unique_ptr<v1::EventStore::Stub> stub_;
  std::thread client_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> last_ack_{0};
  std::atomic<int> acks_{0};
  std::atomic<int> failures_{0};
};

TEST_F(VigildPgDiskFullTest, ProjectionsStallOnAFullDiskAndCatchUpAfter) {
  StartClient();
  Projected projected;
  ASSERT_TRUE(WaitUntil([&] {
    projected = Projections();
    return projected.count == 3 && projected.min_checkpoint > 100;
  })) << projected.body << ServerLog();
  // A fresh WAL segment (16 MiB, zero-filled): PostgreSQL's WAL then has
  // room while its data files cannot grow, so it reports a full disk
  // (SQLSTATE 53100) instead of stopping for want of a WAL segment. The
  // switch alone only ends the current segment; the next one is created by
  // the next WAL write, which under load could come after the fill (then
  // PostgreSQL PANICs and the projections see a refused connection, not a
  // full disk). So commit a write into it, and checkpoint, which also
  // preallocates the segment after it.
  {
    pqxx::connection superuser(SuperuserUrl("vigil"));
    pqxx::nontransaction tx(superuser);
    tx.exec("SELECT pg_switch_wal()");
    tx.exec("CREATE TABLE IF NOT EXISTS wal_room (x int)");
    tx.exec("INSERT INTO wal_room VALUES (1)");
    tx.exec("CHECKPOINT");
  }

  ASSERT_GT(mount_->Fill(), 0u);
  ASSERT_TRUE(WaitUntil([&] {
    projected = Projections();
    return projected.stalled_on_full_disk;
  })) << projected.body << ServerLog();
  // The log goes on: appends are acknowledged while PostgreSQL is full.
  const int acks_when_full = acks_;
  ASSERT_TRUE(WaitUntil([&] { return acks_ > acks_when_full + 100; }));
  EXPECT_EQ(failures_, 0);
  std::optional<HttpResponse> ready = Get("/readyz");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 200) << ready->body;
  std::optional<HttpResponse> metrics = Get("/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("vigil_projection_stalled{projection="),
            std::string::npos);
  EXPECT_TRUE(std::regex_search(
      metrics->body,
      std::regex("\nvigil_projection_stalled\\{projection=\"[a-z_]+\"\\} 1\n")))
      << metrics->body;
  EXPECT_TRUE(std::regex_search(
      metrics->body,
      std::regex("\nvigil_projection_lag_events\\{projection=\"[a-z_]+\"\\} "
                 "[1-9][0-9]*\n")));
  const std::string server_log = ServerLog();
  const size_t stalled = server_log.find("stalled at checkpoint");
  ASSERT_NE(stalled, std::string::npos) << server_log;
  const size_t line = server_log.rfind('\n', stalled) + 1;
  std::printf("%s\n", server_log.substr(line, server_log.find('\n', stalled) -
                                                  line).c_str());

  // Space is back: the projections catch up, no restart.
  stop_ = true;
  client_.join();
  mount_->Free();
  ASSERT_TRUE(WaitUntil([&] {
    projected = Projections();
    return projected.count == 3 && projected.min_checkpoint == projected.head &&
           projected.head >= last_ack_;
  })) << projected.body << ServerLog();
  EXPECT_NE(ServerLog().find("resumed at checkpoint"), std::string::npos);
  metrics = Get("/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_FALSE(std::regex_search(
      metrics->body,
      std::regex("\nvigil_projection_stalled\\{projection=\"[a-z_]+\"\\} 1\n")));

  EXPECT_EQ(vigild_->Terminate(), 0) << ServerLog();
  const std::vector<std::string> rows = testing::DumpReadModels(url_);
  EXPECT_GT(rows.size(), 100u);
  {
    pqxx::connection superuser(SuperuserUrl("vigil"));
    pqxx::nontransaction tx(superuser);
    tx.exec("CREATE DATABASE fresh OWNER vigil");
  }
  EXPECT_EQ(rows, testing::FreshRebuild(dir_.Sub("data"),
                                        testing::WithDatabase(url_, "fresh")));
}

}  // namespace
}  // namespace vigil
