#include "tools/simulator/fill_log.h"

#include <cstddef>
#include <utility>

#include "absl/synchronization/mutex.h"

namespace vigil::simulator {

// Events in flight at once: enough to fill large group commits.
constexpr size_t kWindow = 4000;

namespace {

// One pass: stops taking steps once head + in flight reaches `events`. An
// append already durable but not yet acknowledged counts twice (in the head
// and in flight), so a pass can stop short; FillLog runs passes until the
// head itself gets there.
absl::Status FillPass(eventlog::EventLog* log, Scenario* scenario,
                      uint64_t events) {
  absl::Mutex mu;
  size_t inflight = 0;
  absl::Status error;
  while (true) {
    {
      absl::MutexLock lock(&mu);
      auto room = [&] { return inflight < kWindow; };
      mu.Await(absl::Condition(&room));
      // Checked before taking a step, so a later call goes on where this
      // one stopped. Only this thread adds to `inflight`.
      if (!error.ok() || log->HeadPosition() + inflight >= events) break;
    }
    Step step = scenario->Next();
    const size_t count = step.request.events.size();
    {
      absl::MutexLock lock(&mu);
      inflight += count;
    }
    log->AppendAsync(step.request,
                     [&, count](absl::StatusOr<eventlog::AppendResult> r) {
                       absl::MutexLock lock(&mu);
                       inflight -= count;
                       if (!r.ok() && error.ok()) error = r.status();
                     });
  }
  absl::MutexLock lock(&mu);
  auto drained = [&] { return inflight == 0; };
  mu.Await(absl::Condition(&drained));
  return error;
}

}  // namespace

absl::Status FillLog(eventlog::EventLog* log, Scenario* scenario,
                     uint64_t events) {
  while (log->HeadPosition() < events) {
    if (absl::Status status = FillPass(log, scenario, events); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::simulator
