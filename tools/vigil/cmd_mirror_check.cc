// vigil mirror-check: compares the JetStream stream vigild --replication
// wrote with the log (replication/compare.h).

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "eventlog/event_log.h"
#include "replication/compare.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

int RunMirrorCheck(const Command& command, const FlagValues& flags) {
  if (!flags.Has("nats-url")) {
    return UsageError(command.name, "--nats-url is required");
  }
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());
  replication::CompareOptions options;
  options.nats_url = std::string(flags.Get("nats-url"));
  options.stream = std::string(flags.Get("nats-stream", options.stream));
  absl::StatusOr<replication::StreamComparison> result =
      replication::CompareStreamWithLog(options, **log);
  if (!result.ok()) return Fail("mirror-check failed", result.status());
  WriteStdout(absl::StrCat(
      "{\"log_head\":", result->log_head,
      ",\"stream_last\":", result->stream_last,
      ",\"compared\":", result->compared, ",\"mirrored\":", result->mirrored,
      ",\"mismatches\":", result->mismatches, ",\"gaps\":", result->gaps,
      ",\"duplicates\":", result->duplicates, ",\"equal\":",
      result->Equal() ? "true" : "false", "}\n"));
  if (!result->Equal()) {
    std::fputs(absl::StrCat("vigil: mirror-check: the stream differs from the "
                            "log: ",
                            result->first_problem.empty()
                                ? "its last sequence is not the head"
                                : result->first_problem,
                            "\n")
                   .c_str(),
               stderr);
  }
  const int flushed = FinishStdout();
  if (flushed != kExitOk) return flushed;
  return result->Equal() ? kExitOk : kExitVerifyMismatch;
}

}  // namespace

Command MirrorCheckCommand() {
  return Command{
      .name = "mirror-check",
      .summary = "compare the JetStream mirror with the log, event by event",
      .usage = "vigil mirror-check --nats-url URLS [--nats-stream S]",
      .details =
          "Reads the JetStream stream that vigild --replication wrote\n"
          "(docs/replication.md) message by message and compares it with\n"
          "the log in --data-dir: sequence N must hold position N, every\n"
          "field and the chain hash equal. Prints {\"log_head\",\n"
          "\"stream_last\",\"compared\",\"mirrored\",\"mismatches\",\"gaps\",\n"
          "\"duplicates\",\"equal\"} as one line of JSON and exits 2 when the\n"
          "stream is not exactly the log (the first difference goes to\n"
          "stderr). One request per message: minutes per million events.\n"
          "Works while vigild holds the log open, but then compares a moving\n"
          "target: stop it (or its appends) first.",
      .flags = {kDataDirFlag,
                {"nats-url", "URLS", "NATS servers, comma-separated"},
                {"nats-stream", "S", "the JetStream stream (default VIGIL)"}},
      .run = RunMirrorCheck,
  };
}

}  // namespace vigil::cli
