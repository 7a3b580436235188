// vigil export and vigil import: the log as NDJSON, losslessly. An export
// imported into an empty data directory reproduces the same events under
// the same positions, and so the same hash chain.
//
// One line per event:
//   {"position","stream","revision","event_id","type","content_type",
//    "recorded_time_us","data_base64","metadata_base64","hash"}
// data and metadata as standard base64 of their exact bytes, hash as
// lowercase hex.

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <simdjson.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/log_range.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Events and bytes of data + metadata per EventLog::Import call.
constexpr size_t kImportBatchEvents = 1000;
constexpr size_t kImportBatchBytes = 4 << 20;

std::string ExportLine(const eventlog::RecordedEvent& e) {
  return base::DumpJson({{"position", e.position},
                         {"stream", e.stream},
                         {"revision", e.revision},
                         {"event_id", e.event_id},
                         {"type", e.type},
                         {"content_type", e.content_type},
                         {"recorded_time_us", e.recorded_time_us},
                         {"data_base64", absl::Base64Escape(e.data)},
                         {"metadata_base64", absl::Base64Escape(e.metadata)},
                         {"hash", absl::BytesToHexString(e.hash)}}) +
         "\n";
}

absl::StatusOr<eventlog::RecordedEvent> ParseLine(simdjson::dom::parser& parser,
                                                  const std::string& line) {
  simdjson::dom::object object;
  if (parser.parse(line).get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  eventlog::RecordedEvent e;
  auto text = [&](const char* field, std::string* out) -> absl::Status {
    std::string_view value;
    if (object[field].get_string().get(value) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", field, "\" missing or not a string"));
    }
    out->assign(value);
    return absl::OkStatus();
  };
  auto number = [&](const char* field, uint64_t* out) -> absl::Status {
    if (object[field].get_uint64().get(*out) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", field, "\" missing or not a whole number"));
    }
    return absl::OkStatus();
  };
  auto base64 = [&](const char* field, std::string* out) -> absl::Status {
    std::string encoded;
    RETURN_IF_ERROR(text(field, &encoded));
    if (!absl::Base64Unescape(encoded, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", field, "\" is not base64"));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(number("position", &e.position));
  RETURN_IF_ERROR(text("stream", &e.stream));
  RETURN_IF_ERROR(number("revision", &e.revision));
  RETURN_IF_ERROR(text("event_id", &e.event_id));
  RETURN_IF_ERROR(text("type", &e.type));
  RETURN_IF_ERROR(text("content_type", &e.content_type));
  if (object["recorded_time_us"].get_int64().get(e.recorded_time_us) !=
      simdjson::SUCCESS) {
    return absl::InvalidArgumentError("\"recorded_time_us\" missing");
  }
  RETURN_IF_ERROR(base64("data_base64", &e.data));
  RETURN_IF_ERROR(base64("metadata_base64", &e.metadata));
  std::string hash_hex;
  RETURN_IF_ERROR(text("hash", &hash_hex));
  if (hash_hex.size() != 64 ||
      hash_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError("\"hash\" is not 64 hex digits");
  }
  e.hash = absl::HexStringToBytes(hash_hex);
  return e;
}

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
    absl::StatusOr<eventlog::RecordedEvent> event = ParseLine(parser, line);
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
