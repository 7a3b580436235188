// The read side of the real vigild against a real PostgreSQL: REST reads
// with min_position, /v1/projections, the embedded cluster, and the
// projections' exactly-once guarantees under failure:
//  - kill -9 of vigild while it projects, 10 cycles
//    (VIGIL_PROJECTION_CRASH_CYCLES), after which the read models equal a
//    fresh rebuild row for row;
//  - PostgreSQL stopped with `-m immediate` and restarted while events
//    flow, after which the projections resume and converge.

#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/event_proto.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "projections/embedded_postgres.h"
#include "projections/internal/domain_projections.h"
#include "projections/migrations.h"
#include "projections/projection_runner.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/agent_trace.h"
#include "tests/testing/fresh_rebuild.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/simulated_agents.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "tools/simulator/scenario.h"
#include "tools/torture/fault_disk.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using testing::HttpConnection;
using testing::HttpResponse;
using testing::SimulatedAgents;
using testing::VigildProcess;

class VigildProjectionsTest : public ::testing::Test {
 protected:
  void StartVigild(const std::string& pg_url,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--data-dir", DataDir(), "--grpc-listen",
                                     "127.0.0.1:0", "--http-listen",
                                     "127.0.0.1:0"};
    if (!pg_url.empty()) args.insert(args.end(), {"--pg-url", pg_url});
    args.insert(args.end(), extra.begin(), extra.end());
    vigild_ = std::make_unique<VigildProcess>(VIGILD_BINARY, args, LogPath());
    ASSERT_TRUE(vigild_->started());
    std::tie(grpc_port_, http_port_) = vigild_->WaitForPorts();
    ASSERT_GT(grpc_port_, 0) << "vigild did not start; see " << LogPath();
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      std::optional<HttpResponse> health = Get("/healthz");
      if (health.has_value() && health->status == 200) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "vigild did not come up; see " << LogPath();
  }

  std::optional<HttpResponse> Call(const std::string& method,
                                   const std::string& target,
                                   const std::string& body = "") {
    HttpConnection connection(static_cast<uint16_t>(http_port_));
    if (!connection.connected()) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return connection.Request(method, target, headers, body);
  }
  std::optional<HttpResponse> Get(const std::string& target) {
    return Call("GET", target);
  }

  // Waits until every projection's checkpoint equals the head (and the
  // head is at least `min_head`).
  void WaitUntilCaughtUp(uint64_t min_head, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    while (absl::Now() < deadline) {
      std::optional<HttpResponse> r = Get("/v1/projections");
      if (r.has_value() && r->status == 200) {
        last = r->body;
        simdjson::dom::parser parser;
        simdjson::dom::element doc = parser.parse(r->body);
        bool all = true;
        int count = 0;
        for (simdjson::dom::element p : doc["projections"].get_array()) {
          ++count;
          const uint64_t checkpoint = p["checkpoint"].get_uint64();
          const uint64_t head = p["head"].get_uint64();
          all = all && checkpoint == head && head >= min_head;
        }
        if (all && count == 3) return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "projections did not catch up: " << last;
  }

  // The read models of a fresh rebuild of the whole log into `url`.
  std::vector<std::string> FreshRebuild(const std::string& url) {
    return testing::FreshRebuild(DataDir(), url);
  }

  std::string DataDir() const {
    return data_dir_.empty() ? dir_.Sub("data") : data_dir_;
  }
  std::string LogPath() const { return dir_.Sub("vigild.log"); }

  testing::TempDir dir_;
  std::string data_dir_;  // empty: dir_/data
  std::unique_ptr<VigildProcess> vigild_;
  int grpc_port_ = 0;
  int http_port_ = 0;
};

TEST_F(VigildProjectionsTest, ReadsWaitForMinPositionAndReportProjections) {
  testing::PgDatabase db;
  StartVigild(db.url(), {"--min-position-wait-ms", "500"});
  std::optional<HttpResponse> posted =
      Call("POST", "/v1/streams/agent-a1/events",
           R"({"type":"AgentRegistered","data":{"agent_id":"a1",)"
           R"("role":"worker","name":"Ada"}})");
  ASSERT_TRUE(posted.has_value());
  ASSERT_EQ(posted->status, 201) << posted->body;
  simdjson::dom::parser parser;
  const uint64_t position =
      parser.parse(posted->body)["last_position"].get_uint64();

  // Read-your-writes: the read waits for the projection to get there.
  std::optional<HttpResponse> agent =
      Get(absl::StrCat("/v1/agents/a1?min_position=", position));
  ASSERT_TRUE(agent.has_value());
  EXPECT_EQ(agent->status, 200) << agent->body;
  EXPECT_NE(agent->body.find(R"("name":"Ada")"), std::string::npos)
      << agent->body;

  // A position the log has not reached: 503 after the bounded wait.
  const absl::Time start = absl::Now();
  std::optional<HttpResponse> later =
      Get(absl::StrCat("/v1/agents?min_position=", position + 1000));
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->status, 503) << later->body;
  EXPECT_EQ(later->Header("content-type"), "application/problem+json");
  EXPECT_NE(later->body.find("min_position"), std::string::npos);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(450));

  std::optional<HttpResponse> bad = Get("/v1/tasks?min_position=soon");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, 400) << bad->body;

  std::optional<HttpResponse> projections = Get("/v1/projections");
  ASSERT_TRUE(projections.has_value());
  ASSERT_EQ(projections->status, 200);
  simdjson::dom::element doc = parser.parse(projections->body);
  std::vector<std::string> names;
  for (simdjson::dom::element p : doc["projections"].get_array()) {
    names.emplace_back(std::string_view(p["name"].get_string()));
    EXPECT_EQ(p["checkpoint"].get_uint64().value(), position);
    EXPECT_EQ(p["lag_events"].get_uint64().value(), 0u);
    EXPECT_EQ(std::string_view(p["status"].get_string()), "live");
    EXPECT_EQ(p["parked"].get_uint64().value(), 0u);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"agents", "tasks", "metrics"}));

  std::optional<HttpResponse> metrics = Get("/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find(
                R"(vigil_projection_checkpoint{projection="agents"})"),
            std::string::npos);

  // Every vigil_* series the shipped alerting rules use exists.
  std::ifstream rules_file(std::string(VIGIL_SOURCE_DIR) +
                           "/tools/prometheus/vigil-alerts.yml");
  const std::string rules((std::istreambuf_iterator<char>(rules_file)),
                          std::istreambuf_iterator<char>());
  ASSERT_FALSE(rules.empty());
  const std::regex series("vigil_[a-z_]+");
  int checked = 0;
  for (auto it = std::sregex_iterator(rules.begin(), rules.end(), series);
       it != std::sregex_iterator(); ++it) {
    EXPECT_NE(metrics->body.find("# TYPE " + it->str() + " "),
              std::string::npos)
        << it->str() << " is in the alerting rules but not in /metrics";
    ++checked;
  }
  EXPECT_GE(checked, 6);
  EXPECT_EQ(vigild_->Terminate(), 0);
}

