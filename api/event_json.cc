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
#include "base/json.h"

namespace vigil::api {
namespace {

using internal::AsAbsl;
using internal::Quote;

bool IsJsonContentType(std::string_view content_type) {
  return content_type.empty() || content_type == eventlog::kJsonContentType;
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

// The one exception to building documents as base::Json (base/json.h):
// `data` and `metadata` are JSON the log validated on append and are
// spliced in as they are; text members are written by AppendJsonString.
std::string RecordedEventToJson(const eventlog::RecordedEvent& event) {
  const bool inline_data = IsJsonContentType(event.content_type);
  std::string out;
  out.reserve(
      256 + event.stream.size() + event.type.size() +
      event.content_type.size() + event.metadata.size() +
      (inline_data ? event.data.size() : event.data.size() / 3 * 4 + 4));
  out.append("{\"event_id\":");
  base::AppendJsonString(event.event_id, &out);
  out.append(",\"stream\":");
  base::AppendJsonString(event.stream, &out);
  absl::StrAppend(&out, ",\"revision\":", event.revision,
                  ",\"position\":", event.position, ",\"type\":");
  base::AppendJsonString(event.type, &out);
  if (inline_data) {
    out.append(",\"data\":");
    out.append(event.data.empty() ? "null" : event.data);
  } else {
    // Base64 and hex (below) need no escaping: copied between quotes.
    absl::StrAppend(&out, ",\"data_base64\":\"",
                    absl::Base64Escape(AsAbsl(event.data)), "\"");
  }
  out.append(",\"content_type\":");
  base::AppendJsonString(event.content_type.empty()
                             ? eventlog::kJsonContentType
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
  return base::DumpJson(
      {{"first_position", result.first_position},
       {"last_position", result.last_position},
       {"next_expected_revision", result.next_expected_revision},
       {"deduplicated", result.deduplicated}});
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

eventlog::EventData JsonEventData(std::string type, const base::Json& data) {
  eventlog::EventData event;
  event.type = std::move(type);
  event.data = base::DumpJson(data);
  event.content_type = eventlog::kJsonContentType;
  return event;
}

}  // namespace vigil::api
