#include "api/event_json.h"

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "base/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::api {
namespace {

using eventlog::EventData;
using eventlog::ExpectedRevision;
using eventlog::RecordedEvent;
using ::testing::HasSubstr;

RecordedEvent SampleEvent() {
  RecordedEvent event;
  event.event_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  event.stream = "agent-42";
  event.revision = 3;
  event.position = 17;
  event.type = "AgentHeartbeat";
  event.data = R"({"agent_id":"42","cpu_pct":12.5})";
  event.content_type = "application/json";
  event.metadata = R"({"trace_id":"t1"})";
  event.recorded_time_us = 1700000000123456;
  event.hash = std::string("\x00\x01\xab\xff", 4) + std::string(28, '\x10');
  return event;
}

// Parses `json` as a whole document; fails the test when it is not JSON.
simdjson::dom::element ParseJson(simdjson::dom::parser& parser,
                                 const std::string& json) {
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json;
  return root;
}

std::string JsonString(std::string_view value) {
  std::string out;
  base::AppendJsonString(value, &out);
  return out;
}

TEST(EventJsonTest, RecordedEventWithJsonData) {
  EXPECT_EQ(RecordedEventToJson(SampleEvent()),
            R"({"event_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",)"
            R"("stream":"agent-42","revision":3,"position":17,)"
            R"("type":"AgentHeartbeat",)"
            R"("data":{"agent_id":"42","cpu_pct":12.5},)"
            R"("content_type":"application/json",)"
            R"("metadata":{"trace_id":"t1"},)"
            R"("recorded_time_us":1700000000123456,)"
            R"("hash":"0001abff10101010101010101010101010101010101010101010)"
            R"(101010101010"})");
}

TEST(EventJsonTest, RecordedEventEmptyMetadataAndContentType) {
  RecordedEvent event = SampleEvent();
  event.metadata.clear();
  event.content_type.clear();
  simdjson::dom::parser parser;
  simdjson::dom::element root = ParseJson(parser, RecordedEventToJson(event));
  EXPECT_EQ(simdjson::to_string(root["metadata"]), "{}");
  EXPECT_EQ(std::string_view(root["content_type"]), "application/json");
  EXPECT_EQ(simdjson::to_string(root["data"]), event.data);
}

