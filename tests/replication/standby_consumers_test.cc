// Consumers on another machine than the primary, following a standby
// (docs/replication.md "Read models and gateways on a standby"): a real
// three-node NATS cluster and three-member etcd cluster (tools/cluster), a
// primary vigild with no read side, a `vigild --standby` that projects into
// its own PostgreSQL database, and a gateway replica
// (`vigild --gateway-only`) whose upstream is the standby.
//
// Simulated agents append to the primary; the standby's read models and the
// gateway follow. The primary is killed with kill -9 and the standby
// promotes itself; the agents go on appending to it. At the end the standby's read models,
// projected across the promotion, equal a fresh rebuild of its log row for
// row: its checkpoints held, nothing was applied twice or skipped. The
// control rewinds the checkpoints and projects again, which applies events
// twice, and the same comparison catches it. Skipped when nats-server or
// etcd is not installed.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <iterator>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "projections/internal/domain_projections.h"
#include "projections/projection_runner.h"
#include "tests/replication/replication_testing.h"
#include "tests/testing/fresh_rebuild.h"
#include "tests/testing/pg_database.h"
#include "tests/testing/read_model_dump.h"
#include "tests/testing/simulated_agents.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "tests/testing/wait_until.h"
#include "tests/testing/webhook_receiver.h"

namespace vigil {
namespace {

using testing::HttpResponse;
using testing::Number;
using testing::Replication;
using testing::Request;
using testing::SimulatedAgents;
using testing::StartVigildNode;
using testing::Text;
using testing::VigildNode;
using testing::WaitUntil;

class StandbyConsumersTest : public testing::ClusterTest {
 protected:
  StandbyConsumersTest() : ClusterTest(/*with_etcd=*/true) {}

