#include "tools/torture/workload.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/json.h"
#include "grpcpp/grpcpp.h"

namespace vigil::torture {
namespace {

constexpr int kAppendDeadlineSeconds = 5;
constexpr char kSharedStream[] = "torture-shared";

std::string RandomUuid(std::mt19937_64& random) {
  const uint64_t hi = (random() & 0xffffffffffff0fffULL) | 0x4000ULL;
  const uint64_t lo =
      (random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", hi >> 32,
                         (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48,
                         lo & 0xffffffffffffULL);
}

std::string RandomPad(std::mt19937_64& random, size_t max_bytes) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string pad(16 + random() % (max_bytes - 15), ' ');
  for (char& c : pad) c = kAlphabet[random() % (sizeof(kAlphabet) - 1)];
  return pad;
}

// Definite refusals: the server checked the request and appended nothing.
// Everything else (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, INTERNAL,
// UNKNOWN...) may have been appended.
bool IsDefiniteFailure(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return true;
    default:
      return false;
  }
}

int64_t NowUnixUs() { return absl::ToUnixMicros(absl::Now()); }

std::string StatusText(const grpc::Status& status) {
  return absl::StrCat(static_cast<int>(status.error_code()), ": ",
                      status.error_message());
}

}  // namespace

vigil::v1::AppendRequest ToRequest(const Invocation& op) {
  vigil::v1::AppendRequest request;
  request.set_stream(op.stream);
  request.set_idempotency_key(op.idempotency_key);
  uint64_t exact = 0;
  if (op.expected == "any") {
    request.mutable_expected_revision()->mutable_any();
  } else if (op.expected == "no_stream") {
    request.mutable_expected_revision()->mutable_no_stream();
  } else if (absl::SimpleAtoi(op.expected, &exact)) {
    request.mutable_expected_revision()->set_exact(exact);
  }
  for (size_t i = 0; i < op.event_ids.size(); ++i) {
    vigil::v1::EventData* event = request.add_events();
    event->set_event_id(op.event_ids[i]);
    event->set_type(op.type);
    event->set_content_type("application/json");
    event->set_data(op.data[i]);
  }
  return request;
}

Workload::Workload(History* history, const std::string& target, int clients,
                   int cycle, uint64_t seed, size_t max_pad_bytes)
    : history_(history),
      target_(target),
      cycle_(cycle),
      max_pad_bytes_(std::max<size_t>(max_pad_bytes, 256)) {
  for (int c = 0; c < clients; ++c) {
    threads_.emplace_back([this, c, seed] {
      Run(c, seed ^ (uint64_t(cycle_) << 20) ^ uint64_t(c));
    });
  }
}

Workload::~Workload() { Stop(); }

void Workload::Stop() {
  stop_ = true;
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

void Workload::Run(int client, uint64_t seed) {
  std::mt19937_64 random(seed);
  // A channel per client: one connection each, as separate agents have.
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);
  auto channel = grpc::CreateCustomChannel(
      target_, grpc::InsecureChannelCredentials(), args);
  auto stub = vigil::v1::EventStore::NewStub(channel);
  const std::string own_stream = absl::StrCat("torture-c", client);
  const std::string agent = absl::StrCat("torture-c", client);
  // The own stream's last revision; nullopt: unknown, ask the server.
  std::optional<std::string> expected;
  while (!stop_) {
    if (!expected.has_value()) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(2));
      vigil::v1::GetStreamRequest request;
      request.set_stream(own_stream);
      vigil::v1::StreamInfo info;
      const grpc::Status status = stub->GetStream(&context, request, &info);
      if (status.ok()) {
        expected = absl::StrCat(info.last_revision());
      } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        expected = "no_stream";
      } else {
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
    }
    Invocation op;
    op.cycle = cycle_;
    op.client = client;
    op.type = "AgentHeartbeat";
    const bool shared = random() % 10 == 0;
    op.stream = shared ? kSharedStream : own_stream;
    op.expected = shared ? "any" : *expected;
    const size_t events = (!shared && random() % 5 == 0) ? 2 + random() % 7 : 1;
    for (size_t i = 0; i < events; ++i) {
      op.event_ids.push_back(RandomUuid(random));
      op.data.push_back(base::DumpJson(
          {{"agent_id", agent},
           {"cpu_pct", static_cast<double>(random() % 1000) / 10},
           {"mem_bytes", random() % (1 << 30)},
           {"queue_depth", random() % 100},
           {"pad", RandomPad(random, max_pad_bytes_)}}));
    }
    op.idempotency_key =
        absl::StrFormat("torture-%016x%016x", random(), random());
    const uint64_t id = history_->Invoke(op);
    op.op = id;

    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(kAppendDeadlineSeconds));
    vigil::v1::AppendResponse response;
    const grpc::Status status =
        stub->Append(&context, ToRequest(op), &response);
    Invocation done;
    done.completed_unix_us = NowUnixUs();
    if (status.ok()) {
      done.outcome = Outcome::kOk;
      done.first_position = response.first_position();
      done.last_position = response.last_position();
      done.next_expected_revision = response.next_expected_revision();
      if (!shared) expected = absl::StrCat(response.next_expected_revision());
      ++acknowledged_;
    } else {
      done.outcome = IsDefiniteFailure(status.error_code())
                         ? Outcome::kFail
                         : Outcome::kUnknown;
      done.error = StatusText(status);
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        ++unavailable_;
      }
      if (!shared) expected.reset();
      absl::SleepFor(absl::Milliseconds(10));  // a failing disk: no spin
    }
    history_->Complete(id, done);
  }
}

absl::StatusOr<std::vector<LoggedEvent>> ReadLog(
    vigil::v1::EventStore::Stub& stub, uint64_t from_position) {
  std::vector<LoggedEvent> events;
  for (uint64_t next = from_position;;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(30));
    vigil::v1::ReadAllRequest request;
    request.set_from_position(next);
    request.set_max_count(1000);
    auto reader = stub.ReadAll(&context, request);
    vigil::v1::RecordedEvent event;
    const uint64_t page_start = next;
    while (reader->Read(&event)) {
      events.push_back({.position = event.position(),
                        .revision = event.revision(),
                        .stream = event.stream(),
                        .event_id = event.event_id(),
                        .type = event.type(),
                        .data = event.data()});
      next = event.position() + 1;
    }
    const grpc::Status status = reader->Finish();
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("ReadAll from ", page_start, ": ", StatusText(status)));
    }
    if (next == page_start) return events;
  }
}

absl::Status Resend(vigil::v1::EventStore::Stub& stub, const Invocation& op) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(kAppendDeadlineSeconds));
  vigil::v1::AppendResponse response;
  const grpc::Status status = stub.Append(&context, ToRequest(op), &response);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("op ", op.op, " (key ",
                                            op.idempotency_key, ") re-sent: ",
                                            StatusText(status)));
  }
  if (!response.deduplicated() ||
      response.first_position() != op.first_position ||
      response.last_position() != op.last_position) {
    return absl::InternalError(absl::StrCat(
        "op ", op.op, " (key ", op.idempotency_key, ") re-sent: answered ",
        response.first_position(), "-", response.last_position(),
        response.deduplicated() ? " deduplicated" : " as a new append",
        ", acknowledged at ", op.first_position, "-", op.last_position));
  }
  return absl::OkStatus();
}

}  // namespace vigil::torture
