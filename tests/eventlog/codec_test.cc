// Records prepared on the appending thread and completed by the writer are
// byte for byte the records FORMAT.md defines (EncodeRecord).

#include "eventlog/internal/codec.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil::eventlog::internal {
namespace {

TEST(CodecTest, PreparedThenCompletedRecordEqualsTheEncodedRecord) {
  const std::string previous_hash(kHashBytes, '\x5a');
  for (const std::string& metadata : {std::string(), std::string(R"({"k":1})")}) {
    EventData data;
    data.event_id = "0190f5a2-7b1c-7d3e-8f40-123456789abc";
    data.type = "TaskProgress";
    data.data = R"({"task_id":"t-1","pct":40})";
    data.content_type = "application/json";
    data.metadata = metadata;
    RecordedEvent event;
    event.event_id = data.event_id;
    event.stream = "task-t-1";
    event.revision = 41;
    event.position = 0x0102030405060708;
    event.type = data.type;
    event.data = data.data;
    event.content_type = data.content_type;
    event.metadata = data.metadata;
    event.recorded_time_us = -5;  // any bit pattern
    event.hash = ChainHash(previous_hash, CanonicalBytes(event));

    // The id and content type given to PrepareRecord win over the event's.
    EventData as_sent = data;
    as_sent.event_id = "0190F5A2-7B1C-7D3E-8F40-123456789ABC";
    as_sent.content_type.clear();
    std::string record = PrepareRecord(event.stream, data.event_id,
                                       data.content_type, as_sent);
    std::string hash = previous_hash;
    CompleteRecord(event.position, event.revision, event.recorded_time_us,
                   &record, &hash);
    EXPECT_EQ(record, EncodeRecord(event));
    EXPECT_EQ(hash, event.hash);
    std::optional<RecordedEvent> decoded = DecodeRecord(record);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, event);
  }
}

TEST(CodecTest, RevisionRangesRoundTripAndReadPerEventEntries) {
  const std::string prefix = RevisionKeyPrefix("task-1");
  // One append of 100 events: 16 bytes.
  const std::string many = EncodeRevisionRange(501, 100);
  EXPECT_EQ(many.size(), 16u);
  auto range = DecodeRevisionRange(prefix, RevisionKey("task-1", 7), many);
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(range->first_revision, 7u);
  EXPECT_EQ(range->last_revision(), 106u);
  EXPECT_EQ(range->last_position(), 600u);
  EXPECT_TRUE(range->Contains(7));
  EXPECT_TRUE(range->Contains(106));
  EXPECT_FALSE(range->Contains(6));
  EXPECT_FALSE(range->Contains(107));
  EXPECT_EQ(range->PositionOf(50), 544u);
  // One event: 8 bytes, the layout of logs written before ranges.
  const std::string one = EncodeRevisionRange(42, 1);
  EXPECT_EQ(one.size(), 8u);
  range = DecodeRevisionRange(prefix, RevisionKey("task-1", 3), one);
  ASSERT_TRUE(range.has_value());
  EXPECT_EQ(range->count, 1u);
  EXPECT_EQ(range->PositionOf(3), 42u);
  // Another stream's key, a damaged value, a 16-byte value of one event.
  EXPECT_FALSE(DecodeRevisionRange(prefix, RevisionKey("task-10", 3), one));
  EXPECT_FALSE(DecodeRevisionRange(prefix, RevisionKey("task-1", 3), "1234"));
  std::string single_as_range = one;
  PutBigEndian64(&single_as_range, 1);
  EXPECT_FALSE(DecodeRevisionRange(prefix, RevisionKey("task-1", 3),
                                   single_as_range));
  EXPECT_FALSE(DecodeRevisionRange(prefix, RevisionKey("task-1", 3),
                                   EncodeRevisionRange(0, 1)));
}

}  // namespace
}  // namespace vigil::eventlog::internal
