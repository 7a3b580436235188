// The clients of a torture cycle: threads appending over one gRPC channel
// each, with idempotency keys and exact expected revisions, recording every
// invocation and completion in the History. And the two reads a check needs
// from the restarted server: the log from a position, and the re-sending of
// acknowledged appends, which must be answered as deduplicated.

#ifndef VIGIL_TOOLS_TORTURE_WORKLOAD_H_
#define VIGIL_TOOLS_TORTURE_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/torture/history.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::torture {

// Each client owns the stream "torture-c<client>" and appends to it one
// event (most often) or a batch of 2-8, expecting the exact revision it
// last saw; every tenth append goes to the shared stream "torture-shared"
// with expected revision any. Every event is an AgentHeartbeat of agent
// "torture-c<client>" (so the folds and their snapshots have work) padded
// with random bytes; event ids are random UUIDs, idempotency keys
// "torture-<128 random bits in hex>". After an unknown outcome the client reads its stream's
// revision again before its next append.
class Workload {
 public:
  // Pads are 16-256 random bytes, or up to `max_pad_bytes` when larger (the
  // disk-full scenario's, to fill a disk quickly).
  Workload(History* history, const std::string& target, int clients, int cycle,
           uint64_t seed, size_t max_pad_bytes = 256);
  ~Workload();  // Stop()
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Stops the clients and waits for them; appends in flight complete first
  // (each has a 5 s deadline).
  void Stop();

  // Appends acknowledged since construction.
  uint64_t acknowledged() const { return acknowledged_.load(); }
  // Appends answered UNAVAILABLE since construction.
  uint64_t unavailable() const { return unavailable_.load(); }

 private:
  void Run(int client, uint64_t seed);

  History* history_;
  std::string target_;
  int cycle_;
  std::atomic<bool> stop_{false};
  size_t max_pad_bytes_;
  std::atomic<uint64_t> acknowledged_{0};
  std::atomic<uint64_t> unavailable_{0};
  std::vector<std::thread> threads_;
};

// The request `op` was sent as.
vigil::v1::AppendRequest ToRequest(const Invocation& op);

// Every event of the log from `from_position` on, in pages of 1,000.
absl::StatusOr<std::vector<LoggedEvent>> ReadLog(
    vigil::v1::EventStore::Stub& stub, uint64_t from_position);

// Sends acknowledged `op` again: OK when the server answers it as
// deduplicated with the same positions; otherwise an error saying what
// it answered.
absl::Status Resend(vigil::v1::EventStore::Stub& stub, const Invocation& op);

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_WORKLOAD_H_
