// vigil projections rebuild NAME: rebuilds one projection's read models into
// fresh tables while vigild keeps serving the live ones, then swaps them in
// (projections/rebuild.h). Shows progress on stderr; resumable.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/json.h"
#include "eventlog/event_log.h"
#include "projections/embedded_postgres.h"
#include "projections/rebuild.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

int RunProjections(const Command& command, const FlagValues& flags) {
  const std::string name(flags.Get("rebuild"));
  if (name.empty()) {
    return UsageError(command.name, "say what to do: projections rebuild NAME");
  }
  absl::StatusOr<uint64_t> batch = flags.GetUint64("batch", 20000);
  if (!batch.ok() || *batch == 0 || *batch > 100000) {
    return UsageError(command.name, "--batch must be from 1 to 100000");
  }
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());

  // Without --pg-url: the embedded cluster of the data directory, adopted
  // when vigild runs it, else started for the rebuild and stopped after.
  std::string pg_url(flags.Get("pg-url"));
  std::unique_ptr<projections::EmbeddedPostgres> postgres;
  if (pg_url.empty()) {
    absl::StatusOr<std::unique_ptr<projections::EmbeddedPostgres>> started =
        projections::EmbeddedPostgres::Start(
            {.cluster_dir = DataDir(flags) + "/postgres"});
    if (!started.ok()) return Fail("embedded PostgreSQL", started.status());
    postgres = *std::move(started);
    if (postgres->adopted()) postgres->Detach();  // vigild's: leave it be
    pg_url = postgres->url();
  }

  projections::RebuildOptions options;
  options.pg_url = pg_url;
  options.max_batch_events = *batch;
  options.refresh_log = true;
  options.progress = [&name](const projections::RebuildProgress& p) {
    if (p.swapped) return;
    const double percent =
        p.head == 0 ? 100.0 : 100.0 * static_cast<double>(p.checkpoint) /
                                  static_cast<double>(p.head);
    std::fputs(absl::StrFormat(
                   "rebuild %s%s: %d/%d events (%.1f%%), %.0f events/s, "
                   "ETA %.0f s\n",
                   name, p.resumed ? " (resumed)" : "", p.checkpoint, p.head,
                   percent, p.events_per_second, p.eta_seconds)
                   .c_str(),
               stderr);
  };
  uint64_t final_position = 0;
  double rate = 0;
  bool resumed = false;
  auto report = options.progress;
  options.progress = [&](const projections::RebuildProgress& p) {
    final_position = p.checkpoint;
    rate = p.events_per_second;
    resumed = p.resumed;
    report(p);
  };
  const absl::Status status = projections::Rebuild(name, log->get(), options);
  if (!status.ok()) {
    if (status.code() == absl::StatusCode::kNotFound) {
      return UsageError(command.name, std::string(status.message()));
    }
    return Fail(absl::StrCat("rebuild ", name), status);
  }
  WriteStdout(base::DumpJson({{"projection", name},
                              {"swapped", true},
                              {"resumed", resumed},
                              {"checkpoint", final_position},
                              {"events_per_second",
                               base::RoundedNumber(rate, 0)}}) +
              "\n");
  return FinishStdout();
}

}  // namespace

Command ProjectionsCommand() {
  return Command{
      .name = "projections",
      .summary = "rebuild a projection's read models: projections rebuild NAME",
      .usage = "vigil projections rebuild NAME [--data-dir DIR] [--pg-url URL]",
      .details =
          "Replays the whole log into fresh copies of the tables of the\n"
          "projection NAME (agents, tasks or metrics) while vigild keeps\n"
          "serving the live ones, then swaps them in, in one transaction.\n"
          "Progress (events done, rate, ETA) goes to stderr every second;\n"
          "a JSON summary to stdout at the end. Interrupted, it resumes\n"
          "where it stopped when run again. Without --pg-url it uses the\n"
          "embedded cluster in DATA_DIR/postgres.\n",
      .flags = {kDataDirFlag,
                {"rebuild", "NAME", "the projection to rebuild"},
                {"pg-url", "URL",
                 "PostgreSQL of the read models (default: the embedded "
                 "cluster of --data-dir)"},
                {"batch", "N", "events per transaction (default 20000)"}},
      .run = RunProjections,
  };
}

}  // namespace vigil::cli
