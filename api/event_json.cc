#include "api/event_json.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/internal/json.h"

namespace vigil::api {
namespace {

using internal::AsAbsl;
using internal::Quote;

bool IsJsonContentType(std::string_view content_type) {
  return content_type.empty() || content_type == eventlog::kJsonContentType;
}

// The length of the well-formed UTF-8 sequence (RFC 3629) starting at
// s[i], or 0 when the bytes there are not one.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
    return byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned b0 = byte(0);
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (b0 == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 >= 0xe1 && b0 <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

absl::Status InvalidField(std::string_view path, std::string_view field,
                          std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(AsAbsl(path), AsAbsl(field), ": ", AsAbsl(problem)));
}

// Parses `json` into this thread's parser (see internal::ParseJson); the
// element lives until the next parse on this thread.
absl::StatusOr<simdjson::dom::element> Parse(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  return internal::ParseJson(parser, json);
}

// One proposed event from a parsed object. `path` prefixes field names in
// messages: "" for a lone event, "events[2]." inside a batch.
absl::StatusOr<eventlog::EventData> EventFromElement(
    simdjson::dom::element element, std::string_view path) {
  simdjson::dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(absl::StrCat(
        path.empty() ? "event" : AsAbsl(path.substr(0, path.size() - 1)),
        ": must be a JSON object"));
  }
  enum Field { kEventId, kType, kData, kMetadata, kContentType, kDataBase64 };
  static constexpr std::string_view kFieldNames[] = {
      "event_id", "type", "data", "metadata", "content_type", "data_base64"};
  bool seen[std::size(kFieldNames)] = {};

  eventlog::EventData event;
  std::optional<std::string_view> type;
  std::optional<simdjson::dom::element> data;
  std::optional<std::string_view> data_base64;
  for (const simdjson::dom::key_value_pair member : object) {
    const std::string_view key = member.key;
    const auto* name =
        std::find(std::begin(kFieldNames), std::end(kFieldNames), key);
    if (name == std::end(kFieldNames)) {
      return absl::InvalidArgumentError(
          absl::StrCat(AsAbsl(path), Quote(key), ": unknown field"));
    }
    const auto field = static_cast<Field>(name - std::begin(kFieldNames));
    if (seen[field]) return InvalidField(path, key, "appears more than once");
    seen[field] = true;
    // A null field counts as absent.
    if (member.value.is_null()) continue;

    if (field == kData) {
      data = member.value;
      continue;
    }
    if (field == kMetadata) {
      if (!member.value.is_object()) {
        return InvalidField(path, key, "must be a JSON object");
      }
      event.metadata = simdjson::to_string(member.value);
      continue;
    }
    std::string_view text;
    if (member.value.get_string().get(text) != simdjson::SUCCESS) {
      return InvalidField(path, key, "must be a string");
    }
    switch (field) {
      case kEventId:
        event.event_id = std::string(text);
        break;
      case kType:
        type = text;
        break;
      case kContentType:
        event.content_type = std::string(text);
        break;
      case kDataBase64:
        data_base64 = text;
        break;
      case kData:
      case kMetadata:
        break;  // handled above
    }
  }

  if (!type.has_value()) return InvalidField(path, "type", "is required");
  event.type = std::string(*type);

  if (IsJsonContentType(event.content_type)) {
    if (data.has_value() && data_base64.has_value()) {
      return InvalidField(path, "data_base64",
                          "not allowed together with data");
    }
    if (!data.has_value() && !data_base64.has_value()) {
      return InvalidField(path, "data", "is required");
    }
    if (data.has_value()) {
      if (!data->is_object()) {
        return InvalidField(
            path, "data",
            "must be a JSON object (content type application/json)");
      }
      event.data = simdjson::to_string(*data);
    }
  } else {
    if (data.has_value()) {
      return InvalidField(
          path, "data",
          absl::StrCat("only for content type application/json; send ",
                       Quote(event.content_type), " bytes in data_base64"));
    }
    if (!data_base64.has_value()) {
      return InvalidField(path, "data_base64",
                          absl::StrCat("is required for content type ",
                                       Quote(event.content_type)));
    }
  }
  if (data_base64.has_value() &&
      !absl::Base64Unescape(AsAbsl(*data_base64), &event.data)) {
    return InvalidField(path, "data_base64", "is not valid base64");
  }
  return event;
}

}  // namespace

