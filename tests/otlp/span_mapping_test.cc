// SpanRecorded as docs/otlp.md describes it: given these spans, expect this
// JSON; the GenAI names (current over renamed/removed, inferred
// operations), the cost, the bounds, and how an export becomes appends.

#include <simdjson.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <limits>
#include <regex>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "api/domain_events.h"
#include "otlp/export_mapping.h"
#include "otlp/genai_conventions.h"
#include "otlp/price_table.h"
#include "otlp/span_recorded.h"

namespace vigil::otlp {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::common::v1::AnyValue;
using opentelemetry::proto::common::v1::KeyValue;
using opentelemetry::proto::trace::v1::Span;
using ::testing::HasSubstr;

const std::string kTrace(
    "\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c", 16);
const std::string kSpan("\xb7\xad\x6b\x71\x69\x20\x33\x31", 8);
const std::string kParent("\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8);

KeyValue* Attr(google::protobuf::RepeatedPtrField<KeyValue>* attributes,
               const std::string& key) {
  KeyValue* kv = attributes->Add();
  kv->set_key(key);
  return kv;
}
void Str(Span* span, const std::string& key, const std::string& value) {
  Attr(span->mutable_attributes(), key)
      ->mutable_value()
      ->set_string_value(value);
}
void Int(Span* span, const std::string& key, int64_t value) {
  Attr(span->mutable_attributes(), key)->mutable_value()->set_int_value(value);
}

Span BaseSpan() {
  Span span;
  span.set_trace_id(kTrace);
  span.set_span_id(kSpan);
  span.set_parent_span_id(kParent);
  span.set_name("chat gpt-4o-mini");
  span.set_kind(Span::SPAN_KIND_CLIENT);
  span.set_start_time_unix_nano(1700000000000000000);
  span.set_end_time_unix_nano(1700000000012345678);
  return span;
}

std::string Json(const Span& span) {
  absl::StatusOr<std::string> json =
      SpanRecordedJson(span, R"({"service.name":"svc"})", "",
                       PriceTable::BuiltIn(), SpanLimits{});
  EXPECT_TRUE(json.ok()) << json.status();
  return json.value_or("");
}

TEST(SpanRecordedTest, AModelCallWithRenamedNamesIsNormalised) {
  Span span = BaseSpan();
  Str(&span, "gen_ai.operation.name", "chat");
  Str(&span, "gen_ai.system", "openai");  // renamed: gen_ai.provider.name
  Str(&span, "gen_ai.request.model", "gpt-4o-mini-2024-07-18");
  Int(&span, "gen_ai.usage.prompt_tokens", 1000);     // renamed
  Int(&span, "gen_ai.usage.completion_tokens", 500);  // renamed
  Int(&span, "gen_ai.usage.cache_read_input_tokens", 200);
  // (800 × 0.15 + 200 × 0.075 + 500 × 0.60) / 1e6
  const double cost =
      PriceTable::BuiltIn().CostUsd("gpt-4o-mini-2024-07-18", 1000, 500, 200);
  EXPECT_NEAR(cost, 0.000435, 1e-12);
  char cost_text[32];
  *std::to_chars(cost_text, cost_text + 31, cost).ptr = '\0';
  EXPECT_EQ(
      Json(span),
      R"({"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331",)"
      R"("parent_span_id":"00f067aa0ba902b7","name":"chat gpt-4o-mini","kind":"client",)"
      R"("start_time_us":1700000000000000,"end_time_us":1700000000012345,)"
      R"("duration_ms":12.345678,"status":"unset","operation":"chat",)"
      R"("provider":"openai","model":"gpt-4o-mini-2024-07-18",)"
      R"("input_tokens":1000,"output_tokens":500,"cached_tokens":200,)"
      R"("cost_usd":)" +
          std::string(cost_text) +
          ","
          R"("attributes":{"gen_ai.operation.name":"chat","gen_ai.system":"openai",)"
          R"("gen_ai.request.model":"gpt-4o-mini-2024-07-18",)"
          R"("gen_ai.usage.prompt_tokens":1000,"gen_ai.usage.completion_tokens":500,)"
          R"("gen_ai.usage.cache_read_input_tokens":200},)"
          R"("resource":{"service.name":"svc"}})");
}

TEST(SpanRecordedTest, CurrentNamesWinWhateverTheirOrder) {
  Span span = BaseSpan();
  Str(&span, "gen_ai.system", "old");
  Str(&span, "gen_ai.provider.name", "anthropic");
  Int(&span, "gen_ai.usage.prompt_tokens", 1);
  Int(&span, "gen_ai.usage.input_tokens", 10);
  Str(&span, "gen_ai.request.model", "claude-x");
  Str(&span, "gen_ai.response.model", "claude-sonnet-4-20250514");
  Int(&span, "gen_ai.usage.cached_tokens", 1);
  Int(&span, "gen_ai.usage.cache_read.input_tokens", 4);
  const GenAiFields fields = ReadGenAiFields(span.attributes());
  EXPECT_EQ(fields.provider, "anthropic");
  EXPECT_EQ(fields.input_tokens, 10u);
  EXPECT_EQ(fields.model, "claude-sonnet-4-20250514");
  EXPECT_EQ(fields.cached_tokens, 4u);
  EXPECT_EQ(fields.output_tokens, std::nullopt);
  EXPECT_EQ(fields.operation, "");  // nothing says what it is
}

TEST(SpanRecordedTest, OperationsAreInferredFromOpenLlmetry) {
  struct Case {
    std::string key, value, operation;
  };
  for (const Case& c : std::vector<Case>{
           {"traceloop.span.kind", "agent", "invoke_agent"},
           {"traceloop.span.kind", "tool", "execute_tool"},
           {"traceloop.span.kind", "workflow", "invoke_workflow"},
           {"traceloop.span.kind", "task", ""},
           {"llm.request.type", "chat", "chat"},
           {"llm.request.type", "completion", "text_completion"},
           {"llm.request.type", "embedding", "embeddings"},
       }) {
    Span span = BaseSpan();
    Str(&span, c.key, c.value);
    EXPECT_EQ(ReadGenAiFields(span.attributes()).operation, c.operation)
        << c.key << "=" << c.value;
  }
}

TEST(SpanRecordedTest, AgentIdFallsBackToItsName) {
  Span span = BaseSpan();
  Str(&span, "traceloop.span.kind", "agent");
  Str(&span, "traceloop.entity.name", "researcher");
  Str(&span, "gen_ai.handoff.from_agent", "planner");
  GenAiFields fields = ReadGenAiFields(span.attributes());
  EXPECT_EQ(fields.operation, "invoke_agent");
  EXPECT_EQ(fields.agent_name, "researcher");
  EXPECT_EQ(fields.agent_id, "researcher");
  EXPECT_EQ(fields.caller_agent_id, "planner");

  Span named = BaseSpan();
  Str(&named, "gen_ai.operation.name", "invoke_agent");
  Str(&named, "gen_ai.agent.name", "Writer");
  Str(&named, "gen_ai.agent.id", "agent-7");
  Str(&named, "gen_ai.caller.agent.name", "Boss");
  Str(&named, "gen_ai.caller.agent.id", "agent-1");
  fields = ReadGenAiFields(named.attributes());
  EXPECT_EQ(fields.agent_id, "agent-7");
  EXPECT_EQ(fields.agent_name, "Writer");
  EXPECT_EQ(fields.caller_agent_id, "agent-1");
  const std::string json = Json(named);
  EXPECT_THAT(
      json, HasSubstr(R"("operation":"invoke_agent","agent_id":"agent-7",)"
                      R"("agent_name":"Writer","caller_agent_id":"agent-1")"));
  EXPECT_THAT(json, ::testing::Not(HasSubstr("cost_usd")));  // not a model call
}

TEST(SpanRecordedTest, ToolCallsAndErrors) {
  Span span = BaseSpan();
  span.clear_parent_span_id();
  Str(&span, "gen_ai.operation.name", "execute_tool");
  Str(&span, "gen_ai.tool.name", "search");
  Str(&span, "gen_ai.tool.call.id", "call_1");
  Str(&span, "error.type", "TimeoutError");
  span.mutable_status()->set_code(
      opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  std::string json = Json(span);
  EXPECT_THAT(json, ::testing::Not(HasSubstr("parent_span_id")));
  EXPECT_THAT(
      json,
      HasSubstr(
          R"("status":"error","error":"TimeoutError","operation":"execute_tool",)"
          R"("tool":"search","tool_call_id":"call_1")"));
  span.mutable_status()->set_message("deadline exceeded");
  EXPECT_THAT(Json(span), HasSubstr(R"("error":"deadline exceeded")"));
}

TEST(SpanRecordedTest, AttributesKeepEveryValueType) {
  Span span = BaseSpan();
  span.clear_attributes();
  Int(&span, "big", int64_t{1} << 60);
  Int(&span, "neg", -3);
  Attr(span.mutable_attributes(), "ok")->mutable_value()->set_bool_value(true);
  Attr(span.mutable_attributes(), "d")->mutable_value()->set_double_value(0.5);
  Attr(span.mutable_attributes(), "nan")
      ->mutable_value()
      ->set_double_value(std::numeric_limits<double>::quiet_NaN());
  Attr(span.mutable_attributes(), "b")
      ->mutable_value()
      ->set_bytes_value("\x01\x02\x03");
  AnyValue* list = Attr(span.mutable_attributes(), "list")->mutable_value();
  list->mutable_array_value()->add_values()->set_string_value("x");
  list->mutable_array_value()->add_values()->set_int_value(2);
  AnyValue* kv = Attr(span.mutable_attributes(), "kv")->mutable_value();
  KeyValue* inner = kv->mutable_kvlist_value()->add_values();
  inner->set_key("q\"uote");
  inner->mutable_value()->set_string_value("v");
  Attr(span.mutable_attributes(), "empty");
  Str(&span, "ok", "second copy is dropped");
  Span::Event* event = span.add_events();
  event->set_name("retry");
  event->set_time_unix_nano(1700000000001000000);
  Span::Link* link = span.add_links();
  link->set_trace_id(kTrace);
  link->set_span_id(kParent);
  const std::string json = Json(span);
  EXPECT_THAT(
      json,
      HasSubstr(
          R"("attributes":{"big":"1152921504606846976","neg":-3,"ok":true,"d":0.5,)"
          R"("nan":"NaN","b":"AQID","list":["x",2],"kv":{"q\"uote":"v"},"empty":null},)"
          R"("events":[{"name":"retry","time_us":1700000000001000,"attributes":{}}],)"
          R"("links":[{"trace_id":"0af7651916cd43dd8448eb211c80319c",)"
          R"("span_id":"00f067aa0ba902b7","attributes":{}}],)"));
  simdjson::dom::parser parser;
  EXPECT_EQ(parser.parse(json).error(), simdjson::SUCCESS) << json;
}

