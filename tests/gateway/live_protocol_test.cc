// The live feed's protocol (gateway/internal/live_protocol.h) without a
// socket: the query of GET /v1/live, the client messages, and the bytes of
// every frame, decoded again (JSON by simdjson, protobuf by the generated
// code, SSE by its lines).

#include "gateway/internal/live_protocol.h"

#include <simdjson.h>

#include <string>
#include <vector>

#include "api/event_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vigil/v1/event_store.pb.h"

namespace vigil::gateway::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

eventlog::RecordedEvent SampleEvent() {
  eventlog::RecordedEvent event;
  event.event_id = "0d1c5e2a-7b5e-4c43-9a55-5b3f2b1a0c9d";
  event.stream = "agent-7";
  event.revision = 2;
  event.position = 41;
  event.type = "ToolCalled";
  event.data = R"({"tool":"grep","quote":"a \"b\""})";
  event.content_type = "application/json";
  event.metadata = R"({"trace":"t1"})";
  event.recorded_time_us = 1767323045000000;
  event.hash = std::string(32, '\x01');
  return event;
}

// ---------------------------------------------------------------------------
// ParseLiveQuery

TEST(ParseLiveQueryTest, EmptyQueryIsFromNowUnfiltered) {
  absl::StatusOr<LiveQuery> query = ParseLiveQuery("");
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_FALSE(query->from.has_value());
  EXPECT_FALSE(query->from_time_us.has_value());
  EXPECT_TRUE(query->filter.Empty());
  EXPECT_FALSE(query->token.has_value());
}

TEST(ParseLiveQueryTest, ReadsEveryParameter) {
  absl::StatusOr<LiveQuery> query = ParseLiveQuery(
      "from=17&streams=agent-,run%2D&types=A,B&token=s%3Dcret");
  ASSERT_TRUE(query.ok()) << query.status();
  EXPECT_EQ(query->from, 17u);
  EXPECT_THAT(query->filter.stream_prefixes, ElementsAre("agent-", "run-"));
  EXPECT_THAT(query->filter.event_types, ElementsAre("A", "B"));
  EXPECT_EQ(query->token, "s=cret");
}

TEST(ParseLiveQueryTest, FromTimeIsRfc3339AndPlusStaysLiteral) {
  absl::StatusOr<LiveQuery> utc = ParseLiveQuery("from_time=2026-01-02T03:04:05Z");
  ASSERT_TRUE(utc.ok()) << utc.status();
  EXPECT_EQ(utc->from_time_us, 1767323045000000);
  // "+" stays itself in a time (api/query_string.h): an offset works
  // unencoded.
  absl::StatusOr<LiveQuery> offset =
      ParseLiveQuery("from_time=2026-01-02T05:04:05+02:00");
  ASSERT_TRUE(offset.ok()) << offset.status();
  EXPECT_EQ(offset->from_time_us, utc->from_time_us);
}

