// Gateway replicas (vigild --gateway-only, gateway/upstream_log.h), over
// real loopback sockets: a replica's live feed is the primary's, event for
// event and byte for byte (history older than its window, filters,
// from_time); it follows the primary across a restart of its gRPC server;
// it refuses appends and is not ready without a primary. The last test runs
// the real binaries behind Debian's nginx with tools/nginx/vigil-replicas.conf:
// clients spread over both replicas, one replica is killed, and its clients
// resume through nginx on the other with the exact suffix of the log.
//
// Labelled e2e: it spawns vigild and nginx processes (the first tests are
// in-process: a real log, gRPC server and HTTP servers).
//
// One component under test, UpstreamLog behind the gateway; its size is the
// scenarios, which share the fixture that starts a primary and replicas.

#include "tests/gateway/live_client.h"  // first: Beast before the rest

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/event_store_service.h"
#include "api/subscription.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gateway/upstream_log.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"

namespace vigil::gateway {
namespace {

using ::testing::HasSubstr;
using vigil::testing::Client;
using vigil::testing::ReadEventsThrough;
using vigil::testing::Texts;
using vigil::testing::FormatRequest;
using vigil::testing::Frame;
using vigil::testing::FreePort;
using vigil::testing::HttpConnection;
using vigil::testing::HttpResponse;
using vigil::testing::TempDir;
using vigil::testing::VigildProcess;

HttpResponse Request(uint16_t port, std::string_view method,
                     const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers =
                         {},
                     std::string_view body = {}) {
  HttpConnection connection(port);
  connection.Send(FormatRequest(method, target, headers, body));
  return connection.Read().value_or(HttpResponse{});
}

// The answer to a WebSocket upgrade of `target`, with `headers` added.
HttpResponse Upgrade(uint16_t port, const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers =
                         {}) {
  headers.insert(headers.begin(),
                 {{"Upgrade", "websocket"},
                  {"Connection", "Upgrade"},
                  {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                  {"Sec-WebSocket-Version", "13"}});
  return Request(port, "GET", target, std::move(headers));
}

// Polls GET /readyz until `want` (200 or 503) or 20 s pass.
bool AwaitReady(uint16_t port, int want = 200) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    if (Request(port, "GET", "/readyz").status == want) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

int64_t RecordedTime(const Frame& frame) {
  simdjson::dom::parser parser;
  int64_t time = 0;
  if (parser.parse(frame.text)["recorded_time_us"].get(time) !=
      simdjson::SUCCESS) {
    ADD_FAILURE() << "no recorded_time_us in " << frame.text;
  }
  return time;
}

// The primary, in process: a real log, the gRPC service on a fixed
// loopback port (so that it can come back on it), and its HTTP server.
class Primary {
 public:
  explicit Primary(const std::string& dir) : grpc_port_(FreePort()) {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir);
    EXPECT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    StartGrpc();
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    auto http = HttpServer::Start(options, log_.get(), &metrics_);
    EXPECT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }
  ~Primary() {
    StopGrpc();
    http_->Stop();
  }

  void StartGrpc() {
    hub_ = std::make_unique<api::SubscriptionHub>(
        log_.get(), api::SubscriptionOptions{}, &metrics_);
    service_ = std::make_unique<api::EventStoreService>(
        log_.get(), hub_.get(), api::ServiceOptions{});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", grpc_port_),
                             grpc::InsecureServerCredentials(), &port);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_EQ(port, grpc_port_);
  }
  void StopGrpc() {
    if (server_ == nullptr) return;
    hub_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
    server_.reset();
    service_.reset();
    hub_.reset();
  }

  // Appends `count` events, alternating two streams and two types, one
  // append each; the last position.
  uint64_t Append(int count) {
    uint64_t last = 0;
    for (int i = 0; i < count; ++i) {
      eventlog::AppendRequest request;
      request.stream = (i % 2 == 0) ? "agent-1" : "task-7";
      eventlog::EventData& event = request.events.emplace_back();
      event.type = (i % 3 == 0) ? "TaskCreated" : "AgentHeartbeat";
      event.data = absl::StrCat(R"({"i":)", appended_++, "}");
      auto result = log_->Append(request);
      EXPECT_TRUE(result.ok()) << result.status();
      if (result.ok()) last = result->last_position;
    }
    return last;
  }

