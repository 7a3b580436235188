// The standby end to end (replication/standby.h, docs/replication.md "A
// standby"): a real three-node NATS cluster, a real primary vigild mirroring
// to it and a real `vigild --standby` following it. The standby's log must
// end up equal to the primary's, position for position and hash for hash
// (and equal to the stream: replication/compare.h), it must refuse appends
// naming the primary, survive kill -9, and stop loudly on a forged message.
// Skipped when nats-server is not installed.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "replication/compare.h"
#include "tests/replication/replication_testing.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/wait_until.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using testing::Append;
using testing::HttpResponse;
using testing::Number;
using testing::Replication;
using testing::Request;
using testing::Text;
using testing::StartVigildNode;
using testing::VigildNode;
using testing::WaitUntil;

constexpr char kStream[] = "VIGIL";
constexpr char kPrimaryUrl[] = "http://primary.example:7601";
constexpr char kPrimaryGrpc[] = "primary.example:7600";

class StandbyTest : public testing::ClusterTest {
 protected:
  // vigild `name` on DIR/name-data; `standby` follows the stream.
  void Start(VigildNode* node, const std::string& name, bool standby) {
    std::vector<std::string> args = {
        "--data-dir",    dir_.Sub(name + "-data"), "--grpc-listen",
        "127.0.0.1:0",   "--http-listen",          "127.0.0.1:0",
        "--projections", "off",                    "--webhooks",
        "off",           "--alerts",               "off",
        "--replication", "async",                  "--nats-url",
        cluster_->url()};
    if (standby) {
      args.insert(args.end(), {"--standby", "--primary-url", kPrimaryUrl,
                               "--primary-grpc", kPrimaryGrpc});
    }
    *node = StartVigildNode(VIGILD_BINARY, args, dir_.Sub(name + ".log"));
  }

  std::string LogOf(const std::string& name) const {
    return (name == "primary" ? primary_ : standby_).Log();
  }

  // Waits until the standby at `port` follows and holds `position`.
  bool AwaitApplied(int port, uint64_t position,
                    absl::Duration timeout = absl::Seconds(30)) {
    return WaitUntil(
        [&] {
          nlohmann::json status = Replication(port);
          return Text(status, "state") == "following" &&
                 Number(status, "head_position") == position;
        },
        timeout);
  }

  // With both stopped: the two logs hold the same events (every field,
  // position and hash), the standby's verifies, and it equals the stream.
  void ExpectSameLogs() {
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> primary =
        eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("primary-data"));
    ASSERT_TRUE(primary.ok()) << primary.status();
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> standby =
        eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("standby-data"));
    ASSERT_TRUE(standby.ok()) << standby.status();
    const uint64_t head = (*primary)->HeadPosition();
    ASSERT_GT(head, 0u);
    EXPECT_EQ((*standby)->HeadPosition(), head);
    for (uint64_t position = 1; position <= head; position += 1000) {
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> a =
          (*primary)->ReadAll(position, 1000, eventlog::Filter{});
      absl::StatusOr<std::vector<eventlog::RecordedEvent>> b =
          (*standby)->ReadAll(position, 1000, eventlog::Filter{});
      ASSERT_TRUE(a.ok() && b.ok());
      ASSERT_EQ(a->size(), b->size()) << "from position " << position;
      for (size_t i = 0; i < a->size(); ++i) {
        ASSERT_TRUE((*a)[i] == (*b)[i]) << "position " << (*a)[i].position;
        ASSERT_EQ((*a)[i].hash, (*b)[i].hash);
      }
    }
    absl::StatusOr<eventlog::VerifyResult> verified =
        (*standby)->Verify(1, 0);
    ASSERT_TRUE(verified.ok()) << verified.status();
    EXPECT_TRUE(verified->ok) << verified->problem;
    EXPECT_EQ(verified->checked, head);
    absl::StatusOr<replication::StreamComparison> compared =
        testing::CompareWhenAvailable(
            {.nats_url = cluster_->url(), .stream = kStream}, **standby);
    ASSERT_TRUE(compared.ok()) << compared.status();
    EXPECT_TRUE(compared->Equal()) << compared->first_problem;
  }

  VigildNode primary_;
  VigildNode standby_;
};

