// vigil replay: the events of a range of the log, as NDJSON or a readable
// table, with a progress line on stderr when it is a terminal.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/event_json.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/log_range.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Characters of an event's data a table row shows.
constexpr size_t kTableDataChars = 60;

std::string TableRow(const eventlog::RecordedEvent& event) {
  std::string data = event.content_type == eventlog::kJsonContentType
                         ? event.data
                         : absl::StrCat("(", event.data.size(), " bytes ",
                                        event.content_type, ")");
  for (char& c : data) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (data.size() > kTableDataChars) {
    data.resize(kTableDataChars - 3);
    data.append("...");
  }
  return absl::StrFormat(
      "%10d  %s  %-28s %6d  %-18s %s\n", event.position,
      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ",
                       absl::FromUnixMicros(event.recorded_time_us),
                       absl::UTCTimeZone()),
      event.stream, event.revision, event.type, data);
}

int RunReplay(const Command& command, const FlagValues& flags) {
  absl::StatusOr<LogRange> range = ParseLogRange(flags);
  if (!range.ok()) {
    return UsageError(command.name, std::string(range.status().message()));
  }
  const std::string format(flags.Get("format", "ndjson"));
  if (format != "ndjson" && format != "table") {
    return UsageError(command.name, "--format is ndjson or table");
  }
  const bool table = format == "table";
  const bool progress = isatty(STDERR_FILENO) == 1;
  if (table) {
    WriteStdout(absl::StrFormat("%10s  %-27s  %-28s %6s  %-18s %s\n",
                                "POSITION", "RECORDED", "STREAM", "REV", "TYPE",
                                "DATA"));
  }
  uint64_t printed = 0;
  absl::Time last_report = absl::InfinitePast();
  absl::Status status = ForEachEvent(
      flags, *range,
      [&](const eventlog::RecordedEvent& event, uint64_t last) {
        const bool written =
            WriteStdout(table ? TableRow(event)
                              : api::RecordedEventToJson(event) + "\n");
        ++printed;
        if (progress && absl::Now() - last_report > absl::Milliseconds(200)) {
          last_report = absl::Now();
          std::string line = absl::StrCat("\rreplay: ", printed,
                                          " events, at position ",
                                          event.position);
          if (last != 0) {
            absl::StrAppend(&line, " of ", last, " (",
                            event.position * 100 / last, "%)");
          }
          std::fputs(line.c_str(), stderr);
        }
        return written;
      });
  if (progress) {
    std::fputs(absl::StrCat("\rreplay: ", printed, " events", 
                            std::string(40, ' '), "\n").c_str(),
               stderr);
  }
  if (!status.ok()) return Fail("replay failed", status);
  return FinishStdout();
}

}  // namespace

Command ReplayCommand() {
  std::vector<FlagSpec> flags = {kDataDirFlag, kServerFlag, kTokenFlag};
  for (const FlagSpec& spec : LogRangeFlags(/*filters=*/true)) {
    flags.push_back(spec);
  }
  flags.push_back({"format", "F",
                   "ndjson (default: one event per line, the HTTP API's "
                   "JSON) or table (position, time, stream, revision, "
                   "type, data)"});
  return Command{
      .name = "replay",
      .summary = "print a range of the log (positions or times), filtered",
      .usage = "vigil replay [--from N|--from-time T] [--to N|--to-time T] "
               "[flags]",
      .details =
          "Prints the events of the log between two positions or times, in\n"
          "position order, optionally only those of some stream prefixes\n"
          "or types. On a terminal, a progress line goes to stderr. Works\n"
          "on --data-dir (while vigild runs) or through --server.",
      .flags = flags,
      .run = RunReplay,
  };
}

}  // namespace vigil::cli
