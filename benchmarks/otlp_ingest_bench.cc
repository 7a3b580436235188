// OTLP ingest throughput against a real vigild (RESULTS.md, issue 17):
// spans/s durably ingested over OTLP/HTTP protobuf by 10 concurrent
// exporters of 512-span batches, beside the same events appended natively
// (REST bulk appends of 512 events of the same JSON data) in the same run,
// in interleaved phases (OTLP, native, native, OTLP, ...), medians of each.
//
// A batch is 8 traces of 64 GenAI spans (an agent run, chat and tool
// calls, 8-10 attributes each); every batch has new trace ids, so nothing
// is deduplicated. vigild runs with --projections off --webhooks off: the
// figure is the log's ingest, every span acknowledged only once synced.
// At the end the log's head position must equal every span and event
// acknowledged.
//
// Usage: otlp_ingest_bench [--vigild=PATH] [--rounds=N] [--seconds=S]
//                          [--exporters=N] [--only=otlp|native]
//        otlp_ingest_bench --only=snapshots [--spans=N] [--rounds=N]
//
// --only=snapshots starts no vigild: it appends N spans of the same
// batches (mapped as the ingest maps them) to a log in this process, then
// times the time-travel snapshot thread's work over them on one thread
// (TimeTravel::CatchUpSnapshots from no snapshot to the head), once per
// round: CPU microseconds per span. That thread follows every span vigild
// ingests, so it bounds the sustained OTLP rate (RESULTS.md).

#include <signal.h>
#include <sys/resource.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "eventlog/event_log.h"
#include "projections/state_at.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "otlp/export_mapping.h"
#include "otlp/price_table.h"
#include "tests/gateway/http_client.h"
#include "tests/testing/temp_dir.h"

