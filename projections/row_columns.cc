#include "projections/row_columns.h"

#include <iterator>

namespace vigil::projections {
namespace {

template <typename Row>
constexpr RowColumn<Row> Key(std::string_view name, std::string Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kKey, .text = m};
}
template <typename Row>
constexpr RowColumn<Row> Text(std::string_view name, std::string Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kText, .text = m};
}
template <typename Row>
constexpr RowColumn<Row> Int(std::string_view name, int64_t Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kInt, .int64 = m};
}
template <typename Row>
constexpr RowColumn<Row> Position(std::string_view name, uint64_t Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kPosition,
          .position = m};
}
template <typename Row>
constexpr RowColumn<Row> Double(std::string_view name, double Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kDouble, .real = m};
}
// A timestamptz column `sql` shown in JSON as µs under `json`.
template <typename Row>
constexpr RowColumn<Row> Time(std::string_view sql, std::string_view json,
                              int64_t Row::*m) {
  return {.sql = sql, .json = json, .type = ColumnType::kTime, .int64 = m};
}
template <typename Row>
constexpr RowColumn<Row> OptionalInt(std::string_view name, int64_t Row::*m,
                                     bool Row::*present) {
  return {.sql = name, .json = name, .type = ColumnType::kOptionalInt,
          .int64 = m, .present = present};
}
// A bigint increment, added to the stored value.
template <typename Row>
constexpr RowColumn<Row> Count(std::string_view name, int64_t Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kInt, .int64 = m,
          .merge = Merge::kAdd};
}
// A Count not shown in JSON (the sum or count of a Mean).
template <typename Row>
constexpr RowColumn<Row> HiddenCount(std::string_view name, int64_t Row::*m) {
  return {.sql = name, .json = {}, .type = ColumnType::kInt, .int64 = m,
          .merge = Merge::kAdd};
}
// A double precision increment, added to the stored value.
template <typename Row>
constexpr RowColumn<Row> DoubleCount(std::string_view name, double Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kDouble, .real = m,
          .merge = Merge::kAdd};
}
// A DoubleCount not shown in JSON (the sum of a Mean).
template <typename Row>
constexpr RowColumn<Row> HiddenDoubleCount(std::string_view name,
                                           double Row::*m) {
  return {.sql = name, .json = {}, .type = ColumnType::kDouble, .real = m,
          .merge = Merge::kAdd};
}
// JSON only: sum / divisor / count.
template <typename Row>
constexpr RowColumn<Row> Mean(std::string_view json, int64_t Row::*sum,
                              int64_t Row::*count, double divisor) {
  return {.sql = {}, .json = json, .type = ColumnType::kMean, .int64 = sum,
          .count = count, .divisor = divisor};
}
template <typename Row>
constexpr RowColumn<Row> Mean(std::string_view json, double Row::*sum,
                              int64_t Row::*count) {
  return {.sql = {}, .json = json, .type = ColumnType::kMean, .real = sum,
          .count = count};
}
template <typename Row>
constexpr RowColumn<Row> Json(std::string_view name, std::string Row::*m) {
  return {.sql = name, .json = name, .type = ColumnType::kJson, .text = m};
}

using A = AgentRow;
using T = TaskRow;
using P = PairCounts;
using M = MessageCounts;
using U = UsageMinute;
using AM = AgentMinute;
using S = SpanRow;

// clang-format off
constexpr RowColumn<AgentRow> kAgentColumns[] = {
    Key("agent_id", &A::agent_id),
    Text("role", &A::role),
    Text("name", &A::name),
    Text("model", &A::model),
    Key("status", &A::status),
    Text("stopped_reason", &A::stopped_reason),
    Text("current_task_id", &A::current_task_id),
    Time("registered_at", "registered_time_us", &A::registered_time_us),
    Time("last_heartbeat_at", "last_heartbeat_time_us",
         &A::last_heartbeat_time_us),
    Double("cpu_pct", &A::cpu_pct),
    Int("mem_bytes", &A::mem_bytes),
    Int("queue_depth", &A::queue_depth),
    Time("updated_at", "updated_time_us", &A::updated_time_us),
    Position("last_position", &A::last_position),
};

constexpr RowColumn<TaskRow> kTaskColumns[] = {
    Key("task_id", &T::task_id),
    Position("first_position", &T::first_position),
    Text("manager_id", &T::manager_id),
    Text("worker_id", &T::worker_id),
    Text("title", &T::title),
    OptionalInt("priority", &T::priority, &T::has_priority),
    Text("parent_task_id", &T::parent_task_id),
    Key("status", &T::status),
    Time("created_at", "created_time_us", &T::created_time_us),
    Time("assigned_at", "assigned_time_us", &T::assigned_time_us),
    Time("started_at", "started_time_us", &T::started_time_us),
    Time("finished_at", "finished_time_us", &T::finished_time_us),
    Double("progress", &T::progress),
    Text("progress_note", &T::progress_note),
    Json("result", &T::result),
    Text("error", &T::error),
    Time("updated_at", "updated_time_us", &T::updated_time_us),
    Position("last_position", &T::last_position),
};

