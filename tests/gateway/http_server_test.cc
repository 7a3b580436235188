// HttpServer over real sockets on 127.0.0.1 with a real event log: every
// status code of docs/contract.md "HTTP" on the REST mirror, problem+json
// bodies, reads with from/limit, the operations endpoints, /metrics as
// Prometheus text, keep-alive and pipelining, timeouts, the connection bound,
// and Stop.
//
// One component under test, HttpServer's REST side (the live feed is
// live_test.cc's); over ~500 lines because the mirror has many routes and
// status codes, all driven through the one fixture and socket client.

#include "gateway/http_server.h"

#include <simdjson.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/gated_log.h"
#include "tests/testing/temp_dir.h"

namespace vigil::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using vigil::testing::FormatRequest;
using vigil::testing::GatedLog;
using vigil::testing::HttpConnection;
using vigil::testing::HttpResponse;

using Headers = std::vector<std::pair<std::string, std::string>>;

const Headers kJson = {{"Content-Type", "application/json"}};

Headers JsonWith(std::vector<std::pair<std::string, std::string>> more) {
  Headers headers = kJson;
  headers.insert(headers.end(), more.begin(), more.end());
  return headers;
}

std::string Event(const std::string& type = "Noted",
                  const std::string& data = R"({"n":1})") {
  return R"({"type":")" + type + R"(","data":)" + data + "}";
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::make_unique<GatedLog>(*std::move(log));
  }

  void TearDown() override {
    log_->Open();
    if (server_) server_->Stop();
  }

  // Starts the server on a free port with `options` (listen overridden).
  void Start(HttpServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    auto server = HttpServer::Start(options, log_.get(), &metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  uint16_t port() const { return server_->port(); }

  // One request on a fresh connection.
  HttpResponse Call(const std::string& method, const std::string& target,
                    const Headers& headers = {}, const std::string& body = {}) {
    HttpConnection connection(port());
    EXPECT_TRUE(connection.connected());
    std::optional<HttpResponse> response =
        connection.Request(method, target, headers, body);
    EXPECT_TRUE(response.has_value()) << method << " " << target;
    return response.value_or(HttpResponse{});
  }

  HttpResponse Post(const std::string& stream, const std::string& body,
                    Headers headers = kJson) {
    return Call("POST", "/v1/streams/" + stream + "/events", headers, body);
  }

  testing::TempDir dir_;
  std::unique_ptr<GatedLog> log_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
};

// Checks an RFC 9457 body: the four members, `status` equal to the
// response's, the problem content type; returns the detail.
std::string ExpectProblem(const HttpResponse& response, int status) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.Header("content-type"), "application/problem+json");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(response.body).get(root) != simdjson::SUCCESS) {
    ADD_FAILURE() << "problem body is not JSON: " << response.body;
    return "";
  }
  std::string_view type, title, detail;
  int64_t body_status = 0;
  EXPECT_EQ(root["type"].get(type), simdjson::SUCCESS) << response.body;
  EXPECT_EQ(root["title"].get(title), simdjson::SUCCESS) << response.body;
  EXPECT_EQ(root["detail"].get(detail), simdjson::SUCCESS) << response.body;
  EXPECT_EQ(root["status"].get(body_status), simdjson::SUCCESS)
      << response.body;
  EXPECT_EQ(body_status, status);
  EXPECT_THAT(std::string(type), StartsWith("urn:vigil:problem:"));
  EXPECT_FALSE(title.empty());
  return std::string(detail);
}

uint64_t JsonUint(const std::string& json, const char* field) {
  simdjson::dom::parser parser;
  uint64_t value = 0;
  EXPECT_EQ(parser.parse(json)[field].get(value), simdjson::SUCCESS)
      << field << " in " << json;
  return value;
}

// The `field` of each element of {"events":[...]}.
std::vector<uint64_t> EventField(const std::string& json, const char* field) {
  simdjson::dom::parser parser;
  simdjson::dom::array events;
  std::vector<uint64_t> values;
  if (parser.parse(json)["events"].get(events) != simdjson::SUCCESS) {
    ADD_FAILURE() << "no events array in " << json;
    return values;
  }
  for (simdjson::dom::element event : events) {
    uint64_t value = 0;
    EXPECT_EQ(event[field].get(value), simdjson::SUCCESS);
    values.push_back(value);
  }
  return values;
}