// `vigil projections rebuild` against the data directory of a running
// vigild: it swaps in rebuilt tables while vigild keeps serving them.
// Spans appended children first over HTTP: the trace and a run's spans
// over REST once the projections reach them, and the trace in the past
// through time travel (docs/otlp.md "Reads").
TEST_F(VigildProjectionsTest, TracesOverRestAndInThePast) {
  testing::PgDatabase db;
  StartVigild(db.url());
  std::vector<testing::TraceSpan> spans = testing::AgentTraceSpans();
  std::reverse(spans.begin(), spans.end());
  uint64_t position = 0;
  uint64_t two_spans = 0;
  for (const testing::TraceSpan& span : spans) {
    std::optional<HttpResponse> posted =
        Call("POST", absl::StrCat("/v1/streams/trace-", testing::kTraceId,
                                  "/events"),
             absl::StrCat(R"({"type":"SpanRecorded","data":)",
                          testing::SpanRecordedJson(span), "}"));
    ASSERT_TRUE(posted.has_value());
    ASSERT_EQ(posted->status, 201) << posted->body;
    simdjson::dom::parser parser;
    position = parser.parse(posted->body)["last_position"].get_uint64();
    if (two_spans == 0 && span.span_id == "a00000000000000b") {
      two_spans = position;  // the workflow's chat and tool call
    }
  }
  ASSERT_GT(two_spans, 0u);

  std::optional<HttpResponse> trace = Get(absl::StrCat(
      "/v1/traces/", testing::kTraceId, "?min_position=", position));
  ASSERT_TRUE(trace.has_value());
  ASSERT_EQ(trace->status, 200) << trace->body;
  simdjson::dom::parser parser;
  simdjson::dom::element body = parser.parse(trace->body);
  EXPECT_EQ(body["spans"].get_array().size(), spans.size());

  std::optional<HttpResponse> run = Get(absl::StrCat(
      "/v1/tasks/run-a000000000000005/spans?min_position=", position));
  ASSERT_TRUE(run.has_value());
  ASSERT_EQ(run->status, 200) << run->body;
  simdjson::dom::parser run_parser;
  EXPECT_EQ(run_parser.parse(run->body)["spans"].get_array().size(), 6u);
  std::optional<HttpResponse> task =
      Get("/v1/tasks/run-a000000000000005?min_position=1");
  ASSERT_TRUE(task.has_value());
  EXPECT_NE(task->body.find("\"manager_id\":\"planner\""), std::string::npos)
      << task->body;
  EXPECT_NE(task->body.find("\"status\":\"completed\""), std::string::npos);
  EXPECT_EQ(Get("/v1/traces/00000000000000000000000000000000")->status, 404);
  EXPECT_EQ(Get("/v1/tasks/nope/spans")->status, 404);
  EXPECT_EQ(Get("/v1/traces/x?since=1")->status, 400);

  // Time travel: after the first two spans, the workflow they are in is
  // running and the trace has two spans.
  std::optional<HttpResponse> past = Get(absl::StrCat(
      "/v1/state?at=", two_spans, "&trace=", testing::kTraceId));
  ASSERT_TRUE(past.has_value());
  ASSERT_EQ(past->status, 200) << past->body;
  simdjson::dom::parser past_parser;
  simdjson::dom::element state = past_parser.parse(past->body);
  EXPECT_EQ(state["span_count"].get_uint64().value(), 2u);
  bool running = false;
  for (simdjson::dom::element t : state["tasks"].get_array()) {
    running = running ||
              (std::string_view(t["task_id"]) == "run-a00000000000000a" &&
               std::string_view(t["status"]) == "running");
  }
  EXPECT_TRUE(running) << past->body;

  // gRPC StateAt answers the same body for the same question.
  auto stub = v1::EventStore::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", grpc_port_),
      grpc::InsecureChannelCredentials()));
  v1::StateAtRequest request;
  request.mutable_at()->set_position(two_spans);
  request.set_trace_id(testing::kTraceId);
  grpc::ClientContext context;
  v1::StateAtResponse response;
  const grpc::Status status = stub->StateAt(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.json(), past->body);
}

