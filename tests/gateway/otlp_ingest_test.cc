// OTLP ingest end to end over real sockets: OTLP/HTTP POST /v1/traces on a
// real HttpServer and OTLP/gRPC TraceService/Export on a real gRPC server,
// both over one api::AppendPath and a real event log, as vigild wires them.
// Protobuf, JSON and gzip bodies; a retried export appends nothing;
// partial_success for bad spans; every refusal (malformed, truncated,
// oversized, gzip bomb, content type, token, full queue) gets its status and
// loses nothing acknowledged before it.

#include <simdjson.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/notification.h"
#include "api/append_path.h"
#include "api/auth.h"
#include "absl/strings/str_cat.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "gateway/http_server.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "otlp/price_table.h"
#include "otlp/span_recorded.h"
#include "otlp/trace_ingest.h"
#include "otlp/trace_service.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/gated_log.h"
#include "tests/testing/gzip.h"
#include "tests/testing/temp_dir.h"

namespace vigil::gateway {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;
using vigil::testing::GatedLog;
using vigil::testing::HttpConnection;
using vigil::testing::HttpResponse;

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kAgentToken[] = "agent-token-0123456789";
constexpr char kReaderToken[] = "reader-token-0123456789";
constexpr size_t kMaxBody = 256 << 10;  // small, so 413s are cheap

using vigil::testing::Gzip;

std::string TraceId(char fill) { return std::string(15, '\x11') + fill; }
std::string SpanId(int n) {
  return std::string(7, '\x22') + static_cast<char>(n);
}

// An export of `spans` spans in trace TraceId(trace): a chat call under an
// agent run, and so on.
ExportTraceServiceRequest Export(char trace, int first_span, int spans) {
  ExportTraceServiceRequest request;
  auto* resource = request.add_resource_spans();
  auto* service = resource->mutable_resource()->add_attributes();
  service->set_key("service.name");
  service->mutable_value()->set_string_value("crew");
  auto* scope = resource->add_scope_spans();
  scope->mutable_scope()->set_name("opentelemetry.instrumentation.openai");
  for (int i = 0; i < spans; ++i) {
    Span* span = scope->add_spans();
    span->set_trace_id(TraceId(trace));
    span->set_span_id(SpanId(first_span + i));
    if (i > 0) span->set_parent_span_id(SpanId(first_span));
    span->set_name(i == 0 ? "invoke_agent researcher" : "chat gpt-4o");
    span->set_start_time_unix_nano(1700000000000000000 + i * 1000000);
    span->set_end_time_unix_nano(1700000000500000000);
    auto* op = span->add_attributes();
    op->set_key("gen_ai.operation.name");
    op->mutable_value()->set_string_value(i == 0 ? "invoke_agent" : "chat");
    auto* model = span->add_attributes();
    model->set_key("gen_ai.request.model");
    model->mutable_value()->set_string_value("gpt-4o");
    auto* tokens = span->add_attributes();
    tokens->set_key("gen_ai.usage.input_tokens");
    tokens->mutable_value()->set_int_value(100);
  }
  return request;
}

class OtlpIngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::make_unique<GatedLog>(*std::move(log));
    auto auth = api::Authenticator::FromText(
        std::string(kAgentToken) + " agent\n" + kReaderToken + " reader\n");
    ASSERT_TRUE(auth.ok());
    auth_ = *std::move(auth);
    appends_ = std::make_unique<api::AppendPath>(
        log_.get(), api::AppendPathOptions{.max_inflight_appends = 2}, nullptr,
        &metrics_);
    ingest_ = std::make_unique<otlp::TraceIngest>(
        log_.get(), appends_.get(), otlp::MappingOptions{.prices = &prices_},
        &metrics_);

    HttpServerOptions options;
    options.listen = "127.0.0.1:0";
    options.authenticator = auth_.get();
    options.append_path = appends_.get();
    options.traces = ingest_.get();
    options.otlp_max_body_bytes = kMaxBody;
    options.max_body_bytes = kMaxBody / 4;  // the other routes'
    auto server = HttpServer::Start(options, log_.get(), &metrics_);
    ASSERT_TRUE(server.ok()) << server.status();
    http_ = *std::move(server);