  std::string target() const { return absl::StrCat("127.0.0.1:", grpc_port_); }
  uint16_t http_port() const { return http_->port(); }
  eventlog::EventLog* log() { return log_.get(); }

 private:
  const int grpc_port_;
  int appended_ = 0;
  std::unique_ptr<eventlog::EventLog> log_;
  base::Metrics metrics_;
  std::unique_ptr<api::SubscriptionHub> hub_;
  std::unique_ptr<api::EventStoreService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<HttpServer> http_;
};

// A replica, in process: an UpstreamLog and its HTTP server.
class Replica {
 public:
  Replica(const std::string& target, size_t window_events) {
    auto log = UpstreamLog::Start({.target = target,
                                   .window_events = window_events,
                                   .min_backoff = absl::Milliseconds(20),
                                   .max_backoff = absl::Milliseconds(200),
                                   .metrics = &metrics_});
    EXPECT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    UpstreamLog* upstream = log_.get();
    options.readiness = [upstream] { return upstream->Health(); };
    auto http = HttpServer::Start(options, log_.get(), &metrics_);
    EXPECT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }
  ~Replica() {
    http_->Stop();
    http_.reset();
    log_.reset();
  }
  uint16_t port() const { return http_->port(); }
  std::string Metrics() const { return metrics_.Render(); }

