// Where a torture run keeps vigild's data directory, and the fault that
// disk brings besides the SIGKILL every cycle ends with:
//   crash      a plain directory: the page cache survives, as after kill -9
//   power      a lazyfs mount (tools/lazyfs): detaching it is a power cut,
//              everything vigild wrote but did not sync is thrown away
//   disk-full  a small tmpfs that the run fills up and frees again
// Needs root for the mounts. Every mount is undone by Cleanup(), which the
// destructor calls too.

#ifndef VIGIL_TOOLS_TORTURE_FAULT_DISK_H_
#define VIGIL_TOOLS_TORTURE_FAULT_DISK_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/torture/child_process.h"

namespace vigil::torture {

class FaultDisk {
 public:
  virtual ~FaultDisk() = default;

  // Makes the data directory reachable; before vigild starts, every cycle.
  virtual absl::Status Attach() { return absl::OkStatus(); }
  // After vigild was killed: the fault, if the disk has one at that moment.
  virtual absl::Status Detach() { return absl::OkStatus(); }
  // vigild's data directory while attached.
  virtual std::string data_dir() const = 0;
  // The same directory while detached (where `vigil verify` reads it).
  virtual std::string detached_data_dir() const { return data_dir(); }
  // Fills the disk up / frees it again (disk-full only; others: no-op).
  virtual absl::Status Fill() { return absl::OkStatus(); }
  virtual absl::Status Free() { return absl::OkStatus(); }
  // Undoes every mount and stops every helper process. Idempotent.
  virtual void Cleanup() {}
};

// `scenario` is "crash", "power" or "disk-full"; `work_dir` an existing
// empty directory; `lazyfs` the vigil-lazyfs binary (power only).
absl::StatusOr<std::unique_ptr<FaultDisk>> MakeFaultDisk(
    const std::string& scenario, const std::string& work_dir,
    const std::string& lazyfs);

}  // namespace vigil::torture

#endif  // VIGIL_TOOLS_TORTURE_FAULT_DISK_H_
