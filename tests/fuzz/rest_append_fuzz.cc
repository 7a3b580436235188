// POST /v1/streams/{stream}/events as the gateway parses it
// (gateway/internal/append_route.h ParseAppend): the headers
// Content-Type, Vigil-Expected-Revision and Idempotency-Key, and the JSON
// body (one event object or an array of them).
//
// Input: header lines "name: value\n" up to the first empty line, then the
// body (tests/fuzz/corpus/rest_append/). Properties: an accepted append
// holds the body's events exactly (EventBatchFromJson); each event, written
// back as JSON, parses to the same event; an accepted expected revision
// prints and parses back to itself.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "api/event_json.h"
#include "eventlog/event.h"
#include "gateway/internal/append_route.h"
#include "gateway/internal/http_message.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::eventlog::EventData;
using vigil::fuzz::Check;
using vigil::fuzz::SameEvent;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  vigil::gateway::internal::HttpRequest request;
  request.method = "POST";
  request.target = "/v1/streams/s/events";
  while (!input.empty()) {
    size_t end = input.find('\n');
    std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? "" : input.substr(end + 1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    std::string name(line.substr(0, colon));
    absl::AsciiStrToLower(&name);
    std::string value(colon == std::string_view::npos ? ""
                                                      : line.substr(colon + 1));
    // Beast hands the gateway values without the leading space.
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  request.body = std::string(input);

  vigil::eventlog::AppendRequest append;
  std::optional<vigil::gateway::internal::HttpResponse> refusal =
      vigil::gateway::internal::ParseAppend(request, "s", &append);
  if (refusal.has_value()) {
    Check(refusal->status >= 400 && refusal->status < 500);
    return 0;
  }
  Check(append.stream == "s");
  absl::StatusOr<std::vector<EventData>> events =
      vigil::api::EventBatchFromJson(request.body);
  Check(events.ok() && events->size() == append.events.size());
  for (size_t i = 0; i < append.events.size(); ++i) {
    Check(SameEvent((*events)[i], append.events[i]));
    absl::StatusOr<EventData> again =
        vigil::api::EventDataFromJson(vigil::fuzz::EventToJson(append.events[i]));
    Check(again.ok() && SameEvent(*again, append.events[i]));
  }
  absl::StatusOr<vigil::eventlog::ExpectedRevision> revision =
      vigil::api::ParseExpectedRevision(append.expected_revision.ToString());
  Check(revision.ok() && *revision == append.expected_revision);
  return 0;
}
