// AppendSession over a real loopback gRPC channel to the EventStore service
// in this process, over a real log: answers by correlation id, errors as
// Append gives them, the per-session bound on appends in flight, and the
// end of sessions on the server's stop with every acknowledged append
// durable.

#include "api/append_session.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/append_path.h"
#include "api/grpc_status.h"
#include "eventlog/event_log.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/api/loopback_service.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {
namespace {

using ::testing::HasSubstr;
using Stream = grpc::ClientReaderWriter<v1::AppendSessionRequest,
                                        v1::AppendSessionResponse>;

// One event {"n":n} of type Custom to `stream`, with key "key-<n>".
v1::AppendSessionRequest Single(uint64_t n, const std::string& stream) {
  v1::AppendSessionRequest request;
  request.set_correlation_id(n);
  v1::AppendRequest* append = request.mutable_append();
  append->set_stream(stream);
  append->set_idempotency_key(absl::StrCat("key-", n));
  v1::EventData* event = append->add_events();
  event->set_type("Custom");
  event->set_data(absl::StrCat(R"({"n":)", n, "}"));
  return request;
}

class AppendSessionTest : public LoopbackServiceTest {
 protected:
  // Writes `requests` on one session from another thread (blocking as flow
  // control says), half-closes, and returns every answer by correlation id
  // with the session's status in *status.
  std::map<uint64_t, v1::AppendSessionResponse> Run(
      const std::vector<v1::AppendSessionRequest>& requests,
      grpc::Status* status, grpc::ClientContext* context = nullptr) {
    grpc::ClientContext own;
    if (context == nullptr) context = &own;
    std::unique_ptr<Stream> stream = stub_->AppendSession(context);
    std::thread writer([&] {
      for (const v1::AppendSessionRequest& request : requests) {
        if (!stream->Write(request)) break;
      }
      stream->WritesDone();
    });
    std::map<uint64_t, v1::AppendSessionResponse> answers;
    v1::AppendSessionResponse answer;
    while (stream->Read(&answer)) {
      EXPECT_TRUE(answers.emplace(answer.correlation_id(), answer).second)
          << "answered twice: " << answer.correlation_id();
    }
    writer.join();
    *status = stream->Finish();
    return answers;
  }

  std::unique_ptr<AppendPath> path_;  // outlives the service (TearDown)
};

TEST_F(AppendSessionTest, ThousandAppendsInFlightAllAnsweredOnce) {
  StartServer();
  std::vector<v1::AppendSessionRequest> requests;
  for (uint64_t n = 1; n <= 1000; ++n) {
    requests.push_back(Single(n, absl::StrCat("s-", n % 7)));
  }
  grpc::Status status;
  std::map<uint64_t, v1::AppendSessionResponse> answers = Run(requests, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), 1000u);
  std::vector<uint64_t> positions;
  for (const auto& [n, answer] : answers) {
    ASSERT_TRUE(answer.has_ok()) << n << ": " << answer.error().message();
    EXPECT_FALSE(answer.ok().deduplicated());
    EXPECT_EQ(answer.ok().first_position(), answer.ok().last_position());
    positions.push_back(answer.ok().first_position());
    // The answer names the event of its own request.
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> at = log_->ReadAll(
        answer.ok().first_position(), 1, eventlog::Filter{});
    ASSERT_TRUE(at.ok() && at->size() == 1u);
    EXPECT_EQ((*at)[0].data, absl::StrCat(R"({"n":)", n, "}"));
  }
  std::sort(positions.begin(), positions.end());
  EXPECT_EQ(positions.front(), 1u);
  EXPECT_EQ(positions.back(), 1000u);
  EXPECT_EQ(std::adjacent_find(positions.begin(), positions.end()),
            positions.end());
  EXPECT_EQ(log_->HeadPosition(), 1000u);
  EXPECT_EQ(Requests("AppendSession", "OK"), "1");
  EXPECT_THAT(metrics_.Render(), HasSubstr("vigil_append_events_total 1000\n"));

  // The same requests again: every one deduplicated to its first answer.
  std::map<uint64_t, v1::AppendSessionResponse> again = Run(requests, &status);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(again.size(), 1000u);
  for (const auto& [n, answer] : again) {
    ASSERT_TRUE(answer.has_ok());
    EXPECT_TRUE(answer.ok().deduplicated());
    EXPECT_EQ(answer.ok().first_position(),
              answers[n].ok().first_position());
  }
  EXPECT_EQ(log_->HeadPosition(), 1000u);
}