TEST(SpanRecordedTest, SpansToRejectSayWhy) {
  struct Case {
    std::string why;
    std::function<void(Span*)> change;
  };
  for (const Case& c : std::vector<Case>{
           {"trace_id", [](Span* s) { s->set_trace_id(std::string(8, 'x')); }},
           {"trace_id",
            [](Span* s) { s->set_trace_id(std::string(16, '\0')); }},
           {"span_id", [](Span* s) { s->set_span_id(std::string(8, '\0')); }},
           {"span_id", [](Span* s) { s->clear_span_id(); }},
           {"parent_span_id", [](Span* s) { s->set_parent_span_id("abc"); }},
           {"before its start",
            [](Span* s) {
              s->set_end_time_unix_nano(s->start_time_unix_nano() - 1);
            }},
           {"over the limit of 256",
            [](Span* s) {
              for (int i = 0; i < 257; ++i) Int(s, "a" + std::to_string(i), i);
            }},
           {"nest deeper",
            [](Span* s) {
              AnyValue* v =
                  Attr(s->mutable_attributes(), "deep")->mutable_value();
              for (int i = 0; i < 20; ++i) {
                v = v->mutable_array_value()->add_values();
              }
            }},
           {"bytes, over the limit",
            [](Span* s) { Str(s, "huge", std::string(2 << 20, 'x')); }},
       }) {
    Span span = BaseSpan();
    c.change(&span);
    absl::StatusOr<std::string> json =
        SpanRecordedJson(span, "{}", "", PriceTable::BuiltIn(), SpanLimits{});
    ASSERT_FALSE(json.ok()) << c.why;
    EXPECT_EQ(json.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(json.status().message()), HasSubstr(c.why));
  }
}

