#include "api/grpc_status.h"
#include "api/status_mapping.h"

#include <simdjson.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "eventlog/event_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

absl::Status Aborted(const std::string& actual_revision) {
  absl::Status status = absl::AbortedError("stream \"s\" is at revision x");
  status.SetPayload(eventlog::kActualRevisionPayload,
                    absl::Cord(actual_revision));
  return status;
}

// As the log reports a full disk (eventlog/internal/log_db.h).
absl::Status DiskFull() {
  absl::Status status = absl::UnavailableError(
      "the event log's disk is full (No space left on device): writing");
  status.SetPayload(eventlog::kDiskFullPayload, absl::Cord("ENOSPC"));
  return status;
}

struct Case {
  absl::Status status;
  int http_status;
  std::string problem_type;  // after urn:vigil:problem:
};

// Given this core status, expect this HTTP status and problem type.
std::vector<Case> Cases() {
  return {
      {absl::InvalidArgumentError("bad"), 400, "invalid-argument"},
      {absl::OutOfRangeError("far"), 400, "out-of-range"},
      {absl::UnauthenticatedError("who"), 401, "unauthenticated"},
      {absl::PermissionDeniedError("no"), 403, "permission-denied"},
      {absl::NotFoundError("gone"), 404, "not-found"},
      {absl::AlreadyExistsError("twice"), 409, "already-exists"},
      {Aborted("4"), 412, "expected-revision-mismatch"},
      {absl::AbortedError("no payload"), 412, "expected-revision-mismatch"},
      {absl::ResourceExhaustedError("1 MiB"), 413, "too-large"},
      {RateLimitedError("slow down", 2), 429, "rate-limited"},
      {absl::FailedPreconditionError("key"), 422, "idempotency-key-reused"},
      {absl::CancelledError("bye"), 499, "cancelled"},
      {absl::UnimplementedError("later"), 501, "unimplemented"},
      {absl::UnavailableError("disk full"), 503, "unavailable"},
      // gRPC: UNAVAILABLE, as every case keeps its code there.
      {DiskFull(), 503, "disk-full"},
      {NotPrimaryError("a standby", "http://p:7601"), 503, "not-primary"},
      {absl::DeadlineExceededError("late"), 504, "deadline-exceeded"},
      {absl::InternalError("bug"), 500, "internal"},
      {absl::DataLossError("bits"), 500, "internal"},
      {absl::UnknownError("?"), 500, "internal"},
  };
}

TEST(StatusMappingTest, HttpStatusAndProblem) {
  simdjson::dom::parser parser;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.status.ToString());
    EXPECT_EQ(HttpStatusFor(c.status), c.http_status);
    const std::string json = ProblemJson(c.status, c.http_status);
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
    EXPECT_EQ(std::string(root["type"].get_string().value()),
              "urn:vigil:problem:" + c.problem_type);
    EXPECT_FALSE(root["title"].get_string().value().empty());
    EXPECT_EQ(root["status"].get_int64().value(), c.http_status);
    EXPECT_EQ(std::string(root["detail"].get_string().value()),
              std::string(c.status.message()));
  }
  EXPECT_EQ(HttpStatusFor(absl::OkStatus()), 200);
}

TEST(StatusMappingTest, ProblemJsonEscapesAndNamesTheActualRevision) {
  EXPECT_EQ(ProblemJson(absl::InvalidArgumentError("a \"quoted\"\nline"), 400),
            R"({"type":"urn:vigil:problem:invalid-argument",)"
            R"("title":"Invalid request","status":400,)"
            R"("detail":"a \"quoted\"\nline"})");
  EXPECT_THAT(ProblemJson(Aborted("41"), 412),
              ::testing::EndsWith(R"(,"actual_revision":41})"));
  EXPECT_THAT(ProblemJson(Aborted("none"), 412),
              ::testing::EndsWith(R"(,"actual_revision":null})"));
  EXPECT_THAT(ProblemJson(NotPrimaryError("a standby", "http://p:7601"), 503),
              ::testing::EndsWith(R"(,"primary":"http://p:7601"})"));
  EXPECT_THAT(ProblemJson(NotPrimaryError("no primary known", ""), 503),
              ::testing::EndsWith(R"(,"primary":null})"));
}

TEST(StatusMappingTest, RateLimitedCarriesRetryAfter) {
  const absl::Status status = RateLimitedError("too fast", 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(status.message(), "too fast");
  EXPECT_EQ(status.GetPayload(kRateLimitedPayload), absl::Cord("3"));
}

// The trailer itself is checked over a real channel in
// event_store_service_test.cc; here, code and message.
TEST(StatusMappingTest, GrpcStatusKeepsCodeAndMessage) {
  grpc::ServerContext context;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.status.ToString());
    const grpc::Status status = ToGrpcStatus(c.status, &context);
    EXPECT_EQ(static_cast<int>(status.error_code()),
              static_cast<int>(c.status.code()));
    EXPECT_EQ(status.error_message(), std::string(c.status.message()));
    EXPECT_EQ(ToGrpcStatus(c.status, nullptr).error_code(),
              status.error_code());
    const absl::Status back = FromGrpcStatus(status, nullptr);
    EXPECT_EQ(back.code(), c.status.code());
    EXPECT_EQ(back.message(), c.status.message());
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus(), &context).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, nullptr).ok());
}

}  // namespace
}  // namespace vigil::api