 private:
  base::Metrics metrics_;
  std::unique_ptr<UpstreamLog> log_;
  std::unique_ptr<HttpServer> http_;
};

Client Open(uint16_t port, const std::string& query) {
  return Client(port, {.target = "/v1/live?" + query});
}

TEST(ReplicaTest, DeliversTheSameSequenceAsThePrimary) {
  TempDir dir;
  Primary primary(dir.path());
  // History from before the replica started, longer than its window.
  primary.Append(300);
  Replica replica(primary.target(), /*window_events=*/64);
  ASSERT_TRUE(AwaitReady(replica.port()));

  struct Pair {
    std::string query;
    Client on_primary;
    Client on_replica;
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  for (std::string query :
       {"from=0", "from=150", "from=290",
        "from=0&streams=agent-&types=TaskCreated"}) {
    // (Client is neither copied nor moved: built in place.)
    pairs.push_back(std::unique_ptr<Pair>(new Pair{
        query, Open(primary.http_port(), query), Open(replica.port(), query)}));
    ASSERT_TRUE(pairs.back()->on_primary.ok()) << query;
    ASSERT_TRUE(pairs.back()->on_replica.ok()) << query;
  }
  // Live events while the clients read, in small appends.
  std::thread writer([&primary] {
    for (int i = 0; i < 70; ++i) {
      primary.Append(10);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  writer.join();
  const uint64_t last = primary.log()->HeadPosition();
  ASSERT_EQ(last, 1000u);
  // The last event the filter takes: agent-1 (even i) and TaskCreated
  // (i % 3 == 0) within each call of Append(10).
  uint64_t last_filtered = 0;
  for (uint64_t p = 1; p <= last; ++p) {
    const int i = static_cast<int>((p - 1 - 300) % 10);
    if (p > 300 && i % 2 == 0 && i % 3 == 0) last_filtered = p;
  }
  for (auto& pair : pairs) {
    const uint64_t through =
        absl::StrContains(pair->query, "streams") ? last_filtered : last;
    std::vector<Frame> expected = ReadEventsThrough(pair->on_primary, through);
    std::vector<Frame> got = ReadEventsThrough(pair->on_replica, through);
    ASSERT_FALSE(expected.empty()) << pair->query;
    EXPECT_EQ(Texts(got), Texts(expected)) << pair->query;
    if (pair->query == "from=150") {
      EXPECT_EQ(got.front().position, 151u);
      EXPECT_EQ(got.size(), 850u);
    }
  }
  EXPECT_THAT(replica.Metrics(), HasSubstr("vigil_upstream_connected 1"));
}

TEST(ReplicaTest, RestReadsAndFromTimeMatchThePrimary) {
  TempDir dir;
  Primary primary(dir.path());
  primary.Append(200);
  Replica replica(primary.target(), /*window_events=*/32);
  ASSERT_TRUE(AwaitReady(replica.port()));
  primary.Append(100);
  // The replica has seen the last events once its head is there.
  Client all = Open(replica.port(), "from=0");
  std::vector<Frame> events = ReadEventsThrough(all, 300);
  ASSERT_EQ(events.size(), 300u);

  for (std::string target :
       {"/v1/all?from=1&limit=1000", "/v1/all?from=250&limit=20",
        "/v1/streams/agent-1?limit=1000", "/v1/streams/nope"}) {
    HttpResponse expected = Request(primary.http_port(), "GET", target);
    HttpResponse got = Request(replica.port(), "GET", target);
    EXPECT_EQ(got.status, expected.status) << target;
    EXPECT_EQ(got.body, expected.body) << target;
  }
  // from_time in the old history (found by the replica asking the primary)
  // and in its window.
  for (size_t index : {57u, 290u}) {
    const std::string at = absl::FormatTime(
        "%Y-%m-%d%ET%H:%M:%E6SZ",
        absl::FromUnixMicros(RecordedTime(events[index])), absl::UTCTimeZone());
    Client on_primary = Open(primary.http_port(), "from_time=" + at);
    Client on_replica = Open(replica.port(), "from_time=" + at);
    std::vector<Frame> expected = ReadEventsThrough(on_primary, 300);
    std::vector<Frame> got = ReadEventsThrough(on_replica, 300);
    ASSERT_FALSE(got.empty());
    EXPECT_LE(got.front().position, events[index].position);
    EXPECT_EQ(Texts(got), Texts(expected)) << at;
  }
}

TEST(ReplicaTest, FollowsThePrimaryAcrossARestart) {
  TempDir dir;
  Primary primary(dir.path());
  Replica replica(primary.target(), /*window_events=*/1024);
  ASSERT_TRUE(AwaitReady(replica.port()));
  Client client = Open(replica.port(), "from=0");
  ASSERT_TRUE(client.ok());
  primary.Append(100);
  std::vector<Frame> events = ReadEventsThrough(client, 100);

  primary.StopGrpc();
  ASSERT_TRUE(AwaitReady(replica.port(), 503));
  HttpResponse not_ready = Request(replica.port(), "GET", "/readyz");
  EXPECT_THAT(not_ready.body, HasSubstr("not subscribed to the primary"));
  primary.Append(100);  // while the replica cannot see them
  // A new client is sent elsewhere meanwhile; the one connected waits.
  EXPECT_EQ(Upgrade(replica.port(), "/v1/live?from=0").status, 503);
  primary.StartGrpc();
  ASSERT_TRUE(AwaitReady(replica.port()));
  primary.Append(100);

  std::vector<Frame> more = ReadEventsThrough(client, 300);
  events.insert(events.end(), more.begin(), more.end());
  ASSERT_EQ(events.size(), 300u);
  for (size_t i = 0; i < events.size(); ++i) {
    ASSERT_EQ(events[i].position, i + 1);
  }
  EXPECT_THAT(replica.Metrics(),
              ::testing::ContainsRegex("vigil_upstream_reconnects_total [1-9]"));
}

TEST(ReplicaTest, RefusesAppendsAndIsNotReadyWithoutAPrimary) {
  Replica replica(absl::StrCat("127.0.0.1:", FreePort()), 1024);
  ASSERT_TRUE(AwaitReady(replica.port(), 503));
  HttpResponse append = Request(
      replica.port(), "POST", "/v1/streams/agent-1/events",
      {{"Content-Type", "application/json"}}, R"({"type":"T","data":{}})");
  EXPECT_EQ(append.status, 501);
  EXPECT_THAT(append.body, HasSubstr("gateway replica"));
  EXPECT_EQ(Request(replica.port(), "GET", "/v1/agents").status, 404);
  // No live feed before it has subscribed: 503, and the load balancer or
  // the client tries again.
  HttpResponse live = Upgrade(replica.port(), "/v1/live?from=0");
  EXPECT_EQ(live.status, 503);
  EXPECT_EQ(live.Header("retry-after"), "1");
  EXPECT_THAT(live.body, HasSubstr("not subscribed to the primary"));
  EXPECT_EQ(Request(replica.port(), "GET", "/v1/live/sse").status, 503);
}

// ---- The real binaries behind nginx --------------------------------------

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

double MetricValue(uint16_t port, std::string_view name) {
  const std::string page = Request(port, "GET", "/metrics").body;
  const size_t at = page.find("\n" + std::string(name) + " ");
  return at == std::string::npos ? -1 : std::stod(page.substr(at + name.size() + 2));
}

TEST(ReplicaNginxTest, TwoReplicasBehindNginxWithoutStickySessions) {
  const char* nginx = "/usr/sbin/nginx";
  if (access(nginx, X_OK) != 0) {
    GTEST_SKIP() << "no " << nginx << " (tools/install-deps installs it)";
  }
  TempDir dir;
  const int grpc = FreePort(), http = FreePort(), front = FreePort();
  const int replica_ports[2] = {FreePort(), FreePort()};
  const std::string origin = absl::StrCat("http://127.0.0.1:", front);
  // A dashboard for the replicas to serve.
  mkdir((dir.path() + "/dashboard").c_str(), 0755);
  std::ofstream(dir.path() + "/dashboard/index.html")
      << "<!doctype html><title>Vigil</title>";

  VigildProcess primary(
      VIGILD_BINARY,
      {"--data-dir", dir.path() + "/data", "--projections", "off",
       "--webhooks", "off", "--grpc-listen", absl::StrCat("127.0.0.1:", grpc),
       "--http-listen", absl::StrCat("127.0.0.1:", http)},
      dir.path() + "/primary.log");
  ASSERT_TRUE(primary.started());
  std::vector<std::unique_ptr<VigildProcess>> replicas;
  for (int i = 0; i < 2; ++i) {
    replicas.push_back(std::make_unique<VigildProcess>(
        VIGILD_BINARY,
        std::vector<std::string>{
            "--gateway-only", "--upstream", absl::StrCat("127.0.0.1:", grpc),
            "--http-listen", absl::StrCat("127.0.0.1:", replica_ports[i]),
            "--allowed-origins", origin, "--dashboard-dir",
            dir.path() + "/dashboard"},
        absl::StrCat(dir.path(), "/replica", i, ".log")));
  }

  // The shipped configuration, with this test's ports.
  const std::string conf = absl::StrReplaceAll(
      ReadFile(VIGIL_SOURCE_DIR "/tools/nginx/vigil-replicas.conf"),
      {{"127.0.0.1:7601", absl::StrCat("127.0.0.1:", http)},
       {"127.0.0.1:7611", absl::StrCat("127.0.0.1:", replica_ports[0])},
       {"127.0.0.1:7621", absl::StrCat("127.0.0.1:", replica_ports[1])},
       {"127.0.0.1:8080", absl::StrCat("127.0.0.1:", front)}});
  ASSERT_NE(conf.find(absl::StrCat("127.0.0.1:", replica_ports[1])),
            std::string::npos);
  const std::string prefix = dir.path() + "/nginx";
  mkdir(prefix.c_str(), 0755);
  mkdir((prefix + "/logs").c_str(), 0755);
  std::ofstream(prefix + "/nginx.conf") << conf;
  VigildProcess proxy(nginx,
                      {"-p", prefix, "-e", "stderr", "-c",
                       prefix + "/nginx.conf", "-g",
                       "daemon off; pid " + prefix + "/nginx.pid;"},
                      dir.path() + "/nginx.log");
  ASSERT_TRUE(proxy.started());

  ASSERT_TRUE(AwaitReady(http)) << ReadFile(dir.path() + "/primary.log");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(AwaitReady(replica_ports[i]))
        << ReadFile(absl::StrCat(dir.path(), "/replica", i, ".log"));
  }
  ASSERT_TRUE(AwaitReady(front)) << ReadFile(dir.path() + "/nginx.log");

  // Appends through nginx go to the primary.
  int appended = 0;
  auto append = [&](int count) {
    for (int i = 0; i < count; ++i, ++appended) {
      HttpResponse response = Request(
          front, "POST", absl::StrCat("/v1/streams/agent-", appended % 3,
                                      "/events"),
          {{"Content-Type", "application/json"}},
          absl::StrCat(R"({"type":"Noted","data":{"n":)", appended,
                       "}}"));
      ASSERT_EQ(response.status, 201) << response.body;
    }
  };
  // The dashboard through nginx, from a replica.
  HttpResponse page = Request(front, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_THAT(page.body, HasSubstr("<title>Vigil</title>"));

  // Six live clients through nginx: round robin spreads them.
  constexpr int kClients = 6;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(
        front, Client::Options{.target = "/v1/live?from=0", .origin = origin},
        absl::StrCat("127.0.0.1:", front)));
    ASSERT_TRUE(clients.back()->ok()) << clients.back()->error.message();
  }
  // A foreign Origin is refused by the replica behind nginx.
  HttpResponse foreign =
      Upgrade(front, "/v1/live?from=0", {{"Origin", "http://evil.test"}});
  EXPECT_EQ(foreign.status, 403) << foreign.body;
  for (int i = 0; i < 2; ++i) {
    EXPECT_GE(MetricValue(replica_ports[i], "vigil_live_connections"), 1)
        << "replica " << i << " got no client: sticky or unbalanced";
  }

  append(200);
  std::vector<std::vector<Frame>> seen(kClients);
  for (int i = 0; i < kClients; ++i) {
    seen[i] = ReadEventsThrough(*clients[i], 200);
    ASSERT_EQ(seen[i].size(), 200u) << "client " << i;
  }

  // One replica dies; its clients resume through nginx where they left off.
  replicas[0]->Kill();
  append(200);
  for (int i = 0; i < kClients; ++i) {
    std::vector<Frame> more;
    std::optional<Frame> frame;
    while (seen[i].back().position < 400 && (frame = clients[i]->Read())) {
      if (frame->kind == "event") seen[i].push_back(*frame);
    }
    int attempts = 0;
    while (seen[i].back().position < 400) {
      ASSERT_LT(++attempts, 50) << "client " << i << " cannot resume";
      const std::string query =
          absl::StrCat("/v1/live?from=", seen[i].back().position);
      clients[i] = std::make_unique<Client>(
          front, Client::Options{.target = query, .origin = origin},
          absl::StrCat("127.0.0.1:", front));
      if (!clients[i]->ok()) {
        absl::SleepFor(absl::Milliseconds(100));
        continue;
      }
      more = ReadEventsThrough(*clients[i], 400);
      seen[i].insert(seen[i].end(), more.begin(), more.end());
    }
  }
  // Every client: exactly positions 1..400, the same bytes for each.
  for (int i = 0; i < kClients; ++i) {
    ASSERT_EQ(seen[i].size(), 400u) << "client " << i;
    for (size_t p = 0; p < seen[i].size(); ++p) {
      ASSERT_EQ(seen[i][p].position, p + 1) << "client " << i;
    }
    EXPECT_EQ(Texts(seen[i]), Texts(seen[0])) << "client " << i;
  }
  EXPECT_EQ(proxy.Terminate(), 0);
  for (auto& replica : replicas) replica->Terminate();
  EXPECT_EQ(primary.Terminate(), 0);
}

}  // namespace
}  // namespace vigil::gateway
