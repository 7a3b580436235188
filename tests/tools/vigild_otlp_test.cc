// OTLP ingest in the real vigild (VIGILD_BINARY): POST /v1/traces and
// TraceService/Export on its ports with its tokens, the cost priced by
// --otlp-prices, --otlp-max-body-bytes and a refused price file. The
// OpenTelemetry JS SDK's own exporters against vigild: tests/otel-sdk/.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"

namespace vigil {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using ::testing::HasSubstr;
using vigil::testing::HttpConnection;
using vigil::testing::HttpResponse;
using vigil::testing::TempDir;
using vigil::testing::VigildProcess;

constexpr char kToken[] = "otlp-agent-token-0123456789";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

HttpResponse Request(
    int port, const std::string& method, const std::string& target,
    std::vector<std::pair<std::string, std::string>> headers = {},
    const std::string& body = "") {
  HttpConnection connection(static_cast<uint16_t>(port));
  std::optional<HttpResponse> response =
      connection.Request(method, target, headers, body);
  return response.value_or(HttpResponse{});
}

bool AwaitHealthy(int port) {
  for (int i = 0; i < 400; ++i) {
    if (Request(port, "GET", "/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// One chat span of `model` with 3 input tokens, in trace 0x42...42.
ExportTraceServiceRequest ChatSpan(char span_byte, const std::string& model) {
  ExportTraceServiceRequest request;
  auto* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(std::string(16, '\x42'));
  span->set_span_id(std::string(7, '\x01') + span_byte);
  span->set_name("chat");
  span->set_start_time_unix_nano(1700000000000000000);
  span->set_end_time_unix_nano(1700000001000000000);
  auto* op = span->add_attributes();
  op->set_key("gen_ai.operation.name");
  op->mutable_value()->set_string_value("chat");
  auto* m = span->add_attributes();
  m->set_key("gen_ai.request.model");
  m->mutable_value()->set_string_value(model);
  auto* tokens = span->add_attributes();
  tokens->set_key("gen_ai.usage.input_tokens");
  tokens->mutable_value()->set_int_value(3);
  return request;
}

TEST(VigildOtlpTest, HttpAndGrpcExportsWithTokensAndPrices) {
  TempDir dir;
  std::ofstream(dir.path() + "/tokens") << kToken << " agent\n";
  // One dollar per input token: the cost is the token count.
  std::ofstream(dir.path() + "/prices.json")
      << R"({"house-model": {"input": 1000000, "output": 0}})";
  VigildProcess vigild(
      VIGILD_BINARY,
      {"--data-dir", dir.path() + "/data", "--projections", "off", "--webhooks",
       "off", "--tokens-file", dir.path() + "/tokens", "--otlp-prices",
       dir.path() + "/prices.json", "--otlp-max-body-bytes", "4096",
       "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
      dir.path() + "/vigild.log");
  ASSERT_TRUE(vigild.started());
  const auto [grpc, http] = vigild.WaitForPorts();
  ASSERT_GT(grpc, 0) << ReadFile(dir.path() + "/vigild.log");
  ASSERT_TRUE(AwaitHealthy(http)) << ReadFile(dir.path() + "/vigild.log");

  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-protobuf"},
      {"Authorization", std::string("Bearer ") + kToken}};
  HttpResponse response =
      Request(http, "POST", "/v1/traces", headers,
              ChatSpan('\x01', "house-model-v2").SerializeAsString());
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Request(http, "POST", "/v1/traces",
                    {{"Content-Type", "application/x-protobuf"}},
                    ChatSpan('\x01', "house-model-v2").SerializeAsString())
                .status,
            401);
  // Past --otlp-max-body-bytes.
  EXPECT_EQ(Request(http, "POST", "/v1/traces", headers, std::string(5000, 'x'))
                .status,
            413);

  auto stub = opentelemetry::proto::collector::trace::v1::TraceService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc),
                          grpc::InsecureChannelCredentials()));
  for (int attempt = 0; attempt < 2; ++attempt) {  // the retry appends nothing
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    ExportTraceServiceResponse answer;
    grpc::Status status =
        stub->Export(&context, ChatSpan('\x02', "gpt-4o"), &answer);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext context;
    ExportTraceServiceResponse answer;
    EXPECT_EQ(stub->Export(&context, ChatSpan('\x03', "gpt-4o"), &answer)
                  .error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }

  HttpResponse stream =
      Request(http, "GET", "/v1/streams/trace-42424242424242424242424242424242",
              {{"Authorization", std::string("Bearer ") + kToken}});
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_THAT(
      stream.body,
      HasSubstr(R"("model":"house-model-v2","input_tokens":3,"cost_usd":3,)"));
  // The file replaced the built-in table: gpt-4o costs nothing here.
  EXPECT_THAT(stream.body,
              HasSubstr(R"("model":"gpt-4o","input_tokens":3,"cost_usd":0,)"));
  EXPECT_EQ(stream.body.find("0101010101010103"), std::string::npos);
  size_t spans = 0;
  for (size_t at = stream.body.find("\"SpanRecorded\"");
       at != std::string::npos;
       at = stream.body.find("\"SpanRecorded\"", at + 1)) {
    ++spans;
  }
  EXPECT_EQ(spans, 2u);
  EXPECT_EQ(vigild.Terminate(), 0);
}

TEST(VigildOtlpTest, AMalformedPriceFileIsRefusedAtStart) {
  TempDir dir;
  std::ofstream(dir.path() + "/prices.json")
      << R"({"m": {"input": -1, "output": 1}})";
  VigildProcess vigild(
      VIGILD_BINARY,
      {"--data-dir", dir.path() + "/data", "--projections", "off", "--webhooks",
       "off", "--otlp-prices", dir.path() + "/prices.json", "--grpc-listen",
       "127.0.0.1:0", "--http-listen", "127.0.0.1:0"},
      dir.path() + "/vigild.log");
  ASSERT_TRUE(vigild.started());
  for (int i = 0; i < 200 && ReadFile(dir.path() + "/vigild.log").empty();
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(vigild.Terminate(), 64);  // EX_USAGE
  EXPECT_THAT(ReadFile(dir.path() + "/vigild.log"), HasSubstr("--otlp-prices"));
}

// stdout of `command`, and whether it exited 0.
}  // namespace
}  // namespace vigil