TEST_F(VigildProjectionsTest, RebuildCommandSwapsWhileVigildServes) {
  testing::PgDatabase db;
  StartVigild(db.url());
  SimulatedAgents agents(2);
  std::atomic<bool> stop{false};
  std::thread load([&] { agents.Run(grpc_port_, stop); });
  absl::SleepFor(absl::Milliseconds(800));
  const std::string command =
      absl::StrCat(VIGIL_BINARY, " projections rebuild tasks --data-dir ",
                   DataDir(), " --pg-url '", db.url(), "' --batch 300 2>",
                   dir_.Sub("rebuild.err"));
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  stop = true;
  load.join();
  std::ifstream err_file(dir_.Sub("rebuild.err"));
  const std::string err((std::istreambuf_iterator<char>(err_file)),
                        std::istreambuf_iterator<char>());
  ASSERT_EQ(WEXITSTATUS(status), 0) << out << err;
  EXPECT_NE(out.find(R"("projection":"tasks","swapped":true)"),
            std::string::npos)
      << out;
  WaitUntilCaughtUp(agents.last_position(), absl::Seconds(60));
  std::optional<HttpResponse> tasks = Get("/v1/tasks?limit=5");
  ASSERT_TRUE(tasks.has_value());
  EXPECT_EQ(tasks->status, 200) << tasks->body;
  ASSERT_EQ(vigild_->Terminate(), 0);
  testing::PgDatabase fresh;
  EXPECT_EQ(testing::DumpReadModels(db.url()), FreshRebuild(fresh.url()));

  // An unknown projection is a usage error (64).
  const int unknown = std::system(
      absl::StrCat(VIGIL_BINARY, " projections rebuild nope --data-dir ",
                   DataDir(), " --pg-url '", db.url(), "' 2>/dev/null")
          .c_str());
  EXPECT_EQ(WEXITSTATUS(unknown), 64);
}

