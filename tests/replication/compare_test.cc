// replication::CompareStreamWithLog (`vigil mirror-check`) on a real
// three-node NATS cluster (tools/cluster), with no vigild: a stream
// published by hand from a log of 700 events, read back through the
// batched consumer (several batches of 256), is equal to it; then the
// stream is given each kind of problem the comparison counts (a deleted
// message, a message holding another position, one whose data differs, a
// deleted last message) and each is counted once, at its sequence.
// Also the reader of the stream that the standby and the gateway replica
// share (replication/internal/stream_reader.h): deliveries its consumer
// lost (taken by another fetch here, as when a fetch's answer is lost with
// a NATS node) make it start again, not stop; a real gap stops it.
// Skipped when nats-server is not installed.

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "replication/compare.h"
#include "replication/internal/jetstream.h"
#include "replication/internal/stream_reader.h"
#include "tests/replication/replication_testing.h"

namespace vigil {
namespace {

using testing::PublishForeign;
using testing::RawJetStream;

constexpr char kStream[] = "VIGIL";
constexpr char kSubject[] = "vigil.work";

class CompareTest : public testing::ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    // As the mirror creates it (JetStream::EnsureStream), but with deletes
    // allowed: the mirror's stream denies them, another's may not.
    raw_ = std::make_unique<RawJetStream>(cluster_->url());
    ASSERT_NE(raw_->js, nullptr);
    const char* subjects[] = {"vigil.>"};
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = kStream;
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_FileStorage;
    config.Replicas = 3;
    jsStreamInfo* info = nullptr;
    jsErrCode code{};
    ASSERT_EQ(js_AddStream(&info, raw_->js, &config, nullptr, &code), NATS_OK)
        << code;
    jsStreamInfo_Destroy(info);
  }

  void AppendEvents(int count) {
    for (int i = 0; i < count; ++i) {
      ASSERT_TRUE(log_->Append({.stream = "work",
                                .events = {{.type = "Noted",
                                            .data = absl::StrCat(R"({"i":)", i,
                                                                 "}")}}})
                      .ok());
    }
  }

  eventlog::RecordedEvent EventAt(uint64_t position) {
    auto events = log_->ReadAll(position, 1, {});
    EXPECT_TRUE(events.ok() && events->size() == 1);
    return events.ok() && !events->empty() ? (*events)[0]
                                           : eventlog::RecordedEvent{};
  }

  absl::StatusOr<replication::StreamComparison> Compare() {
    return testing::CompareWhenAvailable({.nats_url = cluster_->url()}, *log_);
  }