    service_ = std::make_unique<otlp::TraceService>(ingest_.get(), auth_.get(),
                                                    &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    grpc_ = builder.BuildAndStart();
    ASSERT_NE(grpc_, nullptr);
    stub_ = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    log_->Open();
    if (http_) http_->Stop();
    if (grpc_) grpc_->Shutdown();
  }

  static Headers With(std::string content_type,
                      std::string token = kAgentToken) {
    Headers headers = {{"Content-Type", std::move(content_type)}};
    if (!token.empty())
      headers.emplace_back("Authorization", "Bearer " + token);
    return headers;
  }

  HttpResponse Post(const std::string& body, const Headers& headers) {
    HttpConnection connection(http_->port());
    EXPECT_TRUE(connection.connected());
    std::optional<HttpResponse> response =
        connection.Request("POST", "/v1/traces", headers, body);
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  }

  HttpResponse PostProto(const ExportTraceServiceRequest& request) {
    return Post(request.SerializeAsString(), With("application/x-protobuf"));
  }

  grpc::Status GrpcExport(const ExportTraceServiceRequest& request,
                          ExportTraceServiceResponse* response,
                          const std::string& token = kAgentToken) {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    return stub_->Export(&context, request, response);
  }

  std::vector<eventlog::RecordedEvent> Stream(char trace) {
    auto events =
        log_->ReadStream(otlp::TraceStream(TraceId(trace)), 0, 1000, false);
    if (!events.ok()) return {};
    return *events;
  }

  testing::TempDir dir_;
  std::unique_ptr<GatedLog> log_;
  std::unique_ptr<api::Authenticator> auth_;
  base::Metrics metrics_;
  const otlp::PriceTable prices_ = otlp::PriceTable::BuiltIn();
  std::unique_ptr<api::AppendPath> appends_;
  std::unique_ptr<otlp::TraceIngest> ingest_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<otlp::TraceService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<
      opentelemetry::proto::collector::trace::v1::TraceService::Stub>
      stub_;
};

TEST_F(OtlpIngestTest, ProtobufExportIsRecordedOnceWhenRetried) {
  ExportTraceServiceRequest request = Export('a', 1, 3);
  *request.add_resource_spans() = Export('b', 10, 2).resource_spans(0);
  HttpResponse response = PostProto(request);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Header("content-type"), "application/x-protobuf");
  ExportTraceServiceResponse answer;
  ASSERT_TRUE(answer.ParseFromString(response.body));
  EXPECT_FALSE(answer.has_partial_success());
  EXPECT_EQ(log_->HeadPosition(), 5u);

  std::vector<eventlog::RecordedEvent> events = Stream('a');
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "SpanRecorded");
  EXPECT_EQ(events[0].event_id, otlp::SpanEventId(TraceId('a'), SpanId(1)));
  simdjson::dom::parser parser;
  simdjson::dom::element chat = parser.parse(events[1].data);
  EXPECT_EQ(std::string_view(chat["trace_id"]),
            "11111111111111111111111111111161");
  EXPECT_EQ(std::string_view(chat["parent_span_id"]), "2222222222222201");
  EXPECT_EQ(std::string_view(chat["operation"]), "chat");
  EXPECT_EQ(uint64_t(chat["input_tokens"]), 100u);
  EXPECT_DOUBLE_EQ(double(chat["cost_usd"]), 100 * 2.50 / 1e6);
  EXPECT_EQ(std::string_view(chat["resource"]["service.name"]), "crew");
  EXPECT_EQ(Stream('b').size(), 2u);

  // The exporter retries: success, nothing appended.
  response = PostProto(request);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(log_->HeadPosition(), 5u);
  // A later export with one new span of trace a appends only that one.
  ASSERT_EQ(PostProto(Export('a', 4, 1)).status, 200);
  EXPECT_EQ(log_->HeadPosition(), 6u);
}