  // A vigild of the cluster in sync mode, with `extra` flags.
  VigildNode StartNode(const std::string& name, std::vector<std::string> extra,
                       bool standby) {
    std::vector<std::string> args = {
        "--data-dir",       dir_.Sub(name),
        "--grpc-listen",    "127.0.0.1:0",
        "--http-listen",    "127.0.0.1:0",
        "--replication",    "sync",
        "--nats-url",       cluster_->url(),
        "--etcd-endpoints", cluster_->etcd_url(),
        "--leader-ttl-s",   "5",
        "--leader-margin-ms", "1000"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (standby) args.push_back("--standby");
    return StartVigildNode(VIGILD_BINARY, std::move(args),
                           dir_.Sub(name + ".log"));
  }
};

// Whether the three projections of the vigild at `http` have all reached
// `position` (GET /v1/projections).
bool ProjectedTo(int http, uint64_t position) {
  HttpResponse response = Request(http, "GET", "/v1/projections");
  if (response.status != 200) return false;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.contains("projections") || body["projections"].size() != 3) {
    return false;
  }
  for (const nlohmann::json& projection : body["projections"]) {
    if (projection.value("checkpoint", uint64_t{0}) < position) return false;
  }
  return true;
}

// The gateway replica's HTTP port, from its "serving HTTP on HOST:PORT".
int GatewayPort(const std::string& log_path) {
  static const std::regex kServing("serving HTTP on [^ ]*:([0-9]+)");
  int port = 0;
  WaitUntil(
      [&] {
        std::ifstream in(log_path);
        const std::string log(std::istreambuf_iterator<char>(in), {});
        std::smatch match;
        if (!std::regex_search(log, match, kServing)) return false;
        port = std::stoi(match[1]);
        return true;
      },
      absl::Seconds(30));
  return port;
}

// The position of the newest event a vigild (or a gateway) serves through
// GET /v1/all, 0 when it does not answer.
uint64_t ServedHead(int http, uint64_t from) {
  HttpResponse response =
      Request(http, "GET", absl::StrCat("/v1/all?from=", from, "&limit=1000"));
  if (response.status != 200) return 0;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.contains("events") || body["events"].empty()) return from - 1;
  return body["events"].back().value("position", uint64_t{0});
}

TEST_F(StandbyConsumersTest,
       ReadModelsAndAGatewayFollowAStandbyAcrossItsPromotion) {
  testing::PgDatabase db;
  VigildNode primary = StartNode(
      "a", {"--projections", "off", "--webhooks", "off", "--alerts", "off"},
      false);
  ASSERT_GT(primary.http, 0) << primary.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Replication(primary.http).value("leader", false); },
      absl::Seconds(20)))
      << Replication(primary.http) << primary.Log();
  VigildNode standby = StartNode("b",
                                 {"--projections", "on", "--pg-url", db.url(),
                                  "--webhooks", "off", "--alerts", "off"},
                                 true);
  ASSERT_GT(standby.http, 0) << standby.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby.http), "state") == "following"; },
      absl::Seconds(20)))
      << Replication(standby.http) << standby.Log();

  // A gateway replica following the standby's gRPC feed.
  const std::string gateway_log = dir_.Sub("gateway.log");
  testing::VigildProcess gateway(
      VIGILD_BINARY,
      {"--gateway-only", "--upstream",
       absl::StrCat("127.0.0.1:", standby.grpc), "--http-listen",
       "127.0.0.1:0"},
      gateway_log);
  const int gateway_http = GatewayPort(gateway_log);
  ASSERT_GT(gateway_http, 0);

  // Simulated agents append to the primary.
  SimulatedAgents agents(3);
  ASSERT_TRUE(agents.AppendSteps(primary.grpc, 300));
  const uint64_t before_kill = agents.last_position();
  ASSERT_GT(before_kill, 0u);

  // The standby's read models and the gateway reach the primary's head.
  ASSERT_TRUE(WaitUntil([&] { return ProjectedTo(standby.http, before_kill); },
                        absl::Seconds(60)))
      << Request(standby.http, "GET", "/v1/projections").body;
  ASSERT_TRUE(WaitUntil(
      [&] { return ServedHead(gateway_http, before_kill) >= before_kill; },
      absl::Seconds(30)))
      << ServedHead(gateway_http, before_kill);
  HttpResponse agent_list = Request(standby.http, "GET", "/v1/agents");
  EXPECT_EQ(agent_list.status, 200) << agent_list.body;
  EXPECT_NE(agent_list.body.find("c0"), std::string::npos) << agent_list.body;

  // kill -9 of the primary: the standby promotes itself.
  primary.process->Kill();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby.http), "role") == "primary"; },
      absl::Seconds(40)))
      << Replication(standby.http) << standby.Log();

  // The agents go on against the new primary.
  ASSERT_TRUE(agents.AppendSteps(standby.grpc, 300));
  const uint64_t head = agents.last_position();
  ASSERT_GT(head, before_kill);
  ASSERT_TRUE(WaitUntil([&] { return ProjectedTo(standby.http, head); },
                        absl::Seconds(60)))
      << Request(standby.http, "GET", "/v1/projections").body;
  // The gateway kept following the same vigild through its promotion.
  EXPECT_TRUE(WaitUntil(
      [&] { return ServedHead(gateway_http, head) >= head; },
      absl::Seconds(30)))
      << ServedHead(gateway_http, head);
  EXPECT_EQ(gateway.Terminate(), 0);
  ASSERT_EQ(standby.process->Terminate(), 0) << standby.Log();

  // Projected across the promotion, yet equal to a fresh rebuild.
  testing::PgDatabase fresh;
  const std::vector<std::string> rebuilt =
      testing::FreshRebuild(dir_.Sub("b"), fresh.url());
  const std::vector<std::string> projected = testing::DumpReadModels(db.url());
  ASSERT_GT(projected.size(), 20u);
  EXPECT_EQ(projected, rebuilt);

  // Control: the checkpoints set back 100 positions and the projections
  // run again, so those events are applied twice; the comparison sees it.
  {
    pqxx::connection connection(db.url());
    pqxx::work tx(connection);
    tx.exec("UPDATE vigil.projection_checkpoints SET position = position - 100");
    tx.commit();
  }
  {
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
        eventlog::EventLog::Open(eventlog::Options(), dir_.Sub("b"));
    ASSERT_TRUE(log.ok()) << log.status();
    for (auto& projection : projections::NewDomainProjections({})) {
      projections::RunnerOptions options;
      options.pg_url = db.url();
      projections::ProjectionRunner runner(projection.get(), log->get(),
                                           options);
      ASSERT_TRUE(runner.CatchUp((*log)->HeadPosition()).ok());
    }
  }
  EXPECT_NE(testing::DumpReadModels(db.url()), rebuilt)
      << "control: events applied twice left the read models equal to a "
         "fresh rebuild, so the comparison above could not catch it";
}

// Position -> deliveries answered 2xx, all checked as signed.
std::map<uint64_t, int> Answered(const std::vector<testing::Delivery>& all) {
  std::map<uint64_t, int> answered;
  for (const testing::Delivery& d : all) {
    EXPECT_TRUE(d.verified) << d.body;
    if (d.status >= 200 && d.status < 300) ++answered[d.position];
  }
  return answered;
}

