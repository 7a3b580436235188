// Registry: the webhooks' configuration and dead letters as a fold of the
// system stream `$webhooks`, and the events that stream holds. The service
// is its only writer: it appends an event, then applies it here, so the
// registry is always the fold of a prefix of the stream, and replaying the
// stream after a restart rebuilds it exactly.
//
// Events (data is a JSON object; ids are strings, positions numbers):
//   WebhookRegistered   {webhook_id, url, stream_prefixes, event_types,
//                        secret_sealed}
//   WebhookSecretRotated {webhook_id, secret_sealed,
//                        previous_secret_expires_time_us}
//   WebhookDeleted      {webhook_id}
//   WebhookDisabled     {webhook_id, reason}
//   WebhookEnabled      {webhook_id}
//   WebhookDeadLettered {webhook_id, event_id, position, stream, type,
//                        attempts, last_status, last_error}
//   WebhookRedeliveryRequested {webhook_id, positions}
//   WebhookRedelivered  {webhook_id, position}
//   WebhookCheckpointed {webhook_id, position}: every delivery up to the
//                        position was settled (at most one a second per
//                        endpoint, after deliveries), so that a promoted
//                        standby resumes there (docs/webhooks.md)
//
// Not thread-safe: the service guards it with its mutex.

#ifndef VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_REGISTRY_H_
#define VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_REGISTRY_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eventlog/event.h"
#include "projections/webhooks/webhook_service.h"

namespace vigil::webhooks::internal {

using ::vigil::webhooks::kWebhooksStream;  // webhook_service.h

struct DeadLetter {
  std::string event_id;
  uint64_t position = 0;
  std::string stream;
  std::string type;
  int attempts = 0;     // over every round, redeliveries included
  int last_status = 0;  // 0: no HTTP response
  std::string last_error;
  int64_t time_us = 0;  // when it was (last) dead-lettered
  bool redelivery_pending = false;
};

struct Endpoint {
  std::string id;
  std::string url;
  eventlog::Filter filter;
  std::string secret_sealed;
  std::string previous_secret_sealed;  // "" when none
  int64_t previous_secret_expires_time_us = 0;
  // The position of its WebhookRegistered event: deliveries start after it.
  uint64_t registered_position = 0;
  // The last WebhookCheckpointed position: a vigild with no checkpoint
  // file of its own (a promoted standby) starts after it.
  uint64_t recorded_checkpoint = 0;
  int64_t created_time_us = 0;
  bool disabled = false;
  std::string disabled_reason;
  std::map<uint64_t, DeadLetter> dead_letters;  // by position
};

class Registry {
 public:
  // Applies one event of `$webhooks`. Unknown types are skipped (newer
  // servers may write more); malformed known ones are INVALID_ARGUMENT and
  // change nothing.
  absl::Status Apply(const eventlog::RecordedEvent& event);

  const std::map<std::string, Endpoint>& endpoints() const {
    return endpoints_;
  }
  const Endpoint* Find(const std::string& id) const;

 private:
  std::map<std::string, Endpoint> endpoints_;
};

// The events the service appends, as EventData for `$webhooks`.
eventlog::EventData RegisteredEvent(const std::string& id,
                                    const std::string& url,
                                    const eventlog::Filter& filter,
                                    const std::string& secret_sealed);
eventlog::EventData SecretRotatedEvent(const std::string& id,
                                       const std::string& secret_sealed,
                                       int64_t previous_expires_time_us);
eventlog::EventData DeletedEvent(const std::string& id);
eventlog::EventData DisabledEvent(const std::string& id,
                                  const std::string& reason);
eventlog::EventData EnabledEvent(const std::string& id);
eventlog::EventData DeadLetteredEvent(const std::string& id,
                                      const DeadLetter& dead_letter);
eventlog::EventData RedeliveryRequestedEvent(
    const std::string& id, const std::vector<uint64_t>& positions);
eventlog::EventData RedeliveredEvent(const std::string& id, uint64_t position);
eventlog::EventData CheckpointedEvent(const std::string& id, uint64_t position);

}  // namespace vigil::webhooks::internal

#endif  // VIGIL_PROJECTIONS_WEBHOOKS_INTERNAL_REGISTRY_H_