TEST(SpanRecordedTest, EventIdIsAUuidOfTheTraceAndSpan) {
  const std::string id = SpanEventId(kTrace, kSpan);
  EXPECT_THAT(id, ::testing::MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}"
                                          "-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_EQ(id, SpanEventId(kTrace, kSpan));
  EXPECT_NE(id, SpanEventId(kTrace, kParent));
}

TEST(PriceTableTest, LongestPrefixWins) {
  const PriceTable table = PriceTable::BuiltIn();
  ASSERT_NE(table.Find("gpt-4o-mini-2024-07-18"), nullptr);
  EXPECT_EQ(table.Find("gpt-4o-mini-2024-07-18")->input, 0.15);
  EXPECT_EQ(table.Find("gpt-4o-2024-08-06")->input, 2.50);
  EXPECT_EQ(table.Find("llama-3"), nullptr);
  EXPECT_EQ(table.CostUsd("llama-3", 1000, 1000, 0), 0);
  // Cached tokens are part of the input, clamped to it.
  EXPECT_DOUBLE_EQ(table.CostUsd("gpt-4o", 100, 0, 1000), 100 * 1.25 / 1e6);
}

// docs/otlp.md lists the built-in table; every row is the code's price.
TEST(PriceTableTest, TheDocumentedTableIsTheBuiltInOne) {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/docs/otlp.md");
  ASSERT_TRUE(in) << "docs/otlp.md";
  const std::regex row(
      R"(^\| `([^`]+)` \| ([0-9.]+) \| ([0-9.]+) \| ([0-9.]+) \|$)");
  const PriceTable table = PriceTable::BuiltIn();
  std::string line;
  int rows = 0;
  while (std::getline(in, line)) {
    std::smatch match;
    if (!std::regex_match(line, match, row)) continue;
    ++rows;
    const std::string model = match[1];
    const ModelPrice* price = table.Find(model);
    ASSERT_NE(price, nullptr) << model;
    EXPECT_EQ(price->input, std::stod(match[2])) << model;
    EXPECT_EQ(price->output, std::stod(match[3])) << model;
    EXPECT_EQ(price->cached_input, std::stod(match[4])) << model;
    // The row is the entry itself, not a shorter prefix of it.
    EXPECT_EQ(table.Find(model.substr(0, model.size() - 1)) == price, false)
        << model;
  }
  EXPECT_EQ(rows, 22);  // every built-in entry
}

