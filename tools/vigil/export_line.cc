#include "tools/vigil/export_line.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"

namespace vigil::cli {

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

absl::StatusOr<eventlog::RecordedEvent> ParseExportLine(
    simdjson::dom::parser& parser, const std::string& line) {
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

}  // namespace vigil::cli
