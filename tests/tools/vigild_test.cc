// Runs the real `vigild` binary (VIGILD_BINARY): it refuses what it must,
// serves gRPC on a free loopback port, and on SIGTERM ends subscriptions,
// acknowledges the appends in flight, closes the log and exits 0 with every
// acknowledged event durable.

#include <algorithm>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/event_store.grpc.pb.h"

extern char** environ;

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A vigild process: stdout on a pipe (its first line names the address),
// stderr in a file.
class Vigild {
 public:
  Vigild(std::vector<std::string> args, const std::string& err_path,
         std::vector<std::string> env = {})
      : err_path_(err_path) {
    // These tests are about the log's server; the read side has its own
    // (tests/tools/vigild_projections_test.cc) and needs PostgreSQL.
    if (std::find(args.begin(), args.end(), "--projections") == args.end()) {
      args.insert(args.end(), {"--projections", "off"});
    }
    int out[2];
    if (pipe(out) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    posix_spawn_file_actions_addclose(&actions, out[1]);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string binary = VIGILD_BINARY;
    std::vector<char*> argv = {binary.data()};
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<char*> envp;
    for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(),
                    envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    out_ = fdopen(out[0], "r");
  }

  ~Vigild() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // The next line of stdout, without the newline; empty at EOF.
  std::string ReadLine() {
    char line[1024];
    if (out_ == nullptr || fgets(line, sizeof(line), out_) == nullptr)
      return "";
    std::string text = line;
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }

  // All of stdout until the process closes it.
  std::string ReadToEnd() {
    std::string text;
    char buffer[4096];
    size_t n;
    while (out_ != nullptr &&
           (n = fread(buffer, 1, sizeof(buffer), out_)) > 0) {
      text.append(buffer, n);
    }
    return text;
  }

  // "127.0.0.1:PORT" from "vigild: serving gRPC on 127.0.0.1:PORT (...)".
  std::string WaitForAddress() {
    const std::string line = ReadLine();
    std::smatch match;
    if (!std::regex_search(line, match,
                           std::regex("serving gRPC on (\\S+) "))) {
      ADD_FAILURE() << "unexpected first line \"" << line
                    << "\"; stderr: " << ReadFile(err_path_);
      return "";
    }
    return match[1];
  }

  void Signal(int signal) { kill(pid_, signal); }

  // The exit code, or -1 when it did not exit normally.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string err() const { return ReadFile(err_path_); }

 private:
  const std::string err_path_;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  bool exited_ = false;
};

class VigildTest : public ::testing::Test {
 protected:
  std::string DataDir() const { return dir_.Sub("data"); }
  std::string ErrPath() const { return dir_.Sub("stderr"); }