TEST_F(OtlpIngestTest, JsonExportIsAnsweredInJson) {
  const std::string body = R"({"resourceSpans":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},
    "scopeSpans":[{"scope":{"name":"manual"},"spans":[{
      "traceId":"0AF7651916CD43DD8448EB211C80319C","spanId":"b7ad6b7169203331",
      "name":"execute_tool search","kind":1,
      "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":1700000000002000000,
      "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},
                    {"key":"gen_ai.tool.name","value":{"stringValue":"search"}}],
      "status":{"code":1},"droppedLinksCount":0,"futureField":true}]}]}]})";
  HttpResponse response = Post(body, With("application/json; charset=utf-8"));
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Header("content-type"), "application/json");
  EXPECT_EQ(response.body, "{}");
  auto events =
      log_->ReadStream("trace-0af7651916cd43dd8448eb211c80319c", 0, 10, false);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 1u);
  EXPECT_THAT(
      (*events)[0].data,
      HasSubstr(
          R"("span_id":"b7ad6b7169203331","name":"execute_tool search",)"
          R"("kind":"internal","start_time_us":1700000000000000,)"
          R"("end_time_us":1700000000002000,"duration_ms":2,"status":"ok",)"
          R"("operation":"execute_tool","tool":"search")"));

  // Base64 ids (protobuf's own JSON mapping) are not OTLP JSON.
  response = Post(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]})",
      With("application/json"));
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("must be hex"));
}

TEST_F(OtlpIngestTest, GzipBodiesAndBombs) {
  Headers gzip = With("application/x-protobuf");
  gzip.emplace_back("Content-Encoding", "gzip");
  HttpResponse response =
      Post(Gzip(Export('c', 1, 4).SerializeAsString()), gzip);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Stream('c').size(), 4u);

  // 64 MiB of zeros in a few KiB: refused at the bound, 413.
  const std::string bomb = Gzip(std::string(64 << 20, '\0'));
  ASSERT_LT(bomb.size(), kMaxBody);
  response = Post(bomb, gzip);
  EXPECT_EQ(response.status, 413) << response.body;
  EXPECT_THAT(response.body, HasSubstr("inflates past 262144 bytes"));

  std::string corrupt = Gzip(Export('d', 1, 1).SerializeAsString());
  corrupt[corrupt.size() / 2] ^= 0x5a;
  EXPECT_EQ(Post(corrupt, gzip).status, 400);
  EXPECT_EQ(Post("not gzip", gzip).status, 400);

  Headers brotli = With("application/x-protobuf");
  brotli.emplace_back("Content-Encoding", "br");
  EXPECT_EQ(Post(Export('d', 1, 1).SerializeAsString(), brotli).status, 415);
  EXPECT_TRUE(Stream('d').empty());
  EXPECT_EQ(log_->HeadPosition(), 4u);
}

TEST_F(OtlpIngestTest, BadSpansAreRejectedInPartialSuccess) {
  ExportTraceServiceRequest request = Export('e', 1, 3);
  auto* spans = request.mutable_resource_spans(0)
                    ->mutable_scope_spans(0)
                    ->mutable_spans();
  spans->Mutable(0)->set_trace_id(std::string(16, '\0'));  // all zero
  spans->Mutable(1)->set_end_time_unix_nano(
      spans->Get(1).start_time_unix_nano() - 1);
  HttpResponse response = PostProto(request);
  ASSERT_EQ(response.status, 200) << response.body;
  ExportTraceServiceResponse answer;
  ASSERT_TRUE(answer.ParseFromString(response.body));
  EXPECT_EQ(answer.partial_success().rejected_spans(), 2);
  EXPECT_THAT(answer.partial_success().error_message(),
              HasSubstr("trace_id must be 16 bytes, not all zero"));
  EXPECT_THAT(answer.partial_success().error_message(),
              HasSubstr("end_time_unix_nano is before its start"));
  EXPECT_EQ(Stream('e').size(), 1u);

  // The same over gRPC.
  ExportTraceServiceResponse grpc_answer;
  ASSERT_TRUE(GrpcExport(request, &grpc_answer).ok());
  EXPECT_NE(metrics_.Render().find(
                R"(vigil_grpc_requests_total{method="TraceService.Export",code="OK"} 1)"),
            std::string::npos);
  EXPECT_EQ(grpc_answer.partial_success().rejected_spans(), 2);
  EXPECT_EQ(Stream('e').size(), 1u);
}