namespace vigil {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::trace::v1::Span;
using Clock = std::chrono::steady_clock;

constexpr int kSpansPerBatch = 512;
constexpr int kTracesPerBatch = 8;
constexpr char kMarker[] = "\xab\xcd\xef\x01\x23\x45\x67\x89";  // 8 bytes

void Attribute(Span* span, const std::string& key, const std::string& value) {
  auto* kv = span->add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_string_value(value);
}
void Attribute(Span* span, const std::string& key, int64_t value) {
  auto* kv = span->add_attributes();
  kv->set_key(key);
  kv->mutable_value()->set_int_value(value);
}

// Trace ids are kMarker, then [exporter][trace][6-byte batch counter],
// patched in the serialized bytes per batch.
ExportTraceServiceRequest TemplateBatch() {
  ExportTraceServiceRequest request;
  auto* resource = request.add_resource_spans();
  auto* service = resource->mutable_resource()->add_attributes();
  service->set_key("service.name");
  service->mutable_value()->set_string_value("bench-agents");
  auto* scope = resource->add_scope_spans();
  scope->mutable_scope()->set_name(
      "opentelemetry.instrumentation.openai_agents");
  scope->mutable_scope()->set_version("0.1.0");
  const int per_trace = kSpansPerBatch / kTracesPerBatch;
  const uint64_t t0 = 1765000000000000000;
  for (int t = 0; t < kTracesPerBatch; ++t) {
    std::string trace_id = std::string(kMarker, 8) + std::string(8, '\x01');
    trace_id[9] = static_cast<char>(t + 1);
    for (int i = 0; i < per_trace; ++i) {
      Span* span = scope->add_spans();
      span->set_trace_id(trace_id);
      std::string span_id(8, '\x07');
      span_id[6] = static_cast<char>(t + 1);
      span_id[7] = static_cast<char>(i + 1);
      span->set_span_id(span_id);
      if (i > 0) {
        std::string parent = span_id;
        parent[7] = 1;
        span->set_parent_span_id(parent);
      }
      span->set_start_time_unix_nano(t0 + i * 1000000);
      span->set_end_time_unix_nano(t0 + i * 1000000 + 750000);
      span->set_kind(i == 0 ? Span::SPAN_KIND_INTERNAL
                            : Span::SPAN_KIND_CLIENT);
      if (i == 0) {
        span->set_name("invoke_agent researcher");
        Attribute(span, "gen_ai.operation.name", "invoke_agent");
        Attribute(span, "gen_ai.agent.name", "researcher");
        Attribute(span, "gen_ai.agent.id", "agent-researcher-01");
        Attribute(span, "gen_ai.provider.name", "openai");
      } else if (i % 3 == 0) {
        span->set_name("execute_tool web_search");
        Attribute(span, "gen_ai.operation.name", "execute_tool");
        Attribute(span, "gen_ai.tool.name", "web_search");
        Attribute(span, "gen_ai.tool.call.id", "call_" + std::to_string(i));
        Attribute(span, "gen_ai.tool.type", "function");
      } else {
        span->set_name("chat gpt-4o-mini");
        Attribute(span, "gen_ai.operation.name", "chat");
        Attribute(span, "gen_ai.provider.name", "openai");
        Attribute(span, "gen_ai.request.model", "gpt-4o-mini");
        Attribute(span, "gen_ai.response.model", "gpt-4o-mini-2024-07-18");
        Attribute(span, "gen_ai.usage.input_tokens", 1200 + i);
        Attribute(span, "gen_ai.usage.output_tokens", 300 + i);
        Attribute(span, "gen_ai.response.id", "chatcmpl-" + std::to_string(i));
        Attribute(span, "gen_ai.request.temperature", "0.2");
      }
      Attribute(span, "server.address", "api.openai.com");
      Attribute(span, "thread.name", "MainThread");
    }
  }
  return request;
}

// Where kMarker stands in `bytes`.
std::vector<size_t> MarkerOffsets(const std::string& bytes) {
  std::vector<size_t> offsets;
  for (size_t at = bytes.find(std::string(kMarker, 8)); at != std::string::npos;
       at = bytes.find(std::string(kMarker, 8), at + 1)) {
    offsets.push_back(at);
  }
  return offsets;
}

// The native REST body: the same 512 events' data, as one bulk append.
std::string NativeBody(const ExportTraceServiceRequest& batch) {
  const otlp::PriceTable prices = otlp::PriceTable::BuiltIn();
  const otlp::MappedExport mapped = otlp::MapExport(batch, {.prices = &prices});
  std::string body = "[";
  for (const auto& append : mapped.appends) {
    for (const auto& event : append.events) {
      if (body.size() > 1) body.push_back(',');
      body.append(R"({"type":"BenchSpan","data":)")
          .append(event.data)
          .push_back('}');
    }
  }
  body.push_back(']');
  return body;
}

struct Phase {
  double spans_per_second = 0;
  uint64_t acknowledged = 0;  // spans or events answered 200/201
  uint64_t errors = 0;
  double server_cpu_us = 0;  // vigild's user + system CPU over the phase
  double client_cpu_us = 0;  // this process's
};

// User + system CPU of process `pid` so far, in microseconds (/proc, in
// clock ticks: 10 ms here, so a phase of seconds reads to about 1%).
double ProcessCpuMicros(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name, which is in parentheses and may hold
  // spaces: state is field 3, utime 14, stime 15.
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

// `exporters` threads, each on its own keep-alive connection, send until
// `seconds` have passed; the rate is over the time to the last answer.
Phase Run(bool otlp, pid_t server, uint16_t port, int exporters,
          double seconds,
          const std::string& otlp_template, const std::vector<size_t>& offsets,
          const std::string& native_body, std::atomic<uint64_t>* batch_counter,
          int round) {
  std::atomic<uint64_t> acknowledged{0}, errors{0};
  const double server_cpu_start = ProcessCpuMicros(server);
  const double client_cpu_start = SelfCpuMicros();
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int e = 0; e < exporters; ++e) {
    threads.emplace_back([&, e] {
      testing::HttpConnection connection(port);
      std::string body = otlp_template;
      const std::string stream =
          "native-" + std::to_string(round) + "-" + std::to_string(e);
      while (Clock::now() < stop) {
        std::optional<testing::HttpResponse> response;
        if (otlp) {
          const uint64_t n = batch_counter->fetch_add(1);
          for (size_t at : offsets) {
            body[at + 8] = static_cast<char>(e + 1);
            for (int b = 0; b < 6; ++b) {
              body[at + 10 + b] = static_cast<char>((n >> (8 * b)) & 0xff);
            }
          }
          response = connection.Request(
              "POST", "/v1/traces",
              {{"Content-Type", "application/x-protobuf"}}, body);
        } else {
          response = connection.Request(
              "POST", "/v1/streams/" + stream + "/events",
              {{"Content-Type", "application/json"}}, native_body);
        }
        if (response.has_value() &&
            (response->status == 200 || response->status == 201) &&
            (!otlp || response->body.empty())) {  // no partial_success
          acknowledged += kSpansPerBatch;
        } else {
          ++errors;
          if (errors.load() < 3) {
            std::fprintf(stderr, "%s: %d %s\n", otlp ? "otlp" : "native",
                         response ? response->status : -1,
                         response ? response->body.substr(0, 200).c_str() : "");
          }
          if (!response.has_value()) return;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  return {static_cast<double>(acknowledged.load()) / elapsed,
          acknowledged.load(), errors.load(),
          ProcessCpuMicros(server) - server_cpu_start,
          SelfCpuMicros() - client_cpu_start};
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string Flag(int argc, char** argv, const std::string& name,
                 const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return argv[i] + prefix.size();
    }
  }
  return fallback;
}

// The thread's CPU so far, in microseconds.
double ThreadCpuMicros() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

// --only=snapshots (above): a new log per round, filled before the clock
// starts.
int SnapshotsOnly(uint64_t spans, int rounds,
                  const std::string& otlp_template,
                  const std::vector<size_t>& offsets) {
  const otlp::PriceTable prices = otlp::PriceTable::BuiltIn();
  std::vector<double> per_span;
  for (int round = 0; round < rounds; ++round) {
    testing::TempDir dir;
    auto log = eventlog::EventLog::Open(eventlog::Options{}, dir.path());
    if (!log.ok()) {
      std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
      return 1;
    }
    std::string body = otlp_template;
    for (uint64_t n = 1; n * kSpansPerBatch <= spans; ++n) {
      for (size_t at : offsets) {
        body[at + 8] = 1;
        for (int b = 0; b < 6; ++b) {
          body[at + 10 + b] = static_cast<char>((n >> (8 * b)) & 0xff);
        }
      }
      ExportTraceServiceRequest request;
      request.ParseFromString(body);
      for (const eventlog::AppendRequest& append :
           otlp::MapExport(request, {.prices = &prices}).appends) {
        const auto appended = (*log)->Append(append);
        if (!appended.ok()) {
          std::fprintf(stderr, "%s\n", appended.status().ToString().c_str());
          return 1;
        }
      }
    }
    const uint64_t head = (*log)->HeadPosition();
    projections::TimeTravel time_travel(log->get(), {});
    const double cpu = ThreadCpuMicros();
    const auto start = Clock::now();
    const absl::Status built = time_travel.CatchUpSnapshots();
    const double wall =
        std::chrono::duration<double>(Clock::now() - start).count();
    if (!built.ok()) {
      std::fprintf(stderr, "%s\n", built.ToString().c_str());
      return 1;
    }
    per_span.push_back((ThreadCpuMicros() - cpu) / static_cast<double>(head));
    std::printf(
        "round %d: %llu spans, snapshots %.2f us CPU per span, %.0f spans/s\n",
        round, static_cast<unsigned long long>(head), per_span.back(),
        static_cast<double>(head) / wall);
    std::fflush(stdout);
  }
  std::printf("\nsnapshot thread: median %.2f us CPU per span\n",
              Median(per_span));
  return 0;
}

int Main(int argc, char** argv) {
  const std::string vigild = Flag(argc, argv, "vigild", VIGILD_BINARY);
  const int rounds = std::stoi(Flag(argc, argv, "rounds", "5"));
  const double seconds = std::stod(Flag(argc, argv, "seconds", "4"));
  const int exporters = std::stoi(Flag(argc, argv, "exporters", "10"));
  // "otlp" or "native" runs only those phases (for a profile of one).
  const std::string only = Flag(argc, argv, "only", "");

  const ExportTraceServiceRequest batch = TemplateBatch();
  const std::string otlp_template = batch.SerializeAsString();
  const std::vector<size_t> offsets = MarkerOffsets(otlp_template);
  const std::string native_body = NativeBody(batch);
  if (offsets.size() != static_cast<size_t>(kSpansPerBatch)) {
    std::fprintf(stderr, "found %zu trace ids in the template\n",
                 offsets.size());
    return 1;
  }
  if (only == "snapshots") {
    return SnapshotsOnly(std::stoull(Flag(argc, argv, "spans", "262144")),
                         rounds, otlp_template, offsets);
  }
  std::printf(
      "batch: %d spans in %d traces; OTLP protobuf body %zu B; native "
      "JSON body %zu B (%zu B of event data per span on average)\n",
      kSpansPerBatch, kTracesPerBatch, otlp_template.size(), native_body.size(),
      native_body.size() / kSpansPerBatch);

  testing::TempDir dir;
  int out[2];
  if (pipe(out) != 0) return 1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::vector<std::string> args = {vigild,
                                   "--data-dir",
                                   dir.path() + "/data",
                                   "--grpc-listen",
                                   "127.0.0.1:0",
                                   "--http-listen",
                                   "127.0.0.1:0",
                                   "--projections",
                                   "off",
                                   "--webhooks",
                                   "off"};
  std::vector<char*> argv_v;
  for (std::string& arg : args) argv_v.push_back(arg.data());
  argv_v.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, vigild.c_str(), &actions, nullptr, argv_v.data(),
                  environ) != 0) {
    std::fprintf(stderr, "cannot start %s\n", vigild.c_str());
    return 1;
  }
  close(out[1]);
  std::printf("vigild pid %d (for perf record -p)\n", static_cast<int>(pid));
  std::fflush(stdout);
  FILE* vigild_out = fdopen(out[0], "r");
  char line[1024];
  uint16_t port = 0;
  while (port == 0 && fgets(line, sizeof(line), vigild_out) != nullptr) {
    std::cmatch match;
    if (std::regex_search(line, match,
                          std::regex("HTTP on 127\\.0\\.0\\.1:(\\d+)"))) {
      port = static_cast<uint16_t>(std::stoi(match[1]));
    }
  }
  if (port == 0) {
    std::fprintf(stderr, "vigild did not start\n");
    kill(pid, SIGKILL);
    return 1;
  }

  std::atomic<uint64_t> batch_counter{1};
  std::vector<double> otlp_rates, native_rates, otlp_cpu, native_cpu;
  uint64_t acknowledged = 0, errors = 0;
  for (int round = 0; round < rounds; ++round) {
    // OTLP first in even rounds, native first in odd ones.
    for (int k = 0; k < 2; ++k) {
      const bool otlp = (k == 0) == (round % 2 == 0);
      if (!only.empty() && only != (otlp ? "otlp" : "native")) continue;
      const Phase phase =
          Run(otlp, pid, port, exporters, seconds, otlp_template, offsets,
              native_body, &batch_counter, round);
      const double per_span =
          phase.server_cpu_us / std::max<double>(phase.acknowledged, 1);
      (otlp ? otlp_rates : native_rates).push_back(phase.spans_per_second);
      (otlp ? otlp_cpu : native_cpu).push_back(per_span);
      acknowledged += phase.acknowledged;
      errors += phase.errors;
      std::printf(
          "round %d %-6s %9.0f /s, vigild %5.1f us CPU each (%.2f cores), "
          "client %.2f cores (%llu errors)\n",
          round, otlp ? "otlp" : "native", phase.spans_per_second, per_span,
          phase.server_cpu_us / (seconds * 1e6),
          phase.client_cpu_us / (seconds * 1e6),
          static_cast<unsigned long long>(phase.errors));
      std::fflush(stdout);
    }
  }

  // Every acknowledged span and event is in the log, read after vigild
  // stopped.
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  auto log =
      eventlog::EventLog::Open(eventlog::Options{}, dir.path() + "/data");
  const uint64_t head_position = log.ok() ? (*log)->HeadPosition() : 0;

  for (auto* values : {&otlp_rates, &native_rates, &otlp_cpu, &native_cpu}) {
    if (values->empty()) values->push_back(0);
  }
  const double otlp = Median(otlp_rates), native = Median(native_rates);
  std::printf(
      "\nOTLP/HTTP protobuf: median %.0f spans/s over %d phases of %.0f s\n",
      otlp, rounds, seconds);
  std::printf("native REST bulk:   median %.0f events/s\n", native);
  std::printf("vigild CPU per span: median %.1f us (OTLP), %.1f us (native)\n",
              Median(otlp_cpu), Median(native_cpu));
  std::printf("ratio OTLP/native:  %.2f\n", otlp / native);
  std::printf("acknowledged %llu, head position %llu%s, errors %llu\n",
              static_cast<unsigned long long>(acknowledged),
              static_cast<unsigned long long>(head_position),
              head_position == acknowledged ? " (all durable)" : " (MISMATCH)",
              static_cast<unsigned long long>(errors));
  return head_position == acknowledged ? 0 : 1;
}

}  // namespace
}  // namespace vigil

int main(int argc, char** argv) { return vigil::Main(argc, argv); }