TEST_F(HttpServerTest, HealthzAndReadyz) {
  Start();
  HttpResponse health = Call("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(health.Header("content-type"), "application/json");
  EXPECT_EQ(Call("GET", "/readyz").status, 200);

  server_->BeginShutdown();
  HttpResponse ready = Call("GET", "/readyz");
  ExpectProblem(ready, 503);
  EXPECT_EQ(ready.Header("retry-after"), "1");
  EXPECT_EQ(Call("GET", "/healthz").status, 200);  // alive, not ready
}

TEST_F(HttpServerTest, AppendOneEventAndAnArray) {
  Start();
  HttpResponse one = Post("task-1", Event("TaskNoted"));
  EXPECT_EQ(one.status, 201) << one.body;
  EXPECT_EQ(one.Header("content-type"), "application/json");
  EXPECT_EQ(one.body,
            R"({"first_position":1,"last_position":1,)"
            R"("next_expected_revision":0,"deduplicated":false})");

  HttpResponse batch =
      Post("task-1", "[" + Event() + "," + Event() + "," + Event() + "]");
  EXPECT_EQ(batch.status, 201) << batch.body;
  EXPECT_EQ(JsonUint(batch.body, "first_position"), 2u);
  EXPECT_EQ(JsonUint(batch.body, "last_position"), 4u);
  EXPECT_EQ(JsonUint(batch.body, "next_expected_revision"), 3u);
}

TEST_F(HttpServerTest, ContentTypeWithParametersIsJson) {
  Start();
  EXPECT_EQ(Post("s", Event(), {{"Content-Type", "Application/JSON; charset=utf-8"}})
                .status,
            201);
}

TEST_F(HttpServerTest, IdempotencyKeyDeduplicatesWith200) {
  Start();
  const Headers keyed = JsonWith({{"Idempotency-Key", "order-42"}});
  HttpResponse first = Post("agent-a", Event(), keyed);
  EXPECT_EQ(first.status, 201);
  HttpResponse again = Post("agent-a", Event(), keyed);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(JsonUint(again.body, "first_position"),
            JsonUint(first.body, "first_position"));
  EXPECT_THAT(again.body, HasSubstr(R"("deduplicated":true)"));
  EXPECT_EQ(log_->HeadPosition(), 1u);

  // The same key with another body: 422.
  ExpectProblem(Post("agent-a", Event("Other"), keyed), 422);
  ExpectProblem(Post("agent-a", Event(), JsonWith({{"Idempotency-Key", ""}})),
                400);
}

TEST_F(HttpServerTest, ExpectedRevisionMismatchIs412WithActualRevision) {
  Start();
  ASSERT_EQ(Post("s1", Event(), JsonWith({{"Vigil-Expected-Revision",
                                            "no_stream"}}))
                .status,
            201);
  HttpResponse again =
      Post("s1", Event(), JsonWith({{"Vigil-Expected-Revision", "no_stream"}}));
  const std::string detail = ExpectProblem(again, 412);
  EXPECT_EQ(again.Header("vigil-actual-revision"), "0");
  EXPECT_THAT(detail, HasSubstr("actual 0"));
  EXPECT_THAT(again.body, HasSubstr(R"("actual_revision":0)"));

  HttpResponse exact =
      Post("s1", Event(), JsonWith({{"Vigil-Expected-Revision", "5"}}));
  ExpectProblem(exact, 412);
  EXPECT_EQ(exact.Header("vigil-actual-revision"), "0");

  HttpResponse missing = Post(
      "nothing-here", Event(), JsonWith({{"Vigil-Expected-Revision", "stream_exists"}}));
  ExpectProblem(missing, 412);
  EXPECT_EQ(missing.Header("vigil-actual-revision"), "none");

  EXPECT_EQ(Post("s1", Event(), JsonWith({{"Vigil-Expected-Revision", "0"}}))
                .status,
            201);
  ExpectProblem(
      Post("s1", Event(), JsonWith({{"Vigil-Expected-Revision", "latest"}})),
      400);
}

TEST_F(HttpServerTest, InvalidAppendsAre400) {
  Start();
  ExpectProblem(Post("s", "{not json"), 400);
  ExpectProblem(Post("s", "[]"), 400);
  ExpectProblem(Post("s", R"({"data":{}})"), 400);  // no type
  const std::string detail = ExpectProblem(Post("s", "[" + Event() + R"(,{"type":"X","data":{},"extra":1}])"), 400);
  EXPECT_THAT(detail, HasSubstr("events[1]"));
  ExpectProblem(Post("bad%20name", Event()), 400);  // stream name
  ExpectProblem(Post("s", Event("9starts-with-digit")), 400);  // type
  ExpectProblem(Post("s%zz", Event()), 400);  // percent-encoding
  // A known domain event missing a required field.
  const std::string domain = ExpectProblem(
      Post("agent-w1", Event("AgentRegistered", R"({"role":"worker","name":"W"})")),
      400);
  EXPECT_THAT(domain, HasSubstr("agent_id"));
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

// Appending to a system stream is refused; reading one is not (gRPC reads
// them too): here one the system wrote.
TEST_F(HttpServerTest, ReservedStreamsRefuseAppendsAndAreRead) {
  Start();
  ExpectProblem(Post("%24system", Event()), 403);
  ExpectProblem(Call("GET", "/v1/streams/%24system"), 404);
  eventlog::AppendRequest system;
  system.stream = "$alerts";
  system.events.push_back(
      {.type = "AlertRaised",
       .data = R"({"alert_id":"a"})",
       .content_type = eventlog::kJsonContentType});
  ASSERT_TRUE(log_->Append(system).ok());
  const HttpResponse read = Call("GET", "/v1/streams/%24alerts");
  EXPECT_EQ(read.status, 200) << read.body;
  EXPECT_THAT(read.body, HasSubstr(R"("type":"AlertRaised")"));
  EXPECT_THAT(read.body, HasSubstr(R"("stream":"$alerts")"));
}

TEST_F(HttpServerTest, NonJsonContentTypeIs415) {
  Start();
  ExpectProblem(Post("s", Event(), {{"Content-Type", "text/plain"}}), 415);
  ExpectProblem(Post("s", Event(), {}), 415);
  ExpectProblem(Post("s", Event(),
                     {{"Content-Type", "application/x-www-form-urlencoded"}}),
                415);
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  Start();
  HttpResponse get = Call("GET", "/v1/streams/s/events");
  ExpectProblem(get, 405);
  EXPECT_EQ(get.Header("allow"), "POST");
  HttpResponse post = Call("POST", "/v1/all", kJson, "{}");
  ExpectProblem(post, 405);
  EXPECT_EQ(post.Header("allow"), "GET");
  ExpectProblem(Call("DELETE", "/healthz"), 405);
  ExpectProblem(Call("PUT", "/v1/streams/s"), 405);
}

TEST_F(HttpServerTest, UnknownPathsAndMissingStreamsAre404) {
  Start();
  ExpectProblem(Call("GET", "/nope"), 404);
  ExpectProblem(Call("GET", "/v1/streams/"), 404);
  ExpectProblem(Call("GET", "/v1/streams/s/events/x"), 404);
  ExpectProblem(Call("GET", "/v1/all/"), 404);
  const std::string detail = ExpectProblem(Call("GET", "/v1/streams/ghost"), 404);
  EXPECT_THAT(detail, HasSubstr("ghost"));
}

TEST_F(HttpServerTest, EventOverTheLogLimitIs413) {
  Start();
  const std::string big = R"({"pad":")" + std::string(1100000, 'x') + R"("})";
  ExpectProblem(Post("s", Event("Big", big)), 413);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  HttpServerOptions options;
  options.max_body_bytes = 64 << 10;
  Start(options);
  const std::string body =
      Event("Big", R"({"pad":")" + std::string(100000, 'x') + R"("})");
  // With Content-Length: answered from the header alone, then closed.
  {
    HttpConnection connection(port());
    ASSERT_TRUE(connection.Send(
        FormatRequest("POST", "/v1/streams/s/events", kJson, body)));
    std::optional<HttpResponse> response = connection.Read();
    ASSERT_TRUE(response.has_value());
    ExpectProblem(*response, 413);
    EXPECT_EQ(response->Header("connection"), "close");
    EXPECT_TRUE(connection.WaitClosed(std::chrono::seconds(5)));
  }
  // Chunked: found while reading the body.
  {
    HttpConnection connection(port());
    std::ostringstream chunked;
    chunked << "POST /v1/streams/s/events HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/json\r\n"
               "Transfer-Encoding: chunked\r\n\r\n"
            << std::hex << body.size() << "\r\n"
            << body << "\r\n0\r\n\r\n";
    connection.Send(chunked.str());
    std::optional<HttpResponse> response = connection.Read();
    ASSERT_TRUE(response.has_value());
    ExpectProblem(*response, 413);
  }
  // Just under the limit is fine.
  EXPECT_EQ(Post("s", Event("Small", R"({"pad":")" + std::string(60000, 'y') +
                                         R"("})"))
                .status,
            201);
}

TEST_F(HttpServerTest, HeaderOverTheLimitIs431) {
  HttpServerOptions options;
  options.max_header_bytes = 1024;
  Start(options);
  HttpResponse response =
      Call("GET", "/healthz", {{"X-Padding", std::string(4000, 'p')}});
  ExpectProblem(response, 431);
}

TEST_F(HttpServerTest, MalformedRequestIs400AndCloses) {
  Start();
  HttpConnection connection(port());
  connection.Send("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n");
  std::optional<HttpResponse> response = connection.Read();
  ASSERT_TRUE(response.has_value());
  ExpectProblem(*response, 400);
  EXPECT_TRUE(connection.WaitClosed(std::chrono::seconds(5)));
}

TEST_F(HttpServerTest, TooManyAppendsInFlightIs429WithRetryAfter) {
  HttpServerOptions options;
  options.max_inflight_appends = 1;
  Start(options);
  log_->Close();
  HttpConnection first(port());
  ASSERT_TRUE(first.Send(
      FormatRequest("POST", "/v1/streams/s/events", kJson, Event())));
  log_->AwaitHeld(1);
  HttpResponse second = Post("s", Event());
  ExpectProblem(second, 429);
  EXPECT_EQ(second.Header("retry-after"), "1");
  log_->Open();
  std::optional<HttpResponse> answered = first.Read();
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 201);
  EXPECT_EQ(Post("s", Event()).status, 201);  // the slot is free again
}

