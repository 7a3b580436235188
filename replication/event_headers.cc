#include "replication/event_headers.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil::replication {
namespace {

constexpr size_t kHashBytes = 32;

}  // namespace

std::string HashHex(std::string_view hash) {
  return absl::BytesToHexString(absl::string_view(hash.data(), hash.size()));
}

std::vector<Header> EventHeaders(const eventlog::RecordedEvent& event) {
  std::vector<Header> headers = {
      {kPositionHeader, absl::StrCat(event.position)},
      {kStreamHeader, event.stream},
      {kRevisionHeader, absl::StrCat(event.revision)},
      {kEventIdHeader, event.event_id},
      {kTypeHeader, event.type},
      {kContentTypeHeader, event.content_type},
      {kRecordedTimeHeader, absl::StrCat(event.recorded_time_us)},
      {kHashHeader, HashHex(event.hash)},
  };
  if (!event.metadata.empty()) {
    headers.emplace_back(kMetadataHeader, absl::Base64Escape(event.metadata));
  }
  return headers;
}

absl::StatusOr<eventlog::RecordedEvent> EventOfMessage(
    const std::function<std::optional<std::string>(std::string_view name)>&
        header,
    std::string_view data) {
  const auto bad = [](std::string_view name, std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("mirrored event: header ", std::string(name), " ",
                     std::string(why)));
  };
  eventlog::RecordedEvent event;
  event.data = std::string(data);
  struct Text {
    const char* name;
    std::string* field;
  };
  for (const Text& text : {Text{kStreamHeader, &event.stream},
                           Text{kEventIdHeader, &event.event_id},
                           Text{kTypeHeader, &event.type},
                           Text{kContentTypeHeader, &event.content_type}}) {
    std::optional<std::string> value = header(text.name);
    if (!value.has_value()) return bad(text.name, "is missing");
    *text.field = *std::move(value);
  }
  struct Number {
    const char* name;
    uint64_t* field;
  };
  for (const Number& number : {Number{kPositionHeader, &event.position},
                               Number{kRevisionHeader, &event.revision}}) {
    std::optional<std::string> value = header(number.name);
    if (!value.has_value() || !absl::SimpleAtoi(*value, number.field)) {
      return bad(number.name, "is not a decimal number");
    }
  }
  std::optional<std::string> time = header(kRecordedTimeHeader);
  if (!time.has_value() || !absl::SimpleAtoi(*time, &event.recorded_time_us)) {
    return bad(kRecordedTimeHeader, "is not a decimal number");
  }
  std::optional<std::string> hash = header(kHashHeader);
  if (!hash.has_value() || hash->size() != 2 * kHashBytes ||
      hash->find_first_not_of("0123456789abcdef") != std::string::npos) {
    return bad(kHashHeader, "is not 64 lowercase hex digits");
  }
  event.hash = absl::HexStringToBytes(*hash);
  if (std::optional<std::string> metadata = header(kMetadataHeader);
      metadata.has_value() &&
      !absl::Base64Unescape(*metadata, &event.metadata)) {
    return bad(kMetadataHeader, "is not base64");
  }
  return event;
}

}  // namespace vigil::replication
