// Subscribe over a real gRPC channel on 127.0.0.1: history then live with
// no gap or duplicate, filters and checkpoints, from_time_us, a subscriber
// that stops reading, and shutdown.

#include <atomic>
#include <set>
#include <thread>

#include "api/subscription.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/temp_dir.h"
#include "vigil/v1/event_store.grpc.pb.h"

namespace vigil::api {
namespace {

using eventlog::AppendRequest;
using eventlog::EventData;

// Serves only Subscribe: the subscription hub is what is under test.
class SubscribeOnly final : public vigil::v1::EventStore::CallbackService {
 public:
  explicit SubscribeOnly(SubscriptionHub* hub) : hub_(hub) {}
  grpc::ServerWriteReactor<vigil::v1::SubscribeResponse>* Subscribe(
      grpc::CallbackServerContext* context,
      const vigil::v1::SubscribeRequest* request) override {
    return hub_->Start(context, request);
  }

 private:
  SubscriptionHub* hub_;
};

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(SubscriptionOptions{}); }

  void Start(SubscriptionOptions options) {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    hub_ = std::make_unique<SubscriptionHub>(log_.get(), options, &metrics_);
    service_ = std::make_unique<SubscribeOnly>(hub_.get());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
    stub_ = vigil::v1::EventStore::NewStub(channel_);
  }

  void TearDown() override {
    if (hub_) hub_->Stop();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() +
                                   std::chrono::seconds(5));
    hub_.reset();
    server_.reset();
    log_.reset();
  }

  void Append(const std::string& stream, const std::string& type, int count) {
    AppendRequest request{.stream = stream};
    for (int i = 0; i < count; ++i) {
      request.events.push_back(EventData{.type = type, .data = "{}"});
    }
    ASSERT_TRUE(log_->Append(request).ok());
  }

  vigil::testing::TempDir dir_;
  base::Metrics metrics_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<SubscriptionHub> hub_;
  std::unique_ptr<SubscribeOnly> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<vigil::v1::EventStore::Stub> stub_;
};

// Reads responses until `done` says so or the stream ends.
struct Received {
  std::vector<uint64_t> positions;
  std::vector<uint64_t> checkpoints;
  int caught_up = 0;
  uint64_t caught_up_at = 0;
};

Received ReadUntil(grpc::ClientReader<vigil::v1::SubscribeResponse>* reader,
                   const std::function<bool(const Received&)>& done) {
  Received received;
  vigil::v1::SubscribeResponse response;
  while (!done(received) && reader->Read(&response)) {
    switch (response.kind_case()) {
      case vigil::v1::SubscribeResponse::kEvent:
        received.positions.push_back(response.event().position());
        break;
      case vigil::v1::SubscribeResponse::kCheckpoint:
        received.checkpoints.push_back(response.checkpoint());
        break;
      case vigil::v1::SubscribeResponse::kCaughtUp:
        ++received.caught_up;
        received.caught_up_at = response.caught_up();
        break;
      default:
        break;
    }
  }
  return received;
}

TEST_F(SubscriptionTest, HistoryThenLiveWithSixteenWritersNoGapNoDuplicate) {
  Append("before", "E", 300);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  vigil::v1::SubscribeRequest request;  // from_position 0: everything
  auto reader = stub_->Subscribe(&context, request);

  constexpr int kWriters = 16;
  constexpr int kAppendsPerWriter = 40;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([this, w] {
      for (int i = 0; i < kAppendsPerWriter; ++i) {
        Append("writer-" + std::to_string(w), "E", 1 + i % 3);
      }
    });
  }
  for (auto& writer : writers) writer.join();
  const uint64_t head = log_->HeadPosition();
  Received received = ReadUntil(reader.get(), [&](const Received& r) {
    return !r.positions.empty() && r.positions.back() >= head;
  });
  ASSERT_EQ(received.positions.size(), head);
  for (uint64_t i = 0; i < head; ++i) {
    ASSERT_EQ(received.positions[i], i + 1) << "gap or duplicate at " << i;
  }
  EXPECT_LE(received.caught_up, 1);
  context.TryCancel();
}

TEST_F(SubscriptionTest, FromPositionResumesAfterItAndSaysCaughtUpOnce) {
  Append("s", "E", 10);
  grpc::ClientContext context;
  vigil::v1::SubscribeRequest request;
  request.set_from_position(7);
  auto reader = stub_->Subscribe(&context, request);
  Received received = ReadUntil(
      reader.get(), [](const Received& r) { return r.caught_up > 0; });
  EXPECT_EQ(received.positions, (std::vector<uint64_t>{8, 9, 10}));
  EXPECT_EQ(received.caught_up_at, 10u);
  Append("s", "E", 2);  // live now
  Received live = ReadUntil(
      reader.get(), [](const Received& r) { return r.positions.size() == 2; });
  EXPECT_EQ(live.positions, (std::vector<uint64_t>{11, 12}));
  EXPECT_EQ(live.caught_up, 0);
  context.TryCancel();
}

