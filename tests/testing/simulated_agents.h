// Simulated agents (tools/simulator/scenario.h) appending to a vigild over
// gRPC, one thread per scenario: the load of the tests that check the read
// models under failure. A step that fails (the server was killed) is kept
// and retried with its idempotency key by the next Run, so every step lands
// exactly once.

#ifndef VIGIL_TESTS_TESTING_SIMULATED_AGENTS_H_
#define VIGIL_TESTS_TESTING_SIMULATED_AGENTS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/event_proto.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/wait_until.h"
#include "tools/simulator/scenario.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::testing {

class SimulatedAgents {
 public:
  explicit SimulatedAgents(int clients) {
    for (int i = 0; i < clients; ++i) {
      auto scenario = simulator::Scenario::Create(
          {.managers = 1, .workers = 3, .seed = static_cast<uint64_t>(i + 1),
           .id_prefix = absl::StrCat("c", i)});
      clients_.push_back({*std::move(scenario), std::nullopt});
    }
  }

  // Appends until `stop` or the first failure of each client.
  void Run(int grpc_port, const std::atomic<bool>& stop) {
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::EventStore::NewStub(channel);
    std::vector<std::thread> threads;
    for (Client& client : clients_) {
      threads.emplace_back([&, stub = stub.get()] {
        while (!stop) {
          if (!client.pending.has_value()) {
            client.pending = client.scenario->Next();
          }
          v1::AppendRequest request;
          api::ToProto(client.pending->request, &request);
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(5));
          v1::AppendResponse response;
          const grpc::Status status = stub->Append(&context, request, &response);
          if (!status.ok()) return;
          client.pending.reset();
          appended_.fetch_add(1);
          uint64_t last = last_position_.load();
          while (response.last_position() > last &&
                 !last_position_.compare_exchange_weak(
                     last, response.last_position())) {
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  // Runs against `grpc_port` until `steps` more steps landed; false when
  // they did not within `timeout`.
  bool AppendSteps(int grpc_port, uint64_t steps,
                   absl::Duration timeout = absl::Seconds(60)) {
    const uint64_t until = appended() + steps;
    std::atomic<bool> stop{false};
    std::thread load([&] { Run(grpc_port, stop); });
    const bool done =
        WaitUntil([&] { return appended() >= until; }, timeout);
    stop = true;
    load.join();
    return done;
  }

  uint64_t appended() const { return appended_.load(); }
  uint64_t last_position() const { return last_position_.load(); }

 private:
  struct Client {
    std::unique_ptr<simulator::Scenario> scenario;
    std::optional<simulator::Step> pending;
  };
  std::vector<Client> clients_;
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> last_position_{0};
};

}  // namespace vigil::testing

#endif  // VIGIL_TESTS_TESTING_SIMULATED_AGENTS_H_