TEST_F(HttpServerTest, FullReadQueueIs503WithRetryAfter) {
  HttpServerOptions options;
  options.max_queued_reads = 0;
  Start(options);
  HttpResponse response = Call("GET", "/v1/all");
  ExpectProblem(response, 503);
  EXPECT_EQ(response.Header("retry-after"), "1");
}

TEST_F(HttpServerTest, ReadStreamWithFromAndLimit) {
  Start();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post("s", Event()).status, 201);
  ASSERT_EQ(Post("other", Event()).status, 201);

  HttpResponse all = Call("GET", "/v1/streams/s");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.Header("content-type"), "application/json");
  EXPECT_THAT(EventField(all.body, "revision"),
              ::testing::ElementsAre(0, 1, 2, 3, 4));
  HttpResponse page = Call("GET", "/v1/streams/s?from=2&limit=2");
  EXPECT_THAT(EventField(page.body, "revision"), ::testing::ElementsAre(2, 3));
  HttpResponse past = Call("GET", "/v1/streams/s?from=9");
  EXPECT_EQ(past.status, 200);
  EXPECT_EQ(past.body, R"({"events":[]})");
  // The event's JSON form: data inline, hash as hex.
  EXPECT_THAT(page.body, HasSubstr(R"("data":{"n":1})"));
  EXPECT_THAT(page.body, HasSubstr(R"("stream":"s")"));
}

