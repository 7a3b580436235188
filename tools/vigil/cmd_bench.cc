// vigil bench: load generators for a running vigild, and the bare gRPC
// ceiling to compare them with.
//   vigil bench append --server H:P --clients N --events E --size B --duration S
//   vigil bench session --server H:P --clients N --depth D --duration S
//   vigil bench echo   --clients N --size B --duration S
// Each client is a thread with its own channel, sending one call at a time;
// the figures are events (or calls) per second and per-call latency
// percentiles. `append` then subscribes from position 0 and reports how fast
// Subscribe delivers the history (the catch-up read rate).

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/event_proto.h"
#include "api/status_mapping.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "grpcpp/grpcpp.h"
#include "tools/vigil/bench_live.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/remote.h"
#include "vigil/bench/echo.grpc.pb.h"

namespace vigil::cli {
namespace {

struct LoadFlags {
  uint64_t clients = 64;
  uint64_t events = 1;
  uint64_t size = 256;
  absl::Duration duration = absl::Seconds(10);
  uint64_t rate = 0;  // calls per second over all clients; 0: as fast as can be
  uint64_t depth = 16;  // session: appends in flight per session
  bool keys = false;    // an idempotency key on every append
};

absl::StatusOr<LoadFlags> ParseLoadFlags(const FlagValues& flags) {
  LoadFlags load;
  ASSIGN_OR_RETURN(load.clients, flags.GetUint64("clients", 64));
  ASSIGN_OR_RETURN(load.events, flags.GetUint64("events", 1));
  ASSIGN_OR_RETURN(load.size, flags.GetUint64("size", 256));
  uint64_t seconds = 10;
  ASSIGN_OR_RETURN(seconds, flags.GetUint64("duration", 10));
  load.duration = absl::Seconds(seconds);
  ASSIGN_OR_RETURN(load.rate, flags.GetUint64("rate", 0));
  ASSIGN_OR_RETURN(load.depth, flags.GetUint64("depth", 16));
  load.keys = flags.Has("idempotency-keys");
  if (load.clients == 0 || load.clients > 4096 || load.events == 0 ||
      load.events > 1000 || load.size < 16 || load.size > (1 << 20) ||
      seconds == 0 || seconds > 3600 || load.depth == 0 ||
      load.depth > 1024) {
    return absl::InvalidArgumentError(
        "--clients 1..4096, --events 1..1000, --size 16..1048576, "
        "--duration 1..3600, --depth 1..1024");
  }
  return load;
}

// Latencies of every call of every client, and what they add up to.
struct Samples {
  absl::Mutex mu;
  std::vector<double> micros ABSL_GUARDED_BY(mu);
  // From the moment each call was actually sent: without the client's own
  // lateness (a paced client thread woken late by the kernel), which
  // `micros` rightly counts.
  std::vector<double> sent_micros ABSL_GUARDED_BY(mu);
  uint64_t calls ABSL_GUARDED_BY(mu) = 0;
  uint64_t errors ABSL_GUARDED_BY(mu) = 0;
  std::string first_error ABSL_GUARDED_BY(mu);
  // From the start until the last call in flight at the end returned: what
  // the rates are divided by (the nominal duration would count those last
  // calls in a window that ended before they did).
  absl::Duration elapsed ABSL_GUARDED_BY(mu);
};

// Runs `call` from `clients` threads until `duration` passes; each call
// returns OK or an error. With `rate` > 0 the clients together start `rate`
// calls per second on a fixed schedule, and a call's latency counts from
// its scheduled start: a server that falls behind cannot hide its queueing
// by slowing the clients down (no coordinated omission).
void RunClients(uint64_t clients, absl::Duration duration, uint64_t rate,
                const std::function<std::function<grpc::Status()>(int)>& make,
                Samples* samples) {
  const absl::Time begin = absl::Now();
  const absl::Time end = begin + duration;
  const absl::Duration interval =
      rate > 0 ? absl::Seconds(static_cast<double>(clients) /
                               static_cast<double>(rate))
               : absl::ZeroDuration();
  std::vector<std::thread> threads;
  for (uint64_t c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      std::function<grpc::Status()> call = make(static_cast<int>(c));
      std::vector<double> local;
      std::vector<double> local_sent;
      uint64_t errors = 0;
      std::string first_error;
      // Clients start spread over one interval, not all at once.
      absl::Time scheduled = begin + interval * static_cast<double>(c) /
                                         static_cast<double>(clients);
      while (absl::Now() < end) {
        absl::Time start = absl::Now();
        if (rate > 0) {
          if (scheduled > start) absl::SleepFor(scheduled - start);
          start = scheduled;
          scheduled += interval;
        }
        const absl::Time sent = absl::Now();
        grpc::Status status = call();
        const absl::Time answered = absl::Now();
        local.push_back(absl::ToDoubleMicroseconds(answered - start));
        local_sent.push_back(absl::ToDoubleMicroseconds(answered - sent));
        if (!status.ok()) {
          if (errors++ == 0) first_error = status.error_message();
        }
      }
      absl::MutexLock lock(&samples->mu);
      samples->calls += local.size();
      samples->errors += errors;
      if (samples->first_error.empty()) samples->first_error = first_error;
      samples->micros.insert(samples->micros.end(), local.begin(), local.end());
      samples->sent_micros.insert(samples->sent_micros.end(), local_sent.begin(),
                                  local_sent.end());
    });
  }
  for (auto& thread : threads) thread.join();
  absl::MutexLock lock(&samples->mu);
  samples->elapsed = absl::Now() - begin;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

// Prints the JSON line; false (after saying so on stderr) when a call
// failed: the figures then measure failures too, so the run does not count.
bool Report(const std::string& what, Samples& samples, uint64_t per_call) {
  absl::MutexLock lock(&samples.mu);
  std::sort(samples.micros.begin(), samples.micros.end());
  std::sort(samples.sent_micros.begin(), samples.sent_micros.end());
  const double seconds = absl::ToDoubleSeconds(samples.elapsed);
  const uint64_t ok = samples.calls - samples.errors;
  const auto whole = [](double value) { return base::RoundedNumber(value, 0); };
  const std::string line = base::DumpJson(
      {{"bench", what},
       {"calls", samples.calls},
       {"errors", samples.errors},
       {"calls_per_s", whole(static_cast<double>(ok) / seconds)},
       {"events_per_s", whole(static_cast<double>(ok * per_call) / seconds)},
       {"p50_us", whole(Percentile(samples.micros, 0.50))},
       {"p99_us", whole(Percentile(samples.micros, 0.99))},
       {"p999_us", whole(Percentile(samples.micros, 0.999))},
       {"sent_p50_us", whole(Percentile(samples.sent_micros, 0.50))},
       {"sent_p99_us", whole(Percentile(samples.sent_micros, 0.99))}});
  std::printf("%s\n", line.c_str());
  if (samples.errors > 0) {
    std::fprintf(stderr, "vigil: bench: %llu calls failed, first: %s\n",
                 static_cast<unsigned long long>(samples.errors),
                 samples.first_error.c_str());
    return false;
  }
  return true;
}

// The key of a client's n-th append: its stream is its own and new each run.
std::string Key(const std::string& stream, uint64_t n) {
  return absl::StrCat(stream, "-", n);
}

int ReportCatchUp(const FlagValues& flags);

std::string Payload(uint64_t size) {
  const std::string head = "{\"pad\":\"";
  return head + std::string(size - head.size() - 2, 'x') + "\"}";
}

int RunBenchAppend(const FlagValues& flags, const LoadFlags& load) {
  const std::string data = Payload(load.size);
  const std::string run = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  Samples samples;
  RunClients(load.clients, load.duration, load.rate,
             [&](int client) -> std::function<grpc::Status()> {
               auto stub = Connect(flags);
               vigil::v1::AppendRequest request;
               request.set_stream(absl::StrCat("bench-", run, "-", client));
               for (uint64_t e = 0; e < load.events; ++e) {
                 auto* event = request.add_events();
                 event->set_type("BenchEvent");
                 event->set_data(data);
               }
               return [&flags, &load, stub = std::shared_ptr(std::move(stub)),
                       request, n = uint64_t{0}]() mutable {
                 grpc::ClientContext context;
                 Authorize(flags, &context);
                 if (load.keys) request.set_idempotency_key(Key(request.stream(), ++n));
                 vigil::v1::AppendResponse response;
                 return stub->Append(&context, request, &response);
               };
             },
             &samples);
  if (!Report("append", samples, load.events)) {
    return kExitFailure;
  }
  if (flags.Has("no-catch-up")) return kExitOk;
  return ReportCatchUp(flags);
}

// One AppendSession of `vigil bench session` on the callback API (no
// thread of its own): keeps `depth` appends unanswered until `end`, then
// half-closes and takes the last answers. Latency: from the write to its
// answer.
class SessionLoad final
    : public grpc::ClientBidiReactor<vigil::v1::AppendSessionRequest,
                                     vigil::v1::AppendSessionResponse> {
 public:
  SessionLoad(const FlagValues& flags, const LoadFlags& load,
              const std::string& stream, const std::string& data,
              absl::Time end)
      : stub_(Connect(flags)), load_(load), end_(end) {
    Authorize(flags, &context_);
    vigil::v1::AppendRequest* append = request_.mutable_append();
    append->set_stream(stream);
    for (uint64_t e = 0; e < load.events; ++e) {
      auto* event = append->add_events();
      event->set_type("BenchEvent");
      event->set_data(data);
    }
  }

  void Begin() {
    stub_->async()->AppendSession(&context_, this);
    StartRead(&answer_);
    Next();
    StartCall();
  }

  // Blocks until the session is over; adds its figures to `samples`.
  void AwaitInto(Samples* samples) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&over_));
    absl::MutexLock into(&samples->mu);
    samples->calls += micros_.size();
    samples->errors += errors_;
    if (samples->first_error.empty()) samples->first_error = first_error_;
    samples->micros.insert(samples->micros.end(), micros_.begin(),
                           micros_.end());
    samples->sent_micros.insert(samples->sent_micros.end(), micros_.begin(),
                                micros_.end());
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) closed_ = true;
    }
    Next();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the session is over; OnDone follows
    {
      absl::MutexLock lock(&mu_);
      auto it = sent_.find(answer_.correlation_id());
      if (it != sent_.end()) {
        micros_.push_back(absl::ToDoubleMicroseconds(absl::Now() - it->second));
        sent_.erase(it);
      }
      if (answer_.has_error() && errors_++ == 0) {
        first_error_ = answer_.error().message();
      }
    }
    StartRead(&answer_);
    Next();
  }

  void OnDone(const grpc::Status& status) override {
    absl::MutexLock lock(&mu_);
    if (!status.ok() && errors_++ == 0) first_error_ = status.error_message();
    over_ = true;
  }

 private:
  // Writes the next append when there is room, or half-closes once the
  // time is up and the last write is done.
  void Next() {
    bool write = false;
    bool close = false;
    {
      absl::MutexLock lock(&mu_);
      if (writing_ || closed_) return;
      if (absl::Now() >= end_) {
        closed_ = close = true;
      } else if (sent_.size() < load_.depth) {
        const uint64_t n = ++written_;
        request_.set_correlation_id(n);
        if (load_.keys) {
          vigil::v1::AppendRequest* append = request_.mutable_append();
          append->set_idempotency_key(Key(append->stream(), n));
        }
        sent_[n] = absl::Now();
        writing_ = write = true;
      }
    }
    if (write) StartWrite(&request_);
    if (close) StartWritesDone();
  }

  const std::unique_ptr<vigil::v1::EventStore::Stub> stub_;
  const LoadFlags& load_;
  const absl::Time end_;
  grpc::ClientContext context_;
  vigil::v1::AppendSessionRequest request_;  // owned by the write in flight
  vigil::v1::AppendSessionResponse answer_;  // owned by the read in flight

  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool over_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  // Send times of the unanswered appends, by correlation id.
  absl::flat_hash_map<uint64_t, absl::Time> sent_ ABSL_GUARDED_BY(mu_);
  std::vector<double> micros_ ABSL_GUARDED_BY(mu_);
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
};

