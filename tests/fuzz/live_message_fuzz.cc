// What a client sends to GET /v1/live: its text WebSocket messages
// (gateway/internal/live_protocol.h ParseClientMessage, as
// LiveSubscription::OnClientMessage calls it) and the query string of the
// upgrade request (ParseLiveQuery), both from the same bytes.
// Properties: a refused message gets an error frame that is one valid JSON
// object; an accepted filter passes CheckFilterList and, written back as a
// message, parses to the same filter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "gateway/internal/live_protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using vigil::fuzz::Check;

namespace internal = vigil::gateway::internal;

std::string JsonList(const std::vector<std::string>& list) {
  std::string out = "[";
  for (const std::string& entry : list) {
    if (out.size() > 1) out += ',';
    out += vigil::base::JsonString(entry);
  }
  return out + "]";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<internal::ClientMessage> message =
      internal::ParseClientMessage(text);
  if (!message.ok()) {
    std::string frame =
        internal::ErrorJson(std::string(message.status().message()));
    absl::StatusOr<vigil::base::Json> parsed =
        vigil::base::JsonFromText(frame);
    Check(parsed.ok() && parsed->is_object());
  } else if (message->op == internal::ClientMessage::Op::kFilter) {
    const vigil::eventlog::Filter& filter = message->filter;
    Check(internal::CheckFilterList("streams", filter.stream_prefixes).ok());
    Check(internal::CheckFilterList("types", filter.event_types).ok());
    absl::StatusOr<internal::ClientMessage> again =
        internal::ParseClientMessage(
            "{\"op\":\"filter\",\"streams\":" +
            JsonList(filter.stream_prefixes) +
            ",\"types\":" + JsonList(filter.event_types) + "}");
    Check(again.ok() && again->op == internal::ClientMessage::Op::kFilter &&
          again->filter.stream_prefixes == filter.stream_prefixes &&
          again->filter.event_types == filter.event_types);
  }

  absl::StatusOr<internal::LiveQuery> query = internal::ParseLiveQuery(text);
  if (query.ok()) {
    Check(!(query->from.has_value() && query->from_time_us.has_value()));
    Check(internal::CheckFilterList("streams", query->filter.stream_prefixes)
              .ok());
    Check(internal::CheckFilterList("types", query->filter.event_types).ok());
  }
  return 0;
}
