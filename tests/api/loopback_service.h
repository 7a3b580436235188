// A fixture for tests of the EventStore service over a real loopback gRPC
// channel: a server on 127.0.0.1:0 in the test process over a real log in
// a temporary directory, its metrics, and a stub.

#ifndef VIGIL_TESTS_API_LOOPBACK_SERVICE_H_
#define VIGIL_TESTS_API_LOOPBACK_SERVICE_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/append_path.h"
#include "api/event_store_service.h"
#include "api/subscription.h"
#include "base/metrics.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {

// The trailing metadata `key` of a finished call, "<absent>" when none.
inline std::string Trailer(const grpc::ClientContext& context,
                    const std::string& key) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(key);
  if (it == trailers.end()) return "<absent>";
  return std::string(it->second.data(), it->second.size());
}

class LoopbackServiceTest : public ::testing::Test {
 protected:
  void TearDown() override { StopServer(); }

  // `append_path` (null: the service's own) must be over log_: see
  // OpenLog.
  void StartServer(eventlog::Options log_options = {},
                   ServiceOptions service_options = {},
                   AppendPath* append_path = nullptr) {
    if (log_ == nullptr) OpenLog(log_options);
    hub_ = std::make_unique<SubscriptionHub>(log_.get(), SubscriptionOptions{});
    service_ = std::make_unique<EventStoreService>(
        log_.get(), hub_.get(), service_options, /*authenticator=*/nullptr,
        /*rate_limiter=*/nullptr, &metrics_, /*state_queries=*/nullptr,
        append_path);
    grpc::ServerBuilder builder;
    int& port = port_;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(MaxReceiveMessageBytes(log_options));
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    stub_ = v1::EventStore::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  // The value of vigil_grpc_requests_total{method,code}, 0 when absent.
  std::string Requests(const std::string& method, const std::string& code) {
    const std::string series = "vigil_grpc_requests_total{method=\"" +
                               method + "\",code=\"" + code + "\"} ";
    const std::string page = metrics_.Render();
    const size_t at = page.find(series);
    if (at == std::string::npos) return "0";
    return page.substr(at + series.size(),
                       page.find('\n', at) - at - series.size());
  }

  void StopServer() {
    if (server_ == nullptr) return;
    hub_->Stop();
    service_->StopAppendSessions();
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(5));
    server_.reset();
    service_.reset();
    hub_.reset();
    log_.reset();
  }

  // Opens log_ (StartServer does when it is not open yet).
  void OpenLog(eventlog::Options log_options = {}) {
    auto log = eventlog::EventLog::Open(log_options, dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  testing::TempDir dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  base::Metrics metrics_;  // before the service, which counts into it
  std::unique_ptr<SubscriptionHub> hub_;
  std::unique_ptr<EventStoreService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::EventStore::Stub> stub_;
  int port_ = 0;  // the server's, once started
};

}  // namespace vigil::api

#endif  // VIGIL_TESTS_API_LOOPBACK_SERVICE_H_