TEST(PriceTableTest, AFileReplacesTheBuiltInTable) {
  absl::StatusOr<PriceTable> table = PriceTable::FromJson(
      R"({"my-model":{"input":1,"output":2},"my-model-large":{"input":10,"output":20,"cached_input":5}})");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->Find("gpt-4o"), nullptr);
  EXPECT_DOUBLE_EQ(table->CostUsd("my-model-v2", 1e6, 1e6, 5e5),
                   3.0);  // cached at input price
  EXPECT_DOUBLE_EQ(table->CostUsd("my-model-large", 1e6, 0, 1e6), 5.0);
  for (const char* bad :
       {"[]", "{", R"({"m":{"input":1}})", R"({"m":{"input":-1,"output":1}})",
        R"({"m":{"input":1,"output":1,"extra":1}})", R"({"m":3})",
        R"({"":{"input":1,"output":1}})"}) {
    absl::StatusOr<PriceTable> refused = PriceTable::FromJson(bad);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(PriceTable::FromFile("/nonexistent/prices.json").status().code(),
            absl::StatusCode::kNotFound);
}

ExportTraceServiceRequest Export(const std::vector<Span>& spans) {
  ExportTraceServiceRequest request;
  auto* resource = request.add_resource_spans();
  auto* kv = resource->mutable_resource()->add_attributes();
  kv->set_key("service.name");
  kv->mutable_value()->set_string_value("svc");
  auto* scope = resource->add_scope_spans();
  scope->mutable_scope()->set_name("lib");
  for (const Span& span : spans) *scope->add_spans() = span;
  return request;
}

