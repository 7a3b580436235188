// The mirror end to end (replication/mirror.h, docs/replication.md): a real
// three-node NATS cluster (tests/testing/nats_cluster.h) and the real vigild
// (VIGILD_BINARY) appending over HTTP; the JetStream stream is then read
// back message by message and compared with the log, sequence = position,
// every field and hash equal. Skipped when nats-server is not installed.

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "replication/compare.h"
#include "replication/event_headers.h"
#include "replication/internal/jetstream.h"
#include "tests/gateway/http_client.h"
#include "tests/replication/replication_testing.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "tests/testing/wait_until.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil {
namespace {

using replication::internal::JetStream;
using testing::Append;
using testing::HttpResponse;
using testing::Number;
using testing::PublishForeign;
using testing::RawJetStream;
using testing::Replication;
using testing::Request;
using testing::Text;
using testing::VigildProcess;
using testing::WaitUntil;

constexpr char kStream[] = "VIGIL";

class MirrorTest : public testing::ClusterTest {
 protected:
  // vigild on `data` mirroring in `mode`; its HTTP port, 0 when it did not
  // come up.
  int StartVigild(const std::string& data, const std::string& mode,
                  std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--data-dir",     data,         "--grpc-listen", "127.0.0.1:0",
        "--http-listen",  "127.0.0.1:0", "--projections", "off",
        "--webhooks",     "off",         "--replication", mode,
        "--nats-url",     cluster_->url()};
    args.insert(args.end(), extra.begin(), extra.end());
    vigild_ = std::make_unique<VigildProcess>(VIGILD_BINARY, args, log_path());
    const auto [grpc, http] = vigild_->WaitForPorts();
    grpc_port_ = grpc;
    return http;
  }

  std::string log_path() const { return dir_.Sub("vigild.log"); }

  std::string VigildLog() const {
    std::ifstream in(log_path());
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Waits until the mirror holds the whole log.
  bool AwaitMirrored(int port, absl::Duration timeout = absl::Seconds(30)) {
    return WaitUntil(
        [&] {
          nlohmann::json status = Replication(port);
          return Text(status, "state") == "mirroring" &&
                 Number(status, "head_position") > 0 &&
                 Number(status, "lag_positions") == 0;
        },
        timeout);
  }

  std::unique_ptr<JetStream> Connect() {
    absl::StatusOr<std::unique_ptr<JetStream>> js = JetStream::Connect(
        {.url = cluster_->url(),
         .connect_timeout = absl::Seconds(2),
         .api_timeout = absl::Seconds(5),
         .max_pending = 16,
         .on_ack = &ignore_acks_});
    EXPECT_TRUE(js.ok()) << js.status();
    return js.ok() ? *std::move(js) : nullptr;
  }

  // The stream holds exactly the log, sequence N being position N with
  // every field and the hash equal.
  void ExpectStreamEqualsLog(const std::string& data) {
    absl::StatusOr<replication::StreamComparison> result = CompareWithLog(data);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->stream_last, result->log_head)
        << "the stream's last sequence is not the head";
    EXPECT_EQ(result->mirrored, result->log_head) << result->first_problem;
    EXPECT_EQ(result->mismatches, 0u) << result->first_problem;
    EXPECT_EQ(result->gaps, 0u) << result->first_problem;
    EXPECT_EQ(result->duplicates, 0u) << result->first_problem;
    EXPECT_TRUE(result->Equal());
  }

  std::unique_ptr<VigildProcess> vigild_;
  int grpc_port_ = 0;
  const replication::internal::AckCallback ignore_acks_ =
      [](uint64_t, absl::StatusOr<uint64_t>) {};
};