TEST(ParseLiveQueryTest, RefusesWhatIsMalformedOrRepeated) {
  for (const char* bad :
       {"from=-1", "from=x", "from=1&from=2", "from_time=yesterday",
        "from=1&from_time=2026-01-02T03:04:05Z", "streams=a&streams=b",
        "types=a,,b", "token=a&token=b", "color=red", "from=%zz"}) {
    absl::StatusOr<LiveQuery> query = ParseLiveQuery(bad);
    EXPECT_EQ(query.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseLiveQueryTest, ErrorsNeverContainTheToken) {
  for (const char* bad : {"token=hunter2&token=hunter2", "token=hunter2%z"}) {
    absl::StatusOr<LiveQuery> query = ParseLiveQuery(bad);
    ASSERT_FALSE(query.ok()) << bad;
    EXPECT_THAT(std::string(query.status().message()),
                Not(HasSubstr("hunter2")));
  }
}

TEST(ParseLiveQueryTest, FilterListsAreBounded) {
  std::string many = "streams=";
  for (size_t i = 0; i <= kMaxFilterEntries; ++i) many += "s,";
  many.pop_back();
  EXPECT_FALSE(ParseLiveQuery(many).ok());
  EXPECT_TRUE(ParseLiveQuery("types=" +
                             std::string(kMaxFilterEntryBytes, 't'))
                  .ok());
  EXPECT_FALSE(ParseLiveQuery("types=" +
                              std::string(kMaxFilterEntryBytes + 1, 't'))
                   .ok());
}

// ---------------------------------------------------------------------------
// ParseClientMessage

TEST(ParseClientMessageTest, Ping) {
  absl::StatusOr<ClientMessage> message = ParseClientMessage(R"({"op":"ping"})");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->op, ClientMessage::Op::kPing);
}

TEST(ParseClientMessageTest, Filter) {
  absl::StatusOr<ClientMessage> message = ParseClientMessage(
      R"({"streams":["agent-"],"op":"filter","types":["A","B"]})");
  ASSERT_TRUE(message.ok()) << message.status();
  EXPECT_EQ(message->op, ClientMessage::Op::kFilter);
  EXPECT_THAT(message->filter.stream_prefixes, ElementsAre("agent-"));
  EXPECT_THAT(message->filter.event_types, ElementsAre("A", "B"));

  absl::StatusOr<ClientMessage> clear = ParseClientMessage(R"({"op":"filter"})");
  ASSERT_TRUE(clear.ok()) << clear.status();
  EXPECT_TRUE(clear->filter.Empty());
}

TEST(ParseClientMessageTest, ErrorsSayWhatIsExpected) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"ping", "messages must be JSON objects"},
           {"[1]", "messages must be JSON objects"},
           {R"({"op":1})", "\"op\" (a string) is required"},
           {R"({"op":"dance"})", "unknown op \"dance\" (expected ping or filter)"},
           {R"({"op":"filter","colors":[]})",
            "unknown field \"colors\" (expected op, streams, types)"},
           {R"({"op":"filter","types":"A"})", "types must be an array of strings"},
           {R"({"op":"filter","streams":[1]})",
            "streams must be an array of strings"},
           {R"({"op":"filter","types":[""]})", "types: entries must be 1 to"},
       }) {
    absl::StatusOr<ClientMessage> message = ParseClientMessage(c.text);
    ASSERT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument)
        << c.text;
    EXPECT_THAT(std::string(message.status().message()), HasSubstr(c.message))
        << c.text;
  }
}

// ---------------------------------------------------------------------------
// Frames

TEST(LiveFramesTest, ControlJson) {
  EXPECT_EQ(PositionJson("caught_up", 12),
            R"({"kind":"caught_up","position":12})");
  EXPECT_EQ(ErrorJson("bad \"x\"\n"),
            R"({"kind":"error","message":"bad \"x\"\n"})");
  EXPECT_STREQ(kPongJson, R"({"kind":"pong"})");
}

TEST(LiveFramesTest, SseRecords) {
  EXPECT_EQ(SseRecord("", 0, "{}"), "data: {}\n\n");
  EXPECT_EQ(SseRecord("checkpoint", 9, "{}"),
            "id: 9\nevent: checkpoint\ndata: {}\n\n");
  EXPECT_EQ(SseRecord("", 9, "{}"), "id: 9\ndata: {}\n\n");
}

TEST(LiveFramesTest, ControlFramesInEachFormat) {
  for (LiveFormat format : {LiveFormat::kJson, LiveFormat::kProtobuf}) {
    LiveFrame frame = ControlFrame(format, "checkpoint", 5);
    EXPECT_EQ(*frame.payload, R"({"kind":"checkpoint","position":5})");
    EXPECT_FALSE(frame.binary);
    EXPECT_EQ(frame.position, 0u);
    EXPECT_EQ(*FilterAckFrame(format, 5).payload,
              R"({"kind":"filter","position":5})");
    EXPECT_EQ(*ReplyFrame(format, kPongJson).payload, kPongJson);
  }
  EXPECT_EQ(*ControlFrame(LiveFormat::kSse, "caught_up", 5).payload,
            "id: 5\nevent: caught_up\n"
            "data: {\"kind\":\"caught_up\",\"position\":5}\n\n");
  EXPECT_EQ(*FilterAckFrame(LiveFormat::kSse, 5).payload,
            "event: filter\ndata: {\"kind\":\"filter\",\"position\":5}\n\n");
  EXPECT_EQ(*ReplyFrame(LiveFormat::kSse, ErrorJson("no")).payload,
            "event: error\ndata: {\"kind\":\"error\",\"message\":\"no\"}\n\n");
}

