// Gateway replicas that follow the JetStream stream instead of the primary
// (replication/jetstream_log.h), on a real three-node NATS cluster
// (tools/cluster) with the real vigild as the primary, mirroring:
// - simulated agents append; a replica in process (JetStreamLog behind the
//   gateway's HTTP server, with a small window) delivers on /v1/live the
//   same events as the primary, in order, with no gap or duplicate, while
//   one NATS node is killed and comes back; its REST reads (older than its
//   window: answered from the stream) and stream reads equal the primary's;
// - control: a message whose hash does not chain (someone else's publish)
//   stops a following replica and a new one loudly, and nothing of it is
//   delivered;
// - `vigild --gateway-only --nats-url` serves the same reads, is ready,
//   and refuses appends naming the primary.
// Skipped without nats-server.

#include "tests/gateway/live_client.h"  // first: Beast before the rest

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "gateway/http_server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "replication/jetstream_log.h"
#include "tests/replication/replication_testing.h"
#include "tests/testing/simulated_agents.h"
#include "tests/testing/wait_until.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using testing::Client;
using testing::ReadEventsThrough;
using testing::Texts;
using testing::Frame;
using testing::HttpResponse;
using testing::Number;
using testing::Replication;
using testing::Request;
using testing::SimulatedAgents;
using testing::StartVigildNode;
using testing::VigildNode;
using testing::WaitUntil;

constexpr char kStream[] = "VIGIL";

// A replica in process: a JetStreamLog and the gateway's HTTP server.
class Replica {
 public:
  Replica(const std::string& nats_url, size_t window_events) {
    auto log = replication::JetStreamLog::Start(
        {.nats_url = nats_url,
         .window = {.window_events = window_events,
                    .primary = "primary.example:7600"},
         .api_timeout = absl::Seconds(2),
         .connect_timeout = absl::Seconds(1),
         .min_backoff = absl::Milliseconds(50),
         .max_backoff = absl::Milliseconds(500),
         .metrics = &metrics_});
    EXPECT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    gateway::HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    replication::JetStreamLog* raw = log_.get();
    options.readiness = [raw] { return raw->Health(); };
    auto http = gateway::HttpServer::Start(options, log_.get(), &metrics_);
    EXPECT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }
  ~Replica() {
    http_->Stop();
    http_.reset();
    log_.reset();
  }
  uint16_t port() const { return http_->port(); }
  replication::JetStreamLog* log() { return log_.get(); }
  std::string Metrics() const { return metrics_.Render(); }

 private:
  base::Metrics metrics_;
  std::unique_ptr<replication::JetStreamLog> log_;
  std::unique_ptr<gateway::HttpServer> http_;
};

// Positions `from`, from + 1, ... with none missing or repeated.
void ExpectContiguous(const std::vector<Frame>& frames, uint64_t from) {
  for (size_t i = 0; i < frames.size(); ++i) {
    ASSERT_EQ(frames[i].position, from + i) << "frame " << i;
  }
}

class JetStreamReplicaTest : public testing::ClusterTest {
 protected:
  void StartPrimary() {
    primary_ = StartVigildNode(
        VIGILD_BINARY,
        {"--data-dir", dir_.Sub("primary-data"), "--grpc-listen",
         "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--projections", "off",
         "--webhooks", "off", "--alerts", "off", "--replication", "async",
         "--nats-url", cluster_->url()},
        dir_.Sub("primary.log"));
  }

  // Waits until the primary has mirrored its whole log; its head.
  uint64_t AwaitMirrored() {
    uint64_t head = 0;
    EXPECT_TRUE(WaitUntil(
        [&] {
          nlohmann::json status = Replication(primary_.http);
          head = Number(status, "mirrored_position");
          return head > 0 && Number(status, "lag_positions") == 0;
        },
        absl::Seconds(60)))
        << Replication(primary_.http) << primary_.Log();
    return head;
  }

  VigildNode primary_;
};