TEST_F(SubscriptionTest, FilterSkipsAndCheckpointsAtLeastEverySecond) {
  Append("agent-1", "AgentHeartbeat", 5);
  Append("task-1", "TaskCreated", 2);
  grpc::ClientContext context;
  vigil::v1::SubscribeRequest request;
  request.mutable_filter()->add_event_types("TaskCreated");
  auto reader = stub_->Subscribe(&context, request);
  Received first = ReadUntil(
      reader.get(), [](const Received& r) { return r.caught_up > 0; });
  EXPECT_EQ(first.positions, (std::vector<uint64_t>{6, 7}));

  // Only skipped events for 2.5 s: checkpoints must keep coming.
  std::atomic<bool> stop{false};
  std::thread heartbeats([&] {
    while (!stop) {
      Append("agent-1", "AgentHeartbeat", 1);
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  const absl::Time start = absl::Now();
  Received skipped = ReadUntil(reader.get(), [&](const Received& r) {
    return r.checkpoints.size() >= 2 || absl::Now() - start > absl::Seconds(10);
  });
  stop = true;
  heartbeats.join();
  EXPECT_TRUE(skipped.positions.empty());
  ASSERT_GE(skipped.checkpoints.size(), 2u);
  EXPECT_LT(skipped.checkpoints[0], skipped.checkpoints[1]);
  EXPECT_LE(absl::Now() - start, absl::Seconds(4));
  context.TryCancel();
}

TEST_F(SubscriptionTest, FromTimeStartsAtTheFirstEventRecordedThen) {
  Append("s", "Old", 3);
  absl::SleepFor(absl::Milliseconds(5));
  const int64_t from = absl::ToUnixMicros(absl::Now());
  absl::SleepFor(absl::Milliseconds(5));
  Append("s", "New", 2);
  grpc::ClientContext context;
  vigil::v1::SubscribeRequest request;
  request.set_from_time_us(from);
  auto reader = stub_->Subscribe(&context, request);
  Received received = ReadUntil(
      reader.get(), [](const Received& r) { return r.caught_up > 0; });
  EXPECT_EQ(received.positions, (std::vector<uint64_t>{4, 5}));
  context.TryCancel();
}

TEST_F(SubscriptionTest, StalledSubscriberDoesNotSlowOthersAndGetsEverything) {
  grpc::ClientContext stalled_context;
  vigil::v1::SubscribeRequest request;
  auto stalled = stub_->Subscribe(&stalled_context, request);
  grpc::ClientContext live_context;
  auto live = stub_->Subscribe(&live_context, request);

  // 2,000 events of 1 KiB for a client that reads nothing (gRPC's own
  // buffers, which grow with its bandwidth probing, may hold much of it).
  const std::string data = "{\"pad\":\"" + std::string(1000, 'x') + "\"}";
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) {
      AppendRequest r{.stream = "bulk"};
      for (int e = 0; e < 10; ++e) {
        r.events.push_back(EventData{.type = "E", .data = data});
      }
      ASSERT_TRUE(log_->Append(r).ok());
    }
  });
  // The live subscriber keeps up while the other one reads nothing.
  Received kept_up = ReadUntil(live.get(), [](const Received& r) {
    return r.positions.size() == 2000;
  });
  writer.join();
  ASSERT_EQ(kept_up.positions.size(), 2000u);

  // Appends were not held back either: 200 more go through at once.
  const absl::Time start = absl::Now();
  Append("more", "E", 200);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));

  EXPECT_NE(metrics_.Render().find("vigil_subscriptions 2"), std::string::npos)
      << metrics_.Render();

  // Now the stalled one reads: everything, in order, nothing lost.
  Received late = ReadUntil(stalled.get(), [](const Received& r) {
    return r.positions.size() == 2001;
  });
  ASSERT_EQ(late.positions.size(), 2001u);
  for (uint64_t i = 0; i < late.positions.size(); ++i) {
    ASSERT_EQ(late.positions[i], i + 1);
  }

  stalled_context.TryCancel();
  live_context.TryCancel();
}

TEST_F(SubscriptionTest, FallingMoreThanAPageBehindIsAFallback) {
  grpc::ClientContext context;
  vigil::v1::SubscribeRequest request;
  auto reader = stub_->Subscribe(&context, request);
  ReadUntil(reader.get(), [](const Received& r) { return r.caught_up > 0; });
  EXPECT_NE(metrics_.Render().find("vigil_subscription_fallbacks_total 0"),
            std::string::npos);
  Append("burst", "E", 600);  // more than a page (256) past the live cursor
  Received received = ReadUntil(
      reader.get(), [](const Received& r) { return r.positions.size() == 600; });
  ASSERT_EQ(received.positions.size(), 600u);
  EXPECT_NE(metrics_.Render().find("vigil_subscription_fallbacks_total 1"),
            std::string::npos)
      << metrics_.Render();
  context.TryCancel();
}

TEST_F(SubscriptionTest, StopEndsSubscriptionsWithUnavailable) {
  grpc::ClientContext context;
  vigil::v1::SubscribeRequest request;
  auto reader = stub_->Subscribe(&context, request);
  ReadUntil(reader.get(), [](const Received& r) { return r.caught_up > 0; });
  hub_->Stop();
  vigil::v1::SubscribeResponse response;
  while (reader->Read(&response)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  // The server lets go of the call (OnDone) just after the client sees it end.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (hub_->active() != 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(hub_->active(), 0u);
}

TEST_F(SubscriptionTest, TooManySubscriptionsIsResourceExhausted) {
  TearDown();
  SubscriptionOptions options;
  options.max_subscriptions = 1;
  Start(options);
  grpc::ClientContext first_context;
  vigil::v1::SubscribeRequest request;
  auto first = stub_->Subscribe(&first_context, request);
  ReadUntil(first.get(), [](const Received& r) { return r.caught_up > 0; });
  grpc::ClientContext second_context;
  auto second = stub_->Subscribe(&second_context, request);
  vigil::v1::SubscribeResponse response;
  EXPECT_FALSE(second->Read(&response));
  EXPECT_EQ(second->Finish().error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  first_context.TryCancel();
}

}  // namespace
}  // namespace vigil::api