  std::unique_ptr<RawJetStream> raw_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_F(CompareTest, CountsEachProblemAtItsSequence) {
  AppendEvents(700);
  RawJetStream& raw = *raw_;
  for (uint64_t position = 1; position <= 700; ++position) {
    ASSERT_EQ(PublishForeign(raw, kSubject, EventAt(position)), position);
  }
  absl::StatusOr<replication::StreamComparison> equal = Compare();
  ASSERT_TRUE(equal.ok()) << equal.status();
  EXPECT_TRUE(equal->Equal()) << equal->first_problem;
  EXPECT_EQ(equal->compared, 700u);
  EXPECT_EQ(equal->mirrored, 700u);
  EXPECT_EQ(equal->first_problem, "");

  // The log goes on to 705. Sequence 701 holds position 5 again, 702 the
  // log's 702 with other data; 300 is deleted.
  AppendEvents(5);
  ASSERT_EQ(PublishForeign(raw, kSubject, EventAt(5)), 701u);
  eventlog::RecordedEvent altered = EventAt(702);
  altered.data = R"({"i":"altered"})";
  ASSERT_EQ(PublishForeign(raw, kSubject, altered), 702u);
  jsErrCode code{};
  ASSERT_EQ(js_DeleteMsg(raw.js, kStream, 300, nullptr, &code), NATS_OK)
      << code;
  absl::StatusOr<replication::StreamComparison> differs = Compare();
  ASSERT_TRUE(differs.ok()) << differs.status();
  EXPECT_FALSE(differs->Equal());
  EXPECT_EQ(differs->log_head, 705u);
  EXPECT_EQ(differs->stream_last, 702u);
  EXPECT_EQ(differs->compared, 702u);
  EXPECT_EQ(differs->mirrored, 699u);
  EXPECT_EQ(differs->gaps, 1u);
  EXPECT_EQ(differs->duplicates, 1u);
  EXPECT_EQ(differs->mismatches, 1u);
  EXPECT_EQ(differs->first_problem, "sequence 300: no message");

  // The last message deleted: the consumer has nothing past 701, and the
  // comparison still counts 702 (as a gap), without waiting for it.
  ASSERT_EQ(js_DeleteMsg(raw.js, kStream, 702, nullptr, &code), NATS_OK)
      << code;
  const absl::Time start = absl::Now();
  absl::StatusOr<replication::StreamComparison> trailing = Compare();
  ASSERT_TRUE(trailing.ok()) << trailing.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(trailing->stream_last, 702u);
  EXPECT_EQ(trailing->compared, 702u);
  EXPECT_EQ(trailing->mirrored, 699u);
  EXPECT_EQ(trailing->gaps, 2u);
  EXPECT_EQ(trailing->duplicates, 1u);
  EXPECT_EQ(trailing->mismatches, 0u);
}

TEST_F(CompareTest, AReaderPastLostDeliveriesReadsAgainAndAGapStopsIt) {
  using replication::internal::JetStream;
  using replication::internal::StreamReader;
  AppendEvents(400);
  for (uint64_t position = 1; position <= 400; ++position) {
    ASSERT_EQ(PublishForeign(*raw_, kSubject, EventAt(position)), position);
  }
  replication::internal::AckCallback no_acks = [](uint64_t,
                                                  absl::StatusOr<uint64_t>) {};
  auto js = JetStream::Connect({.url = cluster_->url(),
                                .connect_timeout = absl::Seconds(2),
                                .api_timeout = absl::Seconds(5),
                                .max_pending = 1,
                                .on_ack = &no_acks});
  ASSERT_TRUE(js.ok()) << js.status();
  auto reader = StreamReader::Start(
      js->get(), {.stream = kStream, .first = 1, .batch_events = 100});
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto first = reader->Next();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 100u);
  // 101..150 delivered elsewhere: lost to the reader.
  auto stolen = (*js)->Fetch(50, absl::Milliseconds(500));
  ASSERT_TRUE(stolen.ok()) << stolen.status();
  ASSERT_EQ(stolen->size(), 50u);
  auto past = reader->Next();
  ASSERT_FALSE(past.ok());
  EXPECT_TRUE(absl::IsUnavailable(past.status())) << past.status();
  EXPECT_EQ(reader->next(), 101u);
  // Started again where it was: everything, in order.
  uint64_t next = reader->next();
  auto again = StreamReader::Start(
      js->get(), {.stream = kStream, .first = next, .batch_events = 100});
  ASSERT_TRUE(again.ok()) << again.status();
  while (next <= 400) {
    auto batch = again->Next();
    ASSERT_TRUE(batch.ok()) << batch.status();
    for (const eventlog::RecordedEvent& event : *batch) {
      ASSERT_EQ(event.position, next++);
    }
  }

  // A real gap: no message at 300. The reader stops for good there.
  jsErrCode code{};
  ASSERT_EQ(js_DeleteMsg(raw_->js, kStream, 300, nullptr, &code), NATS_OK)
      << code;
  auto gapped = StreamReader::Start(
      js->get(), {.stream = kStream, .first = 250, .batch_events = 100});
  ASSERT_TRUE(gapped.ok()) << gapped.status();
  absl::Status stopped;
  for (int i = 0; i < 10 && stopped.ok(); ++i) {
    auto batch = gapped->Next();
    stopped = batch.status();
  }
  EXPECT_TRUE(absl::IsDataLoss(stopped)) << stopped;
  EXPECT_NE(stopped.message().find("no message at sequence 300"),
            std::string::npos)
      << stopped;
  EXPECT_EQ(gapped->next(), 300u);
}

}  // namespace
}  // namespace vigil
