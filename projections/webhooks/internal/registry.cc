#include "projections/webhooks/internal/registry.h"

#include <simdjson.h>

#include "api/event_json.h"

namespace vigil::webhooks::internal {
namespace {

using simdjson::dom::element;

void Field(std::string_view name, std::string_view value, std::string* out) {
  if (out->size() > 1) out->push_back(',');
  api::AppendJsonString(name, out);
  out->push_back(':');
  api::AppendJsonString(value, out);
}

void Number(std::string_view name, int64_t value, std::string* out) {
  if (out->size() > 1) out->push_back(',');
  api::AppendJsonString(name, out);
  out->push_back(':');
  out->append(std::to_string(value));
}

void Strings(std::string_view name, const std::vector<std::string>& values,
             std::string* out) {
  if (out->size() > 1) out->push_back(',');
  api::AppendJsonString(name, out);
  out->append(":[");
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    api::AppendJsonString(values[i], out);
  }
  out->push_back(']');
}

eventlog::EventData Event(std::string type, std::string data) {
  eventlog::EventData event;
  event.type = std::move(type);
  event.data = std::move(data);
  event.content_type = eventlog::kJsonContentType;
  return event;
}

absl::Status Malformed(const eventlog::RecordedEvent& event,
                       std::string_view field) {
  return absl::InvalidArgumentError(
      "$webhooks position " + std::to_string(event.position) + " (" +
      event.type + "): missing or mistyped " + std::string(field));
}

// Field readers: false when absent or of another type.
bool GetString(element object, std::string_view key, std::string* out) {
  std::string_view value;
  if (object[key].get(value) != simdjson::SUCCESS) return false;
  *out = std::string(value);
  return true;
}

template <typename Int>
bool GetInt(element object, std::string_view key, Int* out) {
  int64_t value = 0;
  if (object[key].get(value) != simdjson::SUCCESS) return false;
  *out = static_cast<Int>(value);
  return true;
}

bool GetStrings(element object, std::string_view key,
                std::vector<std::string>* out) {
  simdjson::dom::array array;
  if (object[key].get(array) != simdjson::SUCCESS) return false;
  for (element item : array) {
    std::string_view value;
    if (item.get(value) != simdjson::SUCCESS) return false;
    out->emplace_back(value);
  }
  return true;
}

}  // namespace

const Endpoint* Registry::Find(const std::string& id) const {
  auto it = endpoints_.find(id);
  return it == endpoints_.end() ? nullptr : &it->second;
}

absl::Status Registry::Apply(const eventlog::RecordedEvent& event) {
  thread_local simdjson::dom::parser parser;
  element root;
  if (parser.parse(event.data.data(), event.data.size(), true).get(root) !=
          simdjson::SUCCESS ||
      !root.is_object()) {
    return Malformed(event, "JSON object");
  }
  std::string id;
  if (!GetString(root, "webhook_id", &id))
    return Malformed(event, "webhook_id");

  if (event.type == "WebhookRegistered") {
    Endpoint endpoint;
    endpoint.id = id;
    endpoint.registered_position = event.position;
    endpoint.created_time_us = event.recorded_time_us;
    if (!GetString(root, "url", &endpoint.url)) return Malformed(event, "url");
    if (!GetString(root, "secret_sealed", &endpoint.secret_sealed)) {
      return Malformed(event, "secret_sealed");
    }
    if (!GetStrings(root, "stream_prefixes",
                    &endpoint.filter.stream_prefixes) ||
        !GetStrings(root, "event_types", &endpoint.filter.event_types)) {
      return Malformed(event, "filter");
    }
    endpoints_[id] = std::move(endpoint);
    return absl::OkStatus();
  }

  auto it = endpoints_.find(id);
  // Events of unknown types, or about an endpoint deleted meanwhile, change
  // nothing.
  if (it == endpoints_.end()) return absl::OkStatus();
  Endpoint& endpoint = it->second;
  if (event.type == "WebhookDeleted") {
    endpoints_.erase(it);
  } else if (event.type == "WebhookSecretRotated") {
    std::string sealed;
    int64_t expires = 0;
    if (!GetString(root, "secret_sealed", &sealed) ||
        !GetInt(root, "previous_secret_expires_time_us", &expires)) {
      return Malformed(event, "secret_sealed");
    }
    endpoint.previous_secret_sealed = endpoint.secret_sealed;
    endpoint.previous_secret_expires_time_us = expires;
    endpoint.secret_sealed = std::move(sealed);
  } else if (event.type == "WebhookDisabled") {
    std::string reason;
    GetString(root, "reason", &reason);
    endpoint.disabled = true;
    endpoint.disabled_reason = std::move(reason);
  } else if (event.type == "WebhookEnabled") {
    endpoint.disabled = false;
    endpoint.disabled_reason.clear();
  } else if (event.type == "WebhookDeadLettered") {
    DeadLetter letter;
    if (!GetString(root, "event_id", &letter.event_id) ||
        !GetInt(root, "position", &letter.position) ||
        !GetString(root, "stream", &letter.stream) ||
        !GetString(root, "type", &letter.type) ||
        !GetInt(root, "attempts", &letter.attempts) ||
        !GetInt(root, "last_status", &letter.last_status) ||
        !GetString(root, "last_error", &letter.last_error)) {
      return Malformed(event, "dead letter fields");
    }
    letter.time_us = event.recorded_time_us;
    // The same event dead-lettered again (a redelivery that failed, or a
    // delivery redone after a crash) stays one entry.
    endpoint.dead_letters[letter.position] = std::move(letter);
  } else if (event.type == "WebhookRedeliveryRequested") {
    simdjson::dom::array positions;
    if (root["positions"].get(positions) != simdjson::SUCCESS) {
      return Malformed(event, "positions");
    }
    for (element item : positions) {
      uint64_t position = 0;
      if (item.get(position) != simdjson::SUCCESS) {
        return Malformed(event, "positions");
      }
      auto letter = endpoint.dead_letters.find(position);
      if (letter != endpoint.dead_letters.end()) {
        letter->second.redelivery_pending = true;
      }
    }
  } else if (event.type == "WebhookRedelivered") {
    uint64_t position = 0;
    if (!GetInt(root, "position", &position)) {
      return Malformed(event, "position");
    }
    endpoint.dead_letters.erase(position);
  }
  return absl::OkStatus();
}

