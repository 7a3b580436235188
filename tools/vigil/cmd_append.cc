// vigil append: NDJSON events from stdin, appended in one atomic append.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "api/event_json.h"
#include "eventlog/event_log.h"
#include "eventlog/options.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "api/event_proto.h"
#include "api/grpc_status.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// Most bytes read from stdin. One append holds at most
// Options::max_append_bytes (4 MiB) of data and metadata; base64, JSON
// escapes and the other fields can make its NDJSON several times larger,
// and anything beyond this is rejected by the log anyway.
constexpr size_t kMaxInputBytes = size_t{32} << 20;

absl::StatusOr<std::string> ReadAllStdin() {
  std::string input;
  char buffer[64 << 10];
  while (const size_t n = std::fread(buffer, 1, sizeof(buffer), stdin)) {
    if (input.size() + n > kMaxInputBytes) {
      const eventlog::Options limits;
      return absl::ResourceExhaustedError(absl::StrCat(
          "more than ", kMaxInputBytes >> 20,
          " MiB on stdin; one append holds at most ", limits.max_append_events,
          " events and ", limits.max_append_bytes >> 20,
          " MiB of data and metadata"));
    }
    input.append(buffer, n);
  }
  if (std::ferror(stdin)) return absl::UnavailableError("cannot read stdin");
  return input;
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == line.npos;
}

absl::StatusOr<eventlog::AppendResult> AppendRemote(
    const FlagValues& flags, const eventlog::AppendRequest& request) {
  vigil::v1::AppendRequest proto;
  api::ToProto(request, &proto);
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(30));
  vigil::v1::AppendResponse response;
  grpc::Status status = Connect(flags)->Append(&context, proto, &response);
  if (!status.ok()) return api::FromGrpcStatus(status, &context);
  return api::FromProto(response);
}

int RunAppend(const Command& command, const FlagValues& flags) {
  eventlog::AppendRequest request;
  if (!flags.Has("stream")) {
    return UsageError(command.name, "--stream is required");
  }
  request.stream = std::string(flags.Get("stream"));
  absl::StatusOr<eventlog::ExpectedRevision> expected =
      api::ParseExpectedRevision(flags.Get("expected-revision", "any"));
  if (!expected.ok()) {
    return UsageError(command.name, std::string(expected.status().message()));
  }
  request.expected_revision = *expected;
  request.idempotency_key = std::string(flags.Get("idempotency-key"));

  absl::StatusOr<std::string> input = ReadAllStdin();
  if (!input.ok()) return Fail("reading stdin", input.status());
  std::string_view rest = *input;
  for (size_t line_number = 1; !rest.empty(); ++line_number) {
    const size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == rest.npos ? std::string_view() : rest.substr(end + 1);
    if (IsBlank(line)) continue;
    absl::StatusOr<eventlog::EventData> event = api::EventDataFromJson(line);
    if (!event.ok()) {
      return Fail(absl::StrCat("stdin line ", line_number), event.status());
    }
    request.events.push_back(*std::move(event));
  }
  if (request.events.empty()) {
    return Fail("nothing to append",
                absl::InvalidArgumentError("no events on stdin"));
  }

  absl::StatusOr<eventlog::AppendResult> result;
  if (UsesServer(flags)) {
    result = AppendRemote(flags, request);
  } else {
    absl::StatusOr<std::unique_ptr<eventlog::EventLog>> log =
        eventlog::EventLog::Open(eventlog::Options(), DataDir(flags));
    if (!log.ok()) return OpenFailed(flags, log.status());
    result = (*log)->Append(request);
  }
  if (!result.ok()) return Fail("append rejected", result.status());
  WriteStdout(api::AppendResultToJson(*result) + "\n");
  return FinishStdout();
}

}  // namespace

Command AppendCommand() {
  return Command{
      .name = "append",
      .summary = "append NDJSON events from stdin to a stream, atomically",
      .usage = "vigil append --stream S [flags] < events.ndjson",
      .details =
          "Reads one event object per non-empty line of stdin:\n"
          "  {\"event_id\"?, \"type\", \"data\": {...}, \"metadata\"?: {...},\n"
          "   \"content_type\"?, \"data_base64\"?}\n"
          "and appends them all in one append: all of them land, contiguous\n"
          "in position, or none does. Prints the result as JSON:\n"
          "  {\"first_position\",\"last_position\",\"next_expected_revision\","
          "\"deduplicated\"}\n"
          "Opens the log for writing (no other process may hold it so), or\n"
          "with --server sends the append to a running vigild over gRPC.",
      .flags =
          {
              kDataDirFlag,
              kServerFlag,
              kTokenFlag,
              {"stream", "S", "the stream to append to (required)"},
              {"expected-revision", "R",
               "any (default), no_stream, stream_exists, or the stream's "
               "last revision N"},
              {"idempotency-key", "K",
               "the same key and events again append nothing and return "
               "the first result"},
          },
      .run = RunAppend,
  };
}

}  // namespace vigil::cli
