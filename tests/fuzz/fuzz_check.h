// What the fuzz targets of tests/fuzz share: the check of a property, and
// events written back as the JSON a client sends.
#ifndef VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_
#define VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_

#include <string>

#include "absl/strings/escaping.h"
#include "base/json.h"
#include "eventlog/event.h"

namespace vigil::fuzz {

// A broken property: trap, which libFuzzer reports as a crash with the
// input that caused it.
inline void Check(bool property) {
  if (!property) __builtin_trap();
}

inline bool SameEvent(const eventlog::EventData& a,
                      const eventlog::EventData& b) {
  return a.event_id == b.event_id && a.type == b.type && a.data == b.data &&
         a.content_type == b.content_type && a.metadata == b.metadata;
}

// `event` as a client would send it in a REST append (docs/http-api.md):
// data always as data_base64 (allowed for every content type, it carries
// the bytes exactly). REQUIRES: the text fields are UTF-8.
inline std::string EventToJson(const eventlog::EventData& event) {
  std::string out = "{\"type\":" + base::JsonString(event.type);
  if (!event.event_id.empty()) {
    out += ",\"event_id\":" + base::JsonString(event.event_id);
  }
  if (!event.content_type.empty()) {
    out += ",\"content_type\":" + base::JsonString(event.content_type);
  }
  out += ",\"data_base64\":\"" + absl::Base64Escape(event.data) + "\"";
  if (!event.metadata.empty()) out += ",\"metadata\":" + event.metadata;
  return out + "}";
}

}  // namespace vigil::fuzz

#endif  // VIGIL_TESTS_FUZZ_FUZZ_CHECK_H_
