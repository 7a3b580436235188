// One line of `vigil export`'s NDJSON, which `vigil import` reads back:
//   {"position","stream","revision","event_id","type","content_type",
//    "recorded_time_us","data_base64","metadata_base64","hash"}
// data and metadata as standard base64 of their exact bytes, hash as
// lowercase hex. ParseExportLine(ExportLine(e)) == e for every event whose
// text fields are UTF-8 (the log's are). Pure functions; a parser per
// thread.

#ifndef VIGIL_TOOLS_VIGIL_EXPORT_LINE_H_
#define VIGIL_TOOLS_VIGIL_EXPORT_LINE_H_

#include <simdjson.h>

#include <string>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::cli {

// The line of `e`, newline included.
std::string ExportLine(const eventlog::RecordedEvent& e);

// One line (without its newline) of an export, as `vigil import` takes it.
// INVALID_ARGUMENT naming the field for anything else: not a JSON object,
// a field missing or of the wrong JSON type, bad base64, a hash that is not
// 64 lowercase hex digits. The log checks the rest on import.
absl::StatusOr<eventlog::RecordedEvent> ParseExportLine(
    simdjson::dom::parser& parser, const std::string& line);

}  // namespace vigil::cli

#endif  // VIGIL_TOOLS_VIGIL_EXPORT_LINE_H_
