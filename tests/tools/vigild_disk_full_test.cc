// The real vigild with its log on a small tmpfs that fills up while gRPC
// and REST clients append (docs/operations.md "A full disk"):
//  - appends fail with gRPC UNAVAILABLE and HTTP 503 problem+json (type disk-full), saying
//    "the event log's disk is full";
//  - reads (REST, gRPC), a gRPC subscription, a Server-Sent Events live
//    feed opened while full, state-at reads and the dashboard's files keep
//    working; /readyz answers 503 naming the full disk;
//  - the snapshot thread's writes fail without harm (vigild exits 0 at the
//    end, state-at answers the same after recovery);
//  - once space is freed, /readyz turns 200 with no append to wake it,
//    appends resume without a restart, an idempotency key acknowledged
//    before the disk filled still deduplicates;
//  - afterwards every acknowledged event is at its position with its
//    bytes, positions have no gap, and `vigil verify` passes.
// Needs root to mount the tmpfs (label `root`); skipped otherwise.

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/tmpfs_mount.h"
#include "tests/testing/vigild_process.h"
#include "tests/testing/wait_until.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using testing::HttpConnection;
using testing::HttpResponse;

constexpr int kGrpcClients = 3;
constexpr int kHttpClients = 2;
const absl::Duration kWait = absl::Seconds(30);

// An AgentHeartbeat of about 4 KiB, unique by (agent, n).
std::string Heartbeat(const std::string& agent, int n) {
  return absl::StrCat(R"({"agent_id":")", agent,
                      R"(","cpu_pct":1.5,"mem_bytes":1000,"queue_depth":)", n,
                      R"(,"pad":")", std::string(4000, 'x'), "\"}");
}

std::string Registered(const std::string& agent) {
  return absl::StrCat(R"({"agent_id":")", agent,
                      R"(","role":"worker","name":"W"})");
}

std::optional<HttpResponse> Http(int port, const std::string& method,
                                 const std::string& target,
                                 const std::string& body = "",
                                 std::vector<std::pair<std::string,
                                                       std::string>>
                                     headers = {}) {
  HttpConnection connection(static_cast<uint16_t>(port));
  if (!connection.connected()) return std::nullopt;
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  return connection.Request(method, target, headers, body);
}

uint64_t JsonNumber(const std::string& json, const std::string& field) {
  std::smatch match;
  if (!std::regex_search(json, match,
                         std::regex("\"" + field + "\":([0-9]+)"))) {
    return 0;
  }
  return std::stoull(match[1]);
}

// Acknowledged appends (position -> data), and the failures seen, from
// every client.
struct Acks {
  absl::Mutex mu;
  std::map<uint64_t, std::string> data ABSL_GUARDED_BY(mu);
  int grpc_disk_full ABSL_GUARDED_BY(mu) = 0;
  int http_disk_full ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> unexpected ABSL_GUARDED_BY(mu);

  void Ack(uint64_t position, std::string bytes) {
    absl::MutexLock lock(&mu);
    data[position] = std::move(bytes);
  }
  size_t count() {
    absl::MutexLock lock(&mu);
    return data.size();
  }
};

class VigildDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mount_ = std::make_unique<testing::TmpfsMount>(dir_.Sub("mnt"), "160m");
    if (!mount_->mounted()) {
      GTEST_SKIP() << "needs root to mount a tmpfs (tools/test runs as root)";
    }
    std::filesystem::create_directories(dir_.Sub("dashboard"));
    std::ofstream(dir_.Sub("dashboard/index.html")) << "<html>vigil</html>";
    vigild_ = std::make_unique<testing::VigildProcess>(
        VIGILD_BINARY,
        std::vector<std::string>{
            "--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
            "--http-listen", "127.0.0.1:0", "--projections", "off",
            "--webhooks", "off", "--snapshot-interval", "1",
            "--dashboard-dir", dir_.Sub("dashboard")},
        dir_.Sub("vigild.log"));
    ASSERT_TRUE(vigild_->started());
    std::tie(grpc_port_, http_port_) = vigild_->WaitForPorts();
    ASSERT_GT(grpc_port_, 0) << "vigild did not start; see " << dir_.path();
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      std::optional<HttpResponse> r = Http(http_port_, "GET", "/healthz");
      if (r.has_value() && r->status == 200) break;
      absl::SleepFor(absl::Milliseconds(50));
    }
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::EventStore::NewStub(channel_);
  }

  void TearDown() override {
    StopClients();
    vigild_.reset();  // SIGKILL if still running
    mount_.reset();   // MNT_DETACH
  }

  std::string DataDir() const { return mount_->path() + "/data"; }

  std::string ServerLog() const {
    std::ifstream in(dir_.Sub("vigild.log"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  grpc::Status GrpcAppend(const std::string& stream, const std::string& type,
                          const std::string& data, const std::string& key,
                          v1::AppendResponse* response) {
    v1::AppendRequest request;
    request.set_stream(stream);
    request.set_idempotency_key(key);
    v1::EventData* event = request.add_events();
    event->set_type(type);
    event->set_data(data);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    return stub_->Append(&context, request, response);
  }

  // Clients append heartbeats until StopClients, each on its own agent
  // stream, recording acknowledgements and checking every failure.
  void StartClients() {
    stop_clients_ = false;
    for (int c = 0; c < kGrpcClients + kHttpClients; ++c) {
      clients_.emplace_back([this, c] {
        const bool grpc = c < kGrpcClients;
        const std::string agent = absl::StrCat("c", c, "-", round_);
        const std::string stream = "agent-" + agent;
        bool registered = false;
        for (int n = 0; !stop_clients_.load(); ++n) {
          const std::string type =
              registered ? "AgentHeartbeat" : "AgentRegistered";
          const std::string data =
              registered ? Heartbeat(agent, n) : Registered(agent);
          const bool ok = grpc ? GrpcClientAppend(stream, type, data)
                               : HttpClientAppend(stream, type, data);
          registered = registered || ok;
          absl::SleepFor(absl::Milliseconds(ok ? 2 : 20));
        }
      });
    }
  }

  void StopClients() {
    stop_clients_ = true;
    for (std::thread& client : clients_) client.join();
    clients_.clear();
    ++round_;
  }

  bool GrpcClientAppend(const std::string& stream, const std::string& type,
                        const std::string& data) {
    v1::AppendResponse response;
    const grpc::Status status = GrpcAppend(stream, type, data, "", &response);
    if (status.ok()) {
      acks_.Ack(response.first_position(), data);
      return true;
    }
    absl::MutexLock lock(&acks_.mu);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        status.error_message().find("the event log's disk is full") !=
            std::string::npos) {
      ++acks_.grpc_disk_full;
    } else {
      acks_.unexpected.push_back(absl::StrCat(
          "gRPC ", status.error_code(), ": ", status.error_message()));
    }
    return false;
  }

  bool HttpClientAppend(const std::string& stream, const std::string& type,
                        const std::string& data) {
    std::optional<HttpResponse> r =
        Http(http_port_, "POST", "/v1/streams/" + stream + "/events",
             absl::StrCat(R"({"type":")", type, R"(","data":)", data, "}"));
    if (r.has_value() && r->status == 201) {
      acks_.Ack(JsonNumber(r->body, "first_position"), data);
      return true;
    }
    absl::MutexLock lock(&acks_.mu);
    if (r.has_value() && r->status == 503 &&
        r->Header("content-type") == "application/problem+json" &&
        r->body.find("\"status\":503") != std::string::npos &&
        r->body.find("urn:vigil:problem:disk-full") != std::string::npos &&
        r->body.find("the event log's disk is full (No space left on "
                     "device)") != std::string::npos) {
      ++acks_.http_disk_full;
    } else {
      acks_.unexpected.push_back(
          r.has_value() ? absl::StrCat("HTTP ", r->status, ": ", r->body)
                        : "HTTP: no answer");
    }
    return false;
  }

  template <typename F>
  static bool WaitUntil(F done) {
    return testing::WaitUntil(done, kWait);
  }

  // Reads `connection` into `text` until it holds `wanted` or kWait passes.
  static bool ReadUntil(HttpConnection* connection, std::string* text,
                        const std::string& wanted) {
    const absl::Time deadline = absl::Now() + kWait;
    while (text->find(wanted) == std::string::npos) {
      if (absl::Now() > deadline) return false;
      if (std::optional<std::string> more =
              connection->ReadSome(std::chrono::milliseconds(200))) {
        *text += *more;
      }
    }
    return true;
  }

  // The part of a /v1/state answer that does not depend on which snapshot
  // it started from.
  std::string StateAt(uint64_t position) {
    std::optional<HttpResponse> r =
        Http(http_port_, "GET", absl::StrCat("/v1/state?at=", position));
    if (!r.has_value() || r->status != 200) {
      return r.has_value() ? absl::StrCat("HTTP ", r->status, " ", r->body)
                           : "no answer";
    }
    const size_t agents = r->body.find("\"agents\":");
    return agents == std::string::npos ? r->body : r->body.substr(agents);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::TmpfsMount> mount_;
  std::unique_ptr<testing::VigildProcess> vigild_;
  int grpc_port_ = 0;
  int http_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
  Acks acks_;
  std::atomic<bool> stop_clients_{false};
  std::vector<std::thread> clients_;
  int round_ = 0;
};

TEST_F(VigildDiskFullTest, FullLogDiskFailsAppendsKeepsReadsAndRecovers) {
  // An idempotency key acknowledged before the disk fills.
  v1::AppendResponse keyed;
  ASSERT_TRUE(GrpcAppend("agent-keyed", "AgentRegistered",
                         Registered("keyed"), "key-before-full", &keyed)
                  .ok());
  acks_.Ack(keyed.first_position(), Registered("keyed"));

  // A gRPC subscription from the start, kept open throughout.
  grpc::ClientContext subscribe_context;
  absl::Mutex subscribed_mu;
  std::vector<uint64_t> subscribed;  // positions, in arrival order
  std::thread subscriber([&] {
    std::unique_ptr<grpc::ClientReader<v1::SubscribeResponse>> reader =
        stub_->Subscribe(&subscribe_context, v1::SubscribeRequest());
    v1::SubscribeResponse response;
    while (reader->Read(&response)) {
      if (!response.has_event()) continue;
      absl::MutexLock lock(&subscribed_mu);
      subscribed.push_back(response.event().position());
    }
  });

  StartClients();
  ASSERT_TRUE(WaitUntil([&] { return acks_.count() > 100; }));

  // The disk fills: both transports fail for it, and say so.
  const size_t filled = mount_->Fill();
  ASSERT_GT(filled, 0u);
  ASSERT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&acks_.mu);
    return acks_.grpc_disk_full > 0 && acks_.http_disk_full > 0;
  })) << ServerLog();

  // While full: /readyz 503 names the disk; reads, the live feed, state-at
  // and the dashboard work.
  std::optional<HttpResponse> ready = Http(http_port_, "GET", "/readyz");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(ready->Header("content-type"), "application/problem+json");
  EXPECT_NE(ready->body.find("the event log's disk is full"),
            std::string::npos)
      << ready->body;
  std::optional<HttpResponse> metrics = Http(http_port_, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("\nvigil_log_disk_full 1\n"), std::string::npos);
  std::optional<HttpResponse> all =
      Http(http_port_, "GET", "/v1/all?from=1&limit=10");
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->status, 200) << all->body;
  EXPECT_NE(all->body.find("\"position\":10"), std::string::npos);
  std::optional<HttpResponse> stream =
      Http(http_port_, "GET", "/v1/streams/agent-keyed");
  ASSERT_TRUE(stream.has_value());
  EXPECT_EQ(stream->status, 200) << stream->body;
  {
    v1::ReadAllRequest request;
    request.set_from_position(1);
    request.set_max_count(50);
    grpc::ClientContext context;
    auto reader = stub_->ReadAll(&context, request);
    v1::RecordedEvent event;
    int read = 0;
    while (reader->Read(&event)) ++read;
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(read, 50);
  }
  std::optional<HttpResponse> dashboard = Http(http_port_, "GET", "/");
  ASSERT_TRUE(dashboard.has_value());
  EXPECT_EQ(dashboard->status, 200);
  EXPECT_EQ(dashboard->body, "<html>vigil</html>");
  // Clients still hit the full disk meanwhile; the snapshot thread too.
  absl::SleepFor(absl::Seconds(1));
  StopClients();
  uint64_t full_head = 0;
  {
    absl::MutexLock lock(&acks_.mu);
    EXPECT_TRUE(acks_.unexpected.empty()) << acks_.unexpected.front();
    full_head = acks_.data.rbegin()->first;
  }
  std::printf("full at head %llu after %zu bytes of filler\n",
              static_cast<unsigned long long>(full_head), filled);
  const std::string state_while_full = StateAt(full_head);
  EXPECT_NE(state_while_full.find("\"agent_id\":\"c0-0\""), std::string::npos)
      << state_while_full;
  // A live feed opened while full replays history (the last 500 events:
  // reading all of them takes long on a busy machine) up to the head.
  HttpConnection sse(static_cast<uint16_t>(http_port_));
  ASSERT_GT(full_head, 500u);
  ASSERT_TRUE(sse.Send(testing::FormatRequest(
      "GET", absl::StrCat("/v1/live/sse?from=", full_head - 500))));
  std::string sse_text;
  EXPECT_TRUE(ReadUntil(&sse, &sse_text, "\"kind\":\"caught_up\""))
      << sse_text.substr(0, 500);
  EXPECT_NE(sse_text.find(absl::StrCat("\"position\":", full_head, ",")),
            std::string::npos);

  // Space is back: /readyz turns 200 on its own (the writer's idle probe).
  // The disk stays full: RocksDB may have given back space meanwhile (a
  // WAL file's preallocation is truncated when it is closed); fill that
  // too, until an append is refused again.
  mount_->Fill("filler2");
  ASSERT_TRUE(WaitUntil([&] {
    std::optional<HttpResponse> r =
        Http(http_port_, "POST", "/v1/streams/agent-probe/events",
             absl::StrCat(R"({"type":"AgentRegistered","data":)",
                          Registered("probe"), "}"));
    if (r.has_value() && r->status == 201) {
      acks_.Ack(JsonNumber(r->body, "first_position"), Registered("probe"));
      mount_->Fill("filler3");
    }
    return r.has_value() && r->status == 503 &&
           r->body.find("urn:vigil:problem:disk-full") != std::string::npos;
  }));
  ready = Http(http_port_, "GET", "/readyz");
  ASSERT_TRUE(ready.has_value());
  EXPECT_EQ(ready->status, 503);
  // A keyed REST append refused for the full disk (503 disk-full)...
  const std::string keyed_body =
      absl::StrCat(R"({"type":"AgentRegistered","data":)",
                   Registered("during"), "}");
  const std::vector<std::pair<std::string, std::string>> key_header = {
      {"Idempotency-Key", "key-during-full"}};
  std::optional<HttpResponse> refused =
      Http(http_port_, "POST", "/v1/streams/agent-during/events", keyed_body,
           key_header);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503) << refused->body;

  const absl::Time freed = absl::Now();
  for (const char* filler : {"filler", "filler2", "filler3"}) {
    mount_->Free(filler);
  }
  EXPECT_TRUE(WaitUntil([&] {
    std::optional<HttpResponse> r = Http(http_port_, "GET", "/readyz");
    return r.has_value() && r->status == 200;
  })) << ServerLog();
  std::printf("/readyz 200 again %.0f ms after the space was freed\n",
              absl::ToDoubleMilliseconds(absl::Now() - freed));
  {
    absl::MutexLock lock(&acks_.mu);
    std::printf("while full: %d gRPC UNAVAILABLE, %d HTTP 503 disk-full\n",
                acks_.grpc_disk_full, acks_.http_disk_full);
  }
  // ...is retried after: written once, and deduplicated from then on.
  std::optional<HttpResponse> retried =
      Http(http_port_, "POST", "/v1/streams/agent-during/events", keyed_body,
           key_header);
  ASSERT_TRUE(retried.has_value());
  EXPECT_TRUE(retried->status == 201 || retried->status == 200)
      << retried->body;
  acks_.Ack(JsonNumber(retried->body, "first_position"), Registered("during"));
  std::optional<HttpResponse> repeated =
      Http(http_port_, "POST", "/v1/streams/agent-during/events", keyed_body,
           key_header);
  ASSERT_TRUE(repeated.has_value());
  EXPECT_EQ(repeated->status, 200) << repeated->body;
  EXPECT_EQ(JsonNumber(repeated->body, "first_position"),
            JsonNumber(retried->body, "first_position"));
  std::optional<HttpResponse> during =
      Http(http_port_, "GET", "/v1/streams/agent-during");
  ASSERT_TRUE(during.has_value());
  EXPECT_NE(during->body.find("\"revision\":0,"), std::string::npos);
  EXPECT_EQ(during->body.find("\"revision\":1,"), std::string::npos)
      << "the refused append was written twice";

  metrics = Http(http_port_, "GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("\nvigil_log_disk_full 0\n"), std::string::npos);

  // Appends resume; the old key still deduplicates.
  v1::AppendResponse again;
  ASSERT_TRUE(GrpcAppend("agent-keyed", "AgentRegistered",
                         Registered("keyed"), "key-before-full", &again)
                  .ok());
  EXPECT_TRUE(again.deduplicated());
  EXPECT_EQ(again.first_position(), keyed.first_position());
  const size_t acked_before = acks_.count();
  StartClients();
  EXPECT_TRUE(WaitUntil([&] { return acks_.count() > acked_before + 100; }));
  StopClients();
  uint64_t last_ack = 0;
  {
    absl::MutexLock lock(&acks_.mu);
    EXPECT_TRUE(acks_.unexpected.empty()) << acks_.unexpected.front();
    last_ack = acks_.data.rbegin()->first;
  }
  // The feeds opened before and during the full disk go on.
  EXPECT_TRUE(ReadUntil(&sse, &sse_text,
                        absl::StrCat("\"position\":", last_ack, ",")));
  EXPECT_TRUE(WaitUntil([&] {
    absl::MutexLock lock(&subscribed_mu);
    return !subscribed.empty() && subscribed.back() >= last_ack;
  }));
  subscribe_context.TryCancel();
  subscriber.join();
  for (size_t i = 0; i < subscribed.size(); ++i) {
    ASSERT_EQ(subscribed[i], i + 1) << "the subscription skipped a position";
  }
  // Snapshots written after the failed ones do not change a state-at.
  EXPECT_EQ(StateAt(full_head), state_while_full);

  EXPECT_EQ(vigild_->Terminate(), 0) << ServerLog();
  // Whether a snapshot write hit the full disk depends on timing (the
  // head must pass a snapshot position while the disk is full); the
  // eventlog test (disk_full_test.cc) makes one fail for certain.
  std::printf("snapshot thread hit the full disk: %s\n",
              ServerLog().find("time travel snapshots not written") !=
                      std::string::npos
                  ? "yes"
                  : "no");

  // Every acknowledged event is at its position, with its bytes, no gaps.
  {
    auto log = eventlog::EventLog::Open(eventlog::Options(), DataDir());
    ASSERT_TRUE(log.ok()) << log.status();
    const uint64_t head = (*log)->HeadPosition();
    auto events = (*log)->ReadAll(1, 0, eventlog::Filter{});
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), head);
    absl::MutexLock lock(&acks_.mu);
    for (const auto& [position, data] : acks_.data) {
      ASSERT_LE(position, head);
      EXPECT_EQ((*events)[position - 1].position, position);
      EXPECT_EQ((*events)[position - 1].data, data) << "position " << position;
    }
  }
  const std::string verify = absl::StrCat(
      VIGIL_BINARY, " verify --data-dir ", DataDir(), " > ",
      dir_.Sub("verify.out"), " 2>&1");
  EXPECT_EQ(std::system(verify.c_str()), 0);
}

}  // namespace
}  // namespace vigil
