#include "api/core.h"

#include <utility>

#include "base/status_macros.h"

namespace vigil::api {
namespace {

// `part` for a principal allowed `operation`: PERMISSION_DENIED first, then
// UNIMPLEMENTED when the server runs without the part.
template <typename Part>
absl::StatusOr<Part*> Allowed(const Principal& principal, Operation operation,
                              Part* part, const char* unimplemented) {
  RETURN_IF_ERROR(Authorize(principal, operation));
  if (part == nullptr) return absl::UnimplementedError(unimplemented);
  return part;
}

constexpr char kNoTimeTravel[] = "this server runs without time travel";

}  // namespace

Core::Core(CoreParts parts) : parts_(parts) {}

void Core::Append(const Principal& principal, eventlog::AppendRequest request,
                  AppendPath::Done done) const {
  parts_.append_path->Append(principal, std::move(request), std::move(done));
}

absl::StatusOr<std::vector<eventlog::RecordedEvent>> Core::ReadStream(
    const Principal& principal, const StreamRead& read) const {
  RETURN_IF_ERROR(Authorize(principal, Operation::kReadStream));
  return parts_.log->ReadStream(read.stream, read.from_revision,
                                read.max_count, read.backwards);
}

absl::StatusOr<eventlog::LogCursor> Core::ReadAll(const Principal& principal,
                                                  LogRead read) const {
  RETURN_IF_ERROR(Authorize(principal, Operation::kReadAll));
  return eventlog::LogCursor(parts_.log, read.from_position,
                             std::move(read.filter), read.options);
}

absl::StatusOr<eventlog::StreamInfo> Core::GetStream(
    const Principal& principal, const std::string& stream) const {
  RETURN_IF_ERROR(Authorize(principal, Operation::kGetStream));
  return parts_.log->GetStream(stream);
}

absl::Status Core::Subscribe(const Principal& principal) const {
  return Authorize(principal, Operation::kSubscribe);
}

absl::StatusOr<std::string> Core::ReadModel(
    const Principal& principal, const ReadModelRequest& request) const {
  ASSIGN_OR_RETURN(ReadModels * read_models,
                   Allowed(principal, Operation::kReadModel,
                           parts_.read_models,
                           "this server runs without read models"));
  return read_models->Read(request);
}

absl::StatusOr<std::string> Core::State(const Principal& principal,
                                        const StateQuery& query) const {
  ASSIGN_OR_RETURN(StateQueries * state_queries,
                   Allowed(principal, Operation::kState, parts_.state_queries,
                           kNoTimeTravel));
  return state_queries->State(query);
}

absl::StatusOr<std::string> Core::Diff(const Principal& principal,
                                       const DiffQuery& query) const {
  ASSIGN_OR_RETURN(StateQueries * state_queries,
                   Allowed(principal, Operation::kDiff, parts_.state_queries,
                           kNoTimeTravel));
  return state_queries->Diff(query);
}

absl::StatusOr<WebhookAdmin*> Core::Webhooks(const Principal& principal) const {
  return Allowed(principal, Operation::kAdministerWebhooks, parts_.webhooks,
                 "this server runs without webhooks");
}

absl::StatusOr<AlertAdmin*> Core::Alerts(const Principal& principal) const {
  return Allowed(principal, Operation::kAdministerAlerts, parts_.alerts,
                 "this server runs without alerts");
}

}  // namespace vigil::api
