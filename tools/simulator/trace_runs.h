// TraceRuns: a deterministic team of framework agents as OpenTelemetry
// would trace them with the GenAI semantic conventions (docs/otlp.md), for
// `vigil simulate --trace-runs-per-minute` and tests: what an agent
// framework exporting to Vigil's OTLP endpoint sends.
//
// One run: a Planner agent's `invoke_agent` root span with a `chat` span,
// then one `invoke_agent` span per worker agent (Researcher, Writer) under
// it, each with 1–3 `chat` spans (model, input and output tokens) and 0–2
// `execute_tool` spans. About one worker run in eight fails (span status
// error, with a failed tool call before it), as real runs do.
//
// Exports come the way an SDK's batch processor sends them: spans when
// they end, children before their parents, over several exports (each
// worker's spans, then the Planner's), so the ingest sees a run whose
// children arrived first.
//
// Same seed and prefix, same runs, byte for byte (span times aside, which
// follow Next's argument); trace and span ids are drawn from both, so
// another seed or prefix draws other traces. Not thread-safe.

#ifndef VIGIL_TOOLS_SIMULATOR_TRACE_RUNS_H_
#define VIGIL_TOOLS_SIMULATOR_TRACE_RUNS_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace vigil::simulator {

struct TraceRunOptions {
  uint64_t seed = 1;
  // Starts the agents' ids (`<prefix>-planner`, `<prefix>-researcher`, ...)
  // and is the resource's service.name.
  std::string prefix = "sim";
};

class TraceRuns {
 public:
  using Export =
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

  explicit TraceRuns(TraceRunOptions options);

  // The next run, ending at `end_unix_nanos` (its spans start up to a few
  // seconds before), as the exports that carry it, in sending order.
  std::vector<Export> Next(uint64_t end_unix_nanos);

 private:
  const TraceRunOptions options_;
  std::mt19937_64 random_;
};

}  // namespace vigil::simulator

#endif  // VIGIL_TOOLS_SIMULATOR_TRACE_RUNS_H_
