// The JSON of one recorded event (api::RecordedEventToJson), the live feed's
// and the REST reads' hot path, on a realistic 256 B event: a heartbeat
// with 256 B of minified JSON data and a small metadata object.
// RESULTS.md records the runs ("Event JSON").

#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "api/event_json.h"
#include "base/json.h"
#include "eventlog/event.h"

namespace vigil::api {
namespace {

constexpr size_t kDataBytes = 256;

// A heartbeat whose data is a minified JSON object of exactly kDataBytes.
eventlog::RecordedEvent SampleEvent() {
  eventlog::RecordedEvent event;
  event.event_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  event.stream = "agent-worker-7";
  event.revision = 1234;
  event.position = 9876543;
  event.type = "AgentHeartbeat";
  const std::string head =
      R"({"agent_id":"worker-7","cpu_pct":12.5,"mem_bytes":734003200,)"
      R"("queue_depth":3,"status":"busy","note":")";
  event.data = head + std::string(kDataBytes - head.size() - 2, 'x') + "\"}";
  event.content_type = "application/json";
  event.metadata = R"({"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"})";
  event.recorded_time_us = 1764000000123456;
  event.hash = std::string(32, '\xab');
  return event;
}

void BM_RecordedEventToJson(benchmark::State& state) {
  const eventlog::RecordedEvent event = SampleEvent();
  for (auto _ : state) {
    std::string json = RecordedEventToJson(event);
    benchmark::DoNotOptimize(json);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(event.data.size()));
}
BENCHMARK(BM_RecordedEventToJson);

// The alternatives RecordedEventToJson was chosen against (RESULTS.md).

// The same members, each string a base::Json dumped by the library (what
// AppendJsonString does for text that needs escaping), data spliced.
void BM_EventJsonStringsAsJsonValues(benchmark::State& state) {
  const eventlog::RecordedEvent event = SampleEvent();
  const auto quoted = [](std::string_view text) {
    return base::DumpJson(base::Json(text));
  };
  for (auto _ : state) {
    std::string out = absl::StrCat(
        "{\"event_id\":", quoted(event.event_id), ",\"stream\":",
        quoted(event.stream), ",\"revision\":", event.revision,
        ",\"position\":", event.position, ",\"type\":", quoted(event.type),
        ",\"data\":", event.data, ",\"content_type\":",
        quoted(event.content_type), ",\"metadata\":", event.metadata,
        ",\"recorded_time_us\":", event.recorded_time_us, ",\"hash\":",
        quoted(absl::BytesToHexString(event.hash)), "}");
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(event.data.size()));
}
BENCHMARK(BM_EventJsonStringsAsJsonValues);

// The whole event as one base::Json document: data and metadata parsed
// into the tree (JsonFromText) and dumped again.
void BM_EventJsonAsDocument(benchmark::State& state) {
  const eventlog::RecordedEvent event = SampleEvent();
  for (auto _ : state) {
    std::string out = base::DumpJson(
        {{"event_id", event.event_id},
         {"stream", event.stream},
         {"revision", event.revision},
         {"position", event.position},
         {"type", event.type},
         {"data", *base::JsonFromText(event.data)},
         {"content_type", event.content_type},
         {"metadata", *base::JsonFromText(event.metadata)},
         {"recorded_time_us", event.recorded_time_us},
         {"hash", absl::BytesToHexString(event.hash)}});
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(event.data.size()));
}
BENCHMARK(BM_EventJsonAsDocument);

}  // namespace
}  // namespace vigil::api

BENCHMARK_MAIN();
