// The alerts tests' fixture around the real vigild (VIGILD_BINARY): start
// it on loopback ports it picks, call its REST API, register rules, append,
// read the log and the alert events of `$alerts` back, wait for alerts.

#ifndef VIGIL_TESTS_PROJECTIONS_ALERTS_ALERTS_SERVER_TEST_H_
#define VIGIL_TESTS_PROJECTIONS_ALERTS_ALERTS_SERVER_TEST_H_

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "eventlog/event.h"
#include "gtest/gtest.h"
#include "projections/alerts/evaluator.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"

namespace vigil::alerts {

using base::Json;
using testing::HttpConnection;
using testing::HttpResponse;
using testing::VigildProcess;

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AlertsServerTest : public ::testing::Test {
 protected:
  void StartVigild(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--data-dir",    dir_.Sub("data"),
        "--grpc-listen", "127.0.0.1:0",
        "--http-listen", "127.0.0.1:0",
        "--projections", "off"};
    args.insert(args.end(), extra.begin(), extra.end());
    vigild_ = std::make_unique<VigildProcess>(VIGILD_BINARY, args,
                                              dir_.Sub("vigild.log"));
    ASSERT_TRUE(vigild_->started());
    std::tie(grpc_port_, http_port_) = vigild_->WaitForPorts();
    ASSERT_NE(http_port_, 0) << ReadFile(dir_.Sub("vigild.log"));
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpConnection connection(static_cast<uint16_t>(http_port_));
    EXPECT_TRUE(connection.connected());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    std::optional<HttpResponse> response =
        connection.Request(method, target, headers, body);
    EXPECT_TRUE(response.has_value()) << method << " " << target;
    return response.value_or(HttpResponse{});
  }

  // Registers a rule; returns its id.
  std::string Rule(const std::string& body) {
    HttpResponse response = Call("POST", "/v1/alert-rules", body);
    EXPECT_EQ(response.status, 201) << response.body;
    absl::StatusOr<Json> json = base::JsonFromText(response.body);
    return json.ok() && json->contains("id") ? (*json)["id"].get<std::string>()
                                             : "";
  }

  // Appends `type` with `data` to `stream`; returns its position.
  uint64_t Append(const std::string& stream, const std::string& type,
                  const Json& data) {
    HttpResponse response =
        Call("POST", "/v1/streams/" + stream + "/events",
             base::DumpJson({{"type", type}, {"data", data}}));
    EXPECT_EQ(response.status, 201) << response.body;
    absl::StatusOr<Json> json = base::JsonFromText(response.body);
    return json.ok() ? (*json)["first_position"].get<uint64_t>() : 0;
  }

  // The whole log as /v1/all shows it.
  std::vector<Json> All() {
    std::vector<Json> events;
    for (uint64_t from = 1;;) {
      HttpResponse response =
          Call("GET", absl::StrCat("/v1/all?from=", from, "&limit=1000"));
      absl::StatusOr<Json> json = base::JsonFromText(response.body);
      if (!json.ok() || !json->contains("events")) return events;
      if ((*json)["events"].empty()) return events;
      for (Json& event : (*json)["events"]) {
        from = event["position"].get<uint64_t>() + 1;
        events.push_back(std::move(event));
      }
    }
  }

  // `$alerts` as "+alert_id" / "-alert_id", in log order.
  std::vector<std::string> AlertEvents() {
    std::vector<std::string> out;
    for (const Json& event : All()) {
      if (event["stream"] != "$alerts") continue;
      out.push_back((event["type"] == "AlertRaised" ? "+" : "-") +
                    event["data"]["alert_id"].get<std::string>());
    }
    return out;
  }

  // Waits (up to `timeout`) until AlertEvents holds every one of `wanted`.
  std::vector<std::string> WaitForAlerts(const std::vector<std::string>& wanted,
                                         absl::Duration timeout =
                                             absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> got;
    while (absl::Now() < deadline) {
      got = AlertEvents();
      const std::set<std::string> have(got.begin(), got.end());
      bool all = true;
      for (const std::string& w : wanted) all = all && have.contains(w);
      if (all) return got;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return got;
  }

  // Waits until the evaluator has passed the head it sees now.
  void WaitEvaluated() {
    const uint64_t head = All().empty() ? 0 : All().back()["position"].get<uint64_t>();
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      absl::StatusOr<Json> open = base::JsonFromText(Call("GET", "/v1/alerts").body);
      if (open.ok() && (*open)["evaluated_position"].get<uint64_t>() >= head) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "the evaluator did not reach position " << head;
  }

  // The alert transitions ("+alert_id" / "-alert_id") a fresh Evaluator
  // returns for `log` (as All() gives it) replayed from position 1, without
  // the event at `skip_position` (0: none), then the clock at the last
  // event's time.
  static std::multiset<std::string> ReplayFromZero(const std::vector<Json>& log,
                                                   uint64_t skip_position) {
    Evaluator evaluator;
    std::vector<std::string> out;
    const auto take = [&](const std::vector<Transition>& transitions) {
      for (const Transition& t : transitions) {
        out.push_back((t.raised ? "+" : "-") + t.alert_id);
      }
    };
    int64_t last_time = 0;
    for (const Json& json : log) {
      eventlog::RecordedEvent event;
      event.stream = json["stream"].get<std::string>();
      event.type = json["type"].get<std::string>();
      event.data = base::DumpJson(json["data"]);
      event.position = json["position"].get<uint64_t>();
      event.recorded_time_us = json["recorded_time_us"].get<int64_t>();
      last_time = event.recorded_time_us;
      if (event.position == skip_position) continue;
      take(evaluator.Apply(event));
    }
    // The clock as it was when the server stopped (after the last event).
    take(evaluator.Tick(last_time));
    return std::multiset<std::string>(out.begin(), out.end());
  }

  // The value of the metric line `name` (with its labels, if any) in
  // /metrics; -1 when there is none.
  double Metric(const std::string& name) {
    std::istringstream lines(Call("GET", "/metrics").body);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with(name + " ")) return std::stod(line.substr(name.size() + 1));
    }
    return -1;
  }

  static size_t Count(const std::vector<std::string>& events,
                      const std::string& event) {
    return static_cast<size_t>(std::count(events.begin(), events.end(), event));
  }

  static Json Heartbeat(const std::string& agent, double cpu) {
    return {{"agent_id", agent}, {"cpu_pct", cpu}, {"mem_bytes", 1},
            {"queue_depth", 0}};
  }

  testing::TempDir dir_;
  std::unique_ptr<VigildProcess> vigild_;
  int grpc_port_ = 0;
  int http_port_ = 0;
};


}  // namespace vigil::alerts

#endif  // VIGIL_TESTS_PROJECTIONS_ALERTS_ALERTS_SERVER_TEST_H_