eventlog::EventData RegisteredEvent(const std::string& id,
                                    const std::string& url,
                                    const eventlog::Filter& filter,
                                    const std::string& secret_sealed) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  Field("url", url, &data);
  Strings("stream_prefixes", filter.stream_prefixes, &data);
  Strings("event_types", filter.event_types, &data);
  Field("secret_sealed", secret_sealed, &data);
  data.push_back('}');
  return Event("WebhookRegistered", std::move(data));
}

eventlog::EventData SecretRotatedEvent(const std::string& id,
                                       const std::string& secret_sealed,
                                       int64_t previous_expires_time_us) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  Field("secret_sealed", secret_sealed, &data);
  Number("previous_secret_expires_time_us", previous_expires_time_us, &data);
  data.push_back('}');
  return Event("WebhookSecretRotated", std::move(data));
}

eventlog::EventData DeletedEvent(const std::string& id) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  data.push_back('}');
  return Event("WebhookDeleted", std::move(data));
}

eventlog::EventData DisabledEvent(const std::string& id,
                                  const std::string& reason) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  Field("reason", reason, &data);
  data.push_back('}');
  return Event("WebhookDisabled", std::move(data));
}

eventlog::EventData EnabledEvent(const std::string& id) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  data.push_back('}');
  return Event("WebhookEnabled", std::move(data));
}

eventlog::EventData DeadLetteredEvent(const std::string& id,
                                      const DeadLetter& letter) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  Field("event_id", letter.event_id, &data);
  Number("position", static_cast<int64_t>(letter.position), &data);
  Field("stream", letter.stream, &data);
  Field("type", letter.type, &data);
  Number("attempts", letter.attempts, &data);
  Number("last_status", letter.last_status, &data);
  Field("last_error", letter.last_error, &data);
  data.push_back('}');
  return Event("WebhookDeadLettered", std::move(data));
}

eventlog::EventData RedeliveryRequestedEvent(
    const std::string& id, const std::vector<uint64_t>& positions) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  data.append(",\"positions\":[");
  for (size_t i = 0; i < positions.size(); ++i) {
    if (i > 0) data.push_back(',');
    data.append(std::to_string(positions[i]));
  }
  data.append("]}");
  return Event("WebhookRedeliveryRequested", std::move(data));
}

eventlog::EventData RedeliveredEvent(const std::string& id, uint64_t position) {
  std::string data = "{";
  Field("webhook_id", id, &data);
  Number("position", static_cast<int64_t>(position), &data);
  data.push_back('}');
  return Event("WebhookRedelivered", std::move(data));
}

}  // namespace vigil::webhooks::internal
