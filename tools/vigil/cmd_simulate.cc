// vigil simulate: a team of Manager/Worker agents (tools/simulator/) sending
// its appends to a running vigild at a fixed rate, as a careful client does:
// an idempotency key on every append, retries with backoff on transient
// errors under the same key, and on ABORTED the stream's actual revision
// read and the append decided again.
//
// The main thread paces the scenario's steps; --in-flight sender threads
// make the calls. Steps of one stream go out in order, one at a time,
// except a step that races its predecessor (Step::races_previous), which is
// sent alongside it; the loser of that race is appended again before
// anything later on its stream.
//
// Over ~500 lines as one concept, the one client loop of `vigil simulate`:
// the flags, the Sender (ordering per stream, retries, conflict handling)
// and the summary all describe that loop, and none is used elsewhere.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "tools/vigil/simulate_traces.h"
#include "api/status_mapping.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "grpcpp/grpcpp.h"
#include "tools/simulator/scenario.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

using simulator::Scenario;
using simulator::Step;

// Steps submitted and not yet finished (waiting behind their stream, ready,
// or in flight); the pacer waits while there are this many.
constexpr size_t kMaxOutstanding = 256;
// Attempts of one append on transient errors, and the backoff between them
// (doubling from the first, with jitter, up to the last).
constexpr int kMaxAttempts = 10;
constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(2);
// How often one step may lose a race before the client gives up on it.
constexpr int kMaxConflicts = 5;
constexpr auto kCallTimeout = std::chrono::seconds(10);

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void RequestStop(int) { stop_requested.store(true); }

struct SimulateFlags {
  simulator::ScenarioOptions scenario;
  uint64_t rate = 50;
  std::optional<absl::Duration> duration;
  uint64_t events = 0;  // 0: no limit
  uint64_t in_flight = 4;
  uint64_t trace_runs_per_minute = 0;  // 0: no traces
};

absl::StatusOr<SimulateFlags> ParseSimulateFlags(const FlagValues& flags) {
  SimulateFlags sim;
  uint64_t managers = 0, workers = 0, seconds = 0;
  ASSIGN_OR_RETURN(managers, flags.GetUint64("managers", 2));
  ASSIGN_OR_RETURN(workers, flags.GetUint64("workers", 8));
  ASSIGN_OR_RETURN(sim.scenario.seed, flags.GetUint64("seed", 1));
  ASSIGN_OR_RETURN(sim.rate, flags.GetUint64("rate", 50));
  ASSIGN_OR_RETURN(seconds, flags.GetUint64("duration", 0));
  ASSIGN_OR_RETURN(sim.events, flags.GetUint64("events", 0));
  ASSIGN_OR_RETURN(sim.in_flight, flags.GetUint64("in-flight", 4));
  ASSIGN_OR_RETURN(sim.trace_runs_per_minute,
                   flags.GetUint64("trace-runs-per-minute", 0));
  if (managers == 0 || managers > 10'000 || workers == 0 ||
      workers > 10'000 || sim.rate == 0 || sim.rate > 100'000 ||
      seconds > 86'400 || sim.in_flight == 0 || sim.in_flight > 64 ||
      sim.trace_runs_per_minute > 60'000) {
    return absl::InvalidArgumentError(
        "--managers and --workers 1..10000, --rate 1..100000, --duration "
        "1..86400, --in-flight 1..64, --trace-runs-per-minute 0..60000");
  }
  sim.scenario.managers = static_cast<int>(managers);
  sim.scenario.workers = static_cast<int>(workers);
  if (seconds > 0) sim.duration = absl::Seconds(seconds);
  // By default every run writes streams of its own; --prefix (with the same
  // --seed) repeats one.
  sim.scenario.id_prefix = flags.Has("prefix")
                               ? std::string(flags.Get("prefix"))
                               : absl::StrCat("sim", absl::ToUnixSeconds(
                                                         absl::Now()));
  double conflict_rate = 0.02;
  if (flags.Has("conflict-rate") &&
      !absl::SimpleAtod(std::string(flags.Get("conflict-rate")),
                        &conflict_rate)) {
    return absl::InvalidArgumentError("--conflict-rate must be a number 0..1");
  }
  sim.scenario.conflict_rate = conflict_rate;
  if (flags.Has("scenario")) {
    ASSIGN_OR_RETURN(sim.scenario.incident, simulator::IncidentFromName(
                                                flags.Get("scenario")));
  }
  ASSIGN_OR_RETURN(sim.scenario.incident_start,
                   flags.GetUint64("incident-start", 100));
  ASSIGN_OR_RETURN(sim.scenario.incident_steps,
                   flags.GetUint64("incident-steps", 300));
  return sim;
}