// --clients AppendSessions, each on its own channel.
int RunBenchSession(const FlagValues& flags, const LoadFlags& load) {
  const std::string data = Payload(load.size);
  const std::string run = absl::StrCat(absl::ToUnixMicros(absl::Now()));
  const absl::Time begin = absl::Now();
  std::vector<std::unique_ptr<SessionLoad>> sessions;
  for (uint64_t c = 0; c < load.clients; ++c) {
    sessions.push_back(std::make_unique<SessionLoad>(
        flags, load, absl::StrCat("bench-", run, "-", c), data,
        begin + load.duration));
  }
  for (auto& session : sessions) session->Begin();
  Samples samples;
  for (auto& session : sessions) session->AwaitInto(&samples);
  {
    absl::MutexLock lock(&samples.mu);
    samples.elapsed = absl::Now() - begin;
  }
  if (!Report("session", samples, load.events)) return kExitFailure;
  return kExitOk;
}

int ReportCatchUp(const FlagValues& flags) {
  // Catch-up: the whole history through Subscribe, until `caught_up`.
  grpc::ClientContext context;
  Authorize(flags, &context);
  auto stub = Connect(flags);
  vigil::v1::SubscribeRequest request;
  auto reader = stub->Subscribe(&context, request);
  vigil::v1::SubscribeResponse response;
  uint64_t events = 0;
  const absl::Time start = absl::Now();
  while (reader->Read(&response)) {
    if (response.has_event()) ++events;
    if (response.kind_case() == vigil::v1::SubscribeResponse::kCaughtUp) break;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  context.TryCancel();
  reader->Finish();
  const std::string line = base::DumpJson(
      {{"bench", "subscribe_catch_up"},
       {"events", events},
       {"seconds", base::RoundedNumber(seconds, 2)},
       {"events_per_s",
        base::RoundedNumber(
            seconds > 0 ? static_cast<double>(events) / seconds : 0, 0)}});
  std::printf("%s\n", line.c_str());
  return kExitOk;
}

class EchoService final : public vigil::bench::Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const vigil::bench::EchoMessage* request,
                                 vigil::bench::EchoMessage* response) override {
    response->set_payload(request->payload());
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int RunBenchEcho(const LoadFlags& load) {
  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return Fail("bench echo", absl::UnavailableError("cannot start the server"));
  }
  const std::string target = absl::StrCat("127.0.0.1:", port);
  const std::string payload = Payload(load.size);
  Samples samples;
  RunClients(load.clients, load.duration, load.rate,
             [&](int) -> std::function<grpc::Status()> {
               auto stub = std::shared_ptr(vigil::bench::Echo::NewStub(
                   grpc::CreateChannel(target, grpc::InsecureChannelCredentials())));
               vigil::bench::EchoMessage request;
               request.set_payload(payload);
               return [stub, request]() {
                 grpc::ClientContext context;
                 vigil::bench::EchoMessage response;
                 return stub->Echo(&context, request, &response);
               };
             },
             &samples);
  const bool ok = Report("echo", samples, 1);
  server->Shutdown();
  return ok ? kExitOk : kExitFailure;
}

