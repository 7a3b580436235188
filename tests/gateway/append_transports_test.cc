// gRPC Append and REST POST /v1/streams/{stream}/events through one shared
// api::AppendPath, as vigild wires them: an append in flight on either
// transport counts against the same in-flight bound, both refuse past it
// the same way (RESOURCE_EXHAUSTED / 429 with Retry-After: 1, one message),
// and every append is counted once in the shared append metrics. Real
// loopback servers over a gated log (tests/testing/gated_log.h).

#include <future>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/append_path.h"
#include "api/event_store_service.h"
#include "api/subscription.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/gated_log.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::gateway {
namespace {

using ::testing::HasSubstr;
using vigil::testing::FormatRequest;
using vigil::testing::GatedLog;
using vigil::testing::HttpConnection;
using vigil::testing::HttpResponse;

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kInflightRefusal[] =
    "too many appends in flight on this server (1); retry";
const Headers kJson = {{"Content-Type", "application/json"}};
constexpr char kHttpEvent[] = R"({"type":"Noted","data":{"n":1}})";

class AppendTransportsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::make_unique<GatedLog>(*std::move(log));
    appends_ = std::make_unique<api::AppendPath>(
        log_.get(), api::AppendPathOptions{.max_inflight_appends = 1},
        /*rate_limiter=*/nullptr, &metrics_);

    hub_ = std::make_unique<api::SubscriptionHub>(log_.get(),
                                                  api::SubscriptionOptions{});
    service_ = std::make_unique<api::EventStoreService>(
        log_.get(), hub_.get(), api::ServiceOptions{},
        /*authenticator=*/nullptr, /*rate_limiter=*/nullptr, &metrics_,
        /*state_queries=*/nullptr, appends_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
    stub_ = v1::EventStore::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));

    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.append_path = appends_.get();
    auto http = HttpServer::Start(options, log_.get(), &metrics_);
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
  }

  void TearDown() override {
    log_->Open();
    if (http_) http_->Stop();
    if (grpc_) {
      hub_->Stop();
      grpc_->Shutdown();
    }
  }

  grpc::Status GrpcAppend(int events = 1) {
    v1::AppendRequest request;
    request.set_stream("s");
    for (int i = 0; i < events; ++i) {
      v1::EventData* event = request.add_events();
      event->set_type("Noted");
      event->set_data(R"({"n":1})");
    }
    grpc::ClientContext context;
    v1::AppendResponse response;
    return stub_->Append(&context, request, &response);
  }

  HttpResponse HttpAppend() {
    HttpConnection connection(http_->port());
    std::optional<HttpResponse> response =
        connection.Request("POST", "/v1/streams/s/events", kJson, kHttpEvent);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }

  // Both transports refuse the next append for the one in flight.
  void ExpectBothRefused() {
    HttpResponse http = HttpAppend();
    EXPECT_EQ(http.status, 429) << http.body;
    EXPECT_EQ(http.Header("retry-after"), "1");
    EXPECT_THAT(http.body, HasSubstr(kInflightRefusal));
    grpc::Status grpc = GrpcAppend();
    EXPECT_EQ(grpc.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(grpc.error_message(), kInflightRefusal);
  }

  // The value of an unlabelled series on the /metrics page, -1 if absent.
  double Sample(const std::string& series) {
    const std::string page = metrics_.Render();
    const std::string prefix = series + " ";
    size_t at = page.find("\n" + prefix);
    if (at == std::string::npos) return -1;
    at += 1 + prefix.size();
    return std::stod(page.substr(at, page.find('\n', at) - at));
  }

  vigil::testing::TempDir dir_;
  std::unique_ptr<GatedLog> log_;
  base::Metrics metrics_;
  std::unique_ptr<api::AppendPath> appends_;
  std::unique_ptr<api::SubscriptionHub> hub_;
  std::unique_ptr<api::EventStoreService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
  std::unique_ptr<HttpServer> http_;
};

TEST_F(AppendTransportsTest, AGrpcAppendInFlightHoldsTheBoundForBoth) {
  log_->Close();
  std::future<grpc::Status> held =
      std::async(std::launch::async, [this] { return GrpcAppend(); });
  log_->AwaitHeld(1);
  ExpectBothRefused();
  log_->Open();
  EXPECT_TRUE(held.get().ok());
  EXPECT_EQ(HttpAppend().status, 201);  // the slot is free again
  EXPECT_TRUE(GrpcAppend().ok());
  EXPECT_EQ(log_->HeadPosition(), 3u);
}

TEST_F(AppendTransportsTest, AnHttpAppendInFlightHoldsTheBoundForBoth) {
  log_->Close();
  HttpConnection held(http_->port());
  ASSERT_TRUE(held.Send(
      FormatRequest("POST", "/v1/streams/s/events", kJson, kHttpEvent)));
  log_->AwaitHeld(1);
  ExpectBothRefused();
  log_->Open();
  std::optional<HttpResponse> answered = held.Read();
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->status, 201);
  EXPECT_TRUE(GrpcAppend().ok());
  EXPECT_EQ(HttpAppend().status, 201);
  EXPECT_EQ(log_->HeadPosition(), 3u);
}

TEST_F(AppendTransportsTest, EveryAppendIsCountedOnceWhateverItsTransport) {
  ASSERT_TRUE(GrpcAppend(2).ok());
  ASSERT_EQ(HttpAppend().status, 201);
  EXPECT_EQ(Sample("vigil_append_events_total"), 3);
  EXPECT_EQ(Sample("vigil_append_bytes_total"),
            3 * std::string(R"({"n":1})").size());
  EXPECT_EQ(Sample("vigil_append_duration_seconds_count"), 2);
}

}  // namespace
}  // namespace vigil::gateway
