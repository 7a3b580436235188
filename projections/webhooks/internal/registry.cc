#include "projections/webhooks/internal/registry.h"

#include <simdjson.h>

#include <algorithm>

#include "api/event_json.h"
#include "base/json.h"

namespace vigil::webhooks::internal {
namespace {

using simdjson::dom::element;

using base::Json;

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
  } else if (event.type == "WebhookCheckpointed") {
    uint64_t position = 0;
    if (!GetInt(root, "position", &position)) {
      return Malformed(event, "position");
    }
    endpoint.recorded_checkpoint =
        std::max(endpoint.recorded_checkpoint, position);
  }
  return absl::OkStatus();
}

eventlog::EventData RegisteredEvent(const std::string& id,
                                    const std::string& url,
                                    const eventlog::Filter& filter,
                                    const std::string& secret_sealed) {
  return api::JsonEventData("WebhookRegistered",
               {{"webhook_id", id},
                {"url", url},
                {"stream_prefixes", filter.stream_prefixes},
                {"event_types", filter.event_types},
                {"secret_sealed", secret_sealed}});
}

eventlog::EventData SecretRotatedEvent(const std::string& id,
                                       const std::string& secret_sealed,
                                       int64_t previous_expires_time_us) {
  return api::JsonEventData("WebhookSecretRotated",
               {{"webhook_id", id},
                {"secret_sealed", secret_sealed},
                {"previous_secret_expires_time_us", previous_expires_time_us}});
}

eventlog::EventData DeletedEvent(const std::string& id) {
  return api::JsonEventData("WebhookDeleted", {{"webhook_id", id}});
}

eventlog::EventData DisabledEvent(const std::string& id,
                                  const std::string& reason) {
  return api::JsonEventData("WebhookDisabled", {{"webhook_id", id}, {"reason", reason}});
}

eventlog::EventData EnabledEvent(const std::string& id) {
  return api::JsonEventData("WebhookEnabled", {{"webhook_id", id}});
}

eventlog::EventData DeadLetteredEvent(const std::string& id,
                                      const DeadLetter& letter) {
  return api::JsonEventData("WebhookDeadLettered",
               {{"webhook_id", id},
                {"event_id", letter.event_id},
                {"position", letter.position},
                {"stream", letter.stream},
                {"type", letter.type},
                {"attempts", letter.attempts},
                {"last_status", letter.last_status},
                {"last_error", letter.last_error}});
}

eventlog::EventData RedeliveryRequestedEvent(
    const std::string& id, const std::vector<uint64_t>& positions) {
  return api::JsonEventData("WebhookRedeliveryRequested",
               {{"webhook_id", id}, {"positions", positions}});
}

eventlog::EventData RedeliveredEvent(const std::string& id, uint64_t position) {
  return api::JsonEventData("WebhookRedelivered",
               {{"webhook_id", id}, {"position", position}});
}

eventlog::EventData CheckpointedEvent(const std::string& id, uint64_t position) {
  return api::JsonEventData("WebhookCheckpointed",
               {{"webhook_id", id}, {"position", position}});
}

}  // namespace vigil::webhooks::internal