TEST_F(OtlpIngestTest, RefusalsGetTheirStatusAndLoseNothing) {
  ASSERT_EQ(PostProto(Export('f', 1, 5)).status, 200);
  ASSERT_EQ(log_->HeadPosition(), 5u);

  const std::string good = Export('g', 1, 3).SerializeAsString();
  EXPECT_EQ(
      Post(good.substr(0, good.size() - 7), With("application/x-protobuf"))
          .status,
      400);
  EXPECT_EQ(Post("\x0a\xff\xff\xff\x0f", With("application/x-protobuf")).status,
            400);
  HttpResponse bad_json =
      Post(R"({"resourceSpans":[)", With("application/json"));
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(bad_json.Header("content-type"), "application/problem+json");
  EXPECT_EQ(Post(good, With("text/plain")).status, 415);
  EXPECT_EQ(
      Post(good, {{"Authorization", std::string("Bearer ") + kAgentToken}})
          .status,
      415);
  HttpResponse anonymous = Post(good, With("application/x-protobuf", ""));
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("www-authenticate"), "Bearer");
  EXPECT_EQ(Post(good, With("application/x-protobuf", "wrong-token-0123456789"))
                .status,
            401);
  EXPECT_EQ(Post(good, With("application/x-protobuf", kReaderToken)).status,
            403);
  {
    HttpConnection connection(http_->port());
    auto get =
        connection.Request("GET", "/v1/traces", With("application/json"));
    ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->status, 405);
  }
  // Over the bound: 413 (uncompressed here), and over the bound of the
  // other routes but within this one's: accepted.
  ExportTraceServiceRequest big = Export('g', 1, 1);
  big.mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_spans(0)
      ->set_name(std::string(kMaxBody, 'n'));
  HttpResponse too_big =
      Post(big.SerializeAsString(), With("application/x-protobuf"));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_THAT(too_big.body, HasSubstr("exceeds 262144 bytes"));
  HttpConnection append(http_->port());
  std::optional<HttpResponse> append_too_big =
      append.Request("POST", "/v1/streams/s/events",
                     {{"Content-Type", "application/json"},
                      {"Authorization", std::string("Bearer ") + kAgentToken}},
                     std::string(kMaxBody / 2, ' '));
  ASSERT_TRUE(append_too_big.has_value());
  EXPECT_EQ(append_too_big->status, 413);

  ExportTraceServiceResponse answer;
  EXPECT_EQ(GrpcExport(Export('g', 1, 1), &answer, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GrpcExport(Export('g', 1, 1), &answer, kReaderToken).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // OTLP/gRPC calls are counted with vigil.v1's.
  const std::string page = metrics_.Render();
  for (const char* code : {"UNAUTHENTICATED", "PERMISSION_DENIED"}) {
    EXPECT_NE(page.find(absl::StrCat(
                  R"(vigil_grpc_requests_total{method="TraceService.Export",code=")",
                  code, R"("} 1)")),
              std::string::npos)
        << page;
  }

  // Nothing of these appended, nothing acknowledged lost.
  EXPECT_EQ(log_->HeadPosition(), 5u);
  EXPECT_EQ(Stream('f').size(), 5u);
  EXPECT_TRUE(Stream('g').empty());
  EXPECT_EQ(PostProto(Export('g', 1, 3)).status, 200);
  EXPECT_EQ(log_->HeadPosition(), 8u);
  // Larger than the other routes may take, within this one's bound.
  ExportTraceServiceRequest large = Export('l', 1, 1);
  large.mutable_resource_spans(0)
      ->mutable_scope_spans(0)
      ->mutable_spans(0)
      ->set_name(std::string(kMaxBody / 2, 'n'));
  EXPECT_EQ(PostProto(large).status, 200);
  EXPECT_EQ(log_->HeadPosition(), 9u);
}