TEST(EventJsonTest, RecordedEventWithBinaryDataIsBase64) {
  RecordedEvent event = SampleEvent();
  event.content_type = "application/octet-stream";
  event.data = std::string("\x00\xff\x7f\"{", 5);
  const std::string json = RecordedEventToJson(event);
  simdjson::dom::parser parser;
  simdjson::dom::element root = ParseJson(parser, json);
  EXPECT_EQ(root["data"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(std::string_view(root["data_base64"]), "AP9/Ins=");
  EXPECT_EQ(std::string_view(root["content_type"]), "application/octet-stream");
  EXPECT_EQ(uint64_t(root["position"]), 17u);
  EXPECT_EQ(uint64_t(root["revision"]), 3u);
  EXPECT_EQ(int64_t(root["recorded_time_us"]), 1700000000123456);
}

TEST(EventJsonTest, RecordedEventEmptyBinaryData) {
  RecordedEvent event = SampleEvent();
  event.content_type = "text/plain";
  event.data.clear();
  EXPECT_THAT(RecordedEventToJson(event), HasSubstr(R"("data_base64":"",)"));
}

TEST(EventJsonTest, RecordedEventEscapesStrings) {
  RecordedEvent event = SampleEvent();
  event.stream = "a\"b\\c";
  event.content_type = "text/plain; charset=\"utf-8\"\n";
  const std::string json = RecordedEventToJson(event);
  EXPECT_THAT(json, HasSubstr(R"("stream":"a\"b\\c")"));
  simdjson::dom::parser parser;
  simdjson::dom::element root = ParseJson(parser, json);
  EXPECT_EQ(std::string_view(root["stream"]), event.stream);
  EXPECT_EQ(std::string_view(root["content_type"]), event.content_type);
}

struct EscapeCase {
  std::string in;
  std::string out;
};

TEST(EventJsonTest, AppendJsonStringEscapes) {
  const std::vector<EscapeCase> cases = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"q\"b\\s/", R"("q\"b\\s/")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("\x00\x01\x1f\x7f", 4), "\"\\u0000\\u0001\\u001f\x7f\""},
      // UTF-8 stays as it is: 2, 3 and 4 byte sequences.
      {"\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80",
       "\"\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\""},
      // Not UTF-8: a stray byte, a truncated sequence, an overlong form, a
      // surrogate; each bad byte becomes U+FFFD.
      {"a\xff"
       "b",
       "\"a\xef\xbf\xbd"
       "b\""},
      {"\xe6\x97", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
      {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},
      {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""},
  };
  simdjson::dom::parser parser;
  for (const EscapeCase& c : cases) {
    const std::string json = JsonString(c.in);
    EXPECT_EQ(json, c.out) << c.in;
    simdjson::dom::element root = ParseJson(parser, json);
    EXPECT_TRUE(root.is_string()) << json;
  }
}

TEST(EventJsonTest, AppendJsonStringRoundTripsValidText) {
  const std::string text =
      std::string("x\"\\\n\x01\x1f", 6) + "\xc3\xa9\xf0\x9f\x98\x80";
  simdjson::dom::parser parser;
  EXPECT_EQ(std::string_view(ParseJson(parser, JsonString(text))), text);
}

TEST(EventJsonTest, AppendResult) {
  eventlog::AppendResult result;
  result.first_position = 5;
  result.last_position = 7;
  result.next_expected_revision = 2;
  EXPECT_EQ(AppendResultToJson(result),
            R"({"first_position":5,"last_position":7,)"
            R"("next_expected_revision":2,"deduplicated":false})");
  result.deduplicated = true;
  EXPECT_EQ(AppendResultToJson(result),
            R"({"first_position":5,"last_position":7,)"
            R"("next_expected_revision":2,"deduplicated":true})");
}

TEST(EventJsonTest, MinimalEvent) {
  absl::StatusOr<EventData> event = EventDataFromJson(
      R"( { "type" : "TaskCreated", "data" : { "a" : 1 } } )");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->type, "TaskCreated");
  EXPECT_EQ(event->data, R"({"a":1})");
  EXPECT_EQ(event->event_id, "");
  EXPECT_EQ(event->content_type, "");
  EXPECT_EQ(event->metadata, "");
}

TEST(EventJsonTest, FullEvent) {
  absl::StatusOr<EventData> event = EventDataFromJson(
      R"({"event_id":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","type":"T",)"
      R"("data":{"n":[1, 2.5, -3, true, null, "s"], "o": {}},)"
      R"("metadata":{"correlation_id" : "c"},)"
      R"("content_type":"application/json"})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->event_id, "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(event->type, "T");
  EXPECT_EQ(event->data, R"({"n":[1,2.5,-3,true,null,"s"],"o":{}})");
  EXPECT_EQ(event->metadata, R"({"correlation_id":"c"})");
  EXPECT_EQ(event->content_type, "application/json");
}

TEST(EventJsonTest, NullOptionalFieldsAreAbsent) {
  absl::StatusOr<EventData> event = EventDataFromJson(
      R"({"event_id":null,"type":"T","data":{},"metadata":null,)"
      R"("content_type":null,"data_base64":null})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->event_id, "");
  EXPECT_EQ(event->data, "{}");
  EXPECT_EQ(event->metadata, "");
  EXPECT_EQ(event->content_type, "");
}

TEST(EventJsonTest, Base64Data) {
  absl::StatusOr<EventData> event = EventDataFromJson(
      R"({"type":"Blob","content_type":"application/octet-stream",)"
      R"("data_base64":"AP9/Ins="})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->data, std::string("\x00\xff\x7f\"{", 5));
  EXPECT_EQ(event->content_type, "application/octet-stream");

  // JSON bytes may come base64-encoded too.
  event = EventDataFromJson(R"({"type":"T","data_base64":"eyJhIjoxfQ=="})");
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->data, R"({"a":1})");
}