TEST_F(AppendSessionTest, ErrorsAreAppendsStatusesAndTheSessionGoesOn) {
  StartServer();
  std::vector<v1::AppendSessionRequest> requests;
  requests.push_back(Single(1, "s-1"));  // revision 0
  // Expects no stream: ABORTED, actual revision 0.
  requests.push_back(Single(2, "s-1"));
  requests.back().mutable_append()->mutable_expected_revision()
      ->mutable_no_stream();
  // Key 1 again with other data: FAILED_PRECONDITION.
  requests.push_back(Single(3, "s-1"));
  requests.back().mutable_append()->set_idempotency_key("key-1");
  // No stream name: INVALID_ARGUMENT, before the log.
  requests.push_back(Single(4, ""));
  // A reserved stream: PERMISSION_DENIED.
  requests.push_back(Single(5, "$system"));
  // Expects an absent stream to exist: ABORTED, actual `none`.
  requests.push_back(Single(6, "absent"));
  requests.back().mutable_append()->mutable_expected_revision()
      ->mutable_stream_exists();
  requests.push_back(Single(7, "s-1"));  // still appends: revision 1
  requests.back().mutable_append()->mutable_expected_revision()->set_exact(0);

  // One at a time, so that the expectations do not race each other.
  std::map<uint64_t, v1::AppendSessionResponse> answers;
  for (const v1::AppendSessionRequest& request : requests) {
    grpc::Status status;
    auto one = Run({request}, &status);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(one.size(), 1u);
    answers.insert(one.begin(), one.end());
  }
  ASSERT_TRUE(answers[1].has_ok());
  auto code = [&](uint64_t n) {
    EXPECT_TRUE(answers[n].has_error()) << n;
    return static_cast<grpc::StatusCode>(answers[n].error().code());
  };
  EXPECT_EQ(code(2), grpc::StatusCode::ABORTED);
  EXPECT_EQ(answers[2].error().actual_revision(), "0");
  EXPECT_EQ(code(3), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(code(4), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code(5), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(code(6), grpc::StatusCode::ABORTED);
  EXPECT_EQ(answers[6].error().actual_revision(), "none");
  EXPECT_FALSE(answers[4].error().message().empty());
  EXPECT_EQ(answers[4].error().actual_revision(), "");
  ASSERT_TRUE(answers[7].has_ok());
  EXPECT_EQ(answers[7].ok().next_expected_revision(), 1u);
  EXPECT_EQ(log_->HeadPosition(), 2u);

  // The same statuses as unary Append gives.
  v1::AppendResponse ignored;
  grpc::ClientContext context;
  const grpc::Status unary =
      stub_->Append(&context, requests[1].append(), &ignored);
  EXPECT_EQ(unary.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(Trailer(context, kActualRevisionTrailer), "1");
  EXPECT_THAT(answers[2].error().message(),
              HasSubstr("expected revision mismatch on stream \"s-1\""));
}

// The session stops reading at its bound: the append path never holds more
// of its appends than that. A control with a larger bound shows the sampler
// sees appends in flight at all.
TEST_F(AppendSessionTest, AppendsInFlightStayWithinTheSessionBound) {
  for (size_t bound : {size_t{4}, size_t{64}}) {
    SCOPED_TRACE(bound);
    OpenLog();
    path_ = std::make_unique<AppendPath>(log_.get(), AppendPathOptions{});
    StartServer({}, {.append_session = {.max_inflight = bound}}, path_.get());
    std::atomic<bool> running = true;
    std::atomic<size_t> most = 0;
    std::thread sampler([&] {
      while (running) {
        size_t now = path_->inflight();
        if (now > most) most = now;
        std::this_thread::yield();
      }
    });
    std::vector<v1::AppendSessionRequest> requests;
    for (uint64_t n = 1; n <= 3000; ++n) requests.push_back(Single(n, "s-1"));
    grpc::Status status;
    auto answers = Run(requests, &status);
    running = false;
    sampler.join();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(answers.size(), 3000u);
    EXPECT_LE(most.load(), bound);
    if (bound == 64) {
      EXPECT_GT(most.load(), 4u);
    }
    StopServer();
    path_.reset();
  }
}

TEST_F(AppendSessionTest, StopAnswersWhatIsInFlightThenEndsUnavailable) {
  eventlog::Options options;
  StartServer(options);
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub_->AppendSession(&context);
  std::atomic<uint64_t> written = 0;
  std::thread writer([&] {
    for (uint64_t n = 1; n <= 100000; ++n) {
      if (!stream->Write(Single(n, absl::StrCat("s-", n % 5)))) break;
      written = n;
    }
  });
  std::map<uint64_t, uint64_t> acknowledged;  // correlation id -> position
  v1::AppendSessionResponse answer;
  while (stream->Read(&answer)) {
    if (answer.has_ok()) {
      acknowledged[answer.correlation_id()] = answer.ok().first_position();
    } else {
      ADD_FAILURE() << answer.error().message();
    }
    if (acknowledged.size() == 500) service_->StopAppendSessions();
  }
  writer.join();  // its writes fail once the session is over
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_GE(acknowledged.size(), 500u);
  EXPECT_LT(acknowledged.size(), written.load() + 1);

  // A session begun after the stop ends at once.
  grpc::Status late;
  Run({Single(1, "s-1")}, &late);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::UNAVAILABLE);

  // Every acknowledged append is in the log after it is reopened.
  StopServer();
  OpenLog(options);
  for (const auto& [n, position] : acknowledged) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> at =
        log_->ReadAll(position, 1, eventlog::Filter{});
    ASSERT_TRUE(at.ok() && at->size() == 1u) << position;
    EXPECT_EQ((*at)[0].data, absl::StrCat(R"({"n":)", n, "}"));
  }
}

TEST_F(AppendSessionTest, ACancelledSessionEnds) {
  StartServer();
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub_->AppendSession(&context);
  ASSERT_TRUE(stream->Write(Single(1, "s-1")));
  v1::AppendSessionResponse answer;
  ASSERT_TRUE(stream->Read(&answer));
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  for (int i = 0; i < 500 && service_->active_append_sessions() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(service_->active_append_sessions(), 0u);
}

}  // namespace
}  // namespace vigil::api