// The 61 events of a webhook scenario, delivered by one vigild and then,
// from the last recorded checkpoint on, by another that took over (after
// `settled`, the 41st): all arrive, and none settled before is sent twice;
// in a control (`record` false: only the first checkpoint recorded) some
// are, which this must see.
void ExpectResumedAfter(const std::vector<testing::Delivery>& deliveries,
                        uint64_t settled, bool record, const char* who) {
  const std::map<uint64_t, int> answered = Answered(deliveries);
  EXPECT_EQ(answered.size(), 61u);
  int settled_twice = 0;
  int later_twice = 0;
  for (const auto& [position, count] : answered) {
    if (count > 1) ++(position <= settled ? settled_twice : later_twice);
  }
  std::printf("%s: %d of the 41 events settled before the last recorded "
              "checkpoint delivered again, %d of the 20 after it\n",
              record ? "recorded checkpoints" : "control, one recorded",
              settled_twice, later_twice);
  if (record) {
    EXPECT_EQ(settled_twice, 0)
        << who << " sent again what was settled and recorded";
  } else {
    EXPECT_GT(settled_twice, 0)
        << "control: with no checkpoint recorded " << who
        << " should resume after the first event, yet sent nothing twice";
  }
}

// Webhooks and alert rules run on the leader only. The standby refuses
// their admin routes as it refuses appends; once promoted it starts them
// and resumes each endpoint after the checkpoint the primary recorded in
// `$webhooks`, so what the old primary had settled by then is not sent
// again. The parameter is whether checkpoints are recorded as they go: the
// control (`--webhooks-checkpoint-every-ms` of an hour: only the first
// delivery's) resumes after the first event and sends the settled ones a
// second time, which the same check catches.
// The webhook scenarios: a receiver started beside the cluster; the
// parameter is whether checkpoints are recorded as they go.
class WebhookScenarioTest : public StandbyConsumersTest,
                            public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    StandbyConsumersTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::filesystem::create_directories(dir_.Sub("receiver"));
    receiver_ = std::make_unique<testing::Receiver>(dir_.Sub("receiver"));
    ASSERT_NO_FATAL_FAILURE(receiver_->Start());
  }
  std::unique_ptr<testing::Receiver> receiver_;
};

class WebhookFailoverTest : public WebhookScenarioTest {};

// The position `count` events appended to "orders" at `http` end at.
uint64_t AppendOrders(int http, int count) {
  HttpResponse response = testing::Append(http, "orders", count);
  EXPECT_EQ(response.status, 201) << response.body;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  return Number(body, "last_position");
}

// The first 51 orders of a webhook scenario, appended at `http`: 40, then
// after a pause (so that a checkpoint is recorded) the 41st, whose
// position it returns, then 10; each batch delivered to `receiver` before
// the next, and the checkpoints recorded meanwhile given time to reach
// every vigild. 0 when a batch was not delivered within 30 s.
uint64_t AppendAndDeliver51(int http, const testing::Receiver& receiver) {
  for (int i = 0; i < 40; ++i) AppendOrders(http, 1);
  if (receiver.WaitForDelivered(40, absl::Seconds(30)).size() < 40) return 0;
  absl::SleepFor(absl::Milliseconds(400));
  const uint64_t settled = AppendOrders(http, 1);
  if (receiver.WaitForDelivered(41, absl::Seconds(30)).size() < 41) return 0;
  AppendOrders(http, 10);
  if (receiver.WaitForDelivered(51, absl::Seconds(30)).size() < 51) return 0;
  absl::SleepFor(absl::Milliseconds(500));
  return settled;
}