struct Totals {
  uint64_t steps = 0;
  uint64_t appends = 0;       // acknowledged, each step once
  uint64_t events = 0;        // in those appends
  uint64_t deduplicated = 0;  // already appended by an earlier run
  uint64_t retries = 0;       // attempts again after a transient error
  uint64_t conflicts = 0;     // ABORTED answers
  uint64_t errors = 0;        // steps given up on
  std::string first_error;
};

// The steps on their way to the server; see the file comment. Submit is
// called from one thread; the sender threads are its own.
class Sender {
 public:
  Sender(const FlagValues& flags, uint64_t threads) : flags_(flags) {
    for (uint64_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this, i] { Work(i); });
    }
  }

  // Queues `step` behind its stream; blocks while kMaxOutstanding steps are
  // outstanding.
  void Submit(Step step) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](size_t* outstanding) { return *outstanding < kMaxOutstanding; },
        &outstanding_));
    ++outstanding_;
    ++totals_.steps;
    StreamQueue& queue = streams_[step.request.stream];
    const bool now = queue.waiting.empty() &&
                     (queue.in_flight == 0 || step.races_previous);
    if (now) {
      ++queue.in_flight;
      ready_.push_back(Pending{std::move(step)});
    } else {
      queue.waiting.push_back(Pending{std::move(step)});
    }
  }

  // Waits until every submitted step is finished; ends the threads.
  Totals Finish() {
    {
      absl::MutexLock lock(&mu_);
      finishing_ = true;
    }
    for (std::thread& thread : threads_) thread.join();
    absl::MutexLock lock(&mu_);
    return totals_;
  }

 private:
  struct Pending {
    Step step;
    int conflicts = 0;
  };
  struct StreamQueue {
    int in_flight = 0;
    std::deque<Pending> waiting;
  };
  enum class Outcome { kAppended, kDeduplicated, kRetry, kFailed };
  // One step's result, as the sender thread found it.
  struct Result {
    Outcome outcome = Outcome::kFailed;
    uint64_t retries = 0;
    uint64_t conflicts = 0;
    uint64_t events = 0;  // with kAppended
    std::string error;
    std::optional<Pending> retry;  // with kRetry: the step decided again
  };

  void Work(uint64_t index) {
    std::mt19937_64 jitter(index);
    auto stub = Connect(flags_);
    while (true) {
      Pending pending;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(this, &Sender::HasWork));
        if (ready_.empty()) return;  // finishing, and nothing is outstanding
        pending = std::move(ready_.front());
        ready_.pop_front();
      }
      const std::string stream = pending.step.request.stream;
      Result result = Send(*stub, std::move(pending), jitter);
      absl::MutexLock lock(&mu_);
      Record(stream, std::move(result));
    }
  }

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !ready_.empty() || (finishing_ && outstanding_ == 0);
  }

  void Record(const std::string& stream, Result result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    totals_.retries += result.retries;
    totals_.conflicts += result.conflicts;
    StreamQueue& queue = streams_[stream];
    --queue.in_flight;
    switch (result.outcome) {
      case Outcome::kAppended:
        ++totals_.appends;
        totals_.events += result.events;
        break;
      case Outcome::kDeduplicated:
        ++totals_.deduplicated;
        break;
      case Outcome::kRetry:
        // Before anything later on the stream: the scenario counted on it.
        queue.waiting.push_front(*std::move(result.retry));
        break;
      case Outcome::kFailed:
        ++totals_.errors;
        if (totals_.first_error.empty()) totals_.first_error = result.error;
        break;
    }
    if (result.outcome != Outcome::kRetry) --outstanding_;
    if (queue.in_flight == 0) {
      // The next step of the stream, and any that race it.
      while (!queue.waiting.empty()) {
        ready_.push_back(std::move(queue.waiting.front()));
        queue.waiting.pop_front();
        ++queue.in_flight;
        if (queue.waiting.empty() || !queue.waiting.front().step.races_previous)
          break;
      }
    }
    if (queue.in_flight == 0 && queue.waiting.empty()) streams_.erase(stream);
  }

  // One step: the append, again after transient errors (same key), and on
  // ABORTED the step decided again at the stream's actual revision.
  Result Send(vigil::v1::EventStore::Stub& stub, Pending pending,
              std::mt19937_64& jitter) {
    Result result;
    vigil::v1::AppendRequest request;
    api::ToProto(pending.step.request, &request);
    absl::Duration backoff = kFirstBackoff;
    for (int attempt = 1;; ++attempt) {
      grpc::ClientContext context;
      Authorize(flags_, &context);
      context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
      vigil::v1::AppendResponse response;
      const grpc::Status status = stub.Append(&context, request, &response);
      if (status.ok()) {
        // A deduplicated answer to a retry is this run's own append; to a
        // first attempt, an earlier run's.
        result.outcome = response.deduplicated() && attempt == 1
                             ? Outcome::kDeduplicated
                             : Outcome::kAppended;
        result.events = pending.step.request.events.size();
        return result;
      }
      const absl::Status error = api::FromGrpcStatus(status, &context);
      if (absl::IsAborted(error)) {
        ++result.conflicts;
        return Conflict(stub, std::move(pending), error, std::move(result));
      }
      const bool transient = absl::IsUnavailable(error) ||
                             absl::IsResourceExhausted(error) ||
                             absl::IsDeadlineExceeded(error);
      if (!transient || attempt == kMaxAttempts) {
        result.error = absl::StrCat(pending.step.request.stream, ": ",
                                    error.ToString());
        return result;
      }
      ++result.retries;
      const double spread = 0.5 + static_cast<double>(jitter() >> 11) *
                                      0x1.0p-53;  // 0.5..1.5
      absl::SleepFor(backoff * spread);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  Result Conflict(vigil::v1::EventStore::Stub& stub, Pending pending,
                  const absl::Status& error, Result result) {
    absl::StatusOr<std::optional<uint64_t>> actual =
        ActualRevision(stub, pending.step.request.stream, error);
    if (!actual.ok()) {
      result.error = absl::StrCat("reading the revision of ",
                                  pending.step.request.stream, ": ",
                                  actual.status().ToString());
      return result;
    }
    // The step may have landed already: its first attempt timed out after
    // all, or an earlier run with the same --seed and --prefix won the race
    // this one lost. Its event ids say so.
    absl::StatusOr<bool> landed =
        AlreadyLanded(stub, pending.step.request, *actual);
    if (landed.ok() && *landed) {
      result.outcome = Outcome::kDeduplicated;
      return result;
    }
    std::optional<Step> retry = Scenario::OnConflict(pending.step, *actual);
    if (!retry.has_value() || pending.conflicts + 1 >= kMaxConflicts) {
      result.error = absl::StrCat(pending.step.request.stream, ": ",
                                  error.ToString(), " (given up)");
      return result;
    }
    result.outcome = Outcome::kRetry;
    result.retry = Pending{*std::move(retry), pending.conflicts + 1};
    return result;
  }

  // Whether the stream, up to `actual`, holds the first event of `request`.
  absl::StatusOr<bool> AlreadyLanded(vigil::v1::EventStore::Stub& stub,
                                     const eventlog::AppendRequest& request,
                                     std::optional<uint64_t> actual) {
    if (!actual.has_value() || request.events.empty()) return false;
    const eventlog::ExpectedRevision& expected = request.expected_revision;
    const uint64_t from =
        expected.kind() == eventlog::ExpectedRevision::Kind::kExact
            ? expected.revision() + 1
            : 0;
    if (from > *actual) return false;
    grpc::ClientContext context;
    Authorize(flags_, &context);
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    vigil::v1::ReadStreamRequest read;
    read.set_stream(request.stream);
    read.set_from_revision(from);
    read.set_max_count(*actual - from + 1);
    auto reader = stub.ReadStream(&context, read);
    vigil::v1::RecordedEvent event;
    bool found = false;
    while (reader->Read(&event)) {
      if (event.event_id() == request.events[0].event_id) found = true;
    }
    const grpc::Status status = reader->Finish();
    if (!status.ok()) return api::FromGrpcStatus(status, &context);
    return found;
  }

  // The stream's actual last revision: from the ABORTED answer's trailer,
  // else from GetStream (nullopt: no stream).
  absl::StatusOr<std::optional<uint64_t>> ActualRevision(
      vigil::v1::EventStore::Stub& stub, const std::string& stream,
      const absl::Status& error) {
    if (absl::optional<absl::Cord> payload =
            error.GetPayload(eventlog::kActualRevisionPayload)) {
      uint64_t revision = 0;
      if (absl::SimpleAtoi(std::string(*payload), &revision)) return revision;
      if (*payload == "none") return std::optional<uint64_t>();
    }
    grpc::ClientContext context;
    Authorize(flags_, &context);
    context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
    vigil::v1::GetStreamRequest request;
    request.set_stream(stream);
    vigil::v1::StreamInfo info;
    const grpc::Status status = stub.GetStream(&context, request, &info);
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
      return std::optional<uint64_t>();
    }
    if (!status.ok()) return api::FromGrpcStatus(status, &context);
    return info.last_revision();
  }

  const FlagValues& flags_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, StreamQueue> streams_ ABSL_GUARDED_BY(mu_);
  std::deque<Pending> ready_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  Totals totals_ ABSL_GUARDED_BY(mu_);
};

