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
  base::Json out = {{"head_position", stats->head_position},
                    {"stream_count", stats->stream_count},
                    {"disk_bytes", stats->disk_bytes}};
  if (flags.Has("by-kind")) {
    absl::StatusOr<eventlog::LogBytes> bytes = (*log)->BytesByKind();
    if (!bytes.ok()) return Fail("stat failed", bytes.status());
    out["records_bytes"] = bytes->records;
    out["streams_bytes"] = bytes->streams;
    out["idempotency_bytes"] = bytes->idempotency;
    out["snapshot_bytes"] = bytes->snapshots;
  }
  WriteStdout(base::DumpJson(out) + "\n");
  return FinishStdout();
}

}  // namespace

Command StatCommand() {
  return Command{
      .name = "stat",
      .summary = "print the head position, stream count and disk bytes",
      .usage = "vigil stat [--by-kind]",
      .details =
          "Prints {\"head_position\",\"stream_count\",\"disk_bytes\"} as one\n"
          "line of JSON; disk_bytes counts every file of the data directory\n"
          "(RocksDB's compressed files and its write-ahead log). --by-kind\n"
          "reads every key (seconds per GB) and adds records_bytes,\n"
          "streams_bytes, idempotency_bytes and snapshot_bytes: the keys and\n"
          "values, uncompressed, of the events, the stream index, the\n"
          "idempotency keys and time travel's snapshots. Works while another\n"
          "process holds the log open for writing.",
      .flags = {kDataDirFlag,
                {"by-kind", "", "also count the bytes of each kind of key"}},
      .run = RunStat,
  };
}

}  // namespace vigil::cli
