// vigil tail: a live subscription through a running vigild. Prints every
// matching event as NDJSON, history first (from --from), then live, until
// interrupted or the server ends the subscription.

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "api/event_json.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

int RunTail(const Command& command, const FlagValues& flags) {
  if (!UsesServer(flags)) {
    return UsageError(command.name, "tail needs --server HOST:PORT");
  }
  vigil::v1::SubscribeRequest request;
  if (flags.Has("from-time")) {
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, std::string(flags.Get("from-time")),
                         &time, &error)) {
      return UsageError(command.name,
                        absl::StrCat("--from-time: not an RFC 3339 time: ", error));
    }
    request.set_from_time_us(absl::ToUnixMicros(time));
  } else {
    absl::StatusOr<uint64_t> from = flags.GetUint64("from", 0);
    if (!from.ok()) {
      return UsageError(command.name, std::string(from.status().message()));
    }
    request.set_from_position(*from);
  }
  for (const std::string& p : flags.GetAll("stream-prefix")) {
    request.mutable_filter()->add_stream_prefixes(p);
  }
  for (const std::string& t : flags.GetAll("type")) {
    request.mutable_filter()->add_event_types(t);
  }
  const bool quiet = flags.Get("quiet", "false") == "true";

  grpc::ClientContext context;
  Authorize(flags, &context);
  std::unique_ptr<vigil::v1::EventStore::Stub> stub = Connect(flags);
  auto reader = stub->Subscribe(&context, request);
  vigil::v1::SubscribeResponse response;
  while (reader->Read(&response)) {
    switch (response.kind_case()) {
      case vigil::v1::SubscribeResponse::kEvent: {
        std::string line = api::RecordedEventToJson(api::FromProto(response.event()));
        line.push_back('\n');
        WriteStdout(line);
        std::fflush(stdout);  // a person or a pipe is waiting for it
        break;
      }
      case vigil::v1::SubscribeResponse::kCaughtUp:
        if (!quiet) {
          std::fprintf(stderr, "vigil: caught up at position %llu; live now\n",
                       static_cast<unsigned long long>(response.caught_up()));
        }
        break;
      default:  // checkpoints: nothing for a person to see
        break;
    }
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return Fail("subscription ended", api::FromGrpcStatus(status, &context));
  return FinishStdout();
}

}  // namespace

Command TailCommand() {
  return Command{
      .name = "tail",
      .summary = "follow the log live through a running vigild",
      .usage = "vigil tail --server HOST:PORT [flags]",
      .details =
          "Subscribes to the server: prints every matching event after\n"
          "--from (a log position, default 0: the whole history) or from\n"
          "--from-time, then keeps printing new events as they are appended.\n"
          "One event per line in the JSON form of the HTTP API. A line on\n"
          "stderr says when history is exhausted. Resume after an\n"
          "interruption with --from <last position printed>.",
      .flags =
          {
              kServerFlag,
              kTokenFlag,
              {"from", "N", "print events after log position N (default 0)"},
              {"from-time", "T",
               "print events recorded at or after an RFC 3339 time"},
              {"stream-prefix", "P", "only streams whose name starts with P",
               /*repeatable=*/true},
              {"type", "T", "only events of type T", /*repeatable=*/true},
              {"quiet", "", "no `caught up` line on stderr"},
          },
      .run = RunTail,
  };
}

}  // namespace vigil::cli