// Fails fast, before the first step, when the server cannot be reached or
// refuses the token: GetStream of a stream that need not exist.
absl::Status Probe(const FlagValues& flags) {
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  vigil::v1::GetStreamRequest request;
  request.set_stream("agent-vigil-simulate-probe");
  vigil::v1::StreamInfo info;
  const grpc::Status status = Connect(flags)->GetStream(&context, request, &info);
  if (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) {
    return absl::OkStatus();
  }
  return api::FromGrpcStatus(status, &context);
}

void PrintSummary(const SimulateFlags& sim, const Scenario& scenario,
                  const Totals& totals, const TraceSender::Totals& traces,
                  absl::Duration elapsed) {
  const double seconds = std::max(absl::ToDoubleSeconds(elapsed), 1e-3);
  const std::string line = base::DumpJson(
      {{"simulate", "summary"},
       {"prefix", sim.scenario.id_prefix},
       {"scenario", simulator::IncidentName(sim.scenario.incident)},
       {"incident_agent", scenario.incident_agent()},
       {"seed", sim.scenario.seed},
       {"steps", totals.steps},
       {"appends", totals.appends},
       {"events", totals.events},
       {"deduplicated", totals.deduplicated},
       {"retries", totals.retries},
       {"conflicts", totals.conflicts},
       {"errors", totals.errors},
       {"trace_runs", traces.runs},
       {"spans", traces.spans},
       {"trace_errors", traces.errors},
       {"seconds", base::RoundedNumber(seconds, 2)},
       {"appends_per_s",
        base::RoundedNumber(static_cast<double>(totals.appends) / seconds, 1)},
       {"events_per_s",
        base::RoundedNumber(static_cast<double>(totals.events) / seconds, 1)}});
  std::printf("%s\n", line.c_str());
}

