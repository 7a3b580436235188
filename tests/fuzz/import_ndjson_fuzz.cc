// `vigil import`'s NDJSON (tools/vigil/export_line.h ParseExportLine, as
// RunImport calls it line by line). Property: every line that parses,
// written back by `vigil export`'s ExportLine, parses to the same event
// (the export is lossless).
#include <simdjson.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eventlog/event.h"
#include "tests/fuzz/fuzz_check.h"
#include "tools/vigil/export_line.h"

namespace {

using vigil::fuzz::Check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Lines as std::getline splits them.
  while (!input.empty()) {
    size_t end = input.find('\n');
    std::string line(input.substr(0, end));
    input = end == std::string_view::npos ? "" : input.substr(end + 1);
    if (line.empty()) continue;
    absl::StatusOr<vigil::eventlog::RecordedEvent> event =
        vigil::cli::ParseExportLine(parser, line);
    if (!event.ok()) continue;
    std::string exported = vigil::cli::ExportLine(*event);
    Check(!exported.empty() && exported.back() == '\n');
    exported.pop_back();
    absl::StatusOr<vigil::eventlog::RecordedEvent> again =
        vigil::cli::ParseExportLine(parser, exported);
    Check(again.ok() && *again == *event);
  }
  return 0;
}
