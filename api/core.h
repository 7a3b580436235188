// Core: the commands and queries of a Vigil server, typed and
// transport-neutral. Each entry point takes the caller (a Principal, from
// auth.h Authenticate) and a typed request, checks the principal's role
// first (principal.h Authorize; PERMISSION_DENIED), and answers with a
// struct or an absl::Status. The transports (api/event_store_service.h for
// gRPC, gateway/ for HTTP and the live feed) authenticate, parse, call and
// render, so what a role may do, and what each operation does, is decided
// here once.
//
// A Core is a few pointers to the parts that do the work (the log, the one
// append path, the read models, time travel, webhook administration); each
// transport may hold its own over the same parts. The parts a server runs
// without answer UNIMPLEMENTED.
//
// Thread-safe: every method may be called from any thread. The reads block
// (the log, PostgreSQL), so transports call them on reader threads; Append
// does not block.

#ifndef VIGIL_API_CORE_H_
#define VIGIL_API_CORE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/append_path.h"
#include "api/principal.h"
#include "api/read_models.h"
#include "api/state_queries.h"
#include "api/alert_admin.h"
#include "api/webhook_admin.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"

namespace vigil::api {

// What a Core works with. Each must outlive the Core; null: the server runs
// without it.
struct CoreParts {
  eventlog::EventLog* log = nullptr;      // REQUIRED
  AppendPath* append_path = nullptr;      // REQUIRED
  ReadModels* read_models = nullptr;
  StateQueries* state_queries = nullptr;
  WebhookAdmin* webhooks = nullptr;
  AlertAdmin* alerts = nullptr;
};

// One page of a stream.
struct StreamRead {
  std::string stream;
  // Forwards from here, or backwards from it (UINT64_MAX: the end).
  uint64_t from_revision = 0;
  uint64_t max_count = 0;  // REQUIRED: >= 1
  bool backwards = false;
};

// A read of the log, page by page, through the cursor it returns.
struct LogRead {
  uint64_t from_position = 0;  // 0 and 1: the whole log
  eventlog::Filter filter;
  eventlog::CursorOptions options;
};

class Core {
 public:
  // REQUIRES: parts.log and parts.append_path are set.
  explicit Core(CoreParts parts);

  // The parts this server runs with (the HTTP routes of the missing ones
  // are not served).
  bool has_read_models() const { return parts_.read_models != nullptr; }
  bool has_state_queries() const { return parts_.state_queries != nullptr; }
  bool has_webhooks() const { return parts_.webhooks != nullptr; }
  bool has_alerts() const { return parts_.alerts != nullptr; }

  // Appends through the one append path (append_path.h, which checks the
  // role): `done` runs once, as AppendPath::Append says.
  void Append(const Principal& principal, eventlog::AppendRequest request,
              AppendPath::Done done) const;

  // Up to read.max_count events of the stream (EventLog::ReadStream).
  // NOT_FOUND when the stream does not exist.
  absl::StatusOr<std::vector<eventlog::RecordedEvent>> ReadStream(
      const Principal& principal, const StreamRead& read) const;

  // A cursor over the log from read.from_position (eventlog/log_cursor.h):
  // the caller pages through it (on reader threads).
  absl::StatusOr<eventlog::LogCursor> ReadAll(const Principal& principal,
                                              LogRead read) const;

  // NOT_FOUND when the stream does not exist.
  absl::StatusOr<eventlog::StreamInfo> GetStream(
      const Principal& principal, const std::string& stream) const;

  // Whether `principal` may follow the log live. The subscription itself
  // belongs to the transport (api/subscription.h, gateway's live hub),
  // which pages through a LogCursor.
  absl::Status Subscribe(const Principal& principal) const;

  // The JSON bodies of read_models.h, state_queries.h; their errors, and
  // UNIMPLEMENTED without the part.
  absl::StatusOr<std::string> ReadModel(const Principal& principal,
                                        const ReadModelRequest& request) const;
  absl::StatusOr<std::string> State(const Principal& principal,
                                    const StateQuery& query) const;
  absl::StatusOr<std::string> Diff(const Principal& principal,
                                   const DiffQuery& query) const;

  // Webhook administration (webhook_admin.h) for an admin: the interface
  // whose calls the transport then makes. UNIMPLEMENTED without it.
  absl::StatusOr<WebhookAdmin*> Webhooks(const Principal& principal) const;
  // Alert administration (alert_admin.h) for an admin, likewise.
  absl::StatusOr<AlertAdmin*> Alerts(const Principal& principal) const;

 private:
  const CoreParts parts_;
};

}  // namespace vigil::api

#endif  // VIGIL_API_CORE_H_
