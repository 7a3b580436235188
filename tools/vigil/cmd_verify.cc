// vigil verify: walks the hash chain and says whether the log is intact.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "projections/state_at.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

int RunVerify(const Command& command, const FlagValues& flags) {
  absl::StatusOr<uint64_t> from = flags.GetUint64("from", 1);
  if (!from.ok()) {
    return UsageError(command.name, std::string(from.status().message()));
  }
  absl::StatusOr<uint64_t> to = flags.GetUint64("to", 0);
  if (!to.ok()) {
    return UsageError(command.name, std::string(to.status().message()));
  }
  if (*to != 0 && *from > *to) {
    return UsageError(command.name, "--from is after --to");
  }
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());
  // Positions start at 1; --from 0 means the same as --from 1.
  absl::StatusOr<eventlog::VerifyResult> result =
      (*log)->Verify(std::max<uint64_t>(*from, 1), *to);
  if (!result.ok()) return Fail("verify failed", result.status());
  if (!result->ok) {
    std::fputs(absl::StrCat("vigil: verify: mismatch at position ",
                            result->first_bad_position, ": ", result->problem,
                            " (", result->checked, " events checked)\n")
                   .c_str(),
               stderr);
    return kExitVerifyMismatch;
  }
  WriteStdout(absl::StrCat("ok: hash chain intact, ", result->checked,
                           " events checked\n"));
  if (flags.Has("state-at")) {
    // Digests of every read model's state, to compare two installations.
    absl::StatusOr<uint64_t> at = flags.GetUint64("state-at", 0);
    if (!at.ok()) {
      return UsageError(command.name, std::string(at.status().message()));
    }
    projections::TimeTravel time_travel(log->get(), {});
    absl::StatusOr<projections::SystemState> state = time_travel.StateAt(*at);
    if (!state.ok()) return Fail("state digest failed", state.status());
    for (const auto& [model, digest] : projections::StateDigests(*state)) {
      WriteStdout(absl::StrCat("state at ", *at, ": ", model, " sha256:",
                               digest, "\n"));
    }
  }
  return FinishStdout();
}

}  // namespace

Command VerifyCommand() {
  return Command{
      .name = "verify",
      .summary = "check every record and hash link of the log",
      .usage = "vigil verify [--from N] [--to N]",
      .details =
          "Recomputes the SHA-256 chain over positions --from..--to and\n"
          "checks each record against it. Prints a one-line summary and\n"
          "exits 0 when the chain is intact; exits 2 with the first bad\n"
          "position and what is wrong on stderr when it is not. Works while\n"
          "another process holds the log open for writing. --state-at N\n"
          "adds one line per read model with the digest of its state.",
      .flags =
          {
              kDataDirFlag,
              {"from", "N", "first log position to check (default 1)"},
              {"to", "N", "last log position to check; 0 (default): the head"},
              {"state-at", "N",
               "also print a SHA-256 digest of each read model's state "
               "after position N (agents, tasks, coordination, "
               "agent_messages, agent_metrics, llm_usage), computed by the "
               "projections' folds: equal on two installations with the "
               "same log"},
          },
      .run = RunVerify,
  };
}

}  // namespace vigil::cli