TEST_F(JetStreamReplicaTest,
       LiveFeedAndReadsEqualThePrimaryAcrossANatsNodeRestart) {
  StartPrimary();
  ASSERT_GT(primary_.http, 0) << primary_.Log();
  SimulatedAgents agents(3);
  // History from before the replica, longer than its window.
  ASSERT_TRUE(agents.AppendSteps(primary_.grpc, 150));
  const uint64_t before = AwaitMirrored();
  Replica replica(cluster_->url(), /*window_events=*/32);
  ASSERT_TRUE(WaitUntil(
      [&] { return Request(replica.port(), "GET", "/readyz").status == 200; },
      absl::Seconds(20)))
      << Request(replica.port(), "GET", "/readyz").body;
  EXPECT_EQ(replica.log()->HeadPosition(), before);

  // Live clients on both, from the start (older than the window: read from
  // the stream) and from the head.
  Client primary_all(primary_.http, {.target = "/v1/live?from=0"});
  Client replica_all(replica.port(), {.target = "/v1/live?from=0"});
  const std::string at_head = absl::StrCat("/v1/live?from=", before);
  Client primary_live(primary_.http, {.target = at_head});
  Client replica_live(replica.port(), {.target = at_head});
  ASSERT_TRUE(primary_all.ok() && replica_all.ok() && primary_live.ok() &&
              replica_live.ok());

  // Agents append while a NATS node is killed and comes back.
  std::atomic<bool> stop{false};
  std::thread load([&] { agents.Run(primary_.grpc, stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cluster_->Kill(0);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_TRUE(cluster_->StartMissing());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  load.join();
  const uint64_t last = AwaitMirrored();
  ASSERT_GT(last, before + 20);

  std::vector<Frame> expected = ReadEventsThrough(primary_all, last);
  std::vector<Frame> got = ReadEventsThrough(replica_all, last);
  ASSERT_EQ(expected.size(), last);
  ExpectContiguous(got, 1);
  EXPECT_EQ(Texts(got), Texts(expected));
  expected = ReadEventsThrough(primary_live, last);
  got = ReadEventsThrough(replica_live, last);
  ExpectContiguous(got, before + 1);
  EXPECT_EQ(Texts(got), Texts(expected));
  EXPECT_EQ(replica.log()->HeadPosition(), last);

  // REST reads: the log from position 1 and a page before the window (both
  // from the stream), and a stream's events.
  const std::string some_stream = expected.back().stream;
  for (std::string target :
       {std::string("/v1/all?from=1&limit=1000"), std::string("/v1/all?from=20&limit=7"),
        absl::StrCat("/v1/streams/", some_stream, "?limit=1000"),
        absl::StrCat("/v1/streams/", some_stream, "?from=1&limit=2"),
        std::string("/v1/streams/nope")}) {
    HttpResponse want = Request(primary_.http, "GET", target);
    HttpResponse have = Request(replica.port(), "GET", target);
    EXPECT_EQ(have.status, want.status) << target;
    EXPECT_EQ(have.body, want.body) << target;
  }
  // GetStream and a backwards stream read, against the primary's gRPC.
  auto stub = v1::EventStore::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", primary_.grpc),
      grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GetStreamRequest request;
  request.set_stream(some_stream);
  v1::StreamInfo info;
  ASSERT_TRUE(stub->GetStream(&context, request, &info).ok());
  absl::StatusOr<eventlog::StreamInfo> mine =
      replica.log()->GetStream(some_stream);
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->last_revision, info.last_revision());
  EXPECT_EQ(mine->last_position, info.last_position());
  EXPECT_EQ(mine->event_count, info.event_count());
  EXPECT_EQ(mine->created_time_us, info.created_time_us());
  EXPECT_EQ(mine->updated_time_us, info.updated_time_us());
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> backwards =
      replica.log()->ReadStream(some_stream, UINT64_MAX, 3, true);
  ASSERT_TRUE(backwards.ok()) << backwards.status();
  ASSERT_EQ(backwards->size(), std::min<uint64_t>(3, info.event_count()));
  EXPECT_EQ(backwards->front().position, info.last_position());
  for (size_t i = 1; i < backwards->size(); ++i) {
    EXPECT_EQ((*backwards)[i].revision + 1, (*backwards)[i - 1].revision);
  }
  EXPECT_NE(replica.Metrics().find("vigil_jetstream_replica_following 1"),
            std::string::npos);
  EXPECT_EQ(Request(replica.port(), "POST", "/v1/streams/x/events",
                    R"([{"type":"T","data":{}}])")
                .status,
            501);
  ASSERT_EQ(primary_.process->Terminate(), 0);
}

TEST_F(JetStreamReplicaTest, AMessageThatDoesNotChainStopsTheReplicaLoudly) {
  StartPrimary();
  ASSERT_GT(primary_.http, 0) << primary_.Log();
  ASSERT_EQ(testing::Append(primary_.http, "orders", 10).status, 201);
  ASSERT_EQ(AwaitMirrored(), 10u);
  ASSERT_EQ(primary_.process->Terminate(), 0);

  // Control: a replica follows these 10 positions and is ready.
  Replica following(cluster_->url(), /*window_events=*/4);
  ASSERT_TRUE(WaitUntil(
      [&] { return following.log()->Health().ok(); }, absl::Seconds(20)))
      << following.log()->Health();
  EXPECT_EQ(following.log()->HeadPosition(), 10u);
  Client live(following.port(), {.target = "/v1/live?from=0"});
  ASSERT_EQ(ReadEventsThrough(live, 10).size(), 10u);

  // Someone else publishes position 11: position 10's event with other
  // data and position 10's hash (it does not chain from it).
  ASSERT_EQ(testing::PublishUnchained(cluster_->url(), kStream, 10,
                                      "vigil.orders"),
            11u);

  // The following replica stops: not ready, head still 10, and position 11
  // never reaches its live feed.
  ASSERT_TRUE(WaitUntil(
      [&] { return Request(following.port(), "GET", "/readyz").status == 503; },
      absl::Seconds(20)));
  absl::Status health = following.log()->Health();
  EXPECT_NE(health.message().find("stopped"), std::string::npos) << health;
  EXPECT_NE(health.message().find("sequence 11"), std::string::npos) << health;
  EXPECT_NE(health.message().find("hash chain is broken"), std::string::npos)
      << health;
  EXPECT_EQ(following.log()->HeadPosition(), 10u);
  // (Other frames, such as heartbeats, may come; no event does.)
  for (std::optional<Frame> frame = live.Read(std::chrono::milliseconds(500));
       frame.has_value(); frame = live.Read(std::chrono::milliseconds(500))) {
    EXPECT_NE(frame->kind, "event") << frame->text;
  }
  EXPECT_NE(following.Metrics().find("vigil_jetstream_replica_stopped 1"),
            std::string::npos);

  // A replica started now anchors at the stream's last message, checks it
  // against the one before, and stops at once.
  Replica fresh(cluster_->url(), /*window_events=*/4);
  ASSERT_TRUE(WaitUntil(
      [&] {
        return fresh.log()->Health().message().find("stopped") !=
               std::string::npos;
      },
      absl::Seconds(20)))
      << fresh.log()->Health();
  EXPECT_EQ(fresh.log()->HeadPosition(), 0u);
}

TEST_F(JetStreamReplicaTest, VigildGatewayOnlyOnNatsUrl) {
  StartPrimary();
  ASSERT_GT(primary_.http, 0) << primary_.Log();
  ASSERT_EQ(testing::Append(primary_.http, "orders", 25).status, 201);
  ASSERT_EQ(AwaitMirrored(), 25u);
  const int port = testing::FreePort();
  testing::VigildProcess replica(
      VIGILD_BINARY,
      {"--gateway-only", "--nats-url", cluster_->url(), "--http-listen",
       absl::StrCat("127.0.0.1:", port), "--primary-url",
       "http://primary.example:7601"},
      dir_.Sub("replica.log"));
  ASSERT_TRUE(replica.started());
  ASSERT_TRUE(WaitUntil(
      [&] { return Request(port, "GET", "/readyz").status == 200; },
      absl::Seconds(20)));
  ASSERT_EQ(testing::Append(primary_.http, "orders", 5).status, 201);
  ASSERT_EQ(AwaitMirrored(), 30u);
  Client live(port, {.target = "/v1/live?from=0"});
  EXPECT_EQ(ReadEventsThrough(live, 30).size(), 30u);
  for (std::string target : {"/v1/all?from=1&limit=100", "/v1/streams/orders"}) {
    HttpResponse want = Request(primary_.http, "GET", target);
    HttpResponse have = Request(port, "GET", target);
    EXPECT_EQ(have.status, want.status) << target;
    EXPECT_EQ(have.body, want.body) << target;
  }
  HttpResponse refused = testing::Append(port, "orders", 1);
  EXPECT_EQ(refused.status, 501) << refused.body;
  EXPECT_NE(refused.body.find("http://primary.example:7601"),
            std::string::npos)
      << refused.body;
  EXPECT_EQ(replica.Terminate(), 0);
  ASSERT_EQ(primary_.process->Terminate(), 0);
}

}  // namespace
}  // namespace vigil
