// The real vigild delivering webhooks to a real receiver process on
// loopback (receiver.py: Python's http.server, checking every signature
// with Python's hmac, independent of Vigil's code):
//  - a forbidden target is refused at registration (400, problem+json);
//  - receiver down for a while, then up: every event delivered, in order
//    per stream, signatures verified; after rotate-secret both secrets sign;
//  - always 500: dead-lettered after the last attempt, exactly once, then
//    redelivered (one, then in bulk);
//  - kill -9 of vigild during deliveries: nothing lost, duplicates only of
//    the request in flight at each kill;
//  - a tampered body or an old timestamp fails verification (verify.py).
//
// One component under test, webhook delivery as an operator sees it; over
// ~500 lines because each scenario drives the same processes (vigild and
// receiver.py) through the one fixture that spawns and kills them.

#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/webhook_receiver.h"
#include "tests/testing/vigild_process.h"
#include "projections/webhooks/signature.h"

namespace vigil {
namespace {

using testing::FreePort;
using testing::HttpConnection;
using testing::HttpResponse;
using testing::VigildProcess;
using testing::Delivery;
using testing::Receiver;

// Retries of 0.2 s to 1 s (time scale 0.01 on these), circuit cool-down
// 0.3 s: everything a test waits for happens within seconds.
const std::vector<std::string> kFastRetries = {
    "--webhooks-allow-private", "--webhooks-time-scale", "0.01",
    "--webhooks-retry-schedule",
    "20s,50s,100s,100s,100s,100s,100s,100s,100s,100s"};

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class WebhookDeliveryTest : public ::testing::Test {
 protected:
  void StartVigild(std::vector<std::string> extra) {
    http_port_ = FreePort();
    std::vector<std::string> args = {
        "--data-dir",    dir_.Sub("data"),
        "--grpc-listen", absl::StrCat("127.0.0.1:", FreePort()),
        "--http-listen", absl::StrCat("127.0.0.1:", http_port_),
        "--projections", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    vigild_ = std::make_unique<VigildProcess>(VIGILD_BINARY, args,
                                              dir_.Sub("vigild.log"));
    ASSERT_TRUE(vigild_->started());
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (absl::Now() < deadline) {
      std::optional<HttpResponse> health = Call("GET", "/healthz");
      if (health.has_value() && health->status == 200) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "vigild did not come up: " << ReadFile(dir_.Sub("vigild.log"));
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

  // Registers `url`; returns {id, secret}.
  std::pair<std::string, std::string> Register(const std::string& url,
                                               const std::string& filter = "") {
    std::string body = "{\"url\":\"" + url + "\"";
    if (!filter.empty()) body += ",\"filter\":" + filter;
    body += "}";
    std::optional<HttpResponse> response = Call("POST", "/v1/webhooks", body);
    EXPECT_TRUE(response.has_value());
    if (!response.has_value()) return {};
    EXPECT_EQ(response->status, 201) << response->body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(response->body).get(doc) != simdjson::SUCCESS) return {};
    return {std::string(doc["id"].get_string().value()),
            std::string(doc["secret"].get_string().value())};
  }

  // Appends one event to `stream`; returns its position.
  uint64_t Append(const std::string& stream, int n) {
    std::optional<HttpResponse> response =
        Call("POST", "/v1/streams/" + stream + "/events",
             absl::StrCat(R"({"type":"Note","data":{"n":)", n, "}}"));
    EXPECT_TRUE(response.has_value());
    if (!response.has_value()) return 0;
    EXPECT_EQ(response->status, 201) << response->body;
    simdjson::dom::parser parser;
    return parser.parse(response->body)["first_position"].get_uint64();
  }

  simdjson::dom::element GetJson(const std::string& target,
                                 simdjson::dom::parser* parser) {
    std::optional<HttpResponse> response = Call("GET", target);
    EXPECT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200) << response->body;
    body_ = response->body;
    return parser->parse(body_);
  }

  size_t DeadLetterCount(const std::string& id) {
    simdjson::dom::parser parser;
    return GetJson("/v1/webhooks/" + id + "/dead-letters",
                   &parser)["dead_letters"]
        .get_array()
        .size();
  }

  testing::TempDir dir_;
  int http_port_ = 0;
  std::unique_ptr<VigildProcess> vigild_;
  std::string body_;
};

// Every delivery verified; each stream's revisions first seen in order
// 0, 1, 2, ...; 2xx for every appended position.
void ExpectInOrderAndVerified(const std::vector<Delivery>& deliveries,
                              const std::set<uint64_t>& positions) {
  std::map<std::string, uint64_t> next_revision;
  std::set<std::string> seen;
  std::set<uint64_t> delivered;
  for (const Delivery& d : deliveries) {
    EXPECT_TRUE(d.verified) << d.id << " " << d.signature;
    EXPECT_NE(d.stream.front(), '$') << "system events are never sent";
    if (d.status == 200) delivered.insert(d.position);
    if (!seen.insert(d.id).second) continue;
    EXPECT_EQ(d.revision, next_revision[d.stream])
        << d.stream << " out of order";
    next_revision[d.stream] = d.revision + 1;
  }
  EXPECT_EQ(delivered, positions);
}

TEST_F(WebhookDeliveryTest, ForbiddenTargetsAreRefusedAtRegistration) {
  StartVigild({});
  for (const char* url :
       {"http://127.0.0.1:9/hook", "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data", "http://10.1.2.3/",
        "http://[::1]:80/", "http://192.168.0.10/"}) {
    std::optional<HttpResponse> response =
        Call("POST", "/v1/webhooks", absl::StrCat(R"({"url":")", url, R"("})"));
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400) << url << " " << response->body;
    EXPECT_EQ(response->Header("content-type"), "application/problem+json");
    EXPECT_NE(response->body.find("webhooks-allow-private"), std::string::npos)
        << response->body;
  }
  for (const char* body :
       {R"({"url":"ftp://example.com/"})", R"({"filter":{}})", R"([])",
        R"({"url":"https://example.com/","filter":{"streams":["a"]}})"}) {
    std::optional<HttpResponse> response = Call("POST", "/v1/webhooks", body);
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 400) << body << " " << response->body;
  }
  std::optional<HttpResponse> list = Call("GET", "/v1/webhooks");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->body, R"({"webhooks":[]})");
  std::optional<HttpResponse> wrong = Call("PUT", "/v1/webhooks");
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->Header("allow"), "GET, POST");
  std::optional<HttpResponse> missing = Call("GET", "/v1/webhooks/wh_nope");
  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(WebhookDeliveryTest, ReceiverDownThenUpGetsEverythingInOrderSigned) {
  Receiver receiver(dir_.path());
  std::vector<std::string> args = kFastRetries;
  args.insert(args.end(), {"--webhooks-circuit-threshold", "2"});
  StartVigild(args);
  auto [id, secret] = Register(receiver.url());
  ASSERT_EQ(secret.substr(0, 6), "whsec_");
  receiver.SetSecret(secret);

  std::set<uint64_t> positions;
  for (int i = 0; i < 10; ++i) {
    for (const char* stream : {"task-a", "task-b", "agent-c"}) {
      positions.insert(Append(stream, i));
    }
  }
  absl::SleepFor(absl::Seconds(2));  // the receiver is down meanwhile
  simdjson::dom::parser parser;
  simdjson::dom::element health = GetJson("/v1/webhooks/" + id, &parser);
  EXPECT_GT(health["delivery"]["failed_attempts"].get_uint64().value(), 0u)
      << body_;
  // Two failures in a row opened the circuit.
  EXPECT_NE(std::string(health["delivery"]["circuit"].get_string().value()),
            "closed")
      << body_;
  std::optional<HttpResponse> open_metrics = Call("GET", "/metrics");
  ASSERT_TRUE(open_metrics.has_value());
  EXPECT_NE(open_metrics->body.find("\nvigil_webhook_open_circuits 1\n"),
            std::string::npos);
  receiver.Start();
  std::vector<Delivery> deliveries =
      receiver.WaitForDelivered(positions.size(), absl::Seconds(60));
  ExpectInOrderAndVerified(deliveries, positions);

  // Rotation: the next deliveries carry both signatures; either secret
  // verifies them.
  std::optional<HttpResponse> rotated =
      Call("POST", "/v1/webhooks/" + id + "/rotate-secret");
  ASSERT_TRUE(rotated.has_value());
  ASSERT_EQ(rotated->status, 200) << rotated->body;
  const std::string new_secret =
      std::string(parser.parse(rotated->body)["secret"].get_string().value());
  receiver.SetSecret(new_secret);
  positions.insert(Append("task-a", 10));
  deliveries = receiver.WaitForDelivered(positions.size(), absl::Seconds(20));
  ASSERT_FALSE(deliveries.empty());
  EXPECT_TRUE(deliveries.back().verified);
  EXPECT_NE(deliveries.back().signature.find(' '), std::string::npos);
  receiver.SetSecret(secret);
  positions.insert(Append("task-a", 11));
  deliveries = receiver.WaitForDelivered(positions.size(), absl::Seconds(20));
  EXPECT_TRUE(deliveries.back().verified);

  std::optional<HttpResponse> metrics = Call("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("vigil_webhook_deliveries_total{webhook=\"" +
                               id + "\",outcome=\"delivered\"} 32"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("vigil_webhook_attempts_total{webhook=\"" + id +
                               "\",result=\"error\"}"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("\nvigil_webhook_open_circuits 0\n"),
            std::string::npos);
  health = GetJson("/v1/webhooks/" + id, &parser);
  EXPECT_EQ(std::string(health["delivery"]["circuit"].get_string().value()),
            "closed");
}

TEST_F(WebhookDeliveryTest, AlwaysFailingIsDeadLetteredOnceThenRedelivered) {
  Receiver receiver(dir_.path());
  receiver.SetStatus(500);
  receiver.Start();
  // 3 attempts (two retries of 0.1 s); circuit cool-down 0.3 s.
  StartVigild({"--webhooks-allow-private", "--webhooks-time-scale", "0.01",
               "--webhooks-retry-schedule", "10s,10s"});
  auto [id, secret] = Register(receiver.url());
  receiver.SetSecret(secret);
  const uint64_t first = Append("task-x", 0);

  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (DeadLetterCount(id) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(DeadLetterCount(id), 1u);
  absl::SleepFor(absl::Milliseconds(500));  // nothing more is sent
  std::vector<Delivery> deliveries = receiver.Received();
  ASSERT_EQ(deliveries.size(), 3u);
  for (const Delivery& d : deliveries) EXPECT_EQ(d.position, first);
  simdjson::dom::parser parser;
  simdjson::dom::element letters =
      GetJson("/v1/webhooks/" + id + "/dead-letters", &parser);
  simdjson::dom::element letter = letters["dead_letters"].at(0);
  EXPECT_EQ(letter["attempts"].get_int64().value(), 3);
  EXPECT_EQ(letter["last_status"].get_int64().value(), 500);
  const std::string event_id(letter["event_id"].get_string().value());
  EXPECT_EQ(event_id, deliveries[0].id);
  std::optional<HttpResponse> metrics = Call("GET", "/metrics");
  EXPECT_NE(metrics->body.find("vigil_webhook_dead_letters{webhook=\"" + id +
                               "\"} 1"),
            std::string::npos);

  // The receiver is fixed: one redelivery, then the rest in bulk.
  receiver.SetStatus(200);
  std::optional<HttpResponse> queued =
      Call("POST",
           "/v1/webhooks/" + id + "/dead-letters/" + event_id + "/redeliver");
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(queued->status, 202) << queued->body;
  deliveries = receiver.WaitForDelivered(1, absl::Seconds(20));
  ASSERT_EQ(deliveries.size(), 4u);
  EXPECT_EQ(deliveries.back().id, event_id);
  EXPECT_TRUE(deliveries.back().verified);
  for (int i = 0; i < 50 && DeadLetterCount(id) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(DeadLetterCount(id), 0u);

  receiver.SetStatus(500);
  const uint64_t second = Append("task-x", 1);
  const uint64_t third = Append("task-y", 0);
  for (int i = 0; i < 400 && DeadLetterCount(id) < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(DeadLetterCount(id), 2u);
  receiver.SetStatus(200);
  queued = Call("POST", "/v1/webhooks/" + id + "/dead-letters/redeliver");
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(queued->status, 202);
  EXPECT_NE(queued->body.find("\"queued\":2"), std::string::npos)
      << queued->body;
  deliveries = receiver.WaitForDelivered(3, absl::Seconds(20));
  std::set<uint64_t> delivered;
  for (const Delivery& d : deliveries) {
    if (d.status == 200) delivered.insert(d.position);
  }
  EXPECT_EQ(delivered, (std::set<uint64_t>{first, second, third}));
  for (int i = 0; i < 50 && DeadLetterCount(id) != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(DeadLetterCount(id), 0u);

  // The history holds it all: registration, dead letters, redeliveries.
  std::optional<HttpResponse> all = Call("GET", "/v1/all?limit=1000");
  ASSERT_TRUE(all.has_value());
  for (const char* type :
       {"WebhookRegistered", "WebhookDeadLettered",
        "WebhookRedeliveryRequested", "WebhookRedelivered"}) {
    EXPECT_NE(all->body.find(type), std::string::npos) << type;
  }
  EXPECT_EQ(all->body.find(secret.substr(6)), std::string::npos)
      << "the secret must not be in the log in clear";
}

TEST_F(WebhookDeliveryTest, Kill9DuringDeliveriesLosesNothing) {
  Receiver receiver(dir_.path());
  receiver.SetDelayMs(15);
  receiver.Start();
  StartVigild(kFastRetries);
  auto [id, secret] =
      Register(receiver.url(), R"({"stream_prefixes":["task-"]})");
  receiver.SetSecret(secret);
  std::set<uint64_t> positions;
  for (int i = 0; i < 60; ++i) {
    for (const char* stream : {"task-a", "task-b"}) {
      positions.insert(Append(stream, i));
    }
    Append("agent-z", i);  // filtered out
  }
  constexpr int kKills = 3;
  for (int kill = 0; kill < kKills; ++kill) {
    absl::SleepFor(absl::Milliseconds(300));
    vigild_->Kill();
    if (kill == 0) {
      // Killed in the middle of the deliveries, not before or after.
      std::set<std::string> ids;
      for (const Delivery& d : receiver.Received()) ids.insert(d.id);
      EXPECT_GT(ids.size(), 0u);
      EXPECT_LT(ids.size(), positions.size());
    }
    StartVigild(kFastRetries);
  }
  std::vector<Delivery> deliveries =
      receiver.WaitForDelivered(positions.size(), absl::Seconds(60));
  ExpectInOrderAndVerified(deliveries, positions);
  std::set<std::string> ids;
  for (const Delivery& d : deliveries) ids.insert(d.id);
  EXPECT_LE(deliveries.size() - ids.size(), static_cast<size_t>(kKills))
      << "only requests in flight at a kill may be repeated";
  simdjson::dom::parser parser;
  simdjson::dom::element list = GetJson("/v1/webhooks", &parser);
  EXPECT_EQ(list["webhooks"].get_array().size(), 1u) << "registration lost";
}

TEST_F(WebhookDeliveryTest, TamperedBodyAndOldTimestampFailVerification) {
  Receiver receiver(dir_.path());
  receiver.Start();
  StartVigild(kFastRetries);
  auto [id, secret] = Register(receiver.url());
  receiver.SetSecret(secret);
  Append("task-t", 0);
  std::vector<Delivery> deliveries =
      receiver.WaitForDelivered(1, absl::Seconds(20));
  ASSERT_EQ(deliveries.size(), 1u);
  const Delivery& d = deliveries[0];

  auto verify = [&](const std::string& id, const std::string& timestamp,
                    const std::string& signature, const std::string& body) {
    const std::string body_path = dir_.Sub("body");
    WriteFile(body_path, body);
    const std::string command = absl::StrCat(
        "python3 ", WEBHOOK_VERIFY, " '", secret, "' '", id, "' '", timestamp,
        "' '", signature, "' ", body_path, " >/dev/null");
    return std::system(command.c_str()) == 0;
  };
  EXPECT_TRUE(verify(d.id, d.timestamp, d.signature, d.body));
  std::string tampered = d.body;
  tampered.replace(tampered.find("\"n\":0"), 5, "\"n\":1");
  EXPECT_FALSE(verify(d.id, d.timestamp, d.signature, tampered));
  EXPECT_FALSE(verify("another-id", d.timestamp, d.signature, d.body));
  // Correctly signed, but ten minutes old: a replay.
  const int64_t old = std::stoll(d.timestamp) - 600;
  absl::StatusOr<std::string> old_signature =
      webhooks::Sign(secret, d.id, old, d.body);
  ASSERT_TRUE(old_signature.ok());
  EXPECT_FALSE(verify(d.id, std::to_string(old), *old_signature, d.body));
  EXPECT_FALSE(webhooks::Verify(secret, d.id, old, d.body, *old_signature,
                                absl::ToUnixSeconds(absl::Now()))
                   .ok());

  // Deleting stops deliveries.
  std::optional<HttpResponse> deleted = Call("DELETE", "/v1/webhooks/" + id);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 200);
  Append("task-t", 1);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(receiver.Received().size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/webhooks/" + id)->status, 404);
}

TEST_F(WebhookDeliveryTest, GoneDisablesAndRetryAfterIsHonoured) {
  Receiver receiver(dir_.path());
  receiver.SetStatus(410);
  receiver.Start();
  StartVigild(kFastRetries);
  auto [id, secret] = Register(receiver.url());
  receiver.SetSecret(secret);
  const uint64_t first = Append("task-g", 0);
  simdjson::dom::parser parser;
  std::string status;
  for (int i = 0; i < 200 && status != "disabled"; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    status = std::string(
        GetJson("/v1/webhooks/" + id, &parser)["status"].get_string().value());
  }
  ASSERT_EQ(status, "disabled") << body_;
  EXPECT_NE(body_.find("410"), std::string::npos) << body_;
  const uint64_t second = Append("task-g", 1);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(receiver.Received().size(), 1u)
      << "a disabled endpoint gets nothing";

  // Enabled again, it resumes at the event that got the 410.
  receiver.SetStatus(200);
  std::optional<HttpResponse> enabled =
      Call("POST", "/v1/webhooks/" + id + "/enable");
  ASSERT_TRUE(enabled.has_value());
  EXPECT_EQ(enabled->status, 200) << enabled->body;
  ExpectInOrderAndVerified(receiver.WaitForDelivered(2, absl::Seconds(20)),
                           {first, second});

  // 429 with Retry-After: 1 waits a second, not the 0.2 s of the schedule.
  receiver.SetStatus(429);
  const uint64_t third = Append("task-g", 2);
  std::vector<Delivery> deliveries;
  for (int i = 0; i < 100; ++i) {
    deliveries = receiver.Received();
    if (deliveries.size() >= 5) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_GE(deliveries.size(), 5u);
  EXPECT_EQ(deliveries[3].position, third);
  EXPECT_EQ(deliveries[4].position, third);
  EXPECT_GE(deliveries[4].received_at - deliveries[3].received_at, 0.95);
  receiver.SetStatus(200);
  deliveries = receiver.WaitForDelivered(3, absl::Seconds(20));
  EXPECT_EQ(deliveries.back().position, third);
  EXPECT_EQ(deliveries.back().status, 200);
}

TEST_F(WebhookDeliveryTest, SlowReceiverTimesOutAndIsRetried) {
  Receiver receiver(dir_.path());
  receiver.SetDelayMs(2000);
  receiver.Start();
  std::vector<std::string> args = kFastRetries;
  args.insert(args.end(), {"--webhooks-timeout-ms", "300"});
  StartVigild(args);
  auto [id, secret] = Register(receiver.url());
  receiver.SetSecret(secret);
  const uint64_t position = Append("task-slow", 0);
  simdjson::dom::parser parser;
  std::string error;
  for (int i = 0; i < 100 && error.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    error = std::string(
        GetJson("/v1/webhooks/" + id, &parser)["delivery"]["last_error"]
            .get_string()
            .value());
  }
  EXPECT_EQ(error.rfind("timeout", 0), 0u) << error;
  receiver.SetDelayMs(0);
  uint64_t delivered = 0;
  for (int i = 0; i < 200 && delivered == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    delivered = GetJson("/v1/webhooks/" + id, &parser)["delivery"]["delivered"]
                    .get_uint64()
                    .value();
  }
  EXPECT_EQ(delivered, 1u);
  std::optional<HttpResponse> metrics = Call("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("vigil_webhook_attempts_total{webhook=\"" + id +
                               "\",result=\"timeout\"}"),
            std::string::npos);
  for (const Delivery& d : receiver.Received()) EXPECT_EQ(d.position, position);
}

TEST_F(WebhookDeliveryTest, ShutdownCutsRequestsInFlightShortAndRedoesThem) {
  Receiver receiver(dir_.path());
  receiver.SetDelayMs(20000);  // longer than the 15 s timeout
  receiver.Start();
  StartVigild(kFastRetries);
  auto [id, secret] = Register(receiver.url());
  receiver.SetSecret(secret);
  const uint64_t position = Append("task-hang", 0);
  for (int i = 0; i < 100 && receiver.Received().empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(receiver.Received().size(), 1u);
  const absl::Time start = absl::Now();
  EXPECT_EQ(vigild_->Terminate(), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  receiver.SetDelayMs(0);
  StartVigild(kFastRetries);
  std::vector<Delivery> deliveries;
  for (int i = 0; i < 200 && deliveries.size() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    deliveries = receiver.Received();
  }
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_EQ(deliveries[0].id, deliveries[1].id);  // the same webhook-id
  EXPECT_EQ(deliveries[1].position, position);
}

TEST_F(WebhookDeliveryTest, HttpsVerifiesCertificates) {
  // A CA and a certificate for 127.0.0.1 signed by it.
  const std::string d = dir_.path();
  const std::string command = absl::StrCat(
      "cd ", d,
      " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 "
      "-subj /CN=vigil-test-ca -keyout ca.key -out ca.pem 2>/dev/null && "
      "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 "
      "-keyout server.key -out server.csr 2>/dev/null && "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost' > san.ext && "
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
      "-CAcreateserial -days 1 -extfile san.ext -out server.pem 2>/dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0);
  Receiver receiver(d);
  receiver.Start(d + "/server.pem", d + "/server.key");

  // Without the CA the certificate is not trusted: nothing is delivered.
  StartVigild(kFastRetries);
  auto [id, secret] = Register(receiver.url("https"));
  receiver.SetSecret(secret);
  const uint64_t position = Append("task-s", 0);
  simdjson::dom::parser parser;
  std::string error;
  for (int i = 0; i < 100 && error.empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    error = std::string(
        GetJson("/v1/webhooks/" + id, &parser)["delivery"]["last_error"]
            .get_string()
            .value());
  }
  EXPECT_NE(error.find("TLS handshake"), std::string::npos) << error;
  EXPECT_TRUE(receiver.Received().empty());

  // Restarted trusting the CA: the same registration delivers.
  vigild_->Terminate();
  std::vector<std::string> args = kFastRetries;
  args.insert(args.end(), {"--webhooks-ca-file", d + "/ca.pem"});
  StartVigild(args);
  std::vector<Delivery> deliveries =
      receiver.WaitForDelivered(1, absl::Seconds(20));
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].position, position);
  EXPECT_TRUE(deliveries[0].verified);
}

TEST_F(WebhookDeliveryTest, ManagingWebhooksNeedsTheAdminRole) {
  WriteFile(dir_.Sub("tokens"),
            "reader-token-0123456789 reader\nadmin-token-0123456789 admin\n");
  StartVigild({"--tokens-file", dir_.Sub("tokens")});
  auto call = [&](const std::string& token, const std::string& method) {
    HttpConnection connection(static_cast<uint16_t>(http_port_));
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", "Bearer " + token}};
    std::string body;
    if (method == "POST") {
      headers.emplace_back("Content-Type", "application/json");
      body = R"({"url":"http://127.0.0.1:9/"})";
    }
    return connection.Request(method, "/v1/webhooks", headers, body)->status;
  };
  EXPECT_EQ(call("reader-token-0123456789", "GET"), 403);
  EXPECT_EQ(call("reader-token-0123456789", "POST"), 403);
  EXPECT_EQ(call("nobody-0123456789abc", "GET"), 401);
  EXPECT_EQ(call("admin-token-0123456789", "GET"), 200);
  EXPECT_EQ(call("admin-token-0123456789", "POST"), 400);  // loopback target
}

}  // namespace
}  // namespace vigil