TEST_F(HttpServerTest, ReadAllWithFromAndLimit) {
  Start();
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Post("s" + std::to_string(i % 2), Event()).status, 201);
  }
  EXPECT_THAT(EventField(Call("GET", "/v1/all").body, "position"),
              ::testing::ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(EventField(Call("GET", "/v1/all?from=2&limit=2").body, "position"),
              ::testing::ElementsAre(2, 3));
  EXPECT_THAT(EventField(Call("GET", "/v1/all?limit=1&from=4").body, "position"),
              ::testing::ElementsAre(4));
}

TEST_F(HttpServerTest, ReadsPageByDefaultAndByChunks) {
  HttpServerOptions options;
  options.default_read_limit = 40;
  options.max_read_limit = 70;
  Start(options);
  std::string batch = "[";
  for (int i = 0; i < 100; ++i) batch += (i ? "," : "") + Event();
  ASSERT_EQ(Post("s", batch + "]").status, 201);
  EXPECT_EQ(EventField(Call("GET", "/v1/streams/s").body, "revision").size(),
            40u);
  std::vector<uint64_t> revisions =
      EventField(Call("GET", "/v1/streams/s?from=10&limit=70").body, "revision");
  ASSERT_EQ(revisions.size(), 70u);  // more than one chunk of the log
  EXPECT_EQ(revisions.front(), 10u);
  EXPECT_EQ(revisions.back(), 79u);
  EXPECT_EQ(EventField(Call("GET", "/v1/all?from=90&limit=70").body, "position")
                .size(),
            11u);
}