TEST_F(VigildProjectionsTest, EmbeddedClusterStartsAndStopsWithVigild) {
  StartVigild("");
  std::optional<HttpResponse> posted =
      Call("POST", "/v1/streams/task-t1/events",
           R"({"type":"TaskCreated","data":{"task_id":"t1",)"
           R"("manager_id":"m","title":"Embedded"}})");
  ASSERT_TRUE(posted.has_value());
  ASSERT_EQ(posted->status, 201) << posted->body;
  std::optional<HttpResponse> task = Get("/v1/tasks/t1?min_position=1");
  ASSERT_TRUE(task.has_value());
  EXPECT_EQ(task->status, 200) << task->body;
  EXPECT_EQ(vigild_->Terminate(), 0);
  // Stopped with vigild: no server left behind.
  EXPECT_FALSE(std::filesystem::exists(DataDir() + "/postgres/data/postmaster.pid"));
}

TEST_F(VigildProjectionsTest, Kill9WhileProjectingThenEqualsAFreshRebuild) {
  const char* env = std::getenv("VIGIL_PROJECTION_CRASH_CYCLES");
  const int cycles = env != nullptr ? std::atoi(env) : 10;
  testing::PgDatabase live;
  SimulatedAgents agents(4);
  std::mt19937 random(std::random_device{}());
  for (int cycle = 0; cycle < cycles; ++cycle) {
    StartVigild(live.url());
    std::atomic<bool> stop{false};
    std::thread load([&] { agents.Run(grpc_port_, stop); });
    std::uniform_int_distribution<int> run_ms(300, 900);
    absl::SleepFor(absl::Milliseconds(run_ms(random)));
    vigild_->Kill();
    stop = true;
    load.join();
  }
  ASSERT_GT(agents.appended(), 100u);
  StartVigild(live.url());
  WaitUntilCaughtUp(agents.last_position(), absl::Seconds(120));
  ASSERT_EQ(vigild_->Terminate(), 0);

  testing::PgDatabase fresh;
  const std::vector<std::string> rebuilt = FreshRebuild(fresh.url());
  const std::vector<std::string> projected = testing::DumpReadModels(live.url());
  ASSERT_GT(projected.size(), 20u);
  EXPECT_EQ(projected, rebuilt);
  EXPECT_EQ(live.Rows("SELECT count(*) FROM vigil.parked_events")[0], "0");
}