TEST_F(MirrorTest, EveryEventLandsInJetStreamAtSequenceEqualToPosition) {
  const std::string data = dir_.Sub("data");
  const int port = StartVigild(data, "async");
  ASSERT_GT(port, 0) << VigildLog();
  for (int i = 0; i < 30; ++i) {
    for (const std::string stream : {"orders.eu", "a:b-c_d", "plain"}) {
      ASSERT_EQ(Append(port, stream, 5).status, 201);
    }
  }
  ASSERT_TRUE(AwaitMirrored(port)) << Replication(port).dump();
  nlohmann::json status = Replication(port);
  EXPECT_EQ(Text(status, "mode"), "async");
  EXPECT_EQ(Number(status, "mirrored_position"), 450u);
  // The gauges are refreshed every 50 ms.
  std::string metrics;
  EXPECT_TRUE(WaitUntil(
      [&] {
        metrics = Request(port, "GET", "/metrics").body;
        return metrics.find("vigil_replication_mirrored_position 450\n") !=
               std::string::npos;
      },
      absl::Seconds(2)))
      << metrics;
  EXPECT_NE(metrics.find("vigil_replication_lag_positions 0\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("vigil_replication_stopped 0\n"), std::string::npos);
  ASSERT_EQ(vigild_->Terminate(), 0);
  ExpectStreamEqualsLog(data);

  // The subject of "orders.eu" (position 1) is one escaped token.
  RawJetStream raw(cluster_->url());
  ASSERT_NE(raw.js, nullptr);
  natsMsg* first = nullptr;
  ASSERT_EQ(js_GetMsg(&first, raw.js, kStream, 1, nullptr, nullptr), NATS_OK);
  EXPECT_STREQ(natsMsg_GetSubject(first), "vigil.orders%2Eeu");
  natsMsg_Destroy(first);
}

TEST_F(MirrorTest, KillNineMidMirrorResumesWithoutGapOrDuplicate) {
  const std::string data = dir_.Sub("data");
  for (int cycle = 0; cycle < 3; ++cycle) {
    const int port = StartVigild(data, "async");
    ASSERT_GT(port, 0) << VigildLog();
    std::atomic<bool> stop{false};
    std::thread appender([&] {
      while (!stop.load()) Append(port, "load", 50);
    });
    // Killed while mirroring (after its check of the stream), appending.
    EXPECT_TRUE(WaitUntil(
        [&] { return Text(Replication(port), "state") == "mirroring"; },
        absl::Seconds(15)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + 150 * cycle));
    vigild_->Kill();  // SIGKILL, mid-append and mid-mirror
    stop = true;
    appender.join();
  }
  const int port = StartVigild(data, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_TRUE(AwaitMirrored(port)) << Replication(port).dump();
  ASSERT_EQ(vigild_->Terminate(), 0);
  const std::string log = VigildLog();
  EXPECT_NE(log.find("checked: same events, same hashes"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("STOPPED"), std::string::npos) << log;
  // Each start resumed further on: every cycle appended (and was killed)
  // while the mirror ran.
  const std::regex resumed("mirroring to JetStream stream VIGIL from position ([0-9]+)");
  std::vector<uint64_t> starts;
  for (std::sregex_iterator it(log.begin(), log.end(), resumed), end;
       it != end; ++it) {
    starts.push_back(std::stoull((*it)[1]));
  }
  ASSERT_EQ(starts.size(), 4u) << log;
  for (size_t i = 1; i < starts.size(); ++i) {
    EXPECT_GT(starts[i], starts[i - 1]) << log;
  }
  ExpectStreamEqualsLog(data);
}

TEST_F(MirrorTest, AForeignMessageInTheStreamStopsTheMirrorLoudly) {
  const std::string data = dir_.Sub("data");
  int port = StartVigild(data, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_EQ(Append(port, "orders", 10).status, 201);
  ASSERT_TRUE(AwaitMirrored(port));

  // Control: a restart checks position 10 and goes on mirroring.
  ASSERT_EQ(vigild_->Terminate(), 0);
  port = StartVigild(data, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_TRUE(AwaitMirrored(port));
  EXPECT_NE(VigildLog().find("positions 1 to 10 checked: same events, same hashes"),
            std::string::npos);
  ASSERT_EQ(Append(port, "orders", 1).status, 201);
  ASSERT_TRUE(AwaitMirrored(port));
  EXPECT_EQ(Number(Replication(port), "mirrored_position"), 11u);

  // Someone else publishes what looks like position 12, with another hash.
  std::unique_ptr<JetStream> js = Connect();
  ASSERT_NE(js, nullptr);
  absl::StatusOr<eventlog::RecordedEvent> forged = js->GetEvent(kStream, 11);
  ASSERT_TRUE(forged.ok()) << forged.status();
  forged->position = 12;
  forged->revision = 11;
  forged->hash = std::string(32, '\x42');
  RawJetStream raw(cluster_->url());
  ASSERT_NE(raw.js, nullptr);
  EXPECT_EQ(PublishForeign(raw, "vigil.orders", *forged), 12u);

  // The log's own position 12 is refused by JetStream (expected last
  // sequence 11); the mirror re-reads the stream, finds the forged hash
  // and stops.
  ASSERT_EQ(Append(port, "orders", 3).status, 201);
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(port), "state") == "stopped"; },
      absl::Seconds(20)))
      << Replication(port).dump();
  nlohmann::json status = Replication(port);
  EXPECT_NE(Text(status, "stop_reason").find("position 12"), std::string::npos)
      << status.dump();
  EXPECT_NE(Text(status, "stop_reason").find("differs from the log's"),
            std::string::npos)
      << status.dump();
  EXPECT_NE(Request(port, "GET", "/metrics").body.find(
                "vigil_replication_stopped 1"),
            std::string::npos);
  EXPECT_NE(VigildLog().find("vigild: replication: STOPPED: position 12"),
            std::string::npos);
  // Publishes already in flight behind position 12 (13 and 14, sent in
  // the same batch) may have landed; once stopped, nothing more does.
  const uint64_t at_stop = *js->EnsureStream(kStream, "vigil", 3);
  EXPECT_GE(at_stop, 12u);
  EXPECT_LE(at_stop, 14u);
  EXPECT_EQ(Number(status, "mirrored_position"), 11u);
  ASSERT_EQ(Append(port, "orders", 5).status, 201);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(*js->EnsureStream(kStream, "vigil", 3), at_stop);
}

TEST_F(MirrorTest, ADifferentLocalLogStopsTheMirror) {
  // Log A is mirrored; log B, with other events, is pointed at the same
  // stream: the check at start (the last max_inflight positions) finds its
  // position 1 differs.
  const std::string a = dir_.Sub("a");
  int port = StartVigild(a, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_EQ(Append(port, "orders", 5).status, 201);
  ASSERT_TRUE(AwaitMirrored(port));
  ASSERT_EQ(vigild_->Terminate(), 0);

  const std::string b = dir_.Sub("b");
  {
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
        eventlog::EventLog::Open(eventlog::Options{}, b);
    ASSERT_TRUE(log.ok()) << log.status();
    eventlog::AppendRequest request{.stream = "other"};
    for (int i = 0; i < 5; ++i) {
      request.events.push_back({.type = "Other", .data = "{}"});
    }
    ASSERT_TRUE((*log)->Append(request).ok());
  }
  port = StartVigild(b, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(port), "state") == "stopped"; },
      absl::Seconds(20)));
  EXPECT_NE(Text(Replication(port), "stop_reason").find("position 1 "),
            std::string::npos);
  ASSERT_EQ(vigild_->Terminate(), 0);

  // The comparison `vigil mirror-check` makes sees the same: the stream
  // holds A's five events, each differing from B's at its position.
  absl::StatusOr<replication::StreamComparison> result = CompareWithLog(b);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->Equal());
  EXPECT_EQ(result->stream_last, 5u);
  EXPECT_EQ(result->mismatches, 5u);
  EXPECT_EQ(result->mirrored, 0u);
  EXPECT_EQ(result->first_problem,
            "sequence 1: differs from the log's event (fields or hash)");
}