void AppendJsonString(std::string_view value, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < value.size()) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const size_t n = Utf8SequenceLength(value, i); n > 0) {
        i += n;
        continue;
      }
    }
    out->append(value.data() + run, i - run);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          // Not UTF-8: U+FFFD keeps the output valid JSON.
          out->append("\xef\xbf\xbd");
        }
    }
    run = ++i;
  }
  out->append(value.data() + run, value.size() - run);
  out->push_back('"');
}

std::string RecordedEventToJson(const eventlog::RecordedEvent& event) {
  const bool inline_data = IsJsonContentType(event.content_type);
  std::string out;
  out.reserve(
      256 + event.stream.size() + event.type.size() +
      event.content_type.size() + event.metadata.size() +
      (inline_data ? event.data.size() : event.data.size() / 3 * 4 + 4));
  out.append("{\"event_id\":");
  AppendJsonString(event.event_id, &out);
  out.append(",\"stream\":");
  AppendJsonString(event.stream, &out);
  absl::StrAppend(&out, ",\"revision\":", event.revision,
                  ",\"position\":", event.position, ",\"type\":");
  AppendJsonString(event.type, &out);
  if (inline_data) {
    // Already validated JSON when it was appended: copied, not re-parsed.
    out.append(",\"data\":");
    out.append(event.data.empty() ? "null" : event.data);
  } else {
    out.append(",\"data_base64\":\"");
    out.append(absl::Base64Escape(AsAbsl(event.data)));
    out.push_back('"');
  }
  out.append(",\"content_type\":");
  AppendJsonString(event.content_type.empty() ? eventlog::kJsonContentType
                                              : event.content_type,
                   &out);
  out.append(",\"metadata\":");
  out.append(event.metadata.empty() ? "{}" : event.metadata);
  absl::StrAppend(&out, ",\"recorded_time_us\":", event.recorded_time_us,
                  ",\"hash\":\"", absl::BytesToHexString(AsAbsl(event.hash)),
                  "\"}");
  return out;
}

absl::StatusOr<eventlog::EventData> EventDataFromJson(std::string_view json) {
  absl::StatusOr<simdjson::dom::element> root = Parse(json);
  if (!root.ok()) return root.status();
  return EventFromElement(*root, "");
}

absl::StatusOr<std::vector<eventlog::EventData>> EventBatchFromJson(
    std::string_view json) {
  absl::StatusOr<simdjson::dom::element> root = Parse(json);
  if (!root.ok()) return root.status();
  std::vector<eventlog::EventData> events;
  if (root->is_object()) {
    absl::StatusOr<eventlog::EventData> event = EventFromElement(*root, "");
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
    return events;
  }
  simdjson::dom::array array;
  if (root->get_array().get(array) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        "body: must be an event object or an array of event objects");
  }
  if (array.size() == 0) {
    return absl::InvalidArgumentError("events: the array has no events");
  }
  events.reserve(array.size());
  for (const simdjson::dom::element element : array) {
    absl::StatusOr<eventlog::EventData> event =
        EventFromElement(element, absl::StrCat("events[", events.size(), "]."));
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
  return events;
}

std::string AppendResultToJson(const eventlog::AppendResult& result) {
  return absl::StrCat(
      "{\"first_position\":", result.first_position,
      ",\"last_position\":", result.last_position,
      ",\"next_expected_revision\":", result.next_expected_revision,
      ",\"deduplicated\":", result.deduplicated ? "true" : "false", "}");
}

absl::StatusOr<eventlog::ExpectedRevision> ParseExpectedRevision(
    std::string_view text) {
  using eventlog::ExpectedRevision;
  if (text == "any") return ExpectedRevision::Any();
  if (text == "no_stream") return ExpectedRevision::NoStream();
  if (text == "stream_exists") return ExpectedRevision::StreamExists();
  // SimpleAtoi alone would also take a sign and surrounding blanks.
  const bool digits_only =
      !text.empty() && text.find_first_not_of("0123456789") == text.npos;
  if (uint64_t revision = 0;
      digits_only && absl::SimpleAtoi(AsAbsl(text), &revision)) {
    return ExpectedRevision::Exact(revision);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "expected revision: ", Quote(text),
      " is not any, no_stream, stream_exists or a revision number"));
}

}  // namespace vigil::api
