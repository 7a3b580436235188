// Runs the real `vigil simulate` (VIGIL_BINARY) against the real vigild
// (VIGILD_BINARY) on loopback, then reads the log back over gRPC: what the
// summary reports is what the log holds, races were lost and resolved, and
// every task and agent stream tells a consistent story.

#include <fcntl.h>
#include <signal.h>
#include <simdjson.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "tests/tools/domain_checks.h"
#include "vigil/v1/event_store.grpc.pb.h"

extern char** environ;

namespace vigil {
namespace {

using ::testing::IsEmpty;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A child process with stdout and stderr in files.
class Process {
 public:
  Process(const std::string& binary, std::vector<std::string> args,
          const std::string& out_path, const std::string& err_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string program = binary;
    std::vector<char*> argv = {program.data()};
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  void Signal(int signal) { kill(pid_, signal); }
  // The exit code, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
};

// The counts of the summary line.
std::map<std::string, double> Summary(const std::string& out) {
  std::map<std::string, double> summary;
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(out).get(object) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not one JSON object: " << out;
    return summary;
  }
  for (auto [key, value] : object) {
    if (value.is_number()) summary[std::string(key)] = double(value);
  }
  return summary;
}

class SimulateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vigild_ = std::make_unique<Process>(
        VIGILD_BINARY,
        std::vector<std::string>{"--data-dir", dir_.Sub("data"),
                                 "--grpc-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0",
                                 "--projections", "off"},
        dir_.Sub("vigild.out"), dir_.Sub("vigild.err"));
    ASSERT_TRUE(vigild_->started());
    // Its first line names the address.
    std::smatch match;
    for (int i = 0; i < 100; ++i) {
      const std::string out = ReadFile(dir_.Sub("vigild.out"));
      if (std::regex_search(out, match, std::regex("serving gRPC on (\\S+) "))) {
        address_ = match[1];
        break;
      }
      usleep(100'000);
    }
    ASSERT_FALSE(address_.empty()) << ReadFile(dir_.Sub("vigild.err"));
  }

  std::unique_ptr<Process> Simulate(std::vector<std::string> args) {
    args.insert(args.begin(), {"simulate", "--server", address_});
    return std::make_unique<Process>(VIGIL_BINARY, args, dir_.Sub("sim.out"),
                                     dir_.Sub("sim.err"));
  }

