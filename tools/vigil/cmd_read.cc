// vigil read: events as NDJSON, from the whole log or one stream, read in
// pages so that memory stays bounded however long the log is.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/event_json.h"
#include "api/event_proto.h"
#include "api/status_mapping.h"
#include "base/status_macros.h"
#include "eventlog/event.h"
#include "eventlog/event_log.h"
#include "eventlog/log_cursor.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Events per read call. Events are up to 1 MiB each, so a page may hold
// up to this many MiB.
constexpr uint64_t kPageEvents = 256;
// Positions one ReadAll call may examine, so a selective filter over a long
// log still returns (and stops for --limit) in bounded time.
constexpr uint64_t kPageScan = 64 * kPageEvents;

constexpr uint64_t kEnd = std::numeric_limits<uint64_t>::max();

// Prints events as NDJSON until --limit of them are out.
class EventPrinter {
 public:
  explicit EventPrinter(uint64_t limit) : limit_(limit) {}

  bool Done() const { return limit_ != 0 && printed_ >= limit_; }
  // How many of `page` events are still wanted.
  uint64_t Want(uint64_t page) const {
    return limit_ == 0 ? page : std::min(page, limit_ - printed_);
  }
  void Print(const eventlog::RecordedEvent& event) {
    if (Done()) return;
    std::string line = api::RecordedEventToJson(event);
    line.push_back('\n');
    WriteStdout(line);
    ++printed_;
  }

 private:
  const uint64_t limit_;  // 0: no limit
  uint64_t printed_ = 0;
};

absl::Status ReadAllForwards(const eventlog::EventLog& log, uint64_t from,
                             const eventlog::Filter& filter,
                             EventPrinter& printer) {
  // Up to the head as of now: a writer appending meanwhile cannot keep the
  // read going forever.
  eventlog::LogCursor cursor(
      &log, from, filter,
      {.page_scan = kPageScan, .end_position = log.HeadPosition()});
  while (!cursor.AtEnd() && !printer.Done()) {
    ASSIGN_OR_RETURN(eventlog::CursorPage page,
                     cursor.Next(printer.Want(kPageEvents)));
    for (const eventlog::RecordedEvent& event : page.events) {
      printer.Print(event);
    }
  }
  return absl::OkStatus();
}

// ReadAll only reads forwards: step back one window of positions at a time
// and print each window reversed.
absl::Status ReadAllBackwards(const eventlog::EventLog& log, uint64_t from,
                              const eventlog::Filter& filter,
                              EventPrinter& printer) {
  uint64_t high = std::min(from, log.HeadPosition());
  while (high >= 1 && !printer.Done()) {
    const uint64_t low = high > kPageEvents ? high - kPageEvents + 1 : 1;
    const uint64_t window = high - low + 1;
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                     log.ReadAll(low, window, filter, window));
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
      if (it->position <= high) printer.Print(*it);
    }
    high = low - 1;
  }
  return absl::OkStatus();
}

absl::Status ReadStream(const eventlog::EventLog& log,
                        const std::string& stream, uint64_t from,
                        bool backwards, const eventlog::Filter& filter,
                        EventPrinter& printer) {
  uint64_t revision = from;
  while (!printer.Done()) {
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                     log.ReadStream(stream, revision, kPageEvents, backwards));
    for (const eventlog::RecordedEvent& event : events) {
      if (filter.Matches(event)) printer.Print(event);
    }
    if (events.size() < kPageEvents) break;
    const uint64_t last = events.back().revision;
    if (backwards ? last == 0 : last == kEnd) break;
    revision = backwards ? last - 1 : last + 1;
  }
  return absl::OkStatus();
}

