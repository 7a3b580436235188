// FillLog: appends a Scenario's steps straight into an EventLog until it
// holds a given number of events, pipelined (AppendAsync, in order) so that
// group commit batches them. For benchmarks and tests that need a large,
// realistic log quickly. Blocks the calling thread.

#ifndef VIGIL_TOOLS_SIMULATOR_FILL_LOG_H_
#define VIGIL_TOOLS_SIMULATOR_FILL_LOG_H_

#include <cstdint>

#include "absl/status/status.h"
#include "eventlog/event_log.h"
#include "tools/simulator/scenario.h"

namespace vigil::simulator {

// Appends the steps of `scenario` (conflict_rate must be 0, so every step
// applies in order) until `log` holds at least `events` events. The first
// failed append's status is returned once the appends in flight are done.
absl::Status FillLog(eventlog::EventLog* log, Scenario* scenario,
                     uint64_t events);

}  // namespace vigil::simulator

#endif  // VIGIL_TOOLS_SIMULATOR_FILL_LOG_H_
