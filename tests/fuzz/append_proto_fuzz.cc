// A gRPC append as the service takes it: protobuf bytes of
// vigil.v1.AppendRequest -> api::FromProto -> api::CheckClientAppend (the
// reserved streams, the known domain event types) -> the log's own
// validation (eventlog/internal/validation.h ValidateAndPrepare, which
// the writer runs before it takes an append).
// Properties: ToProto(FromProto(m)) converts back to the same request; the
// same events sent as a REST body (JSON, data as data_base64) parse to the
// same events, so both APIs validate them alike.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "api/append_checks.h"
#include "api/event_json.h"
#include "api/event_proto.h"
#include "eventlog/event.h"
#include "eventlog/internal/validation.h"
#include "eventlog/options.h"
#include "google/protobuf/stubs/logging.h"
#include "simdjson.h"
#include "tests/fuzz/fuzz_check.h"
#include "vigil/v1/event_store.pb.h"

namespace {

using vigil::eventlog::AppendRequest;
using vigil::eventlog::EventData;
using vigil::fuzz::Check;
using vigil::fuzz::SameEvent;

bool SameRequest(const AppendRequest& a, const AppendRequest& b) {
  if (a.stream != b.stream || !(a.expected_revision == b.expected_revision) ||
      a.idempotency_key != b.idempotency_key ||
      a.events.size() != b.events.size()) {
    return false;
  }
  for (size_t i = 0; i < a.events.size(); ++i) {
    if (!SameEvent(a.events[i], b.events[i])) return false;
  }
  return true;
}

bool Utf8(const std::string& text) {
  return simdjson::validate_utf8(text.data(), text.size());
}

}  // namespace

// Protobuf logs each malformed string field; the fuzzer makes millions.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vigil::v1::AppendRequest proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return 0;
  absl::StatusOr<AppendRequest> request = vigil::api::FromProto(proto);
  if (!request.ok()) return 0;

  vigil::v1::AppendRequest back;
  vigil::api::ToProto(*request, &back);
  absl::StatusOr<AppendRequest> again = vigil::api::FromProto(back);
  Check(again.ok() && SameRequest(*again, *request));

  (void)vigil::api::CheckClientAppend(*request);
  std::vector<std::string> records;
  size_t total_bytes = 0;
  (void)vigil::eventlog::internal::ValidateAndPrepare(
      *request, vigil::eventlog::Options{}, 1, &records, &total_bytes);

  // The REST form of the same events, when JSON can carry them: text
  // fields in UTF-8 (JSON strings), metadata a minified JSON object (the
  // REST parse minifies it).
  if (request->events.empty()) return 0;
  std::string body = "[";
  for (const EventData& event : request->events) {
    if (!Utf8(event.event_id) || !Utf8(event.type) ||
        !Utf8(event.content_type)) {
      return 0;
    }
    if (body.size() > 1) body += ',';
    body += vigil::fuzz::EventToJson(event);
  }
  body += "]";
  absl::StatusOr<std::vector<EventData>> events =
      vigil::api::EventBatchFromJson(body);
  if (!events.ok()) {
    // Only metadata that is not a minified JSON object may be refused.
    for (const EventData& event : request->events) {
      if (!event.metadata.empty()) return 0;
    }
    Check(false);
  }
  Check(events->size() == request->events.size());
  for (size_t i = 0; i < events->size(); ++i) {
    const EventData& sent = request->events[i];
    const EventData& parsed = (*events)[i];
    if (parsed.metadata != sent.metadata) continue;  // not minified
    Check(SameEvent(parsed, sent));
  }
  return 0;
}
