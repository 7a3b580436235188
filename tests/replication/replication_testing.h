// What the replication tests (mirror_test.cc, standby_test.cc) share: a
// vigild's HTTP API as they use it (appends, GET /v1/replication) and
// nats.c itself for what the replication library does not do (a message's
// subject, a publish by someone else, a forged message).

#ifndef VIGIL_TESTS_REPLICATION_REPLICATION_TESTING_H_
#define VIGIL_TESTS_REPLICATION_REPLICATION_TESTING_H_

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "replication/compare.h"
#include "replication/event_headers.h"
#include "replication/internal/jetstream.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/nats_cluster.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"

namespace vigil::testing {

// status 0 when no answer came within `timeout`.
inline HttpResponse Request(
    int port, const std::string& method, const std::string& target,
    const std::string& body = "",
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  HttpConnection connection(static_cast<uint16_t>(port));
  if (!connection.Send(FormatRequest(
          method, target, {{"Content-Type", "application/json"}}, body))) {
    return HttpResponse{};
  }
  return connection.Read(timeout).value_or(HttpResponse{});
}

// `count` events in one append to `stream`, with `idempotency_key` when
// not empty.
inline HttpResponse Append(
    int port, const std::string& stream, int count,
    std::chrono::milliseconds timeout = std::chrono::seconds(10),
    const std::string& idempotency_key = "") {
  std::string body = "[";
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(&body, i > 0 ? "," : "",
                    R"({"type":"Noted","data":{"i":)", i,
                    R"(},"metadata":{"by":"mirror_test"}})");
  }
  body += "]";
  if (idempotency_key.empty()) {
    return Request(port, "POST", "/v1/streams/" + stream + "/events", body,
                   timeout);
  }
  HttpConnection connection(static_cast<uint16_t>(port));
  if (!connection.Send(FormatRequest(
          "POST", "/v1/streams/" + stream + "/events",
          {{"Content-Type", "application/json"},
           {"Idempotency-Key", idempotency_key}},
          body))) {
    return HttpResponse{};
  }
  return connection.Read(timeout).value_or(HttpResponse{});
}

inline nlohmann::json Replication(int port) {
  HttpResponse response = Request(port, "GET", "/v1/replication");
  if (response.status != 200) return nlohmann::json::object();
  return nlohmann::json::parse(response.body, nullptr, false);
}

inline uint64_t Number(const nlohmann::json& status, const char* key) {
  return status.contains(key) ? status[key].get<uint64_t>() : 0;
}

inline std::string Text(const nlohmann::json& status, const char* key) {
  return status.contains(key) ? status[key].get<std::string>() : "";
}

// nats.c itself, for what the replication library does not do: a
// message's subject, a publish by someone else. Connects to the first URL
// that answers.
struct RawJetStream {
  explicit RawJetStream(const std::string& urls) {
    size_t begin = 0;
    while (connection == nullptr && begin < urls.size()) {
      const size_t end = std::min(urls.find(',', begin), urls.size());
      const std::string url = urls.substr(begin, end - begin);
      if (natsConnection_ConnectTo(&connection, url.c_str()) != NATS_OK) {
        connection = nullptr;
      }
      begin = end + 1;
    }
    if (connection != nullptr) {
      natsConnection_JetStream(&js, connection, nullptr);
    }
  }
  ~RawJetStream() {
    if (js != nullptr) jsCtx_Destroy(js);
    if (connection != nullptr) natsConnection_Destroy(connection);
  }
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
};