int RunSimulate(const Command& command, const FlagValues& flags) {
  if (!UsesServer(flags)) {
    return UsageError(command.name, "simulate needs --server HOST:PORT");
  }
  absl::StatusOr<SimulateFlags> sim = ParseSimulateFlags(flags);
  if (!sim.ok()) {
    return UsageError(command.name, std::string(sim.status().message()));
  }
  absl::StatusOr<std::unique_ptr<Scenario>> scenario =
      Scenario::Create(sim->scenario);
  if (!scenario.ok()) {
    return UsageError(command.name, std::string(scenario.status().message()));
  }
  if (absl::Status status = Probe(flags); !status.ok()) {
    return Fail("cannot reach " + std::string(flags.Get("server")), status);
  }
  std::fprintf(stderr,
               "vigil: simulate: %d managers, %d workers, seed %llu, prefix "
               "%s, %llu appends/s, scenario %s\n",
               sim->scenario.managers, sim->scenario.workers,
               static_cast<unsigned long long>(sim->scenario.seed),
               sim->scenario.id_prefix.c_str(),
               static_cast<unsigned long long>(sim->rate),
               std::string(simulator::IncidentName(sim->scenario.incident))
                   .c_str());

  // The first SIGINT or SIGTERM ends the run cleanly; a second one kills.
  struct sigaction action = {};
  action.sa_handler = RequestStop;
  action.sa_flags = SA_RESETHAND;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const absl::Time begin = absl::Now();
  const absl::Duration interval = absl::Seconds(1) / sim->rate;
  // Sleeps are cut into slices this long, so that a signal is seen soon.
  const absl::Duration slice = absl::Milliseconds(50);
  Sender sender(flags, sim->in_flight);
  std::optional<TraceSender> traces;
  if (sim->trace_runs_per_minute > 0) {
    traces.emplace(flags,
                   simulator::TraceRunOptions{.seed = sim->scenario.seed,
                                              .prefix = sim->scenario.id_prefix},
                   sim->trace_runs_per_minute);
  }
  uint64_t events = 0;
  for (uint64_t i = 0;; ++i) {
    // A fixed schedule: a slow server makes the run fall behind, not the
    // schedule stretch.
    const absl::Time scheduled = begin + interval * static_cast<double>(i);
    while (!stop_requested.load() && absl::Now() < scheduled) {
      absl::SleepFor(std::min(slice, scheduled - absl::Now()));
    }
    if (stop_requested.load()) break;
    if (sim->duration.has_value() && absl::Now() - begin >= *sim->duration) {
      break;
    }
    if (sim->events > 0 && events >= sim->events) break;
    Step step = (*scenario)->Next();
    events += step.request.events.size();
    sender.Submit(std::move(step));
  }
  const Totals totals = sender.Finish();
  const TraceSender::Totals trace_totals =
      traces.has_value() ? traces->Finish() : TraceSender::Totals{};
  PrintSummary(*sim, **scenario, totals, trace_totals, absl::Now() - begin);
  if (totals.errors > 0 || trace_totals.errors > 0) {
    if (totals.errors > 0) {
      std::fprintf(stderr, "vigil: simulate: %llu steps failed, first: %s\n",
                   static_cast<unsigned long long>(totals.errors),
                   totals.first_error.c_str());
    }
    if (trace_totals.errors > 0) {
      std::fprintf(stderr,
                   "vigil: simulate: %llu trace runs failed, first: %s\n",
                   static_cast<unsigned long long>(trace_totals.errors),
                   trace_totals.first_error.c_str());
    }
    FinishStdout();
    return kExitFailure;
  }
  return FinishStdout();
}

}  // namespace