Span SpanOf(const std::string& trace, char id) {
  Span span = BaseSpan();
  span.set_trace_id(trace);
  span.set_span_id(std::string(7, 'a') + id);
  return span;
}

TEST(ExportMappingTest, OneAppendPerTraceIdempotentBySpanIds) {
  const PriceTable prices = PriceTable::BuiltIn();
  const std::string other(16, '\x22');
  Span bad = SpanOf(kTrace, '9');
  bad.set_end_time_unix_nano(0);
  const MappedExport mapped =
      MapExport(Export({SpanOf(kTrace, '1'), SpanOf(other, '1'),
                        SpanOf(kTrace, '2'), bad, SpanOf(kTrace, '1')}),
                {.prices = &prices});
  ASSERT_EQ(mapped.appends.size(), 2u);
  EXPECT_EQ(mapped.appends[0].stream, "trace-0af7651916cd43dd8448eb211c80319c");
  ASSERT_EQ(mapped.appends[0].events.size(), 2u);  // the repeated span once
  EXPECT_EQ(mapped.appends[0].events[0].type, "SpanRecorded");
  EXPECT_EQ(mapped.appends[0].events[0].event_id,
            SpanEventId(kTrace, std::string(7, 'a') + '1'));
  EXPECT_THAT(
      mapped.appends[0].events[0].data,
      HasSubstr(
          R"("resource":{"service.name":"svc"},"scope":{"name":"lib","version":""}})"));
  EXPECT_EQ(mapped.appends[1].stream, "trace-22222222222222222222222222222222");
  // No idempotency key: the ingest appends a span once by its event id
  // (recorded_spans_test.cc), however the spans are grouped.
  EXPECT_EQ(mapped.appends[0].idempotency_key, "");
  EXPECT_EQ(mapped.rejected_spans, 1);
  EXPECT_THAT(mapped.error_message,
              HasSubstr("span 0af7651916cd43dd8448eb211c80319c/61616161616161"
                        "39: "
                        "end_time_unix_nano is before its start"));

  // The same spans in another order: the same event ids.
  const MappedExport again = MapExport(
      Export({SpanOf(kTrace, '2'), SpanOf(kTrace, '1')}), {.prices = &prices});
  EXPECT_EQ(again.appends[0].events[1].event_id,
            mapped.appends[0].events[0].event_id);
  EXPECT_EQ(again.rejected_spans, 0);
  EXPECT_EQ(again.error_message, "");
}

TEST(ExportMappingTest, ALargeTraceIsCutToTheLogsBounds) {
  const PriceTable prices = PriceTable::BuiltIn();
  std::vector<Span> spans;
  for (char c = '1'; c <= '5'; ++c) spans.push_back(SpanOf(kTrace, c));
  const MappedExport mapped =
      MapExport(Export(spans), {.prices = &prices, .max_append_events = 2});
  ASSERT_EQ(mapped.appends.size(), 3u);
  EXPECT_EQ(mapped.appends[0].events.size(), 2u);
  EXPECT_EQ(mapped.appends[2].events.size(), 1u);
  EXPECT_EQ(mapped.appends[0].stream, mapped.appends[2].stream);

  const size_t one = mapped.appends[0].events[0].data.size();
  const MappedExport by_bytes = MapExport(
      Export(spans), {.prices = &prices, .max_append_bytes = 2 * one + 1});
  EXPECT_EQ(by_bytes.appends.size(), 3u);
}