TEST_P(WebhookFailoverTest, PromotedStandbyResumesAfterTheRecordedCheckpoint) {
  const bool record = GetParam();
  testing::Receiver& receiver = *receiver_;
  const std::vector<std::string> flags = {
      "--projections", "off", "--alerts", "on", "--webhooks", "on",
      "--webhooks-allow-private", "--webhooks-checkpoint-every-ms",
      record ? "200" : "3600000"};
  VigildNode primary = StartNode("a", flags, false);
  ASSERT_GT(primary.http, 0) << primary.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Replication(primary.http).value("leader", false); },
      absl::Seconds(20)))
      << primary.Log();
  HttpResponse registered = Request(
      primary.http, "POST", "/v1/webhooks",
      absl::StrCat(R"({"url":")", receiver.url(),
                   R"(","filter":{"stream_prefixes":["orders"]}})"));
  ASSERT_EQ(registered.status, 201) << registered.body;
  nlohmann::json endpoint =
      nlohmann::json::parse(registered.body, nullptr, false);
  receiver.SetSecret(Text(endpoint, "secret"));

  // The standby gets the primary's key, which seals the secrets in the log.
  std::filesystem::create_directories(dir_.Sub("b/webhooks"));
  std::filesystem::copy_file(dir_.Sub("a/webhooks/key"),
                             dir_.Sub("b/webhooks/key"));
  VigildNode standby = StartNode("b", flags, true);
  ASSERT_GT(standby.http, 0) << standby.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby.http), "state") == "following"; },
      absl::Seconds(20)))
      << standby.Log();
  for (const char* target : {"/v1/webhooks", "/v1/alert-rules"}) {
    HttpResponse refused = Request(standby.http, "GET", target);
    EXPECT_EQ(refused.status, 503) << target << ": " << refused.body;
    EXPECT_NE(refused.body.find("not-primary"), std::string::npos)
        << refused.body;
  }

  // Deliveries by the primary before the kill.
  const uint64_t settled = AppendAndDeliver51(primary.http, receiver);
  ASSERT_GT(settled, 0u) << primary.Log();

  primary.process->Kill();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby.http), "role") == "primary"; },
      absl::Seconds(40)))
      << standby.Log();
  EXPECT_EQ(standby.Log().find("promoted, but"), std::string::npos)
      << standby.Log();
  // The new primary serves the admin routes.
  ASSERT_TRUE(WaitUntil(
      [&] {
        return Request(standby.http, "GET", "/v1/webhooks").status == 200 &&
               Request(standby.http, "GET", "/v1/alert-rules").status == 200;
      },
      absl::Seconds(10)));
  AppendOrders(standby.http, 10);
  std::vector<testing::Delivery> deliveries =
      receiver.WaitForDelivered(61, absl::Seconds(30));

  // Every event delivered, signed with the endpoint's secret by both.
  ExpectResumedAfter(deliveries, settled, record, "the promoted standby");
}

INSTANTIATE_TEST_SUITE_P(
    Checkpoints, WebhookFailoverTest, ::testing::Bool(),
    [](const ::testing::TestParamInfo<bool>& info) {
      return info.param ? "Recorded" : "ControlOnlyTheFirstRecorded";
    });

// `--webhooks=here` on a standby, `--webhooks=elsewhere` on the primary
// (docs/replication.md "Webhooks on a standby"): the endpoint is
// registered through the standby, orders are appended to the primary, and
// the standby delivers every one of them, exactly once while it runs (the
// primary delivers none); its `$webhooks` appends (the registration, the
// checkpoints) are in the primary's log. Then the standby is killed with
// kill -9 and started again on a new data directory (its machine lost,
// only the key kept): it resumes after the checkpoint it recorded through
// the primary, so what it had settled before is not sent again. The
// parameter is whether checkpoints are recorded as they go; the control
// records only the first (an hour's interval), so the restarted standby
// sends the settled events again, and the same check catches it. Last,
// the primary is killed: the standby is promoted and goes on delivering,
// recording its checkpoints in its own log.
class WebhooksOnStandbyTest : public WebhookScenarioTest {};

// The `$webhooks` events of type `type` the vigild at `http` holds.
int WebhooksEvents(int http, const std::string& type) {
  HttpResponse response =
      Request(http, "GET", "/v1/streams/$webhooks?from=0&limit=1000");
  if (response.status != 200) return -1;
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  int count = 0;
  for (const nlohmann::json& event : body.value("events", nlohmann::json::array())) {
    if (event.value("type", "") == type) ++count;
  }
  return count;
}

