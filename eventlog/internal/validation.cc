#include "eventlog/internal/validation.h"

#include <simdjson.h>

#include "absl/strings/str_cat.h"
#include "eventlog/internal/codec.h"
#include "eventlog/internal/uuid.h"

namespace vigil::eventlog::internal {
namespace {

constexpr size_t kMaxStreamName = 200;
constexpr size_t kMaxEventType = 100;
constexpr size_t kMaxIdempotencyKey = 255;

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Shown in messages without flooding them with a huge or binary value.
std::string Quote(std::string_view value) {
  constexpr size_t kShown = 64;
  std::string shown(value.substr(0, kShown));
  for (char& c : shown) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return absl::StrCat("\"", shown, value.size() > kShown ? "...\"" : "\"");
}

}  // namespace

absl::Status ValidateStreamName(std::string_view stream) {
  std::string_view name = stream;
  if (!name.empty() && name.front() == '$') name.remove_prefix(1);
  bool ok = !name.empty() && name.size() <= kMaxStreamName && IsAlnum(name[0]);
  for (size_t i = 1; ok && i < name.size(); ++i) {
    const char c = name[i];
    ok = IsAlnum(c) || c == '_' || c == '.' || c == ':' || c == '-';
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "stream: invalid name ", Quote(stream),
      ": must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,199}"));
}

absl::Status ValidateEventType(std::string_view type) {
  bool ok = !type.empty() && type.size() <= kMaxEventType && IsAlpha(type[0]);
  for (size_t i = 1; ok && i < type.size(); ++i) {
    const char c = type[i];
    ok = IsAlnum(c) || c == '_' || c == '.' || c == '-';
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("type: invalid event type ", Quote(type),
                   ": must match [A-Za-z][A-Za-z0-9_.-]{0,99}"));
}

absl::Status ValidateIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxIdempotencyKey) {
    return absl::InvalidArgumentError(absl::StrCat(
        "idempotency_key: must be 1 to 255 bytes, got ", key.size()));
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "idempotency_key: only printable ASCII (0x21-0x7e) is allowed");
    }
  }
  return absl::OkStatus();
}

bool IsJsonObject(std::string_view json) {
  // One parser per thread: a simdjson parser keeps its buffers between
  // documents, and is not thread-safe.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true)
          .get(root) != simdjson::SUCCESS) {
    return false;
  }
  return root.is_object();
}

absl::Status ValidateAndPrepare(const AppendRequest& request,
                                const Options& options, int64_t now_us,
                                std::vector<std::string>* records,
                                size_t* total_bytes) {
  if (absl::Status s = ValidateStreamName(request.stream); !s.ok()) return s;
  if (!request.idempotency_key.empty()) {
    if (absl::Status s = ValidateIdempotencyKey(request.idempotency_key);
        !s.ok()) {
      return s;
    }
  }
  if (request.events.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("events: an append to stream ", Quote(request.stream),
                     " needs at least one event"));
  }
  if (request.events.size() > options.max_append_events) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "events: ", request.events.size(), " events in one append, limit is ",
        options.max_append_events));
  }
  records->clear();
  records->reserve(request.events.size());
  *total_bytes = 0;
  for (size_t i = 0; i < request.events.size(); ++i) {
    const EventData& in = request.events[i];
    auto where = [i] { return absl::StrCat("events[", i, "]."); };
    if (absl::Status s = ValidateEventType(in.type); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), s.message()));
    }
    const size_t bytes = in.data.size() + in.metadata.size();
    if (bytes > options.max_event_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(where(), "data+metadata: ", bytes, " bytes, limit is ",
                       options.max_event_bytes));
    }
    *total_bytes += bytes;
    std::string event_id;
    if (in.event_id.empty()) {
      event_id = NewUuidV7(now_us);
    } else if (std::optional<std::string> id = NormalizeUuid(in.event_id)) {
      event_id = *std::move(id);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "event_id: ", Quote(in.event_id), " is not a UUID"));
    }
    const std::string_view content_type =
        in.content_type.empty() ? std::string_view(kJsonContentType)
                                : std::string_view(in.content_type);
    if (content_type == kJsonContentType && !IsJsonObject(in.data)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "data: content type application/json needs a JSON object"));
    }
    if (!in.metadata.empty() && !IsJsonObject(in.metadata)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "metadata: must be a JSON object or empty"));
    }
    // Straight into the record: the event's fields are copied once.
    records->push_back(PrepareRecord(request.stream, event_id, content_type, in));
  }
  if (*total_bytes > options.max_append_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("events: ", *total_bytes, " bytes in one append, limit is ",
                     options.max_append_bytes));
  }
  return absl::OkStatus();
}

}  // namespace vigil::eventlog::internal
