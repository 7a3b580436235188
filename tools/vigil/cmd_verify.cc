// vigil verify: walks the hash chain and says whether the log is intact.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "projections/state_at.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Events per ReadAll call of a remote verify.
constexpr uint64_t kRemotePage = 1000;

int Mismatch(uint64_t position, absl::string_view problem, uint64_t checked) {
  std::fputs(absl::StrCat("vigil: verify: mismatch at position ", position,
                          ": ", problem, " (", checked, " events checked)\n")
                 .c_str(),
             stderr);
  return kExitVerifyMismatch;
}

void PrintDigests(uint64_t at, const projections::SystemState& state) {
  for (const auto& [model, digest] : projections::StateDigests(state)) {
    WriteStdout(
        absl::StrCat("state at ", at, ": ", model, " sha256:", digest, "\n"));
  }
}

// vigil verify --server: the hash chain is recomputed here, from the events
// the server sends (ReadAll), so an auditor need not trust the server's own
// check; --state-at N folds the same events here with the projections'
// folds. Reads from position 1 when --from is 1 or --state-at is given
// (the chain then starts at the genesis hash); otherwise the hash of
// position from - 1, as the server sends it, anchors the chain.
int VerifyRemote(uint64_t from, uint64_t to, std::optional<uint64_t> state_at,
                 const FlagValues& flags) {
  std::unique_ptr<vigil::v1::EventStore::Stub> stub = Connect(flags);
  uint64_t position = state_at.has_value() ? 1 : from;
  std::string previous_hash = eventlog::GenesisHash();
  if (position > 1) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> anchor =
        ReadRemotePage(flags, *stub, nullptr, position - 1, 1, false, {});
    if (!anchor.ok()) return Fail("verify failed", anchor.status());
    if (anchor->empty() || anchor->front().position != position - 1) {
      return Mismatch(position - 1, "the server has no such position", 0);
    }
    previous_hash = anchor->front().hash;
  }
  // Each stream's last revision seen (complete only when reading from 1).
  absl::flat_hash_map<std::string, uint64_t> revisions;
  projections::SystemState state;
  projections::ReplayStats stats;
  uint64_t checked = 0;
  const uint64_t last = to == 0 ? UINT64_MAX
                                : std::max<uint64_t>(to, state_at.value_or(0));
  while (position <= last) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> page = ReadRemotePage(
        flags, *stub, nullptr, position,
        std::min<uint64_t>(kRemotePage, last - position + 1), false, {});
    if (!page.ok()) return Fail("verify failed", page.status());
    if (page->empty()) break;
    for (const eventlog::RecordedEvent& event : *page) {
      if (event.position != position) {
        return Mismatch(position,
                        absl::StrCat("the server sent position ",
                                     event.position, " instead"),
                        checked);
      }
      const bool in_range = position >= from && (to == 0 || position <= to);
      if (in_range) {
        if (eventlog::ChainedHash(previous_hash, event) != event.hash) {
          return Mismatch(
              position, "hash does not match the event and the previous hash",
              checked);
        }
        auto [it, first] = revisions.try_emplace(event.stream, event.revision);
        const bool from_start = from == 1 || state_at.has_value();
        if ((first && from_start && event.revision != 0) ||
            (!first && event.revision != it->second + 1)) {
          return Mismatch(position,
                          absl::StrCat("revision ", event.revision, " of \"",
                                       event.stream, "\" does not follow ",
                                       first ? "the stream's start"
                                             : absl::StrCat(it->second)),
                          checked);
        }
        it->second = event.revision;
        ++checked;
      } else {
        revisions[event.stream] = event.revision;
      }
      previous_hash = event.hash;
      if (state_at.has_value() && position <= *state_at) {
        state.Fold(event, &stats);
      }
      ++position;
    }
  }
  if (to != 0 && position <= to) {
    return Mismatch(position, "the server has no such position", checked);
  }
  if (state_at.has_value() && state.position != *state_at) {
    return Fail("state digest failed",
                absl::InvalidArgumentError(
                    absl::StrCat("--state-at ", *state_at,
                                 " is past the head ", state.position)));
  }
  WriteStdout(absl::StrCat("ok: hash chain intact, ", checked,
                           " events checked (recomputed by this client from "
                           "the server's events)\n"));
  if (state_at.has_value()) {
    state.ClearDirty();
    PrintDigests(*state_at, state);
  }
  return FinishStdout();
}

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
  std::optional<uint64_t> state_at;
  if (flags.Has("state-at")) {
    absl::StatusOr<uint64_t> at = flags.GetUint64("state-at", 0);
    if (!at.ok()) {
      return UsageError(command.name, std::string(at.status().message()));
    }
    state_at = *at;
  }
  if (UsesServer(flags)) {
    return VerifyRemote(std::max<uint64_t>(*from, 1), *to, state_at, flags);
  }
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());
  // Positions start at 1; --from 0 means the same as --from 1.
  absl::StatusOr<eventlog::VerifyResult> result =
      (*log)->Verify(std::max<uint64_t>(*from, 1), *to);
  if (!result.ok()) return Fail("verify failed", result.status());
  if (!result->ok) {
    return Mismatch(result->first_bad_position, result->problem,
                    result->checked);
  }
  WriteStdout(absl::StrCat("ok: hash chain intact, ", result->checked,
                           " events checked\n"));
  if (state_at.has_value()) {
    // Digests of every read model's state, to compare two installations.
    projections::TimeTravel time_travel(log->get(), {});
    absl::StatusOr<projections::SystemState> state =
        time_travel.StateAt(*state_at);
    if (!state.ok()) return Fail("state digest failed", state.status());
    PrintDigests(*state_at, *state);
  }
  return FinishStdout();
}

}  // namespace

Command VerifyCommand() {
  return Command{
      .name = "verify",
      .summary = "check every record and hash link of the log",
      .usage = "vigil verify [--from N] [--to N] [--state-at N]",
      .details =
          "Recomputes the SHA-256 chain over positions --from..--to and\n"
          "checks each record against it. Prints a one-line summary and\n"
          "exits 0 when the chain is intact; exits 2 with the first bad\n"
          "position and what is wrong on stderr when it is not. Works while\n"
          "another process holds the log open for writing. --state-at N\n"
          "adds one line per read model with the digest of its state.\n"
          "With --server the chain and the digests are computed here, from\n"
          "the events the server sends, not by the server.",
      .flags =
          {
              kDataDirFlag,
              kServerFlag,
              kTokenFlag,
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