TEST_P(WebhooksOnStandbyTest, TheStandbyDeliversAndResumesAfterItsCheckpoint) {
  const bool record = GetParam();
  testing::Receiver& receiver = *receiver_;
  VigildNode primary = StartNode(
      "a",
      {"--projections", "off", "--alerts", "off", "--webhooks", "elsewhere"},
      false);
  ASSERT_GT(primary.http, 0) << primary.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Replication(primary.http).value("leader", false); },
      absl::Seconds(20)))
      << primary.Log();
  const std::vector<std::string> standby_flags = {
      "--projections", "off", "--alerts", "off", "--webhooks", "here",
      "--webhooks-allow-private", "--webhooks-checkpoint-every-ms",
      record ? "200" : "3600000"};
  VigildNode standby = StartNode("b", standby_flags, true);
  ASSERT_GT(standby.http, 0) << standby.Log();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(standby.http), "state") == "following"; },
      absl::Seconds(20)))
      << standby.Log();

  // Registered through the standby (once it has read the leader key).
  HttpResponse registered;
  ASSERT_TRUE(WaitUntil(
      [&] {
        registered = Request(
            standby.http, "POST", "/v1/webhooks",
            absl::StrCat(R"({"url":")", receiver.url(),
                         R"(","filter":{"stream_prefixes":["orders"]}})"));
        return registered.status == 201;
      },
      absl::Seconds(10)))
      << registered.status << " " << registered.body << standby.Log();
  receiver.SetSecret(
      Text(nlohmann::json::parse(registered.body, nullptr, false), "secret"));
  EXPECT_EQ(WebhooksEvents(primary.http, "WebhookRegistered"), 1);
  EXPECT_NE(Request(primary.http, "GET", "/v1/webhooks").status, 200)
      << "the primary runs no webhook service";

  // Orders appended to the primary, delivered by the standby.
  const uint64_t settled = AppendAndDeliver51(primary.http, receiver);
  ASSERT_GT(settled, 0u) << standby.Log();

  // One deliverer: each order exactly once so far.
  std::map<uint64_t, int> before = Answered(receiver.Received());
  EXPECT_EQ(before.size(), 51u);
  for (const auto& [position, count] : before) {
    EXPECT_EQ(count, 1) << "position " << position << " delivered " << count
                        << " times while one standby ran";
  }
  const int checkpoints = WebhooksEvents(primary.http, "WebhookCheckpointed");
  std::printf("%d checkpoints recorded in the primary's $webhooks\n",
              checkpoints);
  EXPECT_GE(checkpoints, 1);
  if (record) {
    EXPECT_GE(checkpoints, 2);
  }

  // kill -9; a new standby on a new data directory with the key only.
  standby.process->Kill();
  std::filesystem::create_directories(dir_.Sub("c/webhooks"));
  std::filesystem::copy_file(dir_.Sub("b/webhooks/key"),
                             dir_.Sub("c/webhooks/key"));
  VigildNode restarted = StartNode("c", standby_flags, true);
  ASSERT_GT(restarted.http, 0) << restarted.Log();
  AppendOrders(primary.http, 10);
  ASSERT_TRUE(WaitUntil(
      [&] { return Answered(receiver.Received()).size() >= 61; },
      absl::Seconds(60)))
      << restarted.Log();
  ExpectResumedAfter(receiver.Received(), settled, record,
                     "the restarted standby");

  // kill -9 of the primary: the delivering standby is promoted and goes
  // on, its `$webhooks` appends now its own.
  const int recorded_before = WebhooksEvents(restarted.http,
                                             "WebhookCheckpointed");
  const uint64_t last_before = Answered(receiver.Received()).rbegin()->first;
  primary.process->Kill();
  ASSERT_TRUE(WaitUntil(
      [&] { return Text(Replication(restarted.http), "role") == "primary"; },
      absl::Seconds(40)))
      << restarted.Log();
  AppendOrders(restarted.http, 10);
  ASSERT_TRUE(WaitUntil(
      [&] { return Answered(receiver.Received()).size() >= 71; },
      absl::Seconds(30)))
      << restarted.Log();
  for (const auto& [position, count] : Answered(receiver.Received())) {
    if (position > last_before) {
      EXPECT_EQ(count, 1) << "position " << position << " after promotion";
    }
  }
  if (record) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          return WebhooksEvents(restarted.http, "WebhookCheckpointed") >
                 recorded_before;
        },
        absl::Seconds(10)))
        << "no checkpoint recorded after the promotion" << restarted.Log();
  }
  EXPECT_EQ(Request(restarted.http, "GET", "/v1/webhooks").status, 200);
  EXPECT_EQ(restarted.process->Terminate(), 0) << restarted.Log();
}

INSTANTIATE_TEST_SUITE_P(
    Checkpoints, WebhooksOnStandbyTest, ::testing::Bool(),
    [](const ::testing::TestParamInfo<bool>& info) {
      return info.param ? "Recorded" : "ControlOnlyTheFirstRecorded";
    });

}  // namespace
}  // namespace vigil