// The same with the log on a lazyfs mount (tools/lazyfs), cut after each
// kill: whatever was not fsynced is gone, yet the read models, projected
// from what the log had acknowledged, equal a fresh rebuild of what
// survived. PostgreSQL itself is not cut (its durability is its own).
TEST_F(VigildProjectionsTest, PowerCutsWhileProjectingThenEqualsAFreshRebuild) {
  absl::StatusOr<std::unique_ptr<torture::FaultDisk>> disk =
      torture::MakeFaultDisk("power", dir_.Sub("power"), VIGIL_LAZYFS_BINARY);
  if (!disk.ok()) GTEST_SKIP() << disk.status().message();
  testing::PgDatabase live;
  SimulatedAgents agents(4);
  std::mt19937 random(std::random_device{}());
  for (int cycle = 0; cycle < 6; ++cycle) {
    ASSERT_TRUE((*disk)->Attach().ok());
    data_dir_ = (*disk)->data_dir();
    StartVigild(live.url());
    std::atomic<bool> stop{false};
    std::thread load([&] { agents.Run(grpc_port_, stop); });
    std::uniform_int_distribution<int> run_ms(300, 900);
    absl::SleepFor(absl::Milliseconds(run_ms(random)));
    vigild_->Kill();
    stop = true;
    load.join();
    ASSERT_TRUE((*disk)->Detach().ok());
  }
  ASSERT_GT(agents.appended(), 100u);
  ASSERT_TRUE((*disk)->Attach().ok());
  StartVigild(live.url());
  WaitUntilCaughtUp(agents.last_position(), absl::Seconds(120));
  ASSERT_EQ(vigild_->Terminate(), 0);
  ASSERT_TRUE((*disk)->Detach().ok());

  data_dir_ = (*disk)->detached_data_dir();
  testing::PgDatabase fresh;
  const std::vector<std::string> rebuilt = FreshRebuild(fresh.url());
  const std::vector<std::string> projected = testing::DumpReadModels(live.url());
  ASSERT_GT(projected.size(), 20u);
  EXPECT_EQ(projected, rebuilt);
  (*disk)->Cleanup();
}

TEST_F(VigildProjectionsTest, PostgresImmediateStopAndRestartConverges) {
  // A server of our own, since this test stops it.
  testing::TempDir pg_dir;
  const projections::EmbeddedPostgresOptions pg_options{
      .cluster_dir = pg_dir.Sub("pg")};
  auto postgres = projections::EmbeddedPostgres::Start(pg_options);
  ASSERT_TRUE(postgres.ok()) << postgres.status();
  const std::string url = (*postgres)->url();
  StartVigild(url);

  SimulatedAgents agents(2);
  std::atomic<bool> stop{false};
  std::thread load([&] { agents.Run(grpc_port_, stop); });
  absl::SleepFor(absl::Seconds(1));
  // pg_ctl refuses root; the embedded cluster belongs to postgres then.
  const std::string pg_ctl = absl::StrCat(
      geteuid() == 0 ? "runuser -u postgres -- " : "",
      "/usr/lib/postgresql/15/bin/pg_ctl -D ", pg_dir.Sub("pg"),
      "/data -m immediate -w stop >/dev/null");
  ASSERT_EQ(std::system(pg_ctl.c_str()), 0);
  (*postgres)->Detach();
  const uint64_t appended_before = agents.appended();
  absl::SleepFor(absl::Seconds(2));
  // Appends never depend on PostgreSQL.
  EXPECT_GT(agents.appended(), appended_before);
  std::optional<HttpResponse> during = Get("/v1/projections");
  ASSERT_TRUE(during.has_value());
  EXPECT_NE(during->body.find("\"retrying\""), std::string::npos)
      << during->body;

  auto restarted = projections::EmbeddedPostgres::Start(pg_options);
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  absl::SleepFor(absl::Seconds(1));
  stop = true;
  load.join();
  WaitUntilCaughtUp(agents.last_position(), absl::Seconds(120));
  ASSERT_EQ(vigild_->Terminate(), 0);

  // A fresh rebuild in a second database of the same server.
  {
    pqxx::connection admin(url);
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE fresh");
  }
  const std::vector<std::string> rebuilt =
      FreshRebuild(testing::WithDatabase(url, "fresh"));
  EXPECT_EQ(testing::DumpReadModels(url), rebuilt);
}