TEST(ExportMappingTest, ReasonsAreCappedAndCounted) {
  const PriceTable prices = PriceTable::BuiltIn();
  std::vector<Span> spans;
  for (char c = '1'; c <= '8'; ++c) {
    spans.push_back(SpanOf(std::string(16, '\0'), c));
  }
  const MappedExport mapped = MapExport(Export(spans), {.prices = &prices});
  EXPECT_TRUE(mapped.appends.empty());
  EXPECT_EQ(mapped.rejected_spans, 8);
  EXPECT_THAT(mapped.error_message, ::testing::EndsWith("; and 3 more"));
}

// The ingest appends its events without the client check of domain events
// (api::EventSource::kServerBuilt): what MapExport builds must pass it,
// whatever the span holds.
TEST(ExportMappingTest, EveryMappedEventPassesTheDomainEventCheck) {
  const PriceTable prices = PriceTable::BuiltIn();
  std::vector<Span> spans;
  Span chat = SpanOf(kTrace, '1');
  Str(&chat, "gen_ai.operation.name", "chat");
  Str(&chat, "gen_ai.provider.name", "openai");
  Str(&chat, "gen_ai.request.model", "gpt-4o-mini");
  Int(&chat, "gen_ai.usage.input_tokens", 1200);
  Int(&chat, "gen_ai.usage.output_tokens", 80);
  spans.push_back(chat);
  Span tool = SpanOf(kTrace, '2');
  tool.set_name("execute_tool \"search\"\n\u00e9\u4e2d");
  Str(&tool, "gen_ai.operation.name", "execute_tool");
  Str(&tool, "gen_ai.tool.name", "search");
  tool.mutable_status()->set_code(
      opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  spans.push_back(tool);
  Span agent = SpanOf(kTrace, '3');
  agent.clear_parent_span_id();
  Str(&agent, "gen_ai.operation.name", "invoke_agent");
  Str(&agent, "gen_ai.agent.id", "agent-\x01\x7f");
  Str(&agent, "gen_ai.agent.name", "Planner");
  Span::Event* event = agent.add_events();
  event->set_name("handoff");
  Attr(event->mutable_attributes(), "to")->mutable_value()->set_double_value(
      std::numeric_limits<double>::infinity());
  spans.push_back(agent);
  Span odd = SpanOf(kTrace, '4');
  odd.set_name("");
  odd.set_kind(static_cast<Span::SpanKind>(42));  // a newer protocol's
  Attr(odd.mutable_attributes(), "b")->mutable_value()->set_bytes_value(
      std::string("\0\xff", 2));
  AnyValue* nested = Attr(odd.mutable_attributes(), "n")->mutable_value();
  nested->mutable_array_value()->add_values()->mutable_kvlist_value();
  spans.push_back(odd);
  const MappedExport mapped = MapExport(Export(spans), {.prices = &prices});
  ASSERT_EQ(mapped.rejected_spans, 0) << mapped.error_message;
  size_t events = 0;
  for (const eventlog::AppendRequest& append : mapped.appends) {
    EXPECT_TRUE(api::ValidateDomainEvents(append.events).ok())
        << api::ValidateDomainEvents(append.events);
    events += append.events.size();
  }
  EXPECT_EQ(events, spans.size());

  // The check is not blind to SpanRecorded: a mistyped field fails it.
  eventlog::EventData broken = mapped.appends[0].events[0];
  const size_t at = broken.data.find("\"start_time_us\":");
  ASSERT_NE(at, std::string::npos);
  broken.data.insert(at + 16, "\"1\",\"x\":");
  EXPECT_FALSE(api::ValidateDomainEvents({broken}).ok()) << broken.data;
}

}  // namespace
}  // namespace vigil::otlp