Command SimulateCommand() {
  return Command{
      .name = "simulate",
      .summary = "send a simulated team of Manager/Worker agents to a vigild",
      .usage = "vigil simulate --server HOST:PORT [flags]",
      .details =
          "Runs a deterministic Manager/Worker workload: agents register and\n"
          "heartbeat; managers create tasks (some subtasks) and assign them;\n"
          "workers start them, call LLMs and tools, report progress, message\n"
          "their manager, and complete or fail them; idle workers are\n"
          "stopped and replaced. Every known domain event type, on\n"
          "agent-<id> and task-<id> streams with exact expected revisions.\n"
          "Appends go out at --rate per second with an idempotency key each,\n"
          "retried with backoff on UNAVAILABLE, RESOURCE_EXHAUSTED and\n"
          "DEADLINE_EXCEEDED under the same key. Managers sometimes race a\n"
          "worker on its task stream (--conflict-rate): the loser gets\n"
          "ABORTED, reads the actual revision and appends again after it.\n"
          "Runs until --duration, --events or SIGINT/SIGTERM, finishes the\n"
          "appends in flight, and prints one JSON line: steps, appends,\n"
          "events, deduplicated, retries, conflicts, errors, the rates.\n"
          "The same --seed and --prefix give the same appends, ids and keys;\n"
          "run again on the same server, they are deduplicated. Exits 1 when\n"
          "a step was given up on.\n"
          "--scenario adds an incident agent <prefix>-s<seed>-x0 beside the\n"
          "team, which plays one incident for alert rules (docs/alerts.md):\n"
          "stuck-worker (its task stops progressing), silent-agent (no\n"
          "heartbeat), failure-burst (3 tasks fail), cost-overrun (10 LLM\n"
          "calls of $0.51). It starts at step --incident-start and lasts\n"
          "--incident-steps steps; the agent acts every 5th step.",
      .flags =
          {
              kServerFlag,
              kTokenFlag,
              {"managers", "M", "manager agents (default 2)"},
              {"workers", "W", "worker agents (default 8)"},
              {"rate", "R", "appends per second (default 50)"},
              {"seed", "S", "decides the whole scenario (default 1)"},
              {"duration", "SECONDS", "stop after this long"},
              {"events", "N", "stop once N events are sent"},
              {"prefix", "P",
               "starts every agent and task id (default sim<unix time>)"},
              {"conflict-rate", "F",
               "share of progress reports a manager races (default 0.02)"},
              {"in-flight", "N", "appends in flight at once (default 4)"},
              {"scenario", "NAME",
               "team (default), stuck-worker, silent-agent, failure-burst "
               "or cost-overrun"},
              {"incident-start", "STEP",
               "the step the incident starts at (default 100)"},
              {"incident-steps", "N", "steps the incident lasts (default 300)"},
              {"trace-runs-per-minute", "N",
               "also export runs of a traced agent team (Planner, "
               "Researcher, Writer) over OTLP/gRPC (default 0: none)"},
          },
      .run = RunSimulate,
  };
}

}  // namespace vigil::cli