TEST(LiveFramesTest, IsCaughtUpFrame) {
  EXPECT_TRUE(IsCaughtUpFrame(ControlFrame(LiveFormat::kJson, "caught_up", 3)));
  EXPECT_TRUE(IsCaughtUpFrame(ControlFrame(LiveFormat::kSse, "caught_up", 3)));
  EXPECT_FALSE(
      IsCaughtUpFrame(ControlFrame(LiveFormat::kJson, "checkpoint", 3)));
  // An event whose data says "caught_up" is an event.
  eventlog::RecordedEvent event = SampleEvent();
  event.data = R"({"caught_up":true})";
  EXPECT_FALSE(IsCaughtUpFrame(EventFrame(event, LiveFormat::kJson)));
}

// Decodes `json`, an event frame's JSON, and checks it against `event`.
void ExpectEventJson(const std::string& json,
                     const eventlog::RecordedEvent& event) {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  ASSERT_EQ(parser.parse(json).get(object), simdjson::SUCCESS) << json;
  std::string_view kind, stream, type, tool;
  uint64_t position = 0, revision = 0;
  ASSERT_EQ(object["kind"].get(kind), simdjson::SUCCESS);
  ASSERT_EQ(object["stream"].get(stream), simdjson::SUCCESS);
  ASSERT_EQ(object["type"].get(type), simdjson::SUCCESS);
  ASSERT_EQ(object["position"].get(position), simdjson::SUCCESS);
  ASSERT_EQ(object["revision"].get(revision), simdjson::SUCCESS);
  ASSERT_EQ(object["data"]["tool"].get(tool), simdjson::SUCCESS);
  EXPECT_EQ(kind, "event");
  EXPECT_EQ(stream, event.stream);
  EXPECT_EQ(type, event.type);
  EXPECT_EQ(position, event.position);
  EXPECT_EQ(revision, event.revision);
  EXPECT_EQ(tool, "grep");
}

TEST(LiveFramesTest, JsonEventRoundTrip) {
  const eventlog::RecordedEvent event = SampleEvent();
  LiveFrame frame = EventFrame(event, LiveFormat::kJson);
  EXPECT_FALSE(frame.binary);
  EXPECT_EQ(frame.position, 41u);
  EXPECT_EQ(*frame.payload, EventJson(event));
  ExpectEventJson(*frame.payload, event);
}

TEST(LiveFramesTest, ProtobufEventRoundTrip) {
  const eventlog::RecordedEvent event = SampleEvent();
  LiveFrame frame = EventFrame(event, LiveFormat::kProtobuf);
  EXPECT_TRUE(frame.binary);
  EXPECT_EQ(frame.position, 41u);
  EXPECT_EQ(*frame.payload, EventProtobuf(event));
  vigil::v1::RecordedEvent proto;
  ASSERT_TRUE(proto.ParseFromString(*frame.payload));
  EXPECT_EQ(api::FromProto(proto), event);
}

TEST(LiveFramesTest, SseEventRoundTrip) {
  const eventlog::RecordedEvent event = SampleEvent();
  LiveFrame frame = EventFrame(event, LiveFormat::kSse);
  EXPECT_FALSE(frame.binary);
  EXPECT_EQ(frame.position, 41u);
  // One record: the id (for Last-Event-ID), no event name, the JSON frame
  // as its one data line.
  const std::string prefix = "id: 41\ndata: ";
  const std::string& record = *frame.payload;
  ASSERT_EQ(record.substr(0, prefix.size()), prefix);
  ASSERT_EQ(record.substr(record.size() - 2), "\n\n");
  const std::string data =
      record.substr(prefix.size(), record.size() - prefix.size() - 2);
  EXPECT_EQ(data.find('\n'), std::string::npos);
  ExpectEventJson(data, event);
}

