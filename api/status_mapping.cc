#include "api/status_mapping.h"

#include <cstdint>
#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "base/json.h"
#include "api/internal/json.h"
#include "eventlog/event_log.h"

namespace vigil::api {
namespace {

using internal::AsAbsl;

// One class of failure as HTTP clients see it.
struct Problem {
  absl::StatusCode code;
  // The payload the status must carry for this row; null: any status of
  // `code` that no earlier row took.
  const char* payload;
  int http_status;
  const char* name;  // the end of the problem `type`
  const char* title;
};

// The one table behind HttpStatusFor and ProblemJson (docs/contract.md "HTTP").
constexpr Problem kProblems[] = {
    {absl::StatusCode::kInvalidArgument, nullptr, 400, "invalid-argument",
     "Invalid request"},
    {absl::StatusCode::kOutOfRange, nullptr, 400, "out-of-range", "Out of range"},
    {absl::StatusCode::kUnauthenticated, nullptr, 401, "unauthenticated",
     "Authentication required"},
    {absl::StatusCode::kPermissionDenied, nullptr, 403, "permission-denied",
     "Permission denied"},
    {absl::StatusCode::kNotFound, nullptr, 404, "not-found", "Not found"},
    {absl::StatusCode::kAlreadyExists, nullptr, 409, "already-exists",
     "Already exists"},
    {absl::StatusCode::kAborted, nullptr, 412, "expected-revision-mismatch",
     "Expected revision mismatch"},
    {absl::StatusCode::kResourceExhausted, kRateLimitedPayload, 429,
     "rate-limited", "Too many requests"},
    {absl::StatusCode::kResourceExhausted, nullptr, 413, "too-large",
     "Request too large"},
    {absl::StatusCode::kFailedPrecondition, nullptr, 422,
     "idempotency-key-reused",
     "Idempotency key reused with a different request"},
    {absl::StatusCode::kCancelled, nullptr, 499, "cancelled",
     "Request cancelled"},
    {absl::StatusCode::kUnimplemented, nullptr, 501, "unimplemented",
     "Not implemented"},
    {absl::StatusCode::kUnavailable, kDiskFullPayload, 503, "disk-full",
     "The event log's disk is full"},
    {absl::StatusCode::kUnavailable, kNotPrimaryPayload, 503, "not-primary",
     "This server does not append: send appends to the primary"},
    {absl::StatusCode::kUnavailable, nullptr, 503, "unavailable",
     "Service unavailable"},
    {absl::StatusCode::kDeadlineExceeded, nullptr, 504, "deadline-exceeded",
     "Deadline exceeded"},
};
// INTERNAL, DATA_LOSS, UNKNOWN and any code without a row of its own.
constexpr Problem kInternalProblem = {absl::StatusCode::kInternal, nullptr, 500,
                                      "internal", "Internal error"};

const Problem& ProblemFor(const absl::Status& status) {
  for (const Problem& problem : kProblems) {
    if (problem.code == status.code() &&
        (problem.payload == nullptr ||
         status.GetPayload(problem.payload).has_value())) {
      return problem;
    }
  }
  return kInternalProblem;
}

}  // namespace

absl::Status RateLimitedError(std::string_view message,
                              int retry_after_seconds) {
  absl::Status status = absl::ResourceExhaustedError(AsAbsl(message));
  status.SetPayload(kRateLimitedPayload,
                    absl::Cord(absl::StrCat(retry_after_seconds)));
  return status;
}

absl::Status NotPrimaryError(std::string_view message,
                             std::string_view primary_url) {
  absl::Status status = absl::UnavailableError(AsAbsl(message));
  status.SetPayload(kNotPrimaryPayload, absl::Cord(AsAbsl(primary_url)));
  return status;
}

std::optional<std::string> RetryAfter(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kResourceExhausted) {
    return std::nullopt;
  }
  absl::optional<absl::Cord> payload = status.GetPayload(kRateLimitedPayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

std::optional<std::string> ActualRevision(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kAborted) return std::nullopt;
  absl::optional<absl::Cord> payload =
      status.GetPayload(eventlog::kActualRevisionPayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}


int HttpStatusFor(const absl::Status& status) {
  if (status.ok()) return 200;
  return ProblemFor(status).http_status;
}

std::string ProblemJson(const absl::Status& status, int http_status) {
  const Problem& problem = ProblemFor(status);
  base::Json json = {
      {"type", absl::StrCat("urn:vigil:problem:", problem.name)},
      {"title", problem.title},
      {"status", http_status},
      {"detail", std::string(status.message())}};
  if (std::optional<std::string> revision = ActualRevision(status)) {
    uint64_t number = 0;
    if (absl::SimpleAtoi(*revision, &number)) {
      json["actual_revision"] = number;
    } else {
      json["actual_revision"] = nullptr;
    }
  }
  if (status.code() == absl::StatusCode::kUnavailable) {
    if (absl::optional<absl::Cord> primary =
            status.GetPayload(kNotPrimaryPayload)) {
      if (primary->empty()) {
        json["primary"] = nullptr;
      } else {
        json["primary"] = std::string(*primary);
      }
    }
  }
  return base::DumpJson(json);
}

}  // namespace vigil::api
