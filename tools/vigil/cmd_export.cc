// vigil export and vigil import: the log as NDJSON, losslessly. An export
// imported into an empty data directory reproduces the same events under
// the same positions, and so the same hash chain.
//
// One line per event (tools/vigil/export_line.h).

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/export_line.h"
#include "tools/vigil/log_range.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Events and bytes of data + metadata per EventLog::Import call.
constexpr size_t kImportBatchEvents = 1000;
constexpr size_t kImportBatchBytes = 4 << 20;

int RunExport(const Command& command, const FlagValues& flags) {
  absl::StatusOr<LogRange> range = ParseLogRange(flags);
  if (!range.ok()) {
    return UsageError(command.name, std::string(range.status().message()));
  }
  absl::Status status = ForEachEvent(
      flags, *range, [](const eventlog::RecordedEvent& event, uint64_t) {
        return WriteStdout(ExportLine(event));
      });
  if (!status.ok()) return Fail("export failed", status);
  return FinishStdout();
}

int RunImport(const Command&, const FlagValues& flags) {
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      eventlog::EventLog::Open(eventlog::Options(), DataDir(flags));
  if (!log.ok()) return OpenFailed(flags, log.status());
  simdjson::dom::parser parser;
  std::vector<eventlog::RecordedEvent> batch;
  size_t batch_bytes = 0;
  uint64_t imported = 0;
  auto flush = [&]() -> absl::Status {
    if (batch.empty()) return absl::OkStatus();
    ASSIGN_OR_RETURN(eventlog::AppendResult result, (*log)->Import(batch));
    imported += result.last_position - result.first_position + 1;
    batch.clear();
    batch_bytes = 0;
    return absl::OkStatus();
  };
  std::string line;
  uint64_t line_number = 0;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (line.empty()) continue;
    absl::StatusOr<eventlog::RecordedEvent> event = ParseExportLine(parser, line);
    if (!event.ok()) {
      return Fail(absl::StrCat("import failed at line ", line_number),
                  event.status());
    }
    batch_bytes += event->data.size() + event->metadata.size();
    batch.push_back(*std::move(event));
    if (batch.size() >= kImportBatchEvents || batch_bytes >= kImportBatchBytes) {
      if (absl::Status s = flush(); !s.ok()) return Fail("import failed", s);
    }
  }
  if (absl::Status s = flush(); !s.ok()) return Fail("import failed", s);
  WriteStdout(absl::StrCat("ok: imported ", imported, " events, head position ",
                           (*log)->HeadPosition(), "\n"));
  return FinishStdout();
}

}  // namespace

Command ExportCommand() {
  std::vector<FlagSpec> flags = {kDataDirFlag, kServerFlag, kTokenFlag};
  for (const FlagSpec& spec : LogRangeFlags(/*filters=*/false)) {
    flags.push_back(spec);
  }
  return Command{
      .name = "export",
      .summary = "write the log as lossless NDJSON (for vigil import)",
      .usage = "vigil export [--from N] [--to N] > FILE",
      .details =
          "One line per event with every recorded field: position, stream,\n"
          "revision, event_id, type, content_type, recorded_time_us,\n"
          "data_base64, metadata_base64 and hash (hex). Importing a whole\n"
          "export into an empty data directory reproduces the same hash\n"
          "chain. Works on --data-dir (while vigild runs) or --server.",
      .flags = flags,
      .run = RunExport,
  };
}

Command ImportCommand() {
  return Command{
      .name = "import",
      .summary = "load an export into a data directory, hash chain intact",
      .usage = "vigil import --data-dir DIR < FILE",
      .details =
          "Reads vigil export's NDJSON from stdin and writes the events as\n"
          "they were recorded: same positions, ids, times and hashes. The\n"
          "first must continue the log's head (1 for an empty one); every\n"
          "hash must chain from the one before, so a truncated, reordered\n"
          "or edited export is refused at the first bad line. Needs the\n"
          "data directory for itself (vigild stopped); idempotency keys are\n"
          "not carried over.",
      .flags = {kDataDirFlag},
      .run = RunImport,
  };
}

}  // namespace vigil::cli