TEST_F(HttpServerTest, BadQueryParametersAre400) {
  Start();
  ASSERT_EQ(Post("s", Event()).status, 201);
  for (const char* target :
       {"/v1/streams/s?limit=0", "/v1/streams/s?limit=1001",
        "/v1/streams/s?from=abc", "/v1/streams/s?from=-1",
        "/v1/streams/s?from=1&from=2", "/v1/streams/s?lmit=5",
        "/v1/all?from=99999999999999999999", "/v1/all?limit="}) {
    SCOPED_TRACE(target);
    ExpectProblem(Call("GET", target), 400);
  }
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  HttpConnection connection(port());
  for (int i = 0; i < 5; ++i) {
    std::optional<HttpResponse> response =
        connection.Request("POST", "/v1/streams/k/events", kJson, Event());
    ASSERT_TRUE(response.has_value()) << i;
    EXPECT_EQ(response->status, 201);
    EXPECT_EQ(JsonUint(response->body, "next_expected_revision"),
              static_cast<uint64_t>(i));
  }
  std::optional<HttpResponse> read = connection.Request("GET", "/v1/streams/k");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(EventField(read->body, "revision").size(), 5u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  HttpConnection connection(port());
  std::string requests;
  requests += FormatRequest("POST", "/v1/streams/p/events", kJson, Event());
  requests += FormatRequest("GET", "/v1/streams/p");
  requests += FormatRequest("GET", "/nope");
  requests += FormatRequest("POST", "/v1/streams/p/events", kJson, Event());
  requests += FormatRequest("GET", "/healthz");
  ASSERT_TRUE(connection.Send(requests));
  std::vector<int> statuses;
  for (int i = 0; i < 5; ++i) {
    std::optional<HttpResponse> response = connection.Read();
    ASSERT_TRUE(response.has_value()) << i;
    statuses.push_back(response->status);
    if (i == 1) {
      EXPECT_EQ(EventField(response->body, "revision").size(), 1u);
    }
  }
  EXPECT_THAT(statuses, ::testing::ElementsAre(201, 200, 404, 201, 200));
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  Start();
  HttpConnection connection(port());
  ASSERT_TRUE(connection.Send(
      FormatRequest("GET", "/healthz", {{"Connection", "close"}})));
  std::optional<HttpResponse> response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->Header("connection"), "close");
  EXPECT_TRUE(connection.WaitClosed(std::chrono::seconds(5)));
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  Start();
  HttpConnection connection(port());
  const std::string body = Event();
  ASSERT_TRUE(connection.Send(
      "POST /v1/streams/c/events HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nExpect: 100-continue\r\n"
      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  std::optional<HttpResponse> interim = connection.Read();
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(connection.Send(body));
  std::optional<HttpResponse> response = connection.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201);
}

TEST_F(HttpServerTest, IdleAndSlowClientsAreTimedOut) {
  HttpServerOptions options;
  options.idle_timeout = absl::Milliseconds(300);
  options.read_timeout = absl::Milliseconds(300);
  Start(options);
  const auto start = std::chrono::steady_clock::now();
  HttpConnection idle(port());
  EXPECT_TRUE(idle.WaitClosed(std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - start,
            std::chrono::milliseconds(250));

  // Half a header, then nothing.
  HttpConnection slow_header(port());
  slow_header.Send("GET /healthz HTTP/1.1\r\nHo");
  EXPECT_TRUE(slow_header.WaitClosed(std::chrono::seconds(5)));

  // A header promising a body that never comes.
  HttpConnection slow_body(port());
  slow_body.Send(
      "POST /v1/streams/s/events HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{");
  EXPECT_TRUE(slow_body.WaitClosed(std::chrono::seconds(5)));

  // Keep-alive idle after a response.
  HttpConnection kept(port());
  ASSERT_TRUE(kept.Request("GET", "/healthz").has_value());
  EXPECT_TRUE(kept.WaitClosed(std::chrono::seconds(5)));
  // The client may see the close before the server's handler counts it.
  bool counted = false;
  for (int i = 0; i < 100 && !counted; ++i) {
    counted = metrics_.Render().find("vigil_http_timeouts_total 4\n") !=
              std::string::npos;
    if (!counted) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(counted) << metrics_.Render();
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  HttpServerOptions options;
  options.max_connections = 2;
  Start(options);
  HttpConnection a(port());
  HttpConnection b(port());
  ASSERT_TRUE(a.Request("GET", "/healthz").has_value());
  ASSERT_TRUE(b.Request("GET", "/healthz").has_value());
  HttpConnection c(port());
  std::optional<HttpResponse> rejected = c.Read();
  ASSERT_TRUE(rejected.has_value());
  ExpectProblem(*rejected, 503);
  EXPECT_EQ(rejected->Header("retry-after"), "1");
  EXPECT_TRUE(c.WaitClosed(std::chrono::seconds(5)));
  // The first two still work; a slot frees when one closes.
  EXPECT_TRUE(a.Request("GET", "/healthz").has_value());
  b.Send(FormatRequest("GET", "/healthz", {{"Connection", "close"}}));
  ASSERT_TRUE(b.Read().has_value());
  ASSERT_TRUE(b.WaitClosed(std::chrono::seconds(5)));
  // The server notices the close asynchronously.
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    HttpConnection d(port());
    std::optional<HttpResponse> response = d.Request("GET", "/healthz");
    served = response.has_value() && response->status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, StopFinishesInFlightRequestsAndClosesIdleOnes) {
  Start();
  HttpConnection idle(port());
  ASSERT_TRUE(idle.Request("GET", "/healthz").has_value());
  log_->Close();
  HttpConnection busy(port());
  ASSERT_TRUE(
      busy.Send(FormatRequest("POST", "/v1/streams/s/events", kJson, Event())));
  log_->AwaitHeld(1);

  std::future<void> stopped =
      std::async(std::launch::async, [this] { server_->Stop(); });
  EXPECT_TRUE(idle.WaitClosed(std::chrono::seconds(5)));
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(200)),
            std::future_status::timeout);  // waiting for the append
  log_->Open();
  std::optional<HttpResponse> response = busy.Read();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->Header("connection"), "close");
  stopped.get();
  EXPECT_FALSE(HttpConnection(port()).connected());
  server_->Stop();  // idempotent
}