// RFC 6455 5.2, server to client (no mask): FIN and the opcode, then the
// length in 7 bits, or 126 and 16 bits, or 127 and 64 bits, big-endian.
TEST(LiveFramesTest, WebSocketFrameHeaders) {
  struct Case {
    size_t payload;
    bool binary;
    std::vector<uint8_t> header;
  };
  const std::vector<Case> cases = {
      {0, false, {0x81, 0}},
      {125, false, {0x81, 125}},
      {126, false, {0x81, 126, 0, 126}},
      {300, true, {0x82, 126, 0x01, 0x2C}},
      {65535, false, {0x81, 126, 0xFF, 0xFF}},
      {65536, false, {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
      {(size_t{1} << 32) + 5, true, {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 5}},
  };
  for (const Case& c : cases) {
    uint8_t header[kMaxWebSocketHeaderBytes];
    const size_t size = WebSocketFrameHeader(c.payload, c.binary, header);
    EXPECT_EQ(std::vector<uint8_t>(header, header + size), c.header)
        << c.payload;
  }
}

TEST(LiveFramesTest, ClientFrameHeaderSizes) {
  // Second byte: mask bit and 7-bit length (126: 16-bit, 127: 64-bit).
  EXPECT_EQ(WebSocketHeaderBytes(0x05), 2u);
  EXPECT_EQ(WebSocketHeaderBytes(0x85), 6u);
  EXPECT_EQ(WebSocketHeaderBytes(0xfe), 8u);
  EXPECT_EQ(WebSocketHeaderBytes(0xff), 14u);
  const uint8_t small[] = {0x81, 0x85};
  EXPECT_EQ(WebSocketPayloadBytes(small), 5u);
  const uint8_t medium[] = {0x81, 0xfe, 0x01, 0x00};
  EXPECT_EQ(WebSocketPayloadBytes(medium), 256u);
  const uint8_t large[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0};
  EXPECT_EQ(WebSocketPayloadBytes(large), 65536u);
}

TEST(LiveFramesTest, ClientControlFramesAreScanned) {
  // A masked ping "hi" (key 1 2 3 4), then a pong with no payload.
  const std::string ping("\x89\x82\x01\x02\x03\x04" "\x69\x6b", 8);
  ClientControlFrame frame;
  ASSERT_EQ(ScanClientControlFrame(ping, &frame), ControlScan::kFrame);
  EXPECT_TRUE(frame.ping);
  EXPECT_EQ(frame.frame_bytes, 8u);
  EXPECT_EQ(frame.payload, "hi");
  const std::string pong("\x8a\x80\0\0\0\0", 6);
  ASSERT_EQ(ScanClientControlFrame(pong + "more", &frame), ControlScan::kFrame);
  EXPECT_FALSE(frame.ping);
  EXPECT_EQ(frame.frame_bytes, 6u);
  EXPECT_EQ(frame.payload, "");
  for (size_t size = 0; size < ping.size(); ++size) {
    EXPECT_EQ(ScanClientControlFrame(ping.substr(0, size), &frame),
              ControlScan::kPartial)
        << size;
  }
  // Left to Beast: data frames, a close, and pings that break RFC 6455.
  for (const std::string& other :
       {std::string("\x81\x80\0\0\0\0", 6), std::string("\x88\x80\0\0\0\0", 6),
        std::string("\x89\x00", 2),                // unmasked
        std::string("\x09\x80\0\0\0\0", 6),        // not final
        std::string("\xc9\x80\0\0\0\0", 6),        // reserved bit
        std::string("\x89\xfe\0\x7e\0\0\0\0", 8)}) {  // over 125 bytes
    EXPECT_EQ(ScanClientControlFrame(other, &frame), ControlScan::kOther);
  }
}

}  // namespace
}  // namespace vigil::gateway::internal