TEST_F(StandbyTest, FollowsThePrimaryPositionForPositionAndRefusesAppends) {
  Start(&primary_, "primary", false);
  ASSERT_GT(primary_.http, 0) << LogOf("primary");
  ASSERT_EQ(Append(primary_.http, "orders.eu", 5).status, 201);
  Start(&standby_, "standby", true);
  ASSERT_GT(standby_.http, 0) << LogOf("standby");
  ASSERT_TRUE(AwaitApplied(standby_.http, 5)) << Replication(standby_.http);

  // The live feed: a subscription on the standby sees what the primary
  // appends after it caught up.
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", standby_.grpc),
                          grpc::InsecureChannelCredentials()));
  grpc::ClientContext subscribe_context;
  subscribe_context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(30));
  v1::SubscribeRequest subscribe;
  subscribe.set_from_position(0);
  auto reader = stub->Subscribe(&subscribe_context, subscribe);
  std::vector<uint64_t> seen;
  v1::SubscribeResponse message;
  while (seen.size() < 5 && reader->Read(&message)) {
    if (message.has_event()) seen.push_back(message.event().position());
  }
  for (int i = 0; i < 30; ++i) {
    for (const std::string stream : {"orders.eu", "a:b-c_d", "plain"}) {
      ASSERT_EQ(Append(primary_.http, stream, 5).status, 201);
    }
  }
  while (seen.size() < 455 && reader->Read(&message)) {
    if (message.has_event()) seen.push_back(message.event().position());
  }
  subscribe_context.TryCancel();
  ASSERT_EQ(seen.size(), 455u);
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
  ASSERT_TRUE(AwaitApplied(standby_.http, 455)) << Replication(standby_.http);
  nlohmann::json status = Replication(standby_.http);
  EXPECT_EQ(Text(status, "mode"), "standby");
  EXPECT_EQ(Number(status, "stream_last"), 455u);
  EXPECT_EQ(Number(status, "lag_positions"), 0u);

  // Reads are served: a stream's events, as on the primary.
  HttpResponse read = Request(standby_.http, "GET", "/v1/streams/plain");
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_NE(read.body.find(R"("stream":"plain")"), std::string::npos) << read.body;
  EXPECT_EQ(read.body, Request(primary_.http, "GET", "/v1/streams/plain").body);

  // Appends are refused, naming the primary: REST 503 not-primary with its
  // URL, gRPC UNAVAILABLE with its address.
  HttpResponse refused = Append(standby_.http, "orders.eu", 1);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("content-type"), "application/problem+json");
  nlohmann::json problem = nlohmann::json::parse(refused.body, nullptr, false);
  EXPECT_EQ(Text(problem, "type"), "urn:vigil:problem:not-primary")
      << refused.body;
  EXPECT_EQ(Text(problem, "primary"), kPrimaryUrl) << refused.body;
  v1::AppendRequest request;
  request.set_stream("orders.eu");
  v1::EventData* event = request.add_events();
  event->set_type("Noted");
  event->set_data("{}");
  v1::AppendResponse response;
  grpc::ClientContext append_context;
  const grpc::Status grpc_refused =
      stub->Append(&append_context, request, &response);
  EXPECT_EQ(grpc_refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(grpc_refused.error_message().find(kPrimaryGrpc), std::string::npos)
      << grpc_refused.error_message();
  EXPECT_EQ(Number(Replication(standby_.http), "head_position"), 455u);

  ASSERT_EQ(standby_.process->Terminate(), 0);
  ASSERT_EQ(primary_.process->Terminate(), 0);
  EXPECT_EQ(LogOf("standby").find("STOPPED"), std::string::npos)
      << LogOf("standby");
  // One session and one consumer throughout: nothing made it reconnect.
  EXPECT_EQ(LogOf("standby").find("reconnecting"), std::string::npos)
      << LogOf("standby");
  ExpectSameLogs();
}

// Each NATS node paused in turn while the primary appends: whichever node
// holds the standby's consumer (or its connection) stops answering, the
// standby's fetch fails or its consumer delivers nothing, and it must
// start another session and consumer elsewhere and apply everything.
TEST_F(StandbyTest, EachNatsNodePausedInTurnTheStandbyFollowsOn) {
  Start(&primary_, "primary", false);
  ASSERT_GT(primary_.http, 0) << LogOf("primary");
  ASSERT_EQ(Append(primary_.http, "orders", 5).status, 201);
  Start(&standby_, "standby", true);
  ASSERT_GT(standby_.http, 0) << LogOf("standby");
  ASSERT_TRUE(AwaitApplied(standby_.http, 5)) << Replication(standby_.http);
  uint64_t head = 5;
  for (int node = 0; node < 3; ++node) {
    cluster_->Pause(node);
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(Append(primary_.http, "orders", 5).status, 201);
      head += 5;
    }
    EXPECT_TRUE(AwaitApplied(standby_.http, head, absl::Seconds(60)))
        << "node " << node << " paused: standby " << Replication(standby_.http)
        << ", primary " << Replication(primary_.http) << LogOf("standby")
        << LogOf("primary");
    cluster_->Resume(node);
  }
  ASSERT_TRUE(AwaitApplied(standby_.http, head)) << Replication(standby_.http);
  ASSERT_EQ(standby_.process->Terminate(), 0);
  ASSERT_EQ(primary_.process->Terminate(), 0);
  ExpectSameLogs();
}