  testing::TempDir dir_;
};

TEST_F(VigildTest, HelpListsEveryFlagWithItsVariableAndDefault) {
  Vigild vigild({"--help"}, ErrPath());
  // Wrapped lines joined, so a phrase reads the same wherever it breaks.
  const std::string help =
      std::regex_replace(vigild.ReadToEnd(), std::regex("\\s+"), " ");
  EXPECT_EQ(vigild.Wait(), 0);
  for (const char* expected :
       {"--data-dir DIR", "[VIGIL_DATA_DIR, default ./data]", "--grpc-listen",
        "VIGIL_GRPC_LISTEN, default", "127.0.0.1:7600]", "--max-event-bytes",
        "VIGIL_MAX_EVENT_BYTES, default 1048576", "VIGIL_MAX_APPEND_BYTES",
        "VIGIL_MAX_APPEND_EVENTS, default 1000",
        "VIGIL_IDEMPOTENCY_RETENTION_S, default 86400", "VIGIL_READ_THREADS",
        "VIGIL_SHUTDOWN_GRACE_MS, default 5000"}) {
    EXPECT_THAT(help, HasSubstr(expected));
  }
}

// Given these arguments (or environment), vigild refuses to start: exit 64
// and a message naming the problem, before it touches the data directory.
TEST_F(VigildTest, RefusesNonLoopbackAddressesAndBadValues) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--grpc-listen", "0.0.0.0:7600"}, {}, "loopback only"},
      {{"--grpc-listen", "[::]:7600"}, {}, "loopback only"},
      {{"--grpc-listen", "10.1.2.3:7600"}, {}, "loopback only"},
      {{"--grpc-listen", "example.com:7600"}, {}, "loopback only"},
      {{}, {"VIGIL_GRPC_LISTEN=192.168.1.1:7600"}, "loopback only"},
      {{"--grpc-listen", "127.0.0.1"}, {}, "HOST:PORT"},
      {{"--grpc-listen", "127.0.0.1:99999"}, {}, "HOST:PORT"},
      {{"--grpc-listen", "::1:7600"}, {}, "brackets"},
      {{"--max-event-bytes", "0"}, {}, "--max-event-bytes"},
      {{}, {"VIGIL_MAX_APPEND_EVENTS=lots"}, "VIGIL_MAX_APPEND_EVENTS"},
      {{"--no-such-flag"}, {}, "unknown flag --no-such-flag"},
      // Syncing can only be turned off for vigil torture's control run, by
      // VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS; no flag or VIGIL_ setting does it.
      {{"--unsafe-no-fsync"}, {}, "unknown flag --unsafe-no-fsync"},
      {{"--no-fsync"}, {}, "unknown flag --no-fsync"},
      {{"--sync", "false"}, {}, "unknown flag --sync"},
      {{"--gateway-only"}, {}, "--gateway-only needs one of --upstream HOST:PORT"},
      {{"--gateway-only", "--upstream", "127.0.0.1:7600", "--nats-url",
        "nats://127.0.0.1:4222"},
       {},
       "--gateway-only needs one of"},
      {{"--gateway-only", "--nats-url", "nats://127.0.0.1:4222",
        "--nats-subject-prefix", "vigil.>"},
       {},
       "subject prefix \"vigil.>\""},
      {{"--gateway-only", "--replication", "async", "--nats-url",
        "nats://127.0.0.1:4222"},
       {},
       "--replication is for the primary"},
      {{"--upstream", "127.0.0.1:7600"}, {}, "--upstream is for a --gateway-only"},
      {{"--gateway-only", "--upstream", "primary"}, {}, "--upstream \"primary\""},
      {{"--gateway-only", "--upstream", "127.0.0.1:7600", "--http-listen",
        "0.0.0.0:7611"},
       {},
       "loopback only"},
      {{"--gateway-only", "--upstream", "127.0.0.1:7600",
        "--upstream-token-file", "/nonexistent/token"},
       {},
       "--upstream-token-file: cannot read"},
      {{"--replication", "quorum"}, {}, "expected off, async or sync"},
      {{"--replication", "sync"}, {}, "need --nats-url"},
      {{"--nats-url", "nats://127.0.0.1:4222"}, {}, "--nats-url is for"},
      {{"--replication", "async", "--nats-url", "nats://127.0.0.1:4222",
        "--nats-subject-prefix", "vigil.>"},
       {},
       "subject prefix \"vigil.>\""},
      {{"--replication", "async", "--nats-url", "nats://127.0.0.1:4222",
        "--nats-replicas", "7"},
       {},
       "replicas must be 1 to 5"},
      {{"--replication", "async", "--nats-url", "nats://127.0.0.1:4222",
        "--nats-stream", "A.B"},
       {},
       "bad JetStream stream name"},
      {{"--webhooks", "standby"}, {}, "expected on, off, here or elsewhere"},
      {{"--replication", "async", "--nats-url", "nats://127.0.0.1:4222",
        "--standby", "--webhooks", "here"},
       {},
       "--webhooks=here on a --standby needs --etcd-endpoints or "
       "--primary-grpc"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), {"--data-dir", DataDir()});
    SCOPED_TRACE(absl::StrJoin(args, " ") + " " + absl::StrJoin(c.env, " "));
    Vigild vigild(args, ErrPath(), c.env);
    ASSERT_TRUE(vigild.started());
    EXPECT_EQ(vigild.Wait(), 64);
    EXPECT_THAT(vigild.err(), HasSubstr(c.message));
  }
  EXPECT_FALSE(std::filesystem::exists(DataDir()));
}

v1::AppendRequest Request(const std::string& stream, int i) {
  v1::AppendRequest request;
  request.set_stream(stream);
  v1::EventData* event = request.add_events();
  event->set_type("Tick");
  event->set_data(absl::StrCat(R"({"i":)", i, "}"));
  return request;
}

