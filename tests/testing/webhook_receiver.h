// receiver.py driven from a test: a webhook receiver process on loopback,
// independent of Vigil's code (Python's http.server, every Standard
// Webhooks signature checked with Python's hmac), and the requests it
// recorded. Tests that use it define WEBHOOK_RECEIVER, the script's path
// (tests/projections/webhooks/receiver.py).

#ifndef VIGIL_TESTS_TESTING_WEBHOOK_RECEIVER_H_
#define VIGIL_TESTS_TESTING_WEBHOOK_RECEIVER_H_

#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/file_contents.h"
#include "tests/testing/vigild_process.h"

extern char** environ;

namespace vigil::testing {

// One request as receiver.py recorded it.
struct Delivery {
  std::string id;
  std::string timestamp;
  std::string signature;
  std::string body;
  bool verified = false;
  int status = 0;
  double received_at = 0;  // Unix seconds
  // From the body.
  std::string stream;
  uint64_t revision = 0;
  uint64_t position = 0;
};

class Receiver {
 public:
  explicit Receiver(std::string dir)
      : dir_(std::move(dir)), port_(FreePort()) {}
  ~Receiver() { Stop(); }

  // With `cert` and `key` (PEM files): HTTPS.
  void Start(const std::string& cert = "", const std::string& key = "") {
    std::remove((dir_ + "/ready").c_str());
    std::vector<std::string> args = {"python3", WEBHOOK_RECEIVER,
                                     std::to_string(port_), dir_};
    if (!cert.empty()) args.insert(args.end(), {cert, key});
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir_ + "/receiver.log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    ASSERT_EQ(
        posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (ReadFileBytes(dir_ + "/ready").value_or("").empty() &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_FALSE(ReadFileBytes(dir_ + "/ready").value_or("").empty())
        << "receiver not ready";
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string url(const char* scheme = "http") const {
    return absl::StrCat(scheme, "://127.0.0.1:", port_, "/hook");
  }
  void SetSecret(const std::string& secret) {
    WriteFileBytes(dir_ + "/secret", secret);
  }
  void SetStatus(int status) {
    WriteFileBytes(dir_ + "/status", std::to_string(status));
  }
  void SetDelayMs(int ms) {
    WriteFileBytes(dir_ + "/delay_ms", std::to_string(ms));
  }

  std::vector<Delivery> Received() const {
    std::vector<Delivery> deliveries;
    std::istringstream lines(
        ReadFileBytes(dir_ + "/received.jsonl").value_or(""));
    std::string line;
    simdjson::dom::parser parser;
    simdjson::dom::parser body_parser;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      simdjson::dom::element record;
      if (parser.parse(line).get(record) != simdjson::SUCCESS) continue;
      Delivery d;
      d.id = std::string(record["id"].get_string().value());
      d.timestamp = std::string(record["timestamp"].get_string().value());
      d.signature = std::string(record["signature"].get_string().value());
      d.body = std::string(record["body"].get_string().value());
      d.verified = record["verified"].get_bool().value();
      d.status = static_cast<int>(record["status"].get_int64().value());
      d.received_at = record["received_at"].get_double().value();
      simdjson::dom::element event = body_parser.parse(d.body);
      d.stream = std::string(event["stream"].get_string().value());
      d.revision = event["revision"].get_uint64();
      d.position = event["position"].get_uint64();
      deliveries.push_back(std::move(d));
    }
    return deliveries;
  }

  // Waits until `distinct` different webhook-ids have been answered 2xx.
  std::vector<Delivery> WaitForDelivered(size_t distinct,
                                         absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<Delivery> deliveries;
    while (absl::Now() < deadline) {
      deliveries = Received();
      std::set<std::string> ids;
      for (const Delivery& d : deliveries) {
        if (d.status >= 200 && d.status < 300) ids.insert(d.id);
      }
      if (ids.size() >= distinct) return deliveries;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return deliveries;
  }

 private:
  const std::string dir_;
  const int port_;
  pid_t pid_ = -1;
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_WEBHOOK_RECEIVER_H_
