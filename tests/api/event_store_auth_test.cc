// Tokens, roles and the per-token append rate limit on the gRPC API, over a
// real loopback channel.

#include "api/auth.h"
#include "api/event_store_service.h"
#include "api/grpc_status.h"
#include "api/rate_limiter.h"
#include "api/status_mapping.h"
#include "api/subscription.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {
namespace {

constexpr char kAgent[] = "agent-token-0123456789";
constexpr char kReader[] = "reader-token-0123456789";
constexpr char kAdmin[] = "admin-token-0123456789";

class EventStoreAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok());
    log_ = *std::move(log);
    auto auth = Authenticator::FromText(
        absl::StrCat(kAgent, " agent\n", kReader, " reader\n", kAdmin,
                     " admin\n"));
    ASSERT_TRUE(auth.ok());
    auth_ = *std::move(auth);
    limiter_ = std::make_unique<RateLimiter>(
        RateLimiterOptions{.events_per_second = 1, .burst = 5});
    hub_ = std::make_unique<SubscriptionHub>(log_.get(), SubscriptionOptions{});
    service_ = std::make_unique<EventStoreService>(
        log_.get(), hub_.get(), ServiceOptions{}, auth_.get(), limiter_.get(),
        &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    stub_ = vigil::v1::EventStore::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    hub_->Stop();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  static void Authorize(grpc::ClientContext* context, const char* token) {
    if (token != nullptr) {
      context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    }
  }

  grpc::StatusCode Append(const char* token, int events = 1) {
    grpc::ClientContext context;
    Authorize(&context, token);
    vigil::v1::AppendRequest request;
    request.set_stream("agent-1");
    for (int i = 0; i < events; ++i) {
      auto* e = request.add_events();
      e->set_type("Note");
      e->set_data("{}");
    }
    vigil::v1::AppendResponse response;
    return stub_->Append(&context, request, &response).error_code();
  }

  grpc::StatusCode ReadAll(const char* token) {
    grpc::ClientContext context;
    Authorize(&context, token);
    vigil::v1::ReadAllRequest request;
    auto reader = stub_->ReadAll(&context, request);
    vigil::v1::RecordedEvent event;
    while (reader->Read(&event)) {
    }
    return reader->Finish().error_code();
  }

  grpc::StatusCode GetStream(const char* token) {
    grpc::ClientContext context;
    Authorize(&context, token);
    vigil::v1::GetStreamRequest request;
    request.set_stream("agent-1");
    vigil::v1::StreamInfo info;
    return stub_->GetStream(&context, request, &info).error_code();
  }

  // The first response's kind, or the status when the call ends instead.
  grpc::StatusCode Subscribe(const char* token) {
    grpc::ClientContext context;
    Authorize(&context, token);
    vigil::v1::SubscribeRequest request;
    auto reader = stub_->Subscribe(&context, request);
    vigil::v1::SubscribeResponse response;
    if (reader->Read(&response)) {
      context.TryCancel();
      reader->Finish();
      return grpc::StatusCode::OK;
    }
    return reader->Finish().error_code();
  }

  vigil::testing::TempDir dir_;
  base::Metrics metrics_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<RateLimiter> limiter_;
  std::unique_ptr<SubscriptionHub> hub_;
  std::unique_ptr<EventStoreService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<vigil::v1::EventStore::Stub> stub_;
};