  // The whole log, stream by stream in revision order.
  std::map<std::string, std::vector<testing::TypedEvent>> ReadLog(
      size_t* total) {
    auto stub = v1::EventStore::NewStub(
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    auto reader = stub->ReadAll(&context, v1::ReadAllRequest());
    std::map<std::string, std::vector<testing::TypedEvent>> streams;
    v1::RecordedEvent event;
    *total = 0;
    while (reader->Read(&event)) {
      ++*total;
      auto& events = streams[event.stream()];
      EXPECT_EQ(event.revision(), events.size()) << event.stream();
      events.push_back({event.type(), event.data()});
    }
    EXPECT_TRUE(reader->Finish().ok());
    return streams;
  }

  void ExpectConsistent(
      const std::map<std::string, std::vector<testing::TypedEvent>>& streams) {
    for (const auto& [stream, events] : streams) {
      SCOPED_TRACE(stream);
      if (stream.starts_with("task-")) {
        EXPECT_THAT(testing::CheckTaskLifecycle(events), IsEmpty());
      } else if (stream.starts_with("trace-")) {
        for (const testing::TypedEvent& event : events) {
          EXPECT_EQ(event.type, "SpanRecorded");
        }
      } else {
        EXPECT_THAT(testing::CheckAgentLifecycle(events), IsEmpty());
      }
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<Process> vigild_;
  std::string address_;
};

TEST_F(SimulateTest, WhatItReportsIsWhatTheLogHolds) {
  auto sim = Simulate({"--managers", "2", "--workers", "6", "--rate", "400",
                       "--duration", "2", "--seed", "3", "--prefix", "e2e",
                       "--conflict-rate", "0.2"});
  ASSERT_TRUE(sim->started());
  ASSERT_EQ(sim->Wait(), 0) << ReadFile(dir_.Sub("sim.err"));
  std::map<std::string, double> summary = Summary(ReadFile(dir_.Sub("sim.out")));
  EXPECT_GT(summary["steps"], 400);
  EXPECT_EQ(summary["appends"], summary["steps"]);
  EXPECT_EQ(summary["errors"], 0);
  EXPECT_EQ(summary["deduplicated"], 0);
  EXPECT_GT(summary["conflicts"], 0);
  EXPECT_GT(summary["appends_per_s"], 100);

  size_t total = 0;
  auto streams = ReadLog(&total);
  EXPECT_EQ(total, summary["events"]);
  ExpectConsistent(streams);
  EXPECT_TRUE(streams.contains("agent-e2e-s3-m0"));
  EXPECT_TRUE(streams.contains("task-e2e-s3-t0"));

  // The same seed and prefix again: every append is deduplicated, the
  // races' losers included; the log is unchanged.
  const double events = summary["events"];
  sim = Simulate({"--managers", "2", "--workers", "6", "--rate", "2000",
                  "--events", std::to_string(int(events)), "--seed", "3",
                  "--prefix", "e2e", "--conflict-rate", "0.2"});
  ASSERT_EQ(sim->Wait(), 0) << ReadFile(dir_.Sub("sim.err"));
  summary = Summary(ReadFile(dir_.Sub("sim.out")));
  EXPECT_EQ(summary["events"], 0);
  EXPECT_EQ(summary["appends"], 0);
  EXPECT_EQ(summary["errors"], 0);
  ReadLog(&total);
  EXPECT_EQ(total, events);
}

// --trace-runs-per-minute: runs of a traced team exported over OTLP/gRPC
// beside the domain events, each span recorded once.
TEST_F(SimulateTest, TracedRunsAreRecordedOnceEach) {
  const std::vector<std::string> args = {
      "--rate", "50", "--duration", "2", "--seed", "5", "--prefix", "tr",
      "--trace-runs-per-minute", "900"};
  auto sim = Simulate(args);
  ASSERT_EQ(sim->Wait(), 0) << ReadFile(dir_.Sub("sim.err"));
  std::map<std::string, double> summary = Summary(ReadFile(dir_.Sub("sim.out")));
  EXPECT_GE(summary["trace_runs"], 10);
  EXPECT_EQ(summary["trace_errors"], 0);
  // Per run: the Planner, its planning call, two workers with at least a
  // call each.
  EXPECT_GE(summary["spans"], 6 * summary["trace_runs"]);

  size_t total = 0;
  auto streams = ReadLog(&total);
  ExpectConsistent(streams);
  size_t traces = 0, spans = 0;
  for (const auto& [stream, events] : streams) {
    if (!stream.starts_with("trace-")) continue;
    ++traces;
    spans += events.size();
  }
  EXPECT_EQ(traces, summary["trace_runs"]);
  EXPECT_EQ(spans, summary["spans"]);
  EXPECT_EQ(total, summary["events"] + summary["spans"]);
}

TEST_F(SimulateTest, SigtermFinishesTheAppendsInFlightAndExitsZero) {
  auto sim = Simulate({"--rate", "300", "--prefix", "term"});
  ASSERT_TRUE(sim->started());
  usleep(1'500'000);
  sim->Signal(SIGTERM);
  ASSERT_EQ(sim->Wait(), 0) << ReadFile(dir_.Sub("sim.err"));
  std::map<std::string, double> summary = Summary(ReadFile(dir_.Sub("sim.out")));
  EXPECT_GT(summary["steps"], 100);
  EXPECT_EQ(summary["appends"], summary["steps"]);
  size_t total = 0;
  ExpectConsistent(ReadLog(&total));
  EXPECT_EQ(total, summary["events"]);
}

TEST_F(SimulateTest, UsageAndUnreachableServer) {
  auto sim = Simulate({"--workers", "0"});
  EXPECT_EQ(sim->Wait(), 64);
  sim = Simulate({"--prefix", "bad/prefix"});
  EXPECT_EQ(sim->Wait(), 64);
  sim = std::make_unique<Process>(
      VIGIL_BINARY,
      std::vector<std::string>{"simulate", "--server", "127.0.0.1:1",
                               "--duration", "1"},
      dir_.Sub("sim.out"), dir_.Sub("sim.err"));
  EXPECT_EQ(sim->Wait(), 1);
  EXPECT_THAT(ReadFile(dir_.Sub("sim.err")), ::testing::HasSubstr("UNAVAILABLE"));
}

}  // namespace
}  // namespace vigil