TEST_F(MirrorTest, APausedNodeAndBackLosesNothing) {
  const std::string data = dir_.Sub("data");
  const int port =
      StartVigild(data, "sync", {"--replication-timeout-ms", "30000"});
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_EQ(Append(port, "orders", 10).status, 201);
  // A sync append waits up to --replication-timeout-ms for the quorum (the
  // paused node may lead the stream until another is elected, and the
  // resumed one may make it elect again): the client waits longer than
  // that. Past it, the 503 says the append is durable locally; a client
  // retries with the same idempotency key until the quorum stores it, and
  // gets the first answer (docs/replication.md, Modes). On a loaded
  // machine an election has taken longer than 30 s.
  uint64_t last_position = 10;
  auto append = [&](int i) {
    const std::string key = absl::StrCat("paused-", i);
    HttpResponse response;
    bool retried = false;
    const absl::Time deadline = absl::Now() + absl::Minutes(3);
    for (;;) {
      response = Append(port, "orders", 5, std::chrono::seconds(40), key);
      if (response.status != 503 || absl::Now() > deadline) break;
      ASSERT_NE(response.body.find("is durable locally"), std::string::npos)
          << response.body;
      retried = true;
    }
    // 200 (deduplicated) for a retry, 201 for a first answer.
    ASSERT_EQ(response.status, retried ? 200 : 201) << response.body;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << response.body;
    EXPECT_EQ(body.value("last_position", uint64_t{0}), last_position + 5)
        << response.body;
    last_position += 5;
  };
  cluster_->Pause(0);
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(append(i));
  cluster_->Resume(0);
  for (int i = 20; i < 25; ++i) ASSERT_NO_FATAL_FAILURE(append(i));
  ASSERT_TRUE(AwaitMirrored(port));
  EXPECT_EQ(Number(Replication(port), "mirrored_position"), 135u);
  ASSERT_EQ(vigild_->Terminate(), 0);
  ExpectStreamEqualsLog(data);
}