TEST_F(VigildTest, ServesThenStopsCleanlyOnSigterm) {
  // A long grace period, so a shutdown that waited for it stands out from
  // one that was merely slow on a loaded machine (3.4 s once, beside the
  // crash tests, with the default 5 s grace).
  Vigild vigild({"--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0", "--shutdown-grace-ms", "30000"},
                ErrPath());
  ASSERT_TRUE(vigild.started());
  const std::string address = vigild.WaitForAddress();
  ASSERT_FALSE(address.empty());
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));

  {
    v1::AppendRequest request = Request("agent-a1", 0);
    request.mutable_expected_revision()->mutable_no_stream();
    request.set_idempotency_key("first");
    *request.add_events() = Request("agent-a1", 1).events(0);
    grpc::ClientContext context;
    v1::AppendResponse response;
    const grpc::Status status = stub->Append(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.first_position(), 1u);
    EXPECT_EQ(response.last_position(), 2u);
  }

  // A subscription open at shutdown ends with UNAVAILABLE at once.
  grpc::ClientContext subscribe_context;
  auto subscription =
      stub->Subscribe(&subscribe_context, v1::SubscribeRequest());
  v1::SubscribeResponse response;
  while (subscription->Read(&response) && !response.has_caught_up()) {
  }
  ASSERT_EQ(response.caught_up(), 2u);

  // Appenders racing the shutdown: every append they see acknowledged must
  // be in the log afterwards, where it was acknowledged.
  struct Ack {
    std::string stream;
    uint64_t position;
    int i;
  };
  absl::Mutex mu;
  std::vector<Ack> acks;
  std::vector<std::thread> appenders;
  for (int t = 0; t < 4; ++t) {
    appenders.emplace_back([&, t] {
      const std::string stream = absl::StrCat("task-", t);
      for (int i = 0;; ++i) {
        grpc::ClientContext context;
        v1::AppendResponse response;
        if (!stub->Append(&context, Request(stream, i), &response).ok()) return;
        absl::MutexLock lock(&mu);
        acks.push_back({stream, response.first_position(), i});
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(300));

  const absl::Time signalled = absl::Now();
  vigild.Signal(SIGTERM);
  EXPECT_EQ(vigild.Wait(), 0) << vigild.err();
  // Nothing had to wait for the grace period of 30 s.
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(15));
  for (std::thread& appender : appenders) appender.join();
  while (subscription->Read(&response)) {
  }
  EXPECT_EQ(subscription->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  eventlog::Options options;
  options.create_if_missing = false;
  auto log = eventlog::EventLog::Open(options, DataDir());
  ASSERT_TRUE(log.ok()) << log.status();
  auto first = (*log)->ReadStream("agent-a1", 0, 0, false);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[1].data, R"({"i":1})");
  EXPECT_GT(acks.size(), 0u);
  std::printf("%zu appends acknowledged around the shutdown\n", acks.size());
  for (const Ack& ack : acks) {
    auto events = (*log)->ReadAll(ack.position, 1, {});
    ASSERT_TRUE(events.ok()) << events.status();
    ASSERT_EQ(events->size(), 1u) << "acknowledged position " << ack.position;
    EXPECT_EQ((*events)[0].stream, ack.stream);
    EXPECT_EQ((*events)[0].data, absl::StrCat(R"({"i":)", ack.i, "}"));
  }
  auto verify = (*log)->Verify(1, 0);
  ASSERT_TRUE(verify.ok()) << verify.status();
  EXPECT_TRUE(verify->ok) << verify->problem;
}

// The live feed through the real binary: --allowed-origins (and its
// variable) replace the default origins, and a WebSocket open at SIGTERM
// gets a close and does not hold the shutdown up.
// tools/vigild/file_limit.h, found by tools/netfuzz: started with a soft
// RLIMIT_NOFILE of 1,024 (shells' and systemd services' default), vigild
// ran out of descriptors under 1,000 idle connections and stopped answering
// new ones; it now raises its soft limit to the hard one.
TEST_F(VigildTest, RaisesItsSoftFileLimitToTheHardOne) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max != RLIM_INFINITY && saved.rlim_max <= 1024) {
    GTEST_SKIP() << "the hard RLIMIT_NOFILE is " << saved.rlim_max
                 << ": nothing above 1,024 to raise the soft limit to";
  }
  rlimit low = saved;
  low.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Vigild vigild({"--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0"},
                ErrPath());
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(vigild.started());
  ASSERT_FALSE(vigild.WaitForAddress().empty());
  const std::string limits =
      ReadFile("/proc/" + std::to_string(vigild.pid()) + "/limits");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(
      limits, match, std::regex("Max open files +([0-9]+) +([0-9a-z]+)")))
      << limits;
  const uint64_t expected = saved.rlim_max == RLIM_INFINITY
                                ? uint64_t{1} << 20
                                : std::min<uint64_t>(saved.rlim_max, 1 << 20);
  EXPECT_EQ(std::stoull(match[1]), expected) << limits;
  vigild.Signal(SIGTERM);
  EXPECT_EQ(vigild.Wait(), 0) << vigild.err();
}

// jemalloc serves vigild's malloc with the settings of allocator.cc (the
// mapped library and jemalloc's own answers, as vigild logs them), unless a
// sanitizer build, whose runtime serves it.
TEST_F(VigildTest, RunsOnJemallocWithItsSettings) {
  Vigild vigild({"--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0"},
                ErrPath());
  ASSERT_TRUE(vigild.started());
  ASSERT_FALSE(vigild.WaitForAddress().empty());
  const std::string maps =
      ReadFile("/proc/" + std::to_string(vigild.pid()) + "/maps");
#ifdef VIGIL_EXPECT_JEMALLOC
  EXPECT_THAT(maps, HasSubstr("libjemalloc.so.2"));
  EXPECT_THAT(vigild.err(),
              HasSubstr("vigild: memory allocator: jemalloc 5."));
  EXPECT_THAT(vigild.err(),
              HasSubstr("(background_thread:true,dirty_decay_ms:1000,"
                        "muzzy_decay_ms:0)"));
#else
  EXPECT_THAT(maps, Not(HasSubstr("libjemalloc")));
  EXPECT_THAT(vigild.err(),
              HasSubstr("vigild: memory allocator: the C library's malloc"));
#endif
  vigild.Signal(SIGTERM);
  EXPECT_EQ(vigild.Wait(), 0) << vigild.err();
}

