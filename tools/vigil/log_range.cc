#include "tools/vigil/log_range.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/grpc_status.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Events per read call, and positions one call may examine (a selective
// filter over a long log still returns in bounded time).
constexpr uint64_t kPageEvents = 256;
constexpr uint64_t kPageScan = 64 * kPageEvents;

// The first position recorded at or after `time_us`, through the server: the
// first event a subscription from that time delivers.
absl::StatusOr<uint64_t> RemoteFindPosition(const FlagValues& flags,
                                            vigil::v1::EventStore::Stub& stub,
                                            int64_t time_us) {
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  vigil::v1::SubscribeRequest request;
  request.set_from_time_us(time_us);
  std::unique_ptr<grpc::ClientReader<vigil::v1::SubscribeResponse>> reader =
      stub.Subscribe(&context, request);
  vigil::v1::SubscribeResponse response;
  uint64_t position = UINT64_MAX;  // nothing that recent
  while (reader->Read(&response)) {
    if (response.has_event()) {
      position = response.event().position();
      break;
    }
    if (response.kind_case() == vigil::v1::SubscribeResponse::kCaughtUp) break;
  }
  context.TryCancel();
  grpc::Status status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    return api::FromGrpcStatus(status, &context);
  }
  return position;
}

}  // namespace

absl::StatusOr<std::optional<int64_t>> ParseTimeFlag(const FlagValues& flags,
                                                     std::string_view name) {
  if (!flags.Has(name)) return std::nullopt;
  const std::string text(flags.Get(name));
  int64_t micros = 0;
  if (absl::SimpleAtoi(text, &micros)) return micros;
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", std::string(name),
                     ": expected an RFC 3339 time or integer microseconds, "
                     "not \"", text, "\""));
  }
  return absl::ToUnixMicros(time);
}

std::vector<FlagSpec> LogRangeFlags(bool filters) {
  std::vector<FlagSpec> specs = {
      {"from", "N", "first log position (default 1)"},
      {"to", "N", "last log position (default: the head)"},
      {"from-time", "T",
       "only events recorded at or after T (RFC 3339 or microseconds)"},
      {"to-time", "T", "only events recorded at or before T"},
  };
  if (filters) {
    specs.push_back({"stream-prefix", "P",
                     "only streams whose name starts with P",
                     /*repeatable=*/true});
    specs.push_back({"type", "T", "only events of type T",
                     /*repeatable=*/true});
  }
  return specs;
}

absl::StatusOr<LogRange> ParseLogRange(const FlagValues& flags) {
  LogRange range;
  ASSIGN_OR_RETURN(range.from, flags.GetUint64("from", 1));
  range.from = std::max<uint64_t>(range.from, 1);
  ASSIGN_OR_RETURN(range.to, flags.GetUint64("to", 0));
  if (range.to != 0 && range.from > range.to) {
    return absl::InvalidArgumentError("--from is after --to");
  }
  ASSIGN_OR_RETURN(range.from_time_us, ParseTimeFlag(flags, "from-time"));
  ASSIGN_OR_RETURN(range.to_time_us, ParseTimeFlag(flags, "to-time"));
  range.filter.stream_prefixes = flags.GetAll("stream-prefix");
  range.filter.event_types = flags.GetAll("type");
  return range;
}

absl::Status ForEachEvent(
    const FlagValues& flags, const LogRange& range,
    const std::function<bool(const eventlog::RecordedEvent&, uint64_t last)>&
        each) {
  auto past_end = [&](const eventlog::RecordedEvent& event, uint64_t to) {
    return (to != 0 && event.position > to) ||
           (range.to_time_us.has_value() &&
            event.recorded_time_us > *range.to_time_us);
  };
  if (UsesServer(flags)) {
    std::unique_ptr<vigil::v1::EventStore::Stub> stub = Connect(flags);
    uint64_t position = range.from;
    if (range.from_time_us.has_value()) {
      ASSIGN_OR_RETURN(uint64_t first,
                       RemoteFindPosition(flags, *stub, *range.from_time_us));
      position = std::max(position, first);
    }
    while (position != UINT64_MAX && (range.to == 0 || position <= range.to)) {
      ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                       ReadRemotePage(flags, *stub, nullptr, position,
                                      kPageEvents, false, range.filter));
      if (events.empty()) break;
      for (const eventlog::RecordedEvent& event : events) {
        if (past_end(event, range.to)) return absl::OkStatus();
        if (!each(event, range.to)) return absl::OkStatus();
      }
      position = events.back().position + 1;
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::unique_ptr<eventlog::EventLog> log,
                   OpenLogReader(flags));
  const uint64_t head = log->HeadPosition();
  uint64_t to = range.to == 0 ? head : std::min(range.to, head);
  uint64_t position = range.from;
  if (range.from_time_us.has_value()) {
    ASSIGN_OR_RETURN(uint64_t first, log->FindPosition(*range.from_time_us));
    position = std::max(position, first);
  }
  if (range.to_time_us.has_value() && *range.to_time_us < INT64_MAX) {
    ASSIGN_OR_RETURN(uint64_t after, log->FindPosition(*range.to_time_us + 1));
    to = std::min(to, after - 1);
  }
  eventlog::LogCursor cursor(log.get(), position, range.filter,
                            {.page_events = kPageEvents,
                             .page_scan = kPageScan,
                             .end_position = to});
  while (!cursor.AtEnd()) {
    ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor.Next());
    for (const eventlog::RecordedEvent& event : page.events) {
      if (past_end(event, to)) return absl::OkStatus();
      if (!each(event, to)) return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::cli