TEST_F(MirrorTest, AsyncAppendsGoOnWithoutAQuorumAndTheMirrorCatchesUp) {
  const std::string data = dir_.Sub("data");
  const int port = StartVigild(data, "async");
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_EQ(Append(port, "orders", 3).status, 201);
  ASSERT_TRUE(AwaitMirrored(port));
  cluster_->Kill(1);
  cluster_->Kill(2);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Append(port, "orders", 2).status, 201);
  // The mirror stalls: the 20 new positions wait, and their age grows.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  nlohmann::json stalled = Replication(port);
  EXPECT_EQ(Number(stalled, "lag_positions"), 20u) << stalled.dump();
  EXPECT_GT(stalled["lag_seconds"].get<double>(), 1.0) << stalled.dump();
  ASSERT_TRUE(cluster_->StartMissing());
  ASSERT_TRUE(AwaitMirrored(port, absl::Seconds(60))) << Replication(port).dump();
  ASSERT_EQ(vigild_->Terminate(), 0);
  ExpectStreamEqualsLog(data);
}

TEST_F(MirrorTest, SyncRefusesAppendsWithoutAQuorumAndRecovers) {
  const std::string data = dir_.Sub("data");
  const int port =
      StartVigild(data, "sync", {"--replication-timeout-ms", "2000"});
  ASSERT_GT(port, 0) << VigildLog();
  ASSERT_EQ(Append(port, "orders", 3).status, 201);
  cluster_->Kill(1);
  cluster_->Kill(2);
  const absl::Time start = absl::Now();
  HttpResponse refused = Append(port, "orders", 1);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.Header("content-type"), "application/problem+json");
  EXPECT_NE(refused.body.find("a JetStream quorum did not store it"),
            std::string::npos)
      << refused.body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_GT(Number(Replication(port), "lag_positions"), 0u);
  // gRPC says the same: UNAVAILABLE, same message.
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                          grpc::InsecureChannelCredentials()));
  v1::AppendRequest request;
  request.set_stream("orders");
  v1::EventData* event = request.add_events();
  event->set_type("Noted");
  event->set_data("{}");
  v1::AppendResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  const grpc::Status status = stub->Append(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("a JetStream quorum did not store it"),
            std::string::npos)
      << status.error_message();

  ASSERT_TRUE(cluster_->StartMissing());
  ASSERT_TRUE(WaitUntil([&] { return Append(port, "orders", 1).status == 201; },
                        absl::Seconds(60), absl::Milliseconds(500)))
      << Replication(port).dump();
  ASSERT_TRUE(AwaitMirrored(port));
  ASSERT_EQ(vigild_->Terminate(), 0);
  // The refused append is in the log (durable locally) and now mirrored.
  ExpectStreamEqualsLog(data);
}

}  // namespace
}  // namespace vigil