int RunBench(const Command& command, const FlagValues& flags) {
  const std::string what(flags.Get("what"));
  absl::StatusOr<LoadFlags> load = ParseLoadFlags(flags);
  if (!load.ok()) {
    return UsageError(command.name, std::string(load.status().message()));
  }
  if (what == "append") {
    if (!UsesServer(flags)) {
      return UsageError(command.name, "bench append needs --server HOST:PORT");
    }
    return RunBenchAppend(flags, *load);
  }
  if (what == "session") {
    if (!UsesServer(flags)) {
      return UsageError(command.name, "bench session needs --server HOST:PORT");
    }
    return RunBenchSession(flags, *load);
  }
  if (what == "echo") return RunBenchEcho(*load);
  if (what == "live") return RunBenchLive(flags);
  return UsageError(command.name,
                    "say what to measure: vigil bench append|session|echo|live");
}

}  // namespace

Command BenchCommand() {
  return Command{
      .name = "bench",
      .summary = "load a running vigild (append, session) or measure bare gRPC (echo)",
      .usage = "vigil bench append|session|echo|live [flags]   (or --what W)",
      .details =
          "--what append: --clients threads, each with its own channel,\n"
          "append --events events of --size bytes to their own stream, one\n"
          "call at a time, for --duration seconds; then one subscriber reads\n"
          "the whole log back (not with --no-catch-up). --what session: --clients AppendSession\n"
          "streams, each on its own channel with --depth appends in flight.\n"
          "--idempotency-keys puts a new key on every append. --what echo: the same clients against a bare\n"
          "gRPC echo service in this process, the network layer's ceiling.\n"
          "Prints one JSON line per measurement: calls and events per\n"
          "second, latency p50/p99/p999 in microseconds. With --rate the\n"
          "latency counts from each call's scheduled start; sent_p50_us and\n"
          "sent_p99_us count from when it was actually sent, leaving out\n"
          "the client's own lateness. Exits 1 when a call failed (the first\n"
          "error goes to stderr).\n"
          "--what live: --connections WebSocket clients on /v1/live at\n"
          "--http while --rate events/s are appended over gRPC for\n"
          "--duration seconds; delivery latency from append\n"
          "acknowledgement to receipt (p50/p99/max, microseconds), and\n"
          "from the time the append was due on the schedule,\n"
          "frames/s, and with --pid vigild's RSS (with --idle-seconds also\n"
          "after the connections were held silent that long).",
      .flags =
          {
              kServerFlag,
              kTokenFlag,
              {"what", "W", "append, session, echo or live (required)"},
              {"depth", "N", "session: appends in flight per session "
                             "(default 16, at most 1024)"},
              {"idempotency-keys", "", "append, session: a key on every append"},
              {"no-catch-up", "", "append: skip reading the log back after"},
              {"connections", "N", "live: WebSocket clients (default 100)"},
              {"http", "IP:PORT", "live: vigild's HTTP (default 127.0.0.1:7601)"},
              {"pid", "PID", "live: vigild's process id, for its RSS"},
              {"idle-seconds", "S",
               "live: before the load, hold the connections silent this "
               "long (the server's keep-alive pings answered), then read "
               "vigild's RSS again (default 0)"},
              {"clients", "N", "concurrent clients (default 64)"},
              {"events", "E", "events per append (default 1)"},
              {"size", "B", "bytes of data per event (default 256)"},
              {"duration", "S", "seconds to run (default 10)"},
              {"rate", "R",
               "calls per second over all clients, on a fixed schedule "
               "(default 0: as fast as they go)"},
          },
      .run = RunBench,
  };
}

}  // namespace vigil::cli
