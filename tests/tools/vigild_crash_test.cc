// kill -9 of vigild under gRPC load loses no acknowledged event. Each cycle
// starts the real vigild binary, appends from 16 gRPC clients (exact
// expected revisions, so any lost or reordered event would also break the
// next append), kills the server with SIGKILL at a random moment, restarts
// it, and checks over gRPC that every acknowledged append is at its
// acknowledged positions, that positions have no gap, and finally that the
// hash chain verifies. VIGIL_SERVER_CRASH_CYCLES sets the cycles (default 10).

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <atomic>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/spawn.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/vigild_process.h"
#include "vigil/v1/event_store.grpc.pb.h"


namespace vigil {
namespace {

using testing::FreePort;

pid_t StartVigild(const std::string& data_dir, const std::string& listen,
                  const std::string& log_path) {
  std::vector<std::string> args = {VIGILD_BINARY, "--data-dir", data_dir,
                                   "--grpc-listen", listen,
                                   "--http-listen", "127.0.0.1:0",
                                 "--projections", "off"};
  return testing::SpawnLogged(std::move(args), log_path);
}

struct Ack {
  std::string stream;
  uint64_t first_position;
  uint64_t last_position;
  uint64_t last_revision;
};

TEST(VigildCrashTest, AcknowledgedAppendsSurviveKill9UnderGrpcLoad) {
  const char* env = std::getenv("VIGIL_SERVER_CRASH_CYCLES");
  const int cycles = env ? std::atoi(env) : 10;
  vigil::testing::TempDir dir;
  const std::string data_dir = dir.Sub("data");
  const std::string log_path = dir.Sub("vigild.log");
  std::mt19937 random(std::random_device{}());
  std::vector<Ack> all_acks;  // over every cycle
  constexpr int kClients = 16;

  for (int cycle = 0; cycle < cycles; ++cycle) {
    const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
    const pid_t pid = StartVigild(data_dir, listen, log_path);
    ASSERT_GT(pid, 0);
    auto channel = grpc::CreateChannel(listen, grpc::InsecureChannelCredentials());
    ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                          std::chrono::seconds(20)))
        << "vigild did not come up; see " << log_path;
    auto stub = vigil::v1::EventStore::NewStub(channel);

    absl::Mutex mu;
    std::vector<Ack> acks;
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        const std::string stream = "crash-" + std::to_string(c);
        // Where this stream stands after the previous cycles.
        std::optional<uint64_t> last_revision;
        {
          grpc::ClientContext context;
          vigil::v1::GetStreamRequest request;
          request.set_stream(stream);
          vigil::v1::StreamInfo info;
          if (stub->GetStream(&context, request, &info).ok()) {
            last_revision = info.last_revision();
          }
        }
        for (int i = 0; !stop; ++i) {
          vigil::v1::AppendRequest request;
          request.set_stream(stream);
          if (last_revision.has_value()) {
            request.mutable_expected_revision()->set_exact(*last_revision);
          } else {
            request.mutable_expected_revision()->mutable_no_stream();
          }
          const uint64_t first = last_revision ? *last_revision + 1 : 0;
          const int count = 1 + (i + c) % 3;
          for (int e = 0; e < count; ++e) {
            auto* event = request.add_events();
            event->set_type("CrashTest");
            event->set_data("{\"stream\":\"" + stream + "\",\"revision\":" +
                            std::to_string(first + e) + "}");
          }
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(5));
          vigil::v1::AppendResponse response;
          if (!stub->Append(&context, request, &response).ok()) return;
          last_revision = response.next_expected_revision();
          absl::MutexLock lock(&mu);
          acks.push_back({stream, response.first_position(),
                          response.last_position(),
                          response.next_expected_revision()});
        }
      });
    }
    std::uniform_int_distribution<int> run_ms(200, 700);
    absl::SleepFor(absl::Milliseconds(run_ms(random)));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    stop = true;
    for (auto& client : clients) client.join();
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "vigild exited by itself; see "
                                      << log_path;
    {
      absl::MutexLock lock(&mu);
      all_acks.insert(all_acks.end(), acks.begin(), acks.end());
      ASSERT_FALSE(acks.empty()) << "cycle " << cycle << ": no append acked";
    }
  }

  // Restart once more and check every acknowledgement of every cycle.
  const std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  const pid_t pid = StartVigild(data_dir, listen, log_path);
  auto channel = grpc::CreateChannel(listen, grpc::InsecureChannelCredentials());
  ASSERT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() +
                                        std::chrono::seconds(20)));
  auto stub = vigil::v1::EventStore::NewStub(channel);
  std::map<uint64_t, vigil::v1::RecordedEvent> by_position;
  for (uint64_t expected = 1;;) {  // pages of 1,000, under any server cap
    grpc::ClientContext context;
    vigil::v1::ReadAllRequest request;
    request.set_from_position(expected);
    request.set_max_count(1000);
    auto reader = stub->ReadAll(&context, request);
    vigil::v1::RecordedEvent event;
    const uint64_t page_start = expected;
    while (reader->Read(&event)) {
      ASSERT_EQ(event.position(), expected++) << "gap in positions";
      by_position[event.position()] = event;
    }
    ASSERT_TRUE(reader->Finish().ok());
    if (expected == page_start) break;
  }
  for (const Ack& ack : all_acks) {
    const uint64_t first_revision =
        ack.last_revision - (ack.last_position - ack.first_position);
    for (uint64_t p = ack.first_position; p <= ack.last_position; ++p) {
      auto it = by_position.find(p);
      ASSERT_NE(it, by_position.end()) << "acknowledged position " << p << " lost";
      EXPECT_EQ(it->second.stream(), ack.stream);
      EXPECT_EQ(it->second.revision(), first_revision + (p - ack.first_position));
      EXPECT_EQ(it->second.data(),
                "{\"stream\":\"" + ack.stream + "\",\"revision\":" +
                    std::to_string(it->second.revision()) + "}");
    }
  }
  kill(pid, SIGTERM);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
      << "vigild did not exit cleanly on SIGTERM; see " << log_path;

  auto log = eventlog::EventLog::Open(eventlog::Options{}, data_dir);
  ASSERT_TRUE(log.ok()) << log.status();
  auto verify = (*log)->Verify(1, 0);
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->problem;
  std::printf("%d kill -9 cycles of vigild, %zu acknowledged appends checked\n",
              cycles, all_acks.size());
}

}  // namespace
}  // namespace vigil
