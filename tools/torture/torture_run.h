// A torture run: N cycles of starting vigild on a fault disk
// (fault_disk.h), appending from many gRPC clients (workload.h), killing
// vigild with SIGKILL at a random moment and, on the power disk, cutting
// the power; then restarting it and checking the history against the log
// (history.h), re-sending acknowledged appends (they must be deduplicated)
// and running `vigil verify` on the data directory. `vigil torture` is its
// command line (tools/vigil/cmd_torture.cc); docs/reliability.md how to use it.

#ifndef VIGIL_TOOLS_TORTURE_TORTURE_RUN_H_
#define VIGIL_TOOLS_TORTURE_TORTURE_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/torture/history.h"

namespace vigil::torture {

struct TortureOptions {
  std::string scenario = "crash";  // crash, power or disk-full
  int cycles = 20;
  int clients = 8;
  uint64_t seed = 0;
  // Each cycle's clients run for a random time in this range, then vigild
  // is killed.
  int min_run_ms = 150;
  int max_run_ms = 1200;
  // A check from position 1 every this many cycles (and at the end); the
  // checks between cover the previous cycle's positions.
  int full_check_every = 10;
  // vigild's --idempotency-retention-s: short, so that keys expire (and are
  // deleted) while the power is cut. Only keys acknowledged well within it
  // are re-sent.
  int idempotency_retention_s = 30;
  // Keys re-sent per check.
  int resends_per_check = 16;
  // vigild without fsync (VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS=1): the control
  // run, which must lose acknowledged events on the power disk.
  bool unsafe_no_fsync = false;
  std::string vigild;  // binaries
  std::string vigil;
  std::string lazyfs;
  std::string work_dir;  // existing; the data, logs and history.ndjson
};

struct TortureSummary {
  int cycles = 0;  // completed
  uint64_t acknowledged_appends = 0;  // over the whole run
  uint64_t acknowledged_events = 0;
  // The last check (the final one covers the whole log).
  CheckReport check;
  uint64_t resends = 0;
  uint64_t idempotency_failures = 0;
  uint64_t verify_failures = 0;
  uint64_t restart_failures = 0;  // vigild did not come up on the data
  uint64_t server_deaths = 0;     // vigild exited before it was killed
  uint64_t resume_failures = 0;   // disk-full: no append after space freed
  uint64_t fill_failures = 0;     // disk-full: filled, yet nothing refused
  uint64_t disk_full_refusals = 0;  // disk-full: appends refused while full
  std::vector<std::string> problems;

  // Acknowledged data lost or changed, or any broken promise.
  bool ok() const {
    return check.ok() && idempotency_failures == 0 &&
           verify_failures == 0 && restart_failures == 0 &&
           server_deaths == 0 && resume_failures == 0 &&
           fill_failures == 0;
  }
  // The one line a run ends with.
  std::string Line(const std::string& scenario) const;
};

// Runs the cycles; stops early at the first broken promise (the summary
// says which). An error only when the run could not be set up or carried
// out (no root, a binary missing, a port never came up...).
absl::StatusOr<TortureSummary> RunTorture(const TortureOptions& options);

// Asks a running RunTorture to stop after the current step (for signals).
void RequestStop();

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_TORTURE_RUN_H_