TEST_F(EventStoreAuthTest, NoOrUnknownTokenIsUnauthenticatedEverywhere) {
  for (const char* token : {static_cast<const char*>(nullptr),
                            "not-a-known-token-0000"}) {
    EXPECT_EQ(Append(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(ReadAll(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(GetStream(token), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Subscribe(token), grpc::StatusCode::UNAUTHENTICATED);
  }
  EXPECT_EQ(log_->HeadPosition(), 0u);
}

TEST_F(EventStoreAuthTest, RolesFollowTheSpec) {
  EXPECT_EQ(Append(kAgent), grpc::StatusCode::OK);
  EXPECT_EQ(ReadAll(kAgent), grpc::StatusCode::OK);
  EXPECT_EQ(GetStream(kAgent), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(kAgent), grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_EQ(Append(kReader), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(ReadAll(kReader), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(kReader), grpc::StatusCode::OK);

  EXPECT_EQ(Append(kAdmin), grpc::StatusCode::OK);
  EXPECT_EQ(Subscribe(kAdmin), grpc::StatusCode::OK);
  EXPECT_EQ(log_->HeadPosition(), 2u);
}

// A rate-limited call names its wait in the `vigil-retry-after` trailer; a
// size limit (an append larger than the burst) has none. The client side
// (FromGrpcStatus) reads it back as the status's payload.
TEST_F(EventStoreAuthTest, RateLimitedAppendsCarryTheWaitInATrailer) {
  ASSERT_EQ(Append(kAgent, 5), grpc::StatusCode::OK);
  for (int events : {1, 6}) {
    SCOPED_TRACE(events);
    grpc::ClientContext context;
    Authorize(&context, kAgent);
    vigil::v1::AppendRequest request;
    request.set_stream("agent-1");
    for (int i = 0; i < events; ++i) {
      auto* e = request.add_events();
      e->set_type("Note");
      e->set_data("{}");
    }
    vigil::v1::AppendResponse response;
    const absl::Status status =
        FromGrpcStatus(stub_->Append(&context, request, &response), &context);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    const auto& trailers = context.GetServerTrailingMetadata();
    if (events == 1) {  // rate limited
      ASSERT_EQ(trailers.count(kRetryAfterTrailer), 1u);
      EXPECT_EQ(RetryAfter(status), "1");
    } else {  // over the burst: waiting will not help
      EXPECT_EQ(trailers.count(kRetryAfterTrailer), 0u);
      EXPECT_EQ(RetryAfter(status), std::nullopt);
    }
  }
}

// A session opens with the token's role, and each append takes the rate
// limit as Append does.
TEST_F(EventStoreAuthTest, AppendSessionsHaveAppendsAuthAndRateLimit) {
  auto open = [&](const char* token, grpc::ClientContext* context) {
    Authorize(context, token);
    return stub_->AppendSession(context);
  };
  {
    grpc::ClientContext context;
    auto session = open(kReader, &context);
    vigil::v1::AppendSessionResponse answer;
    EXPECT_FALSE(session->Read(&answer));
    EXPECT_EQ(session->Finish().error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext context;
  auto session = open(kAgent, &context);
  std::vector<vigil::v1::AppendSessionResponse> answers;
  for (int n = 1; n <= 7; ++n) {  // a burst of 5, then limited
    vigil::v1::AppendSessionRequest request;
    request.set_correlation_id(n);
    request.mutable_append()->set_stream("agent-1");
    auto* e = request.mutable_append()->add_events();
    e->set_type("Note");
    e->set_data("{}");
    ASSERT_TRUE(session->Write(request));
    answers.emplace_back();
    ASSERT_TRUE(session->Read(&answers.back()));
  }
  session->WritesDone();
  EXPECT_TRUE(session->Finish().ok());
  for (int n = 0; n < 5; ++n) EXPECT_TRUE(answers[n].has_ok()) << n;
  for (int n = 5; n < 7; ++n) {
    ASSERT_TRUE(answers[n].has_error()) << n;
    EXPECT_EQ(answers[n].error().code(),
              static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  }
  EXPECT_EQ(log_->HeadPosition(), 5u);
}

TEST_F(EventStoreAuthTest, AppendRateIsLimitedPerToken) {
  // A burst of 5 events, then one per second.
  EXPECT_EQ(Append(kAgent, 5), grpc::StatusCode::OK);
  EXPECT_EQ(Append(kAgent, 1), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Another token has its own bucket.
  EXPECT_EQ(Append(kAdmin, 5), grpc::StatusCode::OK);
  EXPECT_EQ(log_->HeadPosition(), 10u);
  // Requests are counted by status, appended events once.
  const std::string page = metrics_.Render();
  EXPECT_NE(page.find(R"(vigil_grpc_requests_total{method="Append",code="OK"} 2)"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find(R"(vigil_grpc_requests_total{method="Append",code="RESOURCE_EXHAUSTED"} 1)"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("vigil_append_events_total 10"), std::string::npos)
      << page;
}

}  // namespace
}  // namespace vigil::api
