#include "tools/vigil/simulate_traces.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;

constexpr int kMaxAttempts = 10;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
constexpr auto kCallTimeout = std::chrono::seconds(10);

}  // namespace

TraceSender::TraceSender(const FlagValues& flags,
                         simulator::TraceRunOptions options,
                         uint64_t runs_per_minute)
    : thread_([this, &flags, options = std::move(options), runs_per_minute] {
        Loop(flags, options, runs_per_minute);
      }) {}

TraceSender::~TraceSender() { Finish(); }

TraceSender::Totals TraceSender::Finish() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  return totals_;
}

void TraceSender::Loop(const FlagValues& flags,
                       simulator::TraceRunOptions options,
                       uint64_t runs_per_minute) {
  auto stub = TraceService::NewStub(grpc::CreateChannel(
      std::string(flags.Get("server")), grpc::InsecureChannelCredentials()));
  simulator::TraceRuns runs(std::move(options));
  const absl::Duration interval =
      absl::Minutes(1) / static_cast<double>(runs_per_minute);
  const absl::Time begin = absl::Now();
  for (uint64_t i = 0; !stop_.load(); ++i) {
    // A fixed schedule, slept in short slices so that Finish is seen soon.
    const absl::Time scheduled = begin + interval * static_cast<double>(i);
    while (!stop_.load() && absl::Now() < scheduled) {
      absl::SleepFor(std::min(absl::Milliseconds(50), scheduled - absl::Now()));
    }
    if (stop_.load()) break;
    const std::vector<simulator::TraceRuns::Export> exports =
        runs.Next(static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())));
    bool sent = true;
    uint64_t spans = 0;
    for (const auto& request : exports) {
      grpc::Status status;
      absl::Duration backoff = kFirstBackoff;
      for (int attempt = 1; attempt <= kMaxAttempts; ++attempt) {
        grpc::ClientContext context;
        Authorize(flags, &context);
        context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
        ExportTraceServiceResponse response;
        status = stub->Export(&context, request, &response);
        const bool transient =
            status.error_code() == grpc::StatusCode::UNAVAILABLE ||
            status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
        if (!transient || attempt == kMaxAttempts || stop_.load()) break;
        ++totals_.retries;
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, kMaxBackoff);
      }
      if (!status.ok()) {
        if (totals_.errors == 0) totals_.first_error = status.error_message();
        sent = false;
        break;
      }
      spans += request.resource_spans(0).scope_spans(0).spans_size();
    }
    if (sent) {
      ++totals_.runs;
      totals_.spans += spans;
    } else {
      ++totals_.errors;
    }
  }
}

}  // namespace vigil::cli