// Proposed JSON → EventData → recorded → JSON gives the same data back, for
// text that needs escaping and for binary data.
TEST(EventJsonTest, RoundTrip) {
  const std::string data =
      R"({"s":"q\"b\\ \n\t\u0001 \u00e9 日本 😀 \/","n":-0.5,"big":18446744073709551615,)"
      R"("a":[[],{}]})";
  absl::StatusOr<EventData> proposed = EventDataFromJson(
      R"({"type":"T","data":)" + data + R"(,"metadata":{"k":"v"}})");
  ASSERT_TRUE(proposed.ok()) << proposed.status();

  RecordedEvent recorded = SampleEvent();
  recorded.data = proposed->data;
  recorded.metadata = proposed->metadata;
  simdjson::dom::parser parser;
  simdjson::dom::element root =
      ParseJson(parser, RecordedEventToJson(recorded));
  simdjson::dom::parser expected_parser;
  EXPECT_EQ(simdjson::to_string(root["data"]),
            simdjson::to_string(ParseJson(expected_parser, data)));
  EXPECT_EQ(std::string_view(root["data"]["s"]),
            "q\"b\\ \n\t\x01 \xc3\xa9 日本 😀 /");
  EXPECT_EQ(uint64_t(root["data"]["big"]), UINT64_MAX);
  EXPECT_EQ(simdjson::to_string(root["metadata"]), R"({"k":"v"})");

  // Binary: recorded → data_base64 → proposed again.
  recorded.content_type = "image/png";
  recorded.data = std::string("\x89PNG\r\n\x1a\n\x00\x01", 10);
  root = ParseJson(parser, RecordedEventToJson(recorded));
  const std::string base64{std::string_view(root["data_base64"])};
  absl::StatusOr<EventData> again = EventDataFromJson(
      R"({"type":"T","content_type":"image/png","data_base64":")" + base64 +
      R"("})");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->data, recorded.data);
}

struct ErrorCase {
  std::string json;
  std::string message;  // a part of the expected message
};

TEST(EventJsonTest, EventDataErrors) {
  const std::vector<ErrorCase> cases = {
      {"", "invalid JSON"},
      {"{", "invalid JSON"},
      {"nope", "invalid JSON"},
      {R"({"type":"T","data":{}} x)", "invalid JSON"},
      {"{\"type\":\"\xff\",\"data\":{}}", "invalid JSON"},
      {R"({"type":"T","data":{"n":123456789012345678901234567890}})",
       "invalid JSON"},
      {"[]", "event: must be a JSON object"},
      {"1", "event: must be a JSON object"},
      {R"("x")", "event: must be a JSON object"},
      {R"({"data":{}})", "type: is required"},
      {R"({"type":null,"data":{}})", "type: is required"},
      {R"({"type":1,"data":{}})", "type: must be a string"},
      {R"({"type":{},"data":{}})", "type: must be a string"},
      {R"({"type":true,"data":{}})", "type: must be a string"},
      {R"({"event_id":7,"type":"T","data":{}})", "event_id: must be a string"},
      {R"({"type":"T"})", "data: is required"},
      {R"({"type":"T","data":null})", "data: is required"},
      {R"({"type":"T","data":[]})", "data: must be a JSON object"},
      {R"({"type":"T","data":"{}"})", "data: must be a JSON object"},
      {R"({"type":"T","data":3})", "data: must be a JSON object"},
      {R"({"type":"T","data":{},"metadata":[]})",
       "metadata: must be a JSON object"},
      {R"({"type":"T","data":{},"metadata":"{}"})",
       "metadata: must be a JSON object"},
      {R"({"type":"T","data":{},"content_type":1})",
       "content_type: must be a string"},
      {R"({"type":"T","data_base64":5})", "data_base64: must be a string"},
      {R"({"type":"T","data":{},"data_base64":"e30="})",
       "data_base64: not allowed together with data"},
      {R"({"type":"T","content_type":"text/plain","data":{}})",
       "data: only for content type application/json"},
      {R"({"type":"T","content_type":"text/plain"})",
       "data_base64: is required for content type \"text/plain\""},
      {R"({"type":"T","content_type":"text/plain","data_base64":"%%%"})",
       "data_base64: is not valid base64"},
      {R"({"type":"T","data":{},"stream":"s"})", "\"stream\": unknown field"},
      {R"({"type":"T","data":{},"Type":"U"})", "\"Type\": unknown field"},
      {R"({"type":"T","type":"U","data":{}})", "type: appears more than once"},
      {R"({"type":"T","data":{},"data":{}})", "data: appears more than once"},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<EventData> event = EventDataFromJson(c.json);
    EXPECT_EQ(event.status().code(), absl::StatusCode::kInvalidArgument)
        << c.json;
    EXPECT_THAT(std::string(event.status().message()), HasSubstr(c.message))
        << c.json;
  }
}