// replication::CompareStreamWithLog, waiting out JetStream's "temporarily
// unavailable" (error 10008, UNAVAILABLE) for up to 30 s: right after a
// node resumes or restarts, the stream may still be electing.
inline absl::StatusOr<replication::StreamComparison> CompareWhenAvailable(
    const replication::CompareOptions& options, eventlog::EventLog& log) {
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    absl::StatusOr<replication::StreamComparison> compared =
        replication::CompareStreamWithLog(options, log);
    if (compared.ok() || !absl::IsUnavailable(compared.status()) ||
        absl::Now() > deadline) {
      return compared;
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
}

// A test with its own three-node NATS cluster (tools/cluster) in a
// temporary directory, and a three-member etcd cluster when `with_etcd`;
// skipped when nats-server (or etcd) is not installed.
class ClusterTest : public ::testing::Test {
 protected:
  explicit ClusterTest(bool with_etcd = false) : with_etcd_(with_etcd) {}

  void SetUp() override {
    if (!NatsCluster::Available() ||
        (with_etcd_ && !NatsCluster::EtcdAvailable())) {
      GTEST_SKIP() << "nats-server or etcd is not installed (tools/install-deps "
                      "installs Debian's nats-server and etcd-server)";
    }
    cluster_ = std::make_unique<NatsCluster>(dir_.path(), with_etcd_);
    ASSERT_TRUE(cluster_->ok())
        << "the cluster did not start; see " << dir_.path()
        << "/cluster.err, n*/nats.log and e*/etcd.log";
  }

  // With no vigild on it: the stream VIGIL compared with the log in `data`
  // (replication/compare.h).
  absl::StatusOr<replication::StreamComparison> CompareWithLog(
      const std::string& data) {
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
        eventlog::EventLog::Open(eventlog::Options{}, data);
    if (!log.ok()) return log.status();
    return CompareWhenAvailable({.nats_url = cluster_->url()}, **log);
  }

  const bool with_etcd_;
  TempDir dir_;
  std::unique_ptr<NatsCluster> cluster_;
};

// One vigild of a test: its process, ports (0 when it did not come up) and
// the file its output goes to.
struct VigildNode {
  std::unique_ptr<VigildProcess> process;
  int grpc = 0;
  int http = 0;
  std::string log_path;

  std::string Log() const {
    std::ifstream in(log_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

// Runs `binary` with `args`, output to `log_path`, and waits for its ports.
inline VigildNode StartVigildNode(const std::string& binary,
                                  std::vector<std::string> args,
                                  const std::string& log_path) {
  VigildNode node;
  node.log_path = log_path;
  node.process =
      std::make_unique<VigildProcess>(binary, std::move(args), log_path);
  std::tie(node.grpc, node.http) = node.process->WaitForPorts();
  return node;
}

// Publishes `event` on `subject` as the mirror would, but with no
// expected-last-sequence or message id: someone else's message. The
// sequence JetStream stored it at, 0 when it did not.
inline uint64_t PublishForeign(const RawJetStream& raw, const std::string& subject,
                               const eventlog::RecordedEvent& event) {
  natsMsg* msg = nullptr;
  if (natsMsg_Create(&msg, subject.c_str(), nullptr, event.data.data(),
                     static_cast<int>(event.data.size())) != NATS_OK) {
    return 0;
  }
  for (const replication::Header& header : replication::EventHeaders(event)) {
    natsMsgHeader_Set(msg, header.first.c_str(), header.second.c_str());
  }
  jsPubAck* ack = nullptr;
  uint64_t sequence = 0;
  if (js_PublishMsg(&ack, raw.js, msg, nullptr, nullptr) == NATS_OK) {
    sequence = ack->Sequence;
    jsPubAck_Destroy(ack);
  }
  natsMsg_Destroy(msg);
  return sequence;
}

// Someone else publishes the event after the stream's last message
// `last` (of stream `stream`, on `subject`): message `last`'s event with its
// position and revision advanced by one, other data and its hash copied, so
// it does not chain from it. The sequence JetStream stored it at; 0 when it
// could not be read or published.
inline uint64_t PublishUnchained(const std::string& urls,
                                 const std::string& stream, uint64_t last,
                                 const std::string& subject) {
  absl::StatusOr<std::unique_ptr<replication::internal::JetStream>> js =
      replication::internal::JetStream::Connect(
          {.url = urls,
           .connect_timeout = absl::Seconds(2),
           .api_timeout = absl::Seconds(5),
           .max_pending = 1,
           .on_ack = nullptr});
  if (!js.ok()) return 0;
  absl::StatusOr<eventlog::RecordedEvent> forged =
      (*js)->GetEvent(stream, last);
  if (!forged.ok()) return 0;
  forged->position += 1;
  forged->revision += 1;
  forged->data = R"({"i":"forged"})";
  RawJetStream raw(urls);
  if (raw.js == nullptr) return 0;
  return PublishForeign(raw, subject, *forged);
}

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_REPLICATION_REPLICATION_TESTING_H_