TEST_F(VigildTest, LiveFeedHonoursAllowedOriginsAndStopsOnSigterm) {
  Vigild vigild({"--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0"},
                ErrPath(),
                {"VIGIL_ALLOWED_ORIGINS=https://dash.example.com, "
                 "https://ops.example.com"});
  ASSERT_TRUE(vigild.started());
  const std::string line = vigild.ReadLine();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(line, match,
                                std::regex("HTTP on 127.0.0.1:([0-9]+) ")))
      << line << vigild.err();
  const uint16_t port = static_cast<uint16_t>(std::stoi(match[1]));
  auto upgrade = [&](const std::string& origin) {
    return testing::FormatRequest(
        "GET", "/v1/live",
        {{"Upgrade", "websocket"},
         {"Connection", "Upgrade"},
         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
         {"Sec-WebSocket-Version", "13"},
         {"Origin", origin}});
  };
  {
    testing::HttpConnection foreign(port);
    foreign.Send(upgrade("http://127.0.0.1:" + std::to_string(port)));
    auto response = foreign.Read();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 403);
  }
  testing::HttpConnection live(port);
  live.Send(upgrade("https://ops.example.com"));
  auto head = live.ReadSome();
  ASSERT_TRUE(head.has_value());
  EXPECT_THAT(*head, ::testing::StartsWith("HTTP/1.1 101"));
  const absl::Time signalled = absl::Now();
  vigild.Signal(SIGTERM);
  EXPECT_EQ(vigild.Wait(), 0) << vigild.err();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(3));
  // The close frame (1001) is somewhere in what the server sent last.
  std::string rest = head->substr(head->find("\r\n\r\n") + 4);
  while (auto more = live.ReadSome()) rest += *more;
  EXPECT_NE(rest.find(std::string("\x88", 1)), std::string::npos);
  EXPECT_THAT(rest, HasSubstr("server shutting down"));
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

TEST_F(VigildTest, AnswersStateAtAndDiffOverGrpc) {
  Vigild vigild({"--data-dir", DataDir(), "--grpc-listen", "127.0.0.1:0",
                 "--http-listen", "127.0.0.1:0", "--projections", "off",
                 "--snapshot-interval", "2"},
                ErrPath());
  ASSERT_TRUE(vigild.started());
  const std::string address = vigild.WaitForAddress();
  ASSERT_FALSE(address.empty());
  auto stub = v1::EventStore::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::AppendRequest append;
  append.set_stream("agent-a1");
  v1::EventData* registered = append.add_events();
  registered->set_type("AgentRegistered");
  registered->set_data(R"({"agent_id":"a1","role":"worker","name":"W"})");
  for (int i = 0; i < 4; ++i) {
    v1::EventData* beat = append.add_events();
    beat->set_type("AgentHeartbeat");
    beat->set_data(absl::StrCat(
        R"({"agent_id":"a1","cpu_pct":)", i, R"(,"mem_bytes":1,"queue_depth":0})"));
  }
  {
    grpc::ClientContext context;
    v1::AppendResponse response;
    ASSERT_TRUE(stub->Append(&context, append, &response).ok());
  }
  {
    v1::StateAtRequest request;
    request.mutable_at()->set_position(3);
    request.set_agent_id("a1");
    grpc::ClientContext context;
    v1::StateAtResponse response;
    const grpc::Status status = stub->StateAt(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.json(), ::testing::StartsWith(R"({"position":3,)"));
    EXPECT_THAT(response.json(), ::testing::HasSubstr(R"("cpu_pct":1.0)"));
  }
  {
    v1::StateAtRequest request;
    request.mutable_at()->set_position(99);
    grpc::ClientContext context;
    v1::StateAtResponse response;
    EXPECT_EQ(stub->StateAt(&context, request, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::DiffRequest request;
    request.mutable_from()->set_position(2);
    grpc::ClientContext context;
    v1::DiffResponse response;
    const grpc::Status status = stub->Diff(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.json(),
                ::testing::HasSubstr(R"("positions":[3,4,5],"position_count":3)"));
  }
  vigild.Signal(SIGTERM);
  EXPECT_EQ(vigild.Wait(), 0) << vigild.err();
}

}  // namespace
}  // namespace vigil