TEST_F(HttpServerTest, StopWithNothingInFlightClosesThePortAtOnce) {
  Start();
  const uint16_t bound = port();
  server_->Stop();
  EXPECT_FALSE(HttpConnection(bound).connected());
}

TEST_F(HttpServerTest, StartRefusesBadAddresses) {
  HttpServerOptions options;
  for (const char* listen : {"0.0.0.0:7601", "10.1.2.3:80", "127.0.0.1",
                             "127.0.0.1:99999", "nonsense:1"}) {
    options.listen = listen;
    auto server = HttpServer::Start(options, log_.get(), &metrics_);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument)
        << listen << ": " << server.status();
  }
  options.listen = "[::1]:0";
  auto v6 = HttpServer::Start(options, log_.get(), &metrics_);
  // Hosts without IPv6 cannot bind it; that is UNAVAILABLE, not a bad address.
  if (!v6.ok()) {
    EXPECT_EQ(v6.status().code(), absl::StatusCode::kUnavailable);
  }
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  Start();
  HttpServerOptions options;
  options.listen = "127.0.0.1:" + std::to_string(port());
  auto second = HttpServer::Start(options, log_.get(), &metrics_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
      << second.status();
}

bool IsNameChar(char c, bool first, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

// Consumes a metric name (colon_ok) or label name from the front of `line`.
bool ConsumeName(std::string_view* line, bool colon_ok, std::string* name) {
  size_t n = 0;
  while (n < line->size() && IsNameChar((*line)[n], n == 0, colon_ok)) ++n;
  if (n == 0) return false;
  name->assign(line->substr(0, n));
  line->remove_prefix(n);
  return true;
}

// One sample line `name{label="value",...} number` of the text format;
// false when it is not one.
bool ParseSampleLine(std::string_view line, std::string* name, double* value) {
  if (!ConsumeName(&line, /*colon_ok=*/true, name)) return false;
  if (!line.empty() && line.front() == '{') {
    line.remove_prefix(1);
    while (true) {
      std::string label;
      if (!ConsumeName(&line, /*colon_ok=*/false, &label)) return false;
      if (line.substr(0, 2) != "=\"") return false;
      line.remove_prefix(2);
      while (!line.empty() && line.front() != '"') {
        if (line.front() == '\\') {
          if (line.size() < 2 || std::string_view("\\\"n").find(line[1]) ==
                                     std::string_view::npos) {
            return false;
          }
          line.remove_prefix(1);
        }
        line.remove_prefix(1);
      }
      if (line.empty()) return false;
      line.remove_prefix(1);  // closing quote
      if (!line.empty() && line.front() == ',') {
        line.remove_prefix(1);
        continue;
      }
      if (line.empty() || line.front() != '}') return false;
      line.remove_prefix(1);
      break;
    }
  }
  if (line.empty() || line.front() != ' ') return false;
  line.remove_prefix(1);
  if (line == "+Inf" || line == "-Inf" || line == "NaN") {
    *value = line == "NaN" ? 0 : (line == "+Inf" ? 1e308 : -1e308);
    return true;
  }
  const std::string number(line);
  if (number.empty() || std::isspace(static_cast<unsigned char>(number[0]))) {
    return false;
  }
  char* end = nullptr;
  *value = std::strtod(number.c_str(), &end);
  return end == number.c_str() + number.size();
}

// Checks `text` line by line against the text exposition format 0.0.4 and
// returns each sample's value by its full name with labels.
std::map<std::string, double> ParsePrometheus(const std::string& text) {
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::string current;  // the family of the last # TYPE
  std::istringstream lines(text);
  std::string line;
  EXPECT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(lines, line)) {
    std::string_view rest = line;
    std::string name;
    if (rest.substr(0, 7) == "# HELP ") {
      rest.remove_prefix(7);
      EXPECT_TRUE(ConsumeName(&rest, true, &name) && !rest.empty() &&
                  rest.front() == ' ')
          << line;
      continue;
    }
    if (rest.substr(0, 7) == "# TYPE ") {
      rest.remove_prefix(7);
      EXPECT_TRUE(ConsumeName(&rest, true, &name)) << line;
      const std::set<std::string_view> kinds = {
          " counter", " gauge", " histogram", " summary", " untyped"};
      EXPECT_TRUE(kinds.count(rest)) << line;
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << line;
      current = name;
      continue;
    }
    double value = 0;
    if (!ParseSampleLine(line, &name, &value)) {
      ADD_FAILURE() << "not exposition format: " << line;
      continue;
    }
    EXPECT_EQ(name.rfind(current, 0), 0u)
        << "sample outside its family: " << line;
    const size_t space = line.rfind(' ');
    EXPECT_TRUE(samples.emplace(line.substr(0, space), value).second)
        << "duplicate sample: " << line;
  }
  return samples;
}