// A Patroni cluster of two PostgreSQL nodes (tools/patroni: one etcd, a
// primary and a streaming replica): vigild projects into whichever node
// leads (--pg-url with target_session_attrs=read-write) and reads from the
// replica (--pg-read-url, prefer-standby).
class PatroniCluster {
 public:
  explicit PatroniCluster(std::string dir) : dir_(std::move(dir)) {
    FILE* out = popen(absl::StrCat(kScript, " up ", dir_, " 2>&1").c_str(), "r");
    if (out == nullptr) return;
    char line[4096];
    while (fgets(line, sizeof(line), out) != nullptr) {
      std::string text(line);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      output_ += text + "\n";
      // NAME='url', quoted for the shell.
      const auto value = [&](size_t name) {
        return text.substr(name + 1, text.size() - name - 2);
      };
      if (text.starts_with("VIGIL_PG_URL='")) write_url_ = value(13);
      if (text.starts_with("VIGIL_PG_READ_URL='")) read_url_ = value(18);
    }
    up_ = pclose(out) == 0;
  }
  ~PatroniCluster() {
    if (::testing::Test::HasFailure()) {  // what the nodes said, for the log
      std::system(absl::StrCat("tail -n 40 ", dir_, "/etcd.log ", dir_,
                               "/pg1.log ", dir_, "/pg2.log ", dir_,
                               "/switchover.log >&2")
                      .c_str());
    }
    std::system(absl::StrCat(kScript, " down ", dir_).c_str());
  }

  bool up() const { return up_ && !write_url_.empty() && !read_url_.empty(); }
  const std::string& output() const { return output_; }
  const std::string& write_url() const { return write_url_; }
  const std::string& read_url() const { return read_url_; }

  // The node that is not the leader ("pg1" or "pg2").
  std::string Replica() const {
    return Run("leader") == "pg1" ? "pg2" : "pg1";
  }
  // The superuser's URL of `node`, straight to that server.
  std::string NodeUrl(const std::string& node) const {
    std::ifstream in(absl::StrCat(dir_, "/", node, ".port"));
    std::string port;
    in >> port;
    return absl::StrCat("postgresql://postgres@127.0.0.1:", port, "/vigil");
  }
  // `tools/patroni COMMAND DIR`'s last line of output; empty on failure.
  std::string Run(const std::string& command) const {
    FILE* out = popen(
        absl::StrCat(kScript, " ", command, " ", dir_, " 2>/dev/null").c_str(),
        "r");
    if (out == nullptr) return "";
    std::string last;
    char line[4096];
    while (fgets(line, sizeof(line), out) != nullptr) last = line;
    if (pclose(out) != 0) return "";
    while (!last.empty() && last.back() == '\n') last.pop_back();
    return last;
  }

 private:
  static constexpr char kScript[] = VIGIL_SOURCE_DIR "/tools/patroni";
  std::string dir_;
  std::string output_;
  std::string write_url_;
  std::string read_url_;
  bool up_ = false;
};