TEST_F(OtlpIngestTest, AFullQueueIs429WithRetryAfterAndResourceExhausted) {
  log_->Close();
  // Two exports held at the log fill the in-flight bound (2).
  HttpConnection first(http_->port()), second(http_->port());
  ASSERT_TRUE(first.Send(vigil::testing::FormatRequest(
      "POST", "/v1/traces", With("application/x-protobuf"),
      Export('h', 1, 2).SerializeAsString())));
  ASSERT_TRUE(second.Send(vigil::testing::FormatRequest(
      "POST", "/v1/traces", With("application/x-protobuf"),
      Export('i', 1, 2).SerializeAsString())));
  log_->AwaitHeld(2);

  HttpResponse refused = PostProto(Export('j', 1, 1));
  EXPECT_EQ(refused.status, 429) << refused.body;
  EXPECT_EQ(refused.Header("retry-after"), "1");
  ExportTraceServiceResponse answer;
  EXPECT_EQ(GrpcExport(Export('j', 1, 1), &answer).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  log_->Open();
  for (HttpConnection* connection : {&first, &second}) {
    std::optional<HttpResponse> response = connection->Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200) << response->body;
  }
  EXPECT_EQ(log_->HeadPosition(), 4u);
  // The refused export, retried, is recorded.
  EXPECT_EQ(PostProto(Export('j', 1, 1)).status, 200);
  EXPECT_EQ(Stream('j').size(), 1u);
}

TEST_F(OtlpIngestTest, GrpcExportIsRecordedOnceWhenRetried) {
  ExportTraceServiceResponse answer;
  grpc::Status status = GrpcExport(Export('k', 1, 6), &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(answer.has_partial_success());
  EXPECT_EQ(Stream('k').size(), 6u);
  status = GrpcExport(Export('k', 1, 6), &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(log_->HeadPosition(), 6u);
  // The same spans over HTTP: nothing appended.
  EXPECT_EQ(PostProto(Export('k', 1, 6)).status, 200);
  EXPECT_EQ(log_->HeadPosition(), 6u);
}

// Exporters and collectors may batch differently when they re-send: each
// span (trace id + span id) is still appended once.
TEST_F(OtlpIngestTest, SpansAreRecordedOnceHoweverTheyAreBatched) {
  ASSERT_EQ(PostProto(Export('m', 1, 6)).status, 200);
  ASSERT_EQ(Stream('m').size(), 6u);
  // Spans 4..9: three already recorded, three new.
  ASSERT_EQ(PostProto(Export('m', 4, 6)).status, 200);
  EXPECT_EQ(Stream('m').size(), 9u);
  // Two spans, one at a time, then all nine together.
  ASSERT_EQ(PostProto(Export('m', 2, 1)).status, 200);
  ASSERT_EQ(PostProto(Export('m', 9, 1)).status, 200);
  ASSERT_EQ(PostProto(Export('m', 1, 9)).status, 200);
  const std::vector<eventlog::RecordedEvent> events = Stream('m');
  ASSERT_EQ(events.size(), 9u);
  absl::flat_hash_set<std::string> ids;
  for (const eventlog::RecordedEvent& event : events) ids.insert(event.event_id);
  EXPECT_EQ(ids.size(), 9u);
  EXPECT_EQ(log_->HeadPosition(), 9u);
}

// After a restart nothing is known in memory: what the log holds is read.
TEST_F(OtlpIngestTest, ARestartedIngestReadsWhatTheLogHolds) {
  ASSERT_EQ(PostProto(Export('r', 1, 4)).status, 200);
  otlp::TraceIngest fresh(log_.get(), appends_.get(),
                          otlp::MappingOptions{.prices = &prices_});
  absl::Notification answered;
  absl::StatusOr<otlp::TraceIngest::Response> answer;
  fresh.Export(api::Principal{}, Export('r', 1, 5),
               [&](absl::StatusOr<otlp::TraceIngest::Response> a) {
                 answer = std::move(a);
                 answered.Notify();
               });
  answered.WaitForNotification();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(Stream('r').size(), 5u);
}

}  // namespace
}  // namespace vigil::gateway