TEST(EventJsonTest, BatchOfOne) {
  absl::StatusOr<std::vector<EventData>> events =
      EventBatchFromJson(R"({"type":"A","data":{"x":1}})");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].type, "A");
  EXPECT_EQ((*events)[0].data, R"({"x":1})");
}

TEST(EventJsonTest, BatchOfMany) {
  absl::StatusOr<std::vector<EventData>> events = EventBatchFromJson(
      R"([{"type":"A","data":{}}, {"type":"B","data":{"y":[]},)"
      R"("metadata":{"m":1}}])");
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].type, "A");
  EXPECT_EQ((*events)[1].type, "B");
  EXPECT_EQ((*events)[1].data, R"({"y":[]})");
  EXPECT_EQ((*events)[1].metadata, R"({"m":1})");
}

TEST(EventJsonTest, BatchErrors) {
  const std::vector<ErrorCase> cases = {
      {"", "invalid JSON"},
      {"[{\"type\":\"A\",\"data\":{}}", "invalid JSON"},
      {"[]", "events: the array has no events"},
      {"1", "body: must be an event object or an array of event objects"},
      {R"("x")", "body: must be an event object"},
      {"null", "body: must be an event object"},
      {R"({"data":{}})", "type: is required"},
      {R"([{"type":"A","data":{}}, 1])", "events[1]: must be a JSON object"},
      {R"([{"type":"A","data":{}}, []])", "events[1]: must be a JSON object"},
      {R"([{"type":"A","data":{}}, {"data":{}}])",
       "events[1].type: is required"},
      {R"([{"type":"A"}])", "events[0].data: is required"},
      {R"([{"type":"A","data":{},"x":1}])", "events[0].\"x\": unknown field"},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<std::vector<EventData>> events = EventBatchFromJson(c.json);
    EXPECT_EQ(events.status().code(), absl::StatusCode::kInvalidArgument)
        << c.json;
    EXPECT_THAT(std::string(events.status().message()), HasSubstr(c.message))
        << c.json;
  }
}

TEST(EventJsonTest, ExpectedRevisions) {
  EXPECT_EQ(*ParseExpectedRevision("any"), ExpectedRevision::Any());
  EXPECT_EQ(*ParseExpectedRevision("no_stream"), ExpectedRevision::NoStream());
  EXPECT_EQ(*ParseExpectedRevision("stream_exists"),
            ExpectedRevision::StreamExists());
  EXPECT_EQ(*ParseExpectedRevision("0"), ExpectedRevision::Exact(0));
  EXPECT_EQ(*ParseExpectedRevision("42"), ExpectedRevision::Exact(42));
  EXPECT_EQ(*ParseExpectedRevision("007"), ExpectedRevision::Exact(7));
  EXPECT_EQ(*ParseExpectedRevision("18446744073709551615"),
            ExpectedRevision::Exact(UINT64_MAX));
}

TEST(EventJsonTest, ExpectedRevisionErrors) {
  for (const std::string_view text :
       {"", "ANY", "Any", "any ", " 1", "1 ", "+1", "-1", "1.0", "1e3", "0x10",
        "exact", "18446744073709551616", "99999999999999999999999"}) {
    absl::StatusOr<ExpectedRevision> revision = ParseExpectedRevision(text);
    EXPECT_EQ(revision.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_THAT(std::string(revision.status().message()),
                HasSubstr("expected revision"))
        << text;
  }
}

}  // namespace
}  // namespace vigil::api