TEST_F(VigildProjectionsTest, PatroniReplicaReadsAndSwitchoverUnderLoad) {
  if (std::system("command -v patroni >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "Debian's patroni is not installed (tools/install-deps)";
  }
  // A second try when the first cannot start (a node's port taken by
  // another test between the pick and the bind, say), with what it said.
  std::unique_ptr<PatroniCluster> started;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    started.reset();
    started = std::make_unique<PatroniCluster>(
        dir_.Sub(absl::StrCat("patroni-", attempt)));
    if (started->up()) break;
    std::fprintf(stderr, "tools/patroni up, attempt %d, failed:\n%s",
                 attempt, started->output().c_str());
  }
  PatroniCluster& cluster = *started;
  ASSERT_TRUE(cluster.up()) << cluster.output();
  StartVigild(cluster.write_url(), {"--pg-read-url", cluster.read_url(),
                                    "--min-position-wait-ms", "3000"});

  // Reads go to the replica and still see what min_position names.
  const auto register_agent = [&](const std::string& id) -> uint64_t {
    std::optional<HttpResponse> posted = Call(
        "POST", absl::StrCat("/v1/streams/agent-", id, "/events"),
        absl::StrCat(R"({"type":"AgentRegistered","data":{"agent_id":")", id,
                     R"(","role":"worker","name":"W"}})"));
    if (!posted.has_value() || posted->status != 201) {
      ADD_FAILURE() << (posted.has_value() ? posted->body : "no answer");
      return 0;
    }
    std::smatch match;
    static const std::regex kLast("\"last_position\":([0-9]+)");
    if (!std::regex_search(posted->body, match, kLast)) return 0;
    return std::stoull(match[1]);
  };
  for (int i = 0; i < 20; ++i) {
    const std::string id = absl::StrCat("r", i);
    const uint64_t position = register_agent(id);
    ASSERT_GT(position, 0u);
    std::optional<HttpResponse> read = Get(absl::StrCat(
        "/v1/agents/", id, "?min_position=", position));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->status, 200) << "read-your-write " << i << ": "
                                 << read->body;
  }

  // The replica stops replaying (its startup process, which applies the
  // WAL, is stopped with SIGSTOP; Patroni would resume a replay paused
  // with pg_wal_replay_pause()): it is now behind, as the control shows by
  // reading it directly. A read with min_position waits for it rather than
  // answer from it, and answers once it replays again.
  const std::string replica = cluster.NodeUrl(cluster.Replica());
  const std::vector<std::string> startup = testing::QueryRows(
      replica, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'startup'");
  ASSERT_EQ(startup.size(), 1u);
  const pid_t replay = static_cast<pid_t>(std::stol(startup[0]));
  ASSERT_EQ(kill(replay, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { kill(pid, SIGCONT); }
  } resume_at_exit{replay};
  const uint64_t paused_at = register_agent("late");
  ASSERT_GT(paused_at, 0u);
  absl::SleepFor(absl::Milliseconds(500));  // the primary has it by now
  EXPECT_EQ(testing::QueryRows(cluster.write_url(),
                               "SELECT 1 FROM vigil.agents WHERE agent_id = 'late'")
                .size(),
            1u);
  EXPECT_TRUE(testing::QueryRows(
                  replica, "SELECT 1 FROM vigil.agents WHERE agent_id = 'late'")
                  .empty())
      << "control: the stopped replica already holds the agent, so this "
         "test cannot tell a fenced read from a stale one";
  std::optional<HttpResponse> timed_out =
      Get(absl::StrCat("/v1/agents/late?min_position=", paused_at));
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(timed_out->status, 503) << timed_out->body;
  std::thread resume([&] {
    absl::SleepFor(absl::Milliseconds(700));
    kill(replay, SIGCONT);
  });
  const absl::Time asked = absl::Now();
  std::optional<HttpResponse> waited =
      Get(absl::StrCat("/v1/agents/late?min_position=", paused_at));
  resume.join();
  ASSERT_TRUE(waited.has_value());
  EXPECT_EQ(waited->status, 200) << waited->body;
  EXPECT_GE(absl::Now() - asked, absl::Milliseconds(600))
      << "answered before the replica replayed";

  // A switchover while simulated agents append: the projections follow
  // the new primary and lose or repeat nothing.
  SimulatedAgents agents(2);
  std::atomic<bool> stop{false};
  std::thread load([&] { agents.Run(grpc_port_, stop); });
  absl::SleepFor(absl::Seconds(2));
  const std::string before = cluster.Replica() == "pg1" ? "pg2" : "pg1";
  const std::string after = cluster.Run("switchover");
  EXPECT_NE(after, "") << "switchover failed";
  EXPECT_NE(after, before);
  absl::SleepFor(absl::Seconds(2));
  stop = true;
  load.join();
  EXPECT_GT(agents.appended(), 0u);
  WaitUntilCaughtUp(agents.last_position(), absl::Seconds(120));
  const uint64_t last = register_agent("after-switchover");
  std::optional<HttpResponse> read = Get(
      absl::StrCat("/v1/agents/after-switchover?min_position=", last));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, 200) << read->body;
  WaitUntilCaughtUp(last, absl::Seconds(60));
  ASSERT_EQ(vigild_->Terminate(), 0);

  const std::vector<std::string> projected =
      testing::DumpReadModels(cluster.write_url());
  {
    pqxx::connection admin(cluster.write_url());
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE fresh");
  }
  const std::vector<std::string> rebuilt =
      FreshRebuild(testing::WithDatabase(cluster.write_url(), "fresh"));
  EXPECT_EQ(projected, rebuilt);
  EXPECT_GT(projected.size(), 50u);
}

}  // namespace
}  // namespace vigil
