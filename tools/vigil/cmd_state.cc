// vigil state and vigil diff: time travel (projections/state_at.h) from the
// command line, on --data-dir (snapshots vigild wrote, then a replay) or
// through --server (StateAt, Diff). Both print the JSON of GET /v1/state
// and GET /v1/diff (docs/time-travel.md).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "api/state_queries.h"
#include "api/grpc_status.h"
#include "base/status_macros.h"
#include "eventlog/event_log.h"
#include "projections/state_at.h"
#include "projections/state_json.h"
#include "tools/vigil/cli.h"
#include "tools/vigil/commands.h"
#include "tools/vigil/log_range.h"
#include "tools/vigil/remote.h"

namespace vigil::cli {
namespace {

// --<position_flag> N or --<time_flag> T.
absl::StatusOr<api::LogPoint> ParsePoint(const FlagValues& flags,
                                         std::string_view position_flag,
                                         std::string_view time_flag) {
  api::LogPoint point;
  if (flags.Has(position_flag) && flags.Has(time_flag)) {
    return absl::InvalidArgumentError(
        absl::StrCat("give one of --", std::string(position_flag), " and --",
                     std::string(time_flag)));
  }
  if (flags.Has(position_flag)) {
    ASSIGN_OR_RETURN(point.position, flags.GetUint64(position_flag, 0));
  }
  ASSIGN_OR_RETURN(point.time_us, ParseTimeFlag(flags, time_flag));
  return point;
}

vigil::v1::LogPoint ToProto(const api::LogPoint& point) {
  vigil::v1::LogPoint out;
  if (point.position.has_value()) out.set_position(*point.position);
  if (point.time_us.has_value()) out.set_time_us(*point.time_us);
  return out;
}

// Runs `query` against time travel over the log in --data-dir.
template <typename Query>
absl::StatusOr<std::string> Local(const FlagValues& flags, Query query) {
  ASSIGN_OR_RETURN(std::unique_ptr<eventlog::EventLog> log,
                   OpenLogReader(flags));
  projections::TimeTravel time_travel(log.get(), {});
  projections::TimeTravelQueries queries(&time_travel);
  return query(queries);
}

int Print(absl::StatusOr<std::string> json, std::string_view what) {
  if (!json.ok()) return Fail(absl::StrCat(std::string(what), " failed"),
                              json.status());
  WriteStdout(*json + "\n");
  return FinishStdout();
}

int RunState(const Command& command, const FlagValues& flags) {
  absl::StatusOr<api::LogPoint> at = ParsePoint(flags, "at", "at-time");
  absl::StatusOr<uint64_t> limit = flags.GetUint64("limit", 0);
  if (!at.ok() || !limit.ok()) {
    return UsageError(command.name,
                      std::string((at.ok() ? limit.status() : at.status())
                                      .message()));
  }
  api::StateQuery query{.at = *at,
                        .agent_id = std::string(flags.Get("agent")),
                        .task_id = std::string(flags.Get("task")),
                        .task_limit = *limit};
  if (!query.agent_id.empty() && !query.task_id.empty()) {
    return UsageError(command.name, "give one of --agent and --task");
  }
  if (!UsesServer(flags)) {
    return Print(Local(flags,
                       [&](projections::TimeTravelQueries& q) {
                         return q.State(query);
                       }),
                 "state");
  }
  vigil::v1::StateAtRequest request;
  *request.mutable_at() = ToProto(query.at);
  request.set_agent_id(query.agent_id);
  request.set_task_id(query.task_id);
  request.set_task_limit(query.task_limit);
  vigil::v1::StateAtResponse response;
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  grpc::Status status = Connect(flags)->StateAt(&context, request, &response);
  if (!status.ok()) {
    return Print(api::FromGrpcStatus(status, &context), "state");
  }
  return Print(response.json(), "state");
}

int RunDiff(const Command& command, const FlagValues& flags) {
  absl::StatusOr<api::LogPoint> from = ParsePoint(flags, "from", "from-time");
  absl::StatusOr<api::LogPoint> to = ParsePoint(flags, "to", "to-time");
  if (!from.ok() || !to.ok()) {
    return UsageError(command.name,
                      std::string((from.ok() ? to.status() : from.status())
                                      .message()));
  }
  api::DiffQuery query{.from = *from, .to = *to};
  if (!UsesServer(flags)) {
    return Print(Local(flags,
                       [&](projections::TimeTravelQueries& q) {
                         return q.Diff(query);
                       }),
                 "diff");
  }
  vigil::v1::DiffRequest request;
  *request.mutable_from() = ToProto(query.from);
  *request.mutable_to() = ToProto(query.to);
  vigil::v1::DiffResponse response;
  grpc::ClientContext context;
  Authorize(flags, &context);
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(300));
  grpc::Status status = Connect(flags)->Diff(&context, request, &response);
  if (!status.ok()) return Print(api::FromGrpcStatus(status, &context), "diff");
  return Print(response.json(), "diff");
}

}  // namespace

Command StateCommand() {
  return Command{
      .name = "state",
      .summary = "the read models as of a log position or time",
      .usage = "vigil state [--at N | --at-time T] [--agent ID | --task ID]",
      .details =
          "Prints, as JSON, what the read models held after log position\n"
          "--at (or as of time --at-time; default: the head): one agent, one\n"
          "task, or the whole system (agents, the newest --limit tasks,\n"
          "coordination, the last hour of per-minute metrics). Computed by\n"
          "the projections' folds from the nearest snapshot. Works on\n"
          "--data-dir (while vigild runs) or through --server.",
      .flags =
          {
              kDataDirFlag,
              kServerFlag,
              kTokenFlag,
              {"at", "N", "log position (default: the head)"},
              {"at-time", "T",
               "as of this time (RFC 3339 or microseconds): the last "
               "position recorded at or before it"},
              {"agent", "ID", "only this agent"},
              {"task", "ID", "only this task"},
              {"limit", "N", "tasks of a whole-system state (default 100)"},
          },
      .run = RunState,
  };
}

Command DiffCommand() {
  return Command{
      .name = "diff",
      .summary = "what changed in the read models between two points",
      .usage = "vigil diff [--from N | --from-time T] [--to N | --to-time T]",
      .details =
          "Prints, as JSON, every entity (agent, task, coordination pair,\n"
          "message pair, agent-minute, model-minute) whose row changed\n"
          "between --from (default 0: nothing) and --to (default: the\n"
          "head), before and after, with the log positions that changed it.\n"
          "Works on --data-dir (while vigild runs) or through --server.",
      .flags =
          {
              kDataDirFlag,
              kServerFlag,
              kTokenFlag,
              {"from", "N", "log position before (default 0)"},
              {"from-time", "T", "as of this time instead"},
              {"to", "N", "log position after (default: the head)"},
              {"to-time", "T", "as of this time instead"},
          },
      .run = RunDiff,
  };
}

}  // namespace vigil::cli