TEST_F(StandbyTest, KillNineOfTheStandbyResumesWithoutGapOrDuplicate) {
  Start(&primary_, "primary", false);
  ASSERT_GT(primary_.http, 0) << LogOf("primary");
  std::atomic<bool> stop{false};
  // Paced (at most 400 events/s), so that the standby, which reads one
  // message per request, catches up within the test's bounds.
  std::thread appender([&] {
    while (!stop.load()) {
      Append(primary_.http, "load", 20);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  // Stopped and joined on every way out, a failed assertion's too.
  absl::Cleanup join_appender = [&] {
    stop = true;
    appender.join();
  };
  for (int cycle = 0; cycle < 3; ++cycle) {
    Start(&standby_, "standby", true);
    ASSERT_GT(standby_.http, 0) << LogOf("standby");
    // Killed while applying: it has applied something new this cycle.
    const uint64_t before = Number(Replication(standby_.http), "head_position");
    EXPECT_TRUE(WaitUntil(
        [&] {
          return Number(Replication(standby_.http), "head_position") >
                 before + 100;
        },
        absl::Seconds(20)));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 150 * cycle));
    standby_.process->Kill();
  }
  std::move(join_appender).Invoke();
  Start(&standby_, "standby", true);
  ASSERT_GT(standby_.http, 0) << LogOf("standby");
  nlohmann::json mirrored;
  ASSERT_TRUE(WaitUntil(
      [&] {
        mirrored = Replication(primary_.http);
        return Number(mirrored, "lag_positions") == 0;
      },
      absl::Seconds(30)));
  ASSERT_TRUE(AwaitApplied(standby_.http,
                           Number(mirrored, "head_position")))
      << Replication(standby_.http);
  ASSERT_EQ(standby_.process->Terminate(), 0);
  ASSERT_EQ(primary_.process->Terminate(), 0);
  const std::string log = LogOf("standby");
  EXPECT_EQ(log.find("STOPPED"), std::string::npos) << log;
  // Each restart checked its head against the stream.
  EXPECT_NE(log.find("checked: same event, same hash"), std::string::npos)
      << log;
  ExpectSameLogs();
}

TEST_F(StandbyTest, AForgedMessageStopsTheStandbyLoudly) {
  Start(&primary_, "primary", false);
  ASSERT_GT(primary_.http, 0) << LogOf("primary");
  ASSERT_EQ(Append(primary_.http, "orders", 10).status, 201);
  ASSERT_TRUE(WaitUntil(
      [&] { return Number(Replication(primary_.http), "mirrored_position") == 10; },
      absl::Seconds(20)));
  ASSERT_EQ(primary_.process->Terminate(), 0);
  // Control: a standby follows these 10 positions.
  Start(&standby_, "standby", true);
  ASSERT_GT(standby_.http, 0) << LogOf("standby");
  ASSERT_TRUE(AwaitApplied(standby_.http, 10)) << Replication(standby_.http);
  ASSERT_EQ(standby_.process->Terminate(), 0);

  // Someone else publishes position 11: position 10's event with other
  // data and position 10's hash (it does not chain from it).
  ASSERT_EQ(testing::PublishUnchained(cluster_->url(), kStream, 10,
                                      "vigil.orders"),
            11u);

  Start(&standby_, "standby", true);
  ASSERT_GT(standby_.http, 0) << LogOf("standby");
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby_.http), "state") == "stopped"; },
      absl::Seconds(20)))
      << Replication(standby_.http);
  nlohmann::json status = Replication(standby_.http);
  // Positions 1 to 10 were applied, the forged one refused.
  EXPECT_EQ(Number(status, "head_position"), 10u) << status;
  EXPECT_NE(Text(status, "stop_reason").find("import of position 11"),
            std::string::npos)
      << status;
  EXPECT_NE(Text(status, "stop_reason").find("does not chain"),
            std::string::npos)
      << status;
  EXPECT_NE(LogOf("standby").find("vigild: standby: STOPPED: "),
            std::string::npos);
  EXPECT_NE(Request(standby_.http, "GET", "/metrics")
                .body.find("vigil_standby_stopped 1"),
            std::string::npos);
  ASSERT_EQ(standby_.process->Terminate(), 0);
}

}  // namespace
}  // namespace vigil