// The fields of SpanRecorded (docs/otlp.md), then the event's position and
// recorded time.
constexpr RowColumn<SpanRow> kSpanColumns[] = {
    Key("trace_id", &S::trace_id),
    Key("span_id", &S::span_id),
    Text("parent_span_id", &S::parent_span_id),
    Key("name", &S::name),
    Key("kind", &S::kind),
    Time("start_at", "start_time_us", &S::start_time_us),
    Time("end_at", "end_time_us", &S::end_time_us),
    Double("duration_ms", &S::duration_ms),
    Key("status", &S::status),
    Text("error", &S::error),
    Text("operation", &S::operation),
    Text("agent_id", &S::agent_id),
    Text("agent_name", &S::agent_name),
    Text("caller_agent_id", &S::caller_agent_id),
    Text("tool", &S::tool),
    Text("tool_call_id", &S::tool_call_id),
    Text("provider", &S::provider),
    Text("model", &S::model),
    OptionalInt("input_tokens", &S::input_tokens, &S::has_input_tokens),
    OptionalInt("output_tokens", &S::output_tokens, &S::has_output_tokens),
    OptionalInt("cached_tokens", &S::cached_tokens, &S::has_cached_tokens),
    Double("cost_usd", &S::cost_usd),
    Json("attributes", &S::attributes),
    Json("events", &S::events),
    Json("links", &S::links),
    Json("resource", &S::resource),
    Json("scope", &S::scope),
    Position("position", &S::position),
    Time("recorded_at", "recorded_time_us", &S::recorded_time_us),
};

constexpr KeyColumn kPairKey[] = {{"manager_id", "manager_id", 0},
                                  {"worker_id", "worker_id", 1}};
constexpr RowColumn<PairCounts> kPairColumns[] = {
    Count("tasks_assigned", &P::assigned),
    Count("tasks_completed", &P::completed),
    Count("tasks_failed", &P::failed),
    HiddenCount("complete_time_sum_us", &P::complete_time_sum_us),
    HiddenCount("complete_time_count", &P::complete_time_count),
    Mean("mean_time_to_complete_ms", &P::complete_time_sum_us,
         &P::complete_time_count, 1000),
};

constexpr KeyColumn kMessageKey[] = {{"from_agent", "from_agent", 0},
                                     {"to_agent", "to_agent", 1}};
constexpr RowColumn<MessageCounts> kMessageColumns[] = {
    Count("messages", &M::messages),
    Key("last_kind", &M::last_kind),
    Text("last_summary", &M::last_summary),
    Time("last_at", "last_time_us", &M::last_time_us),
    {.sql = "last_position", .json = {}, .type = ColumnType::kPosition,
     .position = &M::last_position},
};

constexpr KeyColumn kUsageKey[] = {
    {"bucket", "bucket_time_us", 1, /*minute=*/true},
    {"model", "model", 0}};
constexpr RowColumn<UsageMinute> kUsageColumns[] = {
    Count("calls", &U::calls),
    Count("input_tokens", &U::input_tokens),
    Count("output_tokens", &U::output_tokens),
    DoubleCount("cost_usd", &U::cost_usd),
    HiddenDoubleCount("latency_ms_sum", &U::latency_ms_sum),
    Mean("latency_ms_avg", &U::latency_ms_sum, &U::calls),
};

constexpr KeyColumn kAgentMinuteKey[] = {
    {"agent_id", "agent_id", 0},
    {"bucket", "bucket_time_us", 1, /*minute=*/true}};
constexpr RowColumn<AgentMinute> kAgentMinuteColumns[] = {
    Count("events", &AM::events),
    Count("heartbeats", &AM::heartbeats),
    HiddenDoubleCount("cpu_pct_sum", &AM::cpu_pct_sum),
    HiddenDoubleCount("mem_bytes_sum", &AM::mem_bytes_sum),
    HiddenDoubleCount("queue_depth_sum", &AM::queue_depth_sum),
    Mean("cpu_pct_avg", &AM::cpu_pct_sum, &AM::heartbeats),
    Mean("mem_bytes_avg", &AM::mem_bytes_sum, &AM::heartbeats),
    Mean("queue_depth_avg", &AM::queue_depth_sum, &AM::heartbeats),
    Count("llm_calls", &AM::llm_calls),
    Count("input_tokens", &AM::input_tokens),
    Count("output_tokens", &AM::output_tokens),
    DoubleCount("cost_usd", &AM::cost_usd),
    Count("tool_calls", &AM::tool_calls),
    Count("tool_failures", &AM::tool_failures),
    Count("tasks_completed", &AM::tasks_completed),
    Count("tasks_failed", &AM::tasks_failed),
};
// clang-format on

