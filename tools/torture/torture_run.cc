#include "tools/torture/torture_run.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/torture/child_process.h"
#include "tools/torture/fault_disk.h"
#include "tools/torture/history.h"
#include "tools/torture/workload.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::torture {
namespace {

std::atomic<bool> stop_requested{false};

constexpr int kStartTimeoutMs = 60'000;
constexpr int kVerifyTimeoutMs = 600'000;
constexpr int kDiskFullTimeoutMs = 30'000;
// The disk-full scenario's pads: larger, so that the appends use up the
// space RocksDB preallocated for its WAL (~1.1 MiB) at once.
constexpr size_t kDiskFullPadBytes = 4 * 1024;

// Polls `done` every 10 ms for up to `timeout_ms`; its last answer.
template <typename Predicate>
bool WaitFor(Predicate done, int timeout_ms) {
  const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}


class Runner {
 public:
  Runner(const TortureOptions& options, FaultDisk* disk)
      : options_(options),
        disk_(disk),
        history_(options.work_dir + "/history.ndjson"),
        random_(options.seed) {}

  absl::StatusOr<TortureSummary> Run() {
    for (int cycle = 0; cycle < options_.cycles && Going(); ++cycle) {
      RETURN_IF_ERROR(disk_->Attach());
      if (!Start()) break;
      if (cycle > 0) {
        RETURN_IF_ERROR(Check(cycle % options_.full_check_every == 0));
        if (!summary_.ok()) break;
      }
      window_start_ = head_ + 1;
      window_cycle_ = cycle;
      RunClients(cycle);
      RETURN_IF_ERROR(disk_->Detach());
      Verify();
      ++summary_.cycles;
      if (options_.cycles >= 10 && (cycle + 1) % (options_.cycles / 10) == 0) {
        std::fprintf(stderr, "vigil torture: %d of %d cycles\n", cycle + 1,
                     options_.cycles);
      }
    }
    // Once more: restart, check everything, stop cleanly, verify.
    if (summary_.ok()) {
      RETURN_IF_ERROR(disk_->Attach());
      if (Start()) {
        RETURN_IF_ERROR(Check(/*full=*/true));
        vigild_->Signal(SIGTERM);
        const std::optional<int> status = vigild_->Wait(30'000);
        if (!status.has_value() || !WIFEXITED(*status) ||
            WEXITSTATUS(*status) != 0) {
          ++summary_.server_deaths;
          Problem("vigild did not stop cleanly on SIGTERM");
        }
        vigild_.reset();
        RETURN_IF_ERROR(disk_->Detach());
        Verify();
      }
    }
    for (const Invocation& op : history_.Snapshot()) {
      if (op.outcome != Outcome::kOk) continue;
      ++summary_.acknowledged_appends;
      summary_.acknowledged_events += op.event_ids.size();
    }
    return summary_;
  }

 private:
  bool Going() const { return !stop_requested.load(); }

  void Problem(std::string text) {
    std::fprintf(stderr, "vigil torture: %s\n", text.c_str());
    if (summary_.problems.size() < 50) summary_.problems.push_back(std::move(text));
  }

  // Starts vigild on the disk's data directory and waits until its gRPC
  // port answers. False (a restart failure, with its log) when it does not.
  bool Start() {
    target_ = absl::StrCat("127.0.0.1:", FreePort());
    std::vector<std::string> argv = {
        options_.vigild, "--data-dir", disk_->data_dir(), "--grpc-listen",
        target_, "--http-listen", "127.0.0.1:0", "--projections", "off",
        "--webhooks", "off", "--snapshot-interval", "100",
        // 1 MiB memtables: flushes, WAL switches and compactions every
        // cycle, so kills and cuts land during them too.
        "--memtable-bytes", "1048576",
        "--idempotency-retention-s",
        absl::StrCat(options_.idempotency_retention_s)};
    std::vector<std::string> env;
    if (options_.unsafe_no_fsync) {
      env.push_back("VIGIL_UNSAFE_NO_FSYNC_FOR_TESTS=1");
    }
    const std::string log = options_.work_dir + "/vigild.log";
    vigild_ = std::make_unique<ChildProcess>(argv, env, log);
    auto channel =
        grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
    const absl::Time deadline =
        absl::Now() + absl::Milliseconds(kStartTimeoutMs);
    while (vigild_->Running() && absl::Now() < deadline) {
      if (channel->WaitForConnected(std::chrono::system_clock::now() +
                                    std::chrono::milliseconds(200))) {
        stub_ = vigil::v1::EventStore::NewStub(channel);
        return true;
      }
    }
    ++summary_.restart_failures;
    Problem(absl::StrCat("vigild did not come up on ", disk_->data_dir(),
                         "; see ", log));
    vigild_.reset();
    return false;
  }

  // The clients for a random time, the disk-full fault in the middle of it
  // on that disk, then SIGKILL. The clients stop after the kill, so appends
  // in flight end as unknown.
  void RunClients(int cycle) {
    std::uniform_int_distribution<int> run_ms(options_.min_run_ms,
                                              options_.max_run_ms);
    const int ms = run_ms(random_);
    const bool disk_full = options_.scenario == "disk-full";
    Workload workload(&history_, target_, options_.clients, cycle, random_(),
                      disk_full ? kDiskFullPadBytes : 0);
    if (disk_full) {
      // Fill the disk, wait until appends run into it, keep it full a while,
      // free it, and wait for appends to be acknowledged again.
      absl::SleepFor(absl::Milliseconds(ms / 2));
      (void)disk_->Fill();
      const uint64_t refused_before = workload.unavailable();
      if (!WaitFor([&] { return workload.unavailable() > refused_before; },
                   kDiskFullTimeoutMs)) {
        ++summary_.fill_failures;
        Problem(absl::StrCat("cycle ", cycle, ": the disk was filled but no "
                             "append was refused within 30 s"));
      }
      absl::SleepFor(absl::Milliseconds(ms / 2));
      summary_.disk_full_refusals += workload.unavailable() - refused_before;
      (void)disk_->Free();
      const uint64_t acknowledged_before = workload.acknowledged();
      if (!WaitFor([&] { return workload.acknowledged() > acknowledged_before; },
                   kDiskFullTimeoutMs)) {
        ++summary_.resume_failures;
        Problem(absl::StrCat("cycle ", cycle, ": no append acknowledged "
                             "within 30 s of freeing the disk"));
      }
      absl::SleepFor(absl::Milliseconds(ms / 4));
    } else {
      absl::SleepFor(absl::Milliseconds(ms));
    }
    if (!vigild_->Running()) {
      ++summary_.server_deaths;
      Problem(absl::StrCat("cycle ", cycle,
                           ": vigild exited before it was killed; see ",
                           options_.work_dir, "/vigild.log"));
    }
    vigild_->Kill();
    vigild_.reset();
    workload.Stop();
  }

  // Re-sends some acknowledged appends (they must be deduplicated), then
  // reads the log from the window's start (1 when `full`) and checks the
  // history against it.
  absl::Status Check(bool full) {
    const uint64_t from = full ? 1 : window_start_;
    std::vector<Invocation> ops;
    std::vector<const Invocation*> resendable;
    const std::vector<Invocation> all = history_.Snapshot();
    const int64_t fresh_after_us =
        absl::ToUnixMicros(absl::Now()) -
        int64_t{std::max(0, options_.idempotency_retention_s - 10)} * 1'000'000;
    for (const Invocation& op : all) {
      if (full || op.cycle >= window_cycle_) ops.push_back(op);
    }
    for (const Invocation& op : all) {
      if (op.outcome == Outcome::kOk && op.completed_unix_us > fresh_after_us) {
        resendable.push_back(&op);
      }
    }
    std::shuffle(resendable.begin(), resendable.end(), random_);
    resendable.resize(std::min<size_t>(resendable.size(),
                                       options_.resends_per_check));
    for (const Invocation* op : resendable) {
      ++summary_.resends;
      const absl::Status resent = Resend(*stub_, *op);
      if (!resent.ok()) {
        ++summary_.idempotency_failures;
        Problem(std::string(resent.message()));
      }
    }
    absl::StatusOr<std::vector<LoggedEvent>> events = ReadLog(*stub_, from);
    if (!events.ok()) return events.status();
    const CheckReport report = CheckHistory(ops, *events, from);
    head_ = events->empty() ? from - 1 : events->back().position;
    for (const std::string& problem : report.problems) Problem(problem);
    summary_.check = report;
    summary_.check.problems.clear();  // reported above
    return absl::OkStatus();
  }

  void Verify() {
    const int code = RunToCompletion(
        {options_.vigil, "verify", "--data-dir", disk_->detached_data_dir()},
        options_.work_dir + "/verify.log", kVerifyTimeoutMs);
    if (code != 0) {
      ++summary_.verify_failures;
      Problem(absl::StrCat("vigil verify exited ", code, "; see ",
                           options_.work_dir, "/verify.log"));
    }
  }

  const TortureOptions& options_;
  FaultDisk* disk_;
  History history_;
  std::mt19937_64 random_;
  std::unique_ptr<ChildProcess> vigild_;
  std::string target_;
  std::unique_ptr<vigil::v1::EventStore::Stub> stub_;
  uint64_t head_ = 0;          // the last position the last check read
  uint64_t window_start_ = 1;  // the first position of the current cycle
  int window_cycle_ = 0;
  TortureSummary summary_;
};

}  // namespace

std::string TortureSummary::Line(const std::string& scenario) const {
  return absl::StrCat(
      "torture ", scenario, ": cycles=", cycles,
      " acknowledged=", acknowledged_events, " (", acknowledged_appends,
      " appends) lost=", check.lost, " gaps=", check.gaps,
      " duplicates=", check.duplicates,
      " refused_but_appeared=", check.failed_appeared,
      " foreign=", check.foreign, " torn=", check.torn,
      " unacknowledged_appeared=", check.unknown_appeared,
      " unacknowledged_vanished=", check.unknown_vanished,
      " resends=", resends,
      " idempotency_failures=", idempotency_failures,
      " restart_failures=", restart_failures, " server_deaths=", server_deaths,
      scenario == "disk-full"
          ? absl::StrCat(" disk_full_refusals=", disk_full_refusals,
                         " fill_failures=", fill_failures,
                         " resume_failures=", resume_failures)
          : "",
      " verify=", verify_failures == 0 ? "ok" : "FAILED");
}

absl::StatusOr<TortureSummary> RunTorture(const TortureOptions& options) {
  stop_requested = false;
  absl::StatusOr<std::unique_ptr<FaultDisk>> disk =
      MakeFaultDisk(options.scenario, options.work_dir, options.lazyfs);
  if (!disk.ok()) return disk.status();
  absl::StatusOr<TortureSummary> summary;
  {
    Runner runner(options, disk->get());
    summary = runner.Run();
  }  // vigild killed before the disk goes
  (*disk)->Cleanup();
  return summary;
}

void RequestStop() { stop_requested = true; }

}  // namespace vigil::torture
