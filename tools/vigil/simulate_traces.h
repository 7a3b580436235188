// The --trace-runs-per-minute side of `vigil simulate`: runs of a traced
// agent team (tools/simulator/trace_runs.h) exported to the server over
// OTLP/gRPC (TraceService/Export, docs/otlp.md), on a thread of its own at
// a fixed pace, until Finish. An export is idempotent by trace and span id,
// so one that failed with UNAVAILABLE or RESOURCE_EXHAUSTED is sent again
// as it was (up to 10 attempts, backing off from 50 ms to 2 s).

#ifndef VIGIL_TOOLS_VIGIL_SIMULATE_TRACES_H_
#define VIGIL_TOOLS_VIGIL_SIMULATE_TRACES_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "tools/simulator/trace_runs.h"
#include "tools/vigil/cli.h"

namespace vigil::cli {

class TraceSender {
 public:
  struct Totals {
    uint64_t runs = 0;     // every export of the run answered
    uint64_t spans = 0;    // in those runs
    uint64_t retries = 0;  // exports sent again after a transient error
    uint64_t errors = 0;   // runs given up on
    std::string first_error;
  };

  // Starts sending at once; `flags` (the server and token) must outlive
  // the sender. REQUIRES: runs_per_minute >= 1.
  TraceSender(const FlagValues& flags, simulator::TraceRunOptions options,
              uint64_t runs_per_minute);
  ~TraceSender();  // as Finish
  TraceSender(const TraceSender&) = delete;
  TraceSender& operator=(const TraceSender&) = delete;

  // Stops after the run being sent and returns what was sent.
  Totals Finish();

 private:
  void Loop(const FlagValues& flags, simulator::TraceRunOptions options,
            uint64_t runs_per_minute);

  std::atomic<bool> stop_{false};
  Totals totals_;  // the thread's until it is joined
  std::thread thread_;
};

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_SIMULATE_TRACES_H_