TEST(PrometheusCheckerTest, TellsSamplesFromNonsense) {
  std::string name;
  double value = 0;
  EXPECT_TRUE(ParseSampleLine(R"(a_b:c{x="1",y="q\"\\\n"} 2.5)", &name, &value));
  EXPECT_EQ(name, "a_b:c");
  EXPECT_EQ(value, 2.5);
  EXPECT_TRUE(ParseSampleLine("up +Inf", &name, &value));
  for (const char* bad : {"a b", "1a 2", R"(a{b="c} 1)", R"(a{b=c} 1)",
                          "a{} 1", "a  1", R"(a{b="\x"} 1)", "a 1 2"}) {
    EXPECT_FALSE(ParseSampleLine(bad, &name, &value)) << bad;
  }
}

TEST_F(HttpServerTest, MetricsAreValidPrometheusText) {
  Start();
  ASSERT_EQ(Post("m", "[" + Event() + "," + Event() + "]").status, 201);
  ASSERT_EQ(Post("m", Event()).status, 201);
  ASSERT_EQ(Call("GET", "/nope").status, 404);
  ASSERT_EQ(Call("GET", "/v1/streams/m").status, 200);

  HttpResponse response = Call("GET", "/metrics");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.Header("content-type"),
            "text/plain; version=0.0.4; charset=utf-8");
  std::map<std::string, double> samples = ParsePrometheus(response.body);

  EXPECT_EQ(samples[R"(vigil_http_requests_total{method="POST",route="/v1/streams/{stream}/events",status="201"})"],
            2);
  EXPECT_EQ(samples[R"(vigil_http_requests_total{method="GET",route="unmatched",status="404"})"],
            1);
  EXPECT_EQ(samples[R"(vigil_http_requests_total{method="GET",route="/v1/streams/{stream}",status="200"})"],
            1);
  EXPECT_EQ(samples["vigil_append_events_total"], 3);
  EXPECT_EQ(samples["vigil_append_bytes_total"], 3 * std::string(R"({"n":1})").size());
  EXPECT_EQ(samples[R"(vigil_append_duration_seconds_bucket{le="+Inf"})"], 2);
  EXPECT_EQ(samples["vigil_append_duration_seconds_count"], 2);
  EXPECT_EQ(samples["vigil_head_position"], 3);
  EXPECT_EQ(samples[R"(vigil_http_request_duration_seconds_count{route="/v1/streams/{stream}/events"})"],
            2);
  EXPECT_GE(samples["vigil_http_connections"], 1);  // this scrape's own
  EXPECT_TRUE(samples.count("vigil_http_connections_rejected_total"));

  // The scrape itself is counted by the next one.
  std::map<std::string, double> next = ParsePrometheus(Call("GET", "/metrics").body);
  EXPECT_EQ(next[R"(vigil_http_requests_total{method="GET",route="/metrics",status="200"})"],
            1);
}

}  // namespace
}  // namespace vigil::gateway

