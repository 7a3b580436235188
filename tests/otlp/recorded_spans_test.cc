#include "otlp/recorded_spans.h"

#include <memory>
#include <string>
#include <vector>

#include "eventlog/event_log.h"
#include "gtest/gtest.h"
#include "otlp/span_recorded.h"
#include "tests/testing/temp_dir.h"

namespace vigil::otlp {
namespace {

constexpr char kStream[] = "trace-11111111111111111111111111111111";

std::string IdOf(int n) {
  return SpanEventId(std::string(16, '\x11'), std::string(7, '\x22') + static_cast<char>(n));
}

eventlog::AppendRequest Spans(const std::string& stream, std::vector<int> spans) {
  eventlog::AppendRequest append;
  append.stream = stream;
  for (int n : spans) {
    eventlog::EventData event;
    event.event_id = IdOf(n);
    event.type = "SpanRecorded";
    event.data = "{\"n\":" + std::to_string(n) + "}";
    append.events.push_back(std::move(event));
  }
  return append;
}

class RecordedSpansTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir_.path());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
  }

  // Filters `append` through `spans`, appends what is left, tells `spans`.
  absl::StatusOr<size_t> Record(RecordedSpans& spans,
                                eventlog::AppendRequest append) {
    absl::StatusOr<size_t> removed = spans.Filter(&append);
    if (!removed.ok() || append.events.empty()) return removed;
    absl::StatusOr<eventlog::AppendResult> result = log_->Append(append);
    if (!result.ok()) {
      spans.Forget(append.stream);
      return result.status();
    }
    std::vector<std::string> ids;
    for (const auto& event : append.events) ids.push_back(event.event_id);
    spans.Recorded(append.stream, ids, *result);
    return removed;
  }

  size_t Count(const std::string& stream) {
    auto events = log_->ReadStream(stream, 0, 1000, false);
    return events.ok() ? events->size() : 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<eventlog::EventLog> log_;
};

TEST_F(RecordedSpansTest, FiltersWhatTheStreamHolds) {
  RecordedSpans spans(log_.get());
  eventlog::AppendRequest first = Spans(kStream, {1, 2, 3});
  ASSERT_TRUE(spans.Filter(&first).ok());
  EXPECT_EQ(first.expected_revision, eventlog::ExpectedRevision::NoStream());
  EXPECT_EQ(*Record(spans, Spans(kStream, {1, 2, 3})), 0u);
  EXPECT_EQ(*Record(spans, Spans(kStream, {2, 3, 4})), 2u);
  EXPECT_EQ(Count(kStream), 4u);
  eventlog::AppendRequest next = Spans(kStream, {4, 5});
  ASSERT_EQ(*spans.Filter(&next), 1u);
  EXPECT_EQ(next.expected_revision, eventlog::ExpectedRevision::Exact(3));
  ASSERT_EQ(next.events.size(), 1u);
  EXPECT_EQ(next.events[0].event_id, IdOf(5));
}

TEST_F(RecordedSpansTest, AStaleEntryCannotRecordASpanTwice) {
  RecordedSpans spans(log_.get());
  ASSERT_TRUE(Record(spans, Spans(kStream, {1})).ok());
  // Another writer (another server, or an append this cache never saw).
  ASSERT_TRUE(log_->Append(Spans(kStream, {2})).ok());
  // The entry still says revision 0: the append is refused, not doubled.
  EXPECT_TRUE(absl::IsAborted(Record(spans, Spans(kStream, {2, 3})).status()));
  // Forgotten, so read again: span 2 is seen, span 3 appended.
  EXPECT_EQ(*Record(spans, Spans(kStream, {2, 3})), 1u);
  EXPECT_EQ(Count(kStream), 3u);
}

// The control run: without the filter the same spans are appended twice,
// which is what the tests above would catch.
TEST_F(RecordedSpansTest, ControlWithoutTheFilterSpansAreDoubled) {
  ASSERT_TRUE(log_->Append(Spans(kStream, {1, 2})).ok());
  ASSERT_TRUE(log_->Append(Spans(kStream, {1, 2})).ok());
  EXPECT_EQ(Count(kStream), 4u);
}

TEST_F(RecordedSpansTest, StaysWithinItsBoundAndReadsEvictedTracesAgain) {
  RecordedSpans spans(log_.get(), /*max_span_ids=*/10);
  for (int t = 0; t < 8; ++t) {
    const std::string stream = "trace-" + std::string(31, 'a') + std::to_string(t);
    ASSERT_TRUE(Record(spans, Spans(stream, {1, 2, 3})).ok());
    EXPECT_LE(spans.span_ids(), 10u);
  }
  // The first trace was evicted long ago: read from the log again.
  const std::string first = "trace-" + std::string(31, 'a') + "0";
  EXPECT_EQ(*Record(spans, Spans(first, {1, 2, 3, 4})), 3u);
  EXPECT_EQ(Count(first), 4u);
  EXPECT_LE(spans.span_ids(), 10u);
}

TEST_F(RecordedSpansTest, LongTracesAreReadInPages) {
  // 1,300 events in the stream (pages of 1,000 when read).
  for (int round = 0; round < 13; ++round) {
    eventlog::AppendRequest append = Spans(kStream, {});
    for (int n = 0; n < 100; ++n) {
      eventlog::EventData event;
      event.event_id = SpanEventId(std::string(16, '\x33'),
                                   std::string(6, '\x44') + static_cast<char>(round) +
                                       static_cast<char>(n));
      event.type = "SpanRecorded";
      event.data = "{}";
      append.events.push_back(std::move(event));
    }
    ASSERT_TRUE(log_->Append(append).ok());
  }
  RecordedSpans spans(log_.get());
  eventlog::AppendRequest again = Spans(kStream, {});
  eventlog::EventData last;
  last.event_id = SpanEventId(std::string(16, '\x33'),
                              std::string(6, '\x44') + static_cast<char>(12) +
                                  static_cast<char>(99));
  last.type = "SpanRecorded";
  last.data = "{}";
  again.events.push_back(last);
  EXPECT_EQ(*spans.Filter(&again), 1u);
  EXPECT_EQ(again.expected_revision, eventlog::ExpectedRevision::Exact(1299));
  EXPECT_EQ(spans.span_ids(), 1300u);
}

}  // namespace
}  // namespace vigil::otlp
