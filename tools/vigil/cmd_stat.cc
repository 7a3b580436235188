// vigil stat: the size of the log, as JSON.

#include <memory>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "eventlog/event_log.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

int RunStat(const Command& /*command*/, const FlagValues& flags) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());
  absl::StatusOr<eventlog::LogStats> stats = (*log)->Stats();
  if (!stats.ok()) return Fail("stat failed", stats.status());
  WriteStdout(base::DumpJson({{"head_position", stats->head_position},
                              {"stream_count", stats->stream_count},
                              {"disk_bytes", stats->disk_bytes}}) +
              "\n");
  return FinishStdout();
}

}  // namespace

Command StatCommand() {
  return Command{
      .name = "stat",
      .summary = "print the head position, stream count and disk bytes",
      .usage = "vigil stat",
      .details =
          "Prints {\"head_position\",\"stream_count\",\"disk_bytes\"} as one\n"
          "line of JSON. Works while another process holds the log open for\n"
          "writing.",
      .flags = {kDataDirFlag},
      .run = RunStat,
  };
}

}  // namespace vigil::cli