namespace vigil::gateway {
namespace {

// Tokens, roles and the per-token rate limit on the REST API.
class HttpAuthTest : public HttpServerTest {
 protected:
  void SetUp() override {
    HttpServerTest::SetUp();
    auto auth = api::Authenticator::FromText(
        "agent-token-0123456789 agent\nreader-token-0123456789 reader\n");
    ASSERT_TRUE(auth.ok());
    auth_ = *std::move(auth);
    limiter_ = std::make_unique<api::RateLimiter>(
        api::RateLimiterOptions{.events_per_second = 1, .burst = 2});
    HttpServerOptions options;
    options.authenticator = auth_.get();
    options.rate_limiter = limiter_.get();
    Start(options);
  }
  static Headers Bearer(const std::string& token, bool json = true) {
    Headers headers = json ? kJson : Headers{};
    headers.emplace_back("Authorization", "Bearer " + token);
    return headers;
  }

  std::unique_ptr<api::Authenticator> auth_;
  std::unique_ptr<api::RateLimiter> limiter_;
};

TEST_F(HttpAuthTest, ApiRoutesNeedAKnownToken) {
  HttpResponse anonymous = Post("s", Event());
  ExpectProblem(anonymous, 401);
  EXPECT_EQ(anonymous.Header("www-authenticate"), "Bearer");
  ExpectProblem(Post("s", Event(), Bearer("unknown-token-000000000")), 401);
  ExpectProblem(Call("GET", "/v1/all"), 401);
  // Operations endpoints stay open for orchestrators and scrapers.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/metrics").status, 200);
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

TEST_F(HttpAuthTest, RolesAndRateLimit) {
  EXPECT_EQ(Post("s", Event(), Bearer("agent-token-0123456789")).status, 201);
  ExpectProblem(Post("s", Event(), Bearer("reader-token-0123456789")), 403);
  EXPECT_EQ(Call("GET", "/v1/all", Bearer("reader-token-0123456789", false)).status,
            200);
  // Burst of 2 events per token: the second append fits, the third not.
  EXPECT_EQ(Post("s", Event(), Bearer("agent-token-0123456789")).status, 201);
  HttpResponse limited = Post("s", Event(), Bearer("agent-token-0123456789"));
  ExpectProblem(limited, 429);
  EXPECT_FALSE(limited.Header("retry-after").empty());
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

}  // namespace
}  // namespace vigil::gateway

namespace vigil::gateway {
namespace {

// The dashboard's files at / and /assets/ (gateway/internal/static_files.h),
// with no token needed even when tokens are configured.
TEST_F(HttpServerTest, ServesTheDashboardDirectory) {
  testing::TempDir site;
  std::filesystem::create_directories(site.Sub("assets"));
  std::ofstream(site.Sub("index.html")) << "<!doctype html><title>Vigil</title>";
  std::ofstream(site.Sub("assets/app-1.js")) << "console.log(1)";
  HttpServerOptions options;
  options.dashboard_dir = site.path();
  Start(options);

  HttpResponse index = Call("GET", "/");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>Vigil</title>");
  EXPECT_EQ(index.Header("content-type"), "text/html; charset=utf-8");
  EXPECT_EQ(index.Header("cache-control"), "no-cache");
  EXPECT_EQ(Call("GET", "/?token=x").status, 200);
  EXPECT_EQ(Call("GET", "/index.html").body, index.body);

  HttpResponse js = Call("GET", "/assets/app-1.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.Header("content-type"), "text/javascript; charset=utf-8");

  ExpectProblem(Call("GET", "/assets/missing.js"), 404);
  ExpectProblem(Call("GET", "/assets/../index.html"), 404);
  EXPECT_EQ(Call("POST", "/", kJson, "{}").status, 405);
  // The API around it is unchanged.
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
}

TEST_F(HttpServerTest, WithoutADashboardDirectoryTheRootIs404SayingWhy) {
  Start();
  std::string detail = ExpectProblem(Call("GET", "/"), 404);
  EXPECT_THAT(detail, ::testing::HasSubstr("dashboard"));
}

}  // namespace
}  // namespace vigil::gateway
