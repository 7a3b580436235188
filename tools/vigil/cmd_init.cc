// vigil init: creates the log in --data-dir when it does not exist yet, or
// opens an existing one (running RocksDB's recovery), and prints its head.

#include <memory>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "eventlog/event_log.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"

namespace vigil::cli {
namespace {

int RunInit(const Command& /*command*/, const FlagValues& flags) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::Open(eventlog::Options(), DataDir(flags));
  if (!log.ok()) return OpenFailed(flags, log.status());
  WriteStdout(base::DumpJson({{"data_dir", DataDir(flags)},
                              {"head_position", (*log)->HeadPosition()}}) +
              "\n");
  return FinishStdout();
}

}  // namespace

Command InitCommand() {
  return Command{
      .name = "init",
      .summary = "create the log in the data directory, or open an existing one",
      .usage = "vigil init",
      .details =
          "Creates the event log in --data-dir when there is none, or opens\n"
          "the existing one (recovering it after a crash), then prints\n"
          "{\"data_dir\",\"head_position\"}. Fails when another process holds\n"
          "the log open for writing.",
      .flags = {kDataDirFlag},
      .run = RunInit,
  };
}

}  // namespace vigil::cli