// The same reads through a running vigild, a page per call.
absl::Status ReadRemote(const FlagValues& flags, const std::string* stream,
                        uint64_t from, bool backwards,
                        const eventlog::Filter& filter, EventPrinter& printer) {
  std::unique_ptr<vigil::v1::EventStore::Stub> stub = Connect(flags);
  uint64_t next = from;
  while (!printer.Done()) {
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                     ReadRemotePage(flags, *stub, stream, next,
                                    printer.Want(kPageEvents), backwards,
                                    filter));
    for (const eventlog::RecordedEvent& event : events) {
      if (stream == nullptr || filter.Matches(event)) printer.Print(event);
    }
    if (events.empty()) break;
    if (stream == nullptr) {
      next = events.back().position + 1;
    } else if (backwards) {
      if (events.back().revision == 0) break;
      next = events.back().revision - 1;
    } else {
      next = events.back().revision + 1;
    }
  }
  return absl::OkStatus();
}

int RunRead(const Command& command, const FlagValues& flags) {
  const bool one_stream = flags.Has("stream");
  const bool backwards = flags.Get("backwards", "false") == "true";
  if (one_stream && flags.Has("stream-prefix")) {
    return UsageError(command.name,
                      "--stream-prefix selects streams of the whole log; it "
                      "does not go with --stream");
  }
  const uint64_t default_from = backwards ? kEnd : one_stream ? 0 : 1;
  absl::StatusOr<uint64_t> from = flags.GetUint64("from", default_from);
  if (!from.ok()) {
    return UsageError(command.name, std::string(from.status().message()));
  }
  absl::StatusOr<uint64_t> limit = flags.GetUint64("limit", 0);
  if (!limit.ok()) {
    return UsageError(command.name, std::string(limit.status().message()));
  }
  eventlog::Filter filter;
  filter.stream_prefixes = flags.GetAll("stream-prefix");
  filter.event_types = flags.GetAll("type");

  EventPrinter printer(*limit);
  if (UsesServer(flags)) {
    if (backwards && !one_stream) {
      return UsageError(command.name,
                        "--backwards over the whole log needs --data-dir; "
                        "over the server it works with --stream");
    }
    const std::string stream(flags.Get("stream"));
    absl::Status status = ReadRemote(flags, one_stream ? &stream : nullptr,
                                     *from, backwards, filter, printer);
    if (!status.ok()) return Fail("read failed", status);
    return FinishStdout();
  }
  absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
      OpenLogReader(flags);
  if (!log.ok()) return OpenFailed(flags, log.status());
  absl::Status status;
  if (one_stream) {
    status = ReadStream(**log, std::string(flags.Get("stream")), *from,
                        backwards, filter, printer);
  } else if (backwards) {
    status = ReadAllBackwards(**log, *from, filter, printer);
  } else {
    status = ReadAllForwards(**log, *from, filter, printer);
  }
  if (!status.ok()) return Fail("read failed", status);
  return FinishStdout();
}

}  // namespace

Command ReadCommand() {
  return Command{
      .name = "read",
      .summary = "print events as NDJSON, from the whole log or one stream",
      .usage = "vigil read [--stream S] [flags]",
      .details =
          "Without --stream, reads the whole log in position order from\n"
          "--from (a log position, default 1). With --stream, reads that\n"
          "stream from --from (a stream revision, default 0). --backwards\n"
          "reads in reverse from --from (default: the end). Each line is\n"
          "one event in the JSON form of the HTTP API. Works while another\n"
          "process holds the log open for writing; shows what it had made\n"
          "durable when the read began. With --server, reads through a\n"
          "running vigild over gRPC.",
      .flags =
          {
              kDataDirFlag,
              kServerFlag,
              kTokenFlag,
              {"stream", "S", "read this stream only"},
              {"from", "N",
               "first log position (default 1), or stream revision with "
               "--stream (default 0)"},
              {"limit", "N", "print at most N events; 0 (default): all"},
              {"backwards", "", "newest first"},
              {"stream-prefix", "P",
               "only streams whose name starts with P (not with --stream)",
               /*repeatable=*/true},
              {"type", "T", "only events of type T", /*repeatable=*/true},
          },
      .run = RunRead,
  };
}

}  // namespace vigil::cli
