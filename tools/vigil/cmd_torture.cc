// vigil torture: the crash, power-loss and full-disk cycles of
// tools/torture/torture_run.h, with a one-line summary. docs/reliability.md
// is the guide.

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/torture/torture_run.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

// Exit code when the scenario cannot run here (no root, no /dev/fuse):
// ctest's SKIP_RETURN_CODE for the suite's short runs.
constexpr int kExitCannotRunHere = 77;

std::string SelfDir() {
  char buffer[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) return ".";
  return std::filesystem::path(std::string(buffer, n)).parent_path().string();
}

void OnSignal(int) { torture::RequestStop(); }

int RunTortureCommand(const Command& command, const FlagValues& flags) {
  torture::TortureOptions options;
  options.scenario = std::string(flags.Get("scenario", "crash"));
  struct IntFlag {
    const char* name;
    int* value;
    int min;
  };
  for (const IntFlag& flag :
       {IntFlag{"cycles", &options.cycles, 1},
        IntFlag{"clients", &options.clients, 1},
        IntFlag{"min-run-ms", &options.min_run_ms, 10},
        IntFlag{"max-run-ms", &options.max_run_ms, 10},
        IntFlag{"full-check-every", &options.full_check_every, 1},
        IntFlag{"idempotency-retention-s", &options.idempotency_retention_s,
                1}}) {
    absl::StatusOr<uint64_t> value = flags.GetUint64(flag.name, *flag.value);
    if (!value.ok()) return UsageError(command.name, std::string(value.status().message()));
    if (*value < uint64_t(flag.min) || *value > 1'000'000) {
      return UsageError(command.name,
                        absl::StrCat("--", flag.name, " must be between ",
                                     flag.min, " and 1000000"));
    }
    *flag.value = static_cast<int>(*value);
  }
  if (options.max_run_ms < options.min_run_ms) {
    return UsageError(command.name, "--max-run-ms is below --min-run-ms");
  }
  absl::StatusOr<uint64_t> seed =
      flags.GetUint64("seed", std::random_device{}());
  if (!seed.ok()) {
    return UsageError(command.name, std::string(seed.status().message()));
  }
  options.seed = *seed;
  options.unsafe_no_fsync = flags.Has("unsafe-no-fsync");
  const bool expect_loss = flags.Has("expect-loss");
  const std::string self = SelfDir();
  options.vigild = std::string(flags.Get("vigild", self + "/vigild"));
  options.lazyfs =
      std::string(flags.Get("lazyfs", self + "/lazyfs/vigil-lazyfs"));
  options.vigil = self + "/vigil";

  std::string work_dir(flags.Get("work-dir"));
  if (work_dir.empty()) {
    std::string pattern = "/tmp/vigil-torture-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return Fail("torture", absl::UnavailableError("cannot create a work dir"));
    }
    work_dir = pattern;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(work_dir, ec);
  }
  options.work_dir = std::filesystem::absolute(work_dir).string();

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  std::fprintf(stderr, "vigil torture: %s, %d cycles, %d clients, seed %llu, in %s\n",
               options.scenario.c_str(), options.cycles, options.clients,
               static_cast<unsigned long long>(options.seed),
               options.work_dir.c_str());
  absl::StatusOr<torture::TortureSummary> summary =
      torture::RunTorture(options);
  if (!summary.ok()) {
    if (summary.status().code() == absl::StatusCode::kFailedPrecondition) {
      std::fprintf(stderr, "vigil: torture: cannot run here: %s\n",
                   std::string(summary.status().message()).c_str());
      return kExitCannotRunHere;
    }
    return Fail("torture", summary.status());
  }
  std::printf("%s\n", summary->Line(options.scenario).c_str());
  std::fflush(stdout);
  bool passed = summary->ok();
  if (expect_loss) {
    passed = summary->check.lost > 0;
    std::printf(passed ? "control: acknowledged events were lost, as expected "
                         "without fsync\n"
                       : "control: FAILED: nothing was lost without fsync, so "
                         "this run cannot tell a syncing log from one that "
                         "does not\n");
  }
  if (passed && !flags.Has("keep")) {
    std::error_code ec;
    std::filesystem::remove_all(options.work_dir, ec);
  } else {
    std::fprintf(stderr, "vigil torture: history, logs and data kept in %s\n",
                 options.work_dir.c_str());
  }
  return passed ? kExitOk : kExitFailure;
}

}  // namespace

Command TortureCommand() {
  return Command{
      .name = "torture",
      .summary = "kill, power-cut or fill up vigild under load; check no loss",
      .usage = "vigil torture [--scenario crash|power|disk-full] [--cycles N]",
      .details =
          "Runs N cycles of: start vigild on the scenario's disk, append from\n"
          "--clients gRPC clients (idempotency keys, exact expected\n"
          "revisions), SIGKILL vigild at a random moment; `power` then cuts\n"
          "the power (a lazyfs mount loses everything not fsynced) and\n"
          "`disk-full` fills its tmpfs and frees it during each cycle. After\n"
          "each restart the clients' history is checked against the log\n"
          "(lost, gaps, duplicates, refused-but-appeared), acknowledged keys\n"
          "are re-sent and must be deduplicated, and `vigil verify` runs on\n"
          "the data directory. Prints one summary line; exits 0 when no\n"
          "promise broke, 1 when one did (the work dir with history.ndjson\n"
          "and the logs is kept), 77 when the scenario cannot run here\n"
          "(power and disk-full need root, power needs /dev/fuse).\n"
          "--unsafe-no-fsync --expect-loss is the control run: vigild\n"
          "acknowledges without fsync, and the run passes only if it then\n"
          "finds acknowledged events lost. Guide: docs/reliability.md.",
      .flags =
          {
              {"scenario", "S", "crash (default), power or disk-full"},
              {"cycles", "N", "cycles (default 20)"},
              {"clients", "N", "concurrent gRPC clients (default 8)"},
              {"seed", "N", "random seed (default: random, printed)"},
              {"min-run-ms", "MS", "shortest run before the kill (150)"},
              {"max-run-ms", "MS", "longest run before the kill (1200)"},
              {"full-check-every", "N",
               "check the whole log every N cycles (10) and at the end"},
              {"idempotency-retention-s", "S",
               "vigild's key retention (30): keys expire during the run"},
              {"work-dir", "DIR", "where data, logs and history go (a temp dir)"},
              {"keep", "", "keep the work dir after a passing run"},
              {"unsafe-no-fsync", "",
               "run vigild without fsync (control runs only)"},
              {"expect-loss", "",
               "pass only if acknowledged events were lost (control)"},
              {"vigild", "PATH", "the vigild binary (beside vigil)"},
              {"lazyfs", "PATH", "the vigil-lazyfs binary (lazyfs/ beside vigil)"},
          },
      .run = RunTortureCommand,
  };
}

}  // namespace vigil::cli