// Every column names the member of its type, and only that one.
template <typename Row>
constexpr bool MembersMatchTypes(std::span<const RowColumn<Row>> columns) {
  for (const RowColumn<Row>& c : columns) {
    const int members = (c.text != nullptr) + (c.int64 != nullptr) +
                        (c.position != nullptr) + (c.real != nullptr);
    if (members != 1 ||
        (c.present != nullptr) != (c.type == ColumnType::kOptionalInt) ||
        (c.count != nullptr) != (c.type == ColumnType::kMean) ||
        c.sql.empty() != (c.type == ColumnType::kMean)) {
      return false;
    }
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
      case ColumnType::kJson:
        if (c.text == nullptr) return false;
        break;
      case ColumnType::kInt:
      case ColumnType::kTime:
      case ColumnType::kOptionalInt:
        if (c.int64 == nullptr) return false;
        break;
      case ColumnType::kPosition:
        if (c.position == nullptr) return false;
        break;
      case ColumnType::kDouble:
        if (c.real == nullptr) return false;
        break;
      case ColumnType::kMean:
        if (c.text != nullptr || c.position != nullptr) return false;
        break;
    }
  }
  return true;
}

// The sum and count of each kMean column are stored columns.
template <typename Row>
constexpr bool MeansStored(const RowTable<Row>& table) {
  for (const RowColumn<Row>& c : table.columns) {
    if (c.type != ColumnType::kMean) continue;
    if (StoredColumnOf(table, c.int64, c.real).empty() ||
        StoredColumnOf(table, c.count).empty()) {
      return false;
    }
  }
  return true;
}
static_assert(MembersMatchTypes<AgentRow>(kAgentColumns));
static_assert(MembersMatchTypes<TaskRow>(kTaskColumns));
static_assert(MembersMatchTypes<PairCounts>(kPairColumns));
static_assert(MembersMatchTypes<MessageCounts>(kMessageColumns));
static_assert(MembersMatchTypes<SpanRow>(kSpanColumns));
constexpr size_t kSpanColumnCount = std::size(kSpanColumns);
static_assert(kSpanColumnCount == kSpanStoredColumns);

constexpr RowTable<PairCounts> kPairTable = {"coordination", kPairColumns, 5,
                                             kPairKey};
static_assert(MeansStored(kPairTable));
constexpr RowTable<MessageCounts> kMessageTable = {
    "agent_messages", kMessageColumns, 5, kMessageKey};
static_assert(MembersMatchTypes<UsageMinute>(kUsageColumns));
constexpr RowTable<UsageMinute> kUsageTable = {"llm_usage", kUsageColumns, 5,
                                               kUsageKey};
static_assert(MeansStored(kUsageTable));
static_assert(MembersMatchTypes<AgentMinute>(kAgentMinuteColumns));
constexpr RowTable<AgentMinute> kAgentMinuteTable = {
    "agent_metrics", kAgentMinuteColumns, 13, kAgentMinuteKey};
static_assert(MeansStored(kAgentMinuteTable));

}  // namespace

const RowTable<AgentRow>& AgentTable() {
  static constexpr RowTable<AgentRow> kTable = {"agents", kAgentColumns, 14};
  return kTable;
}

const RowTable<TaskRow>& TaskTable() {
  static constexpr RowTable<TaskRow> kTable = {"tasks", kTaskColumns, 18};
  return kTable;
}

const RowTable<SpanRow>& SpanTable() {
  static constexpr RowTable<SpanRow> kTable = {
      "spans", kSpanColumns, kSpanColumnCount, {}, /*key_columns=*/2};
  return kTable;
}

const RowTable<SpanRow>& AgentSpanTable() {
  static constexpr RowTable<SpanRow> kTable = {
      "agents_spans", kSpanColumns, kSpanColumnCount, {}, /*key_columns=*/2};
  return kTable;
}

const RowTable<SpanRow>& MetricSpanTable() {
  static constexpr RowTable<SpanRow> kTable = {
      "metrics_spans", kSpanColumns, kSpanColumnCount, {}, /*key_columns=*/2};
  return kTable;
}

const RowTable<PairCounts>& CoordinationTable() { return kPairTable; }

const RowTable<MessageCounts>& MessageTable() { return kMessageTable; }

const RowTable<UsageMinute>& UsageTable() { return kUsageTable; }

const RowTable<AgentMinute>& AgentMinuteTable() { return kAgentMinuteTable; }

}  // namespace vigil::projections
