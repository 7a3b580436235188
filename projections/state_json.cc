#include "projections/state_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/event_json.h"
#include "base/status_macros.h"
#include "projections/internal/fold_codec.h"
#include "projections/row_columns.h"

namespace vigil::projections {
namespace {

// Appends `"name":` and a value to an object being built.
class Object {
 public:
  explicit Object(std::string* out) : out_(out) { out_->push_back('{'); }
  ~Object() { out_->push_back('}'); }
  Object& Text(std::string_view name, std::string_view value) {
    Key(name);
    if (value.empty()) {
      out_->append("null");
    } else {
      api::AppendJsonString(value, out_);
    }
    return *this;
  }
  Object& Int(std::string_view name, int64_t value) {
    Key(name);
    absl::StrAppend(out_, value);
    return *this;
  }
  Object& Uint(std::string_view name, uint64_t value) {
    Key(name);
    absl::StrAppend(out_, value);
    return *this;
  }
  Object& Time(std::string_view name, int64_t time_us) {
    Key(name);
    if (time_us == 0) {
      out_->append("null");
    } else {
      absl::StrAppend(out_, time_us);
    }
    return *this;
  }
  Object& Double(std::string_view name, double value) {
    Key(name);
    if (!std::isfinite(value)) {
      out_->append("null");
      return *this;
    }
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    std::string_view text(buffer, end - buffer);
    out_->append(text);
    if (text.find_first_of(".e") == std::string_view::npos) out_->append(".0");
    return *this;
  }
  // The mean sum / count, null when count is 0.
  Object& Mean(std::string_view name, double sum, int64_t count) {
    if (count == 0) return Raw(name, "null");
    return Double(name, sum / static_cast<double>(count));
  }
  Object& Raw(std::string_view name, std::string_view json) {
    Key(name);
    out_->append(json.empty() ? std::string_view("null") : json);
    return *this;
  }

 private:
  void Key(std::string_view name) {
    if (!first_) out_->push_back(',');
    first_ = false;
    api::AppendJsonString(name, out_);
    out_->push_back(':');
  }
  std::string* out_;
  bool first_ = true;
};

// The columns of a row as row_columns.h describes them, into `o`: the
// same fields, in the same order, as the REST reads of read_queries.cc.
template <typename Row>
void AppendColumns(const Row& row, const RowTable<Row>& table, Object& o) {
  for (const RowColumn<Row>& c : table.columns) {
    if (c.json.empty()) continue;
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
        o.Text(c.json, row.*c.text);
        break;
      case ColumnType::kInt:
        o.Int(c.json, row.*c.int64);
        break;
      case ColumnType::kPosition:
        o.Uint(c.json, row.*c.position);
        break;
      case ColumnType::kDouble:
        o.Double(c.json, row.*c.real);
        break;
      case ColumnType::kTime:
        o.Time(c.json, row.*c.int64);
        break;
      case ColumnType::kOptionalInt:
        if (row.*c.present) {
          o.Int(c.json, row.*c.int64);
        } else {
          o.Raw(c.json, "null");
        }
        break;
      case ColumnType::kJson:
        o.Raw(c.json, row.*c.text);
        break;
      case ColumnType::kMean: {
        const double sum = c.int64 != nullptr
                               ? static_cast<double>(row.*c.int64)
                               : row.*c.real;
        o.Mean(c.json, sum / c.divisor, row.*c.count);
        break;
      }
    }
  }
}

// An entity row.
template <typename Row>
void AppendRow(const Row& row, const RowTable<Row>& table, std::string* out) {
  Object o(out);
  AppendColumns(row, table, o);
}

// The key of a counter row (an AgentPair or a MinuteKey), into `o`.
template <typename Second, typename Row>
void AppendKey(const std::string& first, const Second& second,
               const RowTable<Row>& table, Object& o) {
  for (const KeyColumn& k : table.key) {
    if (k.part == 0) {
      o.Text(k.json, first);
    } else if constexpr (std::is_same_v<Second, std::string>) {
      o.Text(k.json, second);
    } else {
      o.Int(k.json, second);
    }
  }
}

// A counter row: its key, then its columns.
template <typename Second, typename Row>
void AppendRow(const std::pair<std::string, Second>& key, const Row& row,
               const RowTable<Row>& table, std::string* out) {
  Object o(out);
  AppendKey(key.first, key.second, table, o);
  AppendColumns(row, table, o);
}

void AppendAgent(const AgentRow& r, std::string* out) {
  AppendRow(r, AgentTable(), out);
}

void AppendTask(const TaskRow& r, std::string* out) {
  AppendRow(r, TaskTable(), out);
}

void AppendSpan(const SpanRow& r, std::string* out) {
  AppendRow(r, SpanTable(), out);
}

void AppendPair(const AgentPair& k, const PairCounts& c, std::string* out) {
  AppendRow(k, c, CoordinationTable(), out);
}

void AppendMessages(const AgentPair& k, const MessageCounts& c,
                    std::string* out) {
  AppendRow(k, c, MessageTable(), out);
}

void AppendAgentMinute(const MinuteKey& k, const AgentMinute& m,
                       std::string* out) {
  AppendRow(k, m, AgentMinuteTable(), out);
}

void AppendUsageMinute(const MinuteKey& k, const UsageMinute& u,
                       std::string* out) {
  AppendRow(k, u, UsageTable(), out);
}

void AppendPoint(const SystemState& state, std::string* out) {
  Object(out).Uint("position", state.position).Time("time_us", state.time_us);
}

// Appends `"name":[...]` (with a leading comma) of at most `limit` items.
template <typename Range, typename Render>
void AppendList(std::string_view name, const Range& items, size_t limit,
                Render render, std::string* out) {
  absl::StrAppend(out, ",\"", std::string(name), "\":[");
  size_t n = 0;
  for (const auto& item : items) {
    if (n == limit) break;
    if (n++ > 0) out->push_back(',');
    render(item, out);
  }
  out->push_back(']');
}

// The row of `ref` in `state` as JSON, "null" when it has none.
std::string EntityJson(const SystemState& state, const EntityRef& ref) {
  std::string out;
  switch (ref.kind) {
    case internal::kAgentKind:
      if (auto it = state.agents.rows().find(ref.id);
          it != state.agents.rows().end()) {
        AppendAgent(it->second, &out);
      }
      break;
    case internal::kTaskKind:
      if (auto it = state.tasks.rows().find(ref.id);
          it != state.tasks.rows().end()) {
        AppendTask(it->second, &out);
      }
      break;
    case internal::kPairKind:
      if (auto it = state.tasks.pairs().find({ref.id, ref.id2});
          it != state.tasks.pairs().end()) {
        AppendPair(it->first, it->second, &out);
      }
      break;
    case internal::kMessageKind:
      if (auto it = state.tasks.messages().find({ref.id, ref.id2});
          it != state.tasks.messages().end()) {
        AppendMessages(it->first, it->second, &out);
      }
      break;
    case internal::kAgentMinuteKind:
      if (auto it = state.metrics.agent_minutes().find({ref.id, ref.minute});
          it != state.metrics.agent_minutes().end()) {
        AppendAgentMinute(it->first, it->second, &out);
      }
      break;
    case internal::kUsageMinuteKind:
      if (auto it = state.metrics.usage_minutes().find({ref.id, ref.minute});
          it != state.metrics.usage_minutes().end()) {
        AppendUsageMinute(it->first, it->second, &out);
      }
      break;
    case internal::kSpanKind:
      if (auto it = state.traces.rows().find({ref.id, ref.id2});
          it != state.traces.rows().end()) {
        AppendSpan(it->second, &out);
      }
      break;
  }
  return out.empty() ? "null" : out;
}

void AppendRefKey(const EntityRef& ref, std::string* out) {
  switch (ref.kind) {
    case internal::kAgentKind:
      Object(out).Text("agent_id", ref.id);
      break;
    case internal::kTaskKind:
      Object(out).Text("task_id", ref.id);
      break;
    case internal::kPairKind: {
      Object o(out);
      AppendKey(ref.id, ref.id2, CoordinationTable(), o);
      break;
    }
    case internal::kMessageKind: {
      Object o(out);
      AppendKey(ref.id, ref.id2, MessageTable(), o);
      break;
    }
    case internal::kAgentMinuteKind: {
      Object o(out);
      AppendKey(ref.id, ref.minute, AgentMinuteTable(), o);
      break;
    }
    case internal::kUsageMinuteKind:
      // Model first: a diff's key order, unlike the row's (UsageTable).
      Object(out).Text("model", ref.id).Int("bucket_time_us", ref.minute);
      break;
    case internal::kSpanKind:
      Object(out).Text("trace_id", ref.id).Text("span_id", ref.id2);
      break;
  }
}

const char* KindName(char kind) {
  switch (kind) {
    case internal::kAgentKind: return "agent";
    case internal::kTaskKind: return "task";
    case internal::kPairKind: return "coordination";
    case internal::kMessageKind: return "agent_messages";
    case internal::kAgentMinuteKind: return "agent_metrics";
    case internal::kUsageMinuteKind: return "llm_usage";
    case internal::kSpanKind: return "span";
  }
  return "unknown";
}

std::string StatsPrefix(const SystemState& state, const ReplayStats& stats) {
  std::string out = absl::StrCat("{\"position\":", state.position,
                                 ",\"time_us\":");
  if (state.time_us == 0) {
    out.append("null");
  } else {
    absl::StrAppend(&out, state.time_us);
  }
  absl::StrAppend(&out, ",\"snapshot_position\":", stats.snapshot_position,
                  ",\"replayed_events\":", stats.replayed_events,
                  ",\"skipped_events\":", stats.skipped_events);
  return out;
}

}  // namespace

std::string AgentJson(const AgentRow& row) {
  std::string out;
  AppendAgent(row, &out);
  return out;
}

std::string TaskJson(const TaskRow& row) {
  std::string out;
  AppendTask(row, &out);
  return out;
}

std::string SpanJson(const SpanRow& row) {
  std::string out;
  AppendSpan(row, &out);
  return out;
}

std::string SystemStateJson(const SystemState& state, const ReplayStats& stats,
                            uint64_t task_limit, const std::string& trace_id) {
  std::string out = StatsPrefix(state, stats);
  std::vector<const AgentRow*> agents;
  for (const auto& [id, row] : state.agents.rows()) agents.push_back(&row);
  std::sort(agents.begin(), agents.end(),
            [](auto* a, auto* b) { return a->agent_id < b->agent_id; });
  AppendList("agents", agents, kMaxStateListRows,
             [](const AgentRow* r, std::string* o) { AppendAgent(*r, o); },
             &out);
  std::vector<const TaskRow*> tasks;
  for (const auto& [id, row] : state.tasks.rows()) tasks.push_back(&row);
  const size_t shown = std::min<size_t>(tasks.size(), task_limit);
  // Newest first, as /v1/tasks lists them.
  std::partial_sort(tasks.begin(), tasks.begin() + shown, tasks.end(),
                    [](auto* a, auto* b) {
                      return std::tie(a->first_position, a->task_id) >
                             std::tie(b->first_position, b->task_id);
                    });
  absl::StrAppend(&out, ",\"task_count\":", tasks.size());
  AppendList("tasks", tasks, shown,
             [](const TaskRow* r, std::string* o) { AppendTask(*r, o); },
             &out);
  out.append(",\"coordination\":{");
  std::string lists;
  AppendList("pairs", state.tasks.pairs(), kMaxStateListRows,
             [](const auto& kv, std::string* o) {
               AppendPair(kv.first, kv.second, o);
             },
             &lists);
  AppendList("messages", state.tasks.messages(), kMaxStateListRows,
             [](const auto& kv, std::string* o) {
               AppendMessages(kv.first, kv.second, o);
             },
             &lists);
  out.append(lists.substr(1));  // without the first list's comma
  out.push_back('}');
  const int64_t since = state.time_us - kStateMetricsWindowUs;
  std::vector<std::pair<const MinuteKey*, const AgentMinute*>> minutes;
  for (const auto& [k, m] : state.metrics.agent_minutes()) {
    if (k.second >= since) minutes.emplace_back(&k, &m);
  }
  AppendList("agent_metrics", minutes, SIZE_MAX,
             [](const auto& kv, std::string* o) {
               AppendAgentMinute(*kv.first, *kv.second, o);
             },
             &out);
  std::vector<std::pair<const MinuteKey*, const UsageMinute*>> usage;
  for (const auto& [k, u] : state.metrics.usage_minutes()) {
    if (k.second >= since) usage.emplace_back(&k, &u);
  }
  AppendList("usage", usage, SIZE_MAX,
             [](const auto& kv, std::string* o) {
               AppendUsageMinute(*kv.first, *kv.second, o);
             },
             &out);
  // As GET /v1/traces/{id} lists a trace: by start time, then span id.
  std::vector<const SpanRow*> spans;
  const auto& rows = state.traces.rows();
  for (auto it = trace_id.empty() ? rows.begin()
                                  : rows.lower_bound(SpanKey{trace_id, ""});
       it != rows.end() && (trace_id.empty() || it->first.first == trace_id);
       ++it) {
    spans.push_back(&it->second);
  }
  std::stable_sort(spans.begin(), spans.end(), [](auto* a, auto* b) {
    return std::tie(a->trace_id, a->start_time_us, a->span_id) <
           std::tie(b->trace_id, b->start_time_us, b->span_id);
  });
  // Left out of a state without spans (the shape before traces existed),
  // unless a trace was asked for.
  if (spans.empty() && trace_id.empty()) {
    out.push_back('}');
    return out;
  }
  absl::StrAppend(&out, ",\"span_count\":", spans.size());
  AppendList("spans", spans, kMaxStateSpans,
             [](const SpanRow* r, std::string* o) { AppendSpan(*r, o); },
             &out);
  out.push_back('}');
  return out;
}

std::string DiffJson(const StateDiff& diff) {
  std::string out = "{\"from\":";
  AppendPoint(diff.before, &out);
  out.append(",\"to\":");
  AppendPoint(diff.after, &out);
  absl::StrAppend(&out, ",\"change_count\":", diff.changes.size(),
                  ",\"changes\":[");
  bool first = true;
  for (const auto& [ref, change] : diff.changes) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "{\"kind\":\"", KindName(ref.kind), "\",\"key\":");
    AppendRefKey(ref, &out);
    absl::StrAppend(&out, ",\"before\":", EntityJson(diff.before, ref),
                    ",\"after\":", EntityJson(diff.after, ref),
                    ",\"positions\":[");
    for (size_t i = 0; i < change.positions.size(); ++i) {
      absl::StrAppend(&out, i == 0 ? "" : ",", change.positions[i]);
    }
    absl::StrAppend(&out, "],\"position_count\":", change.position_count, "}");
  }
  out.append("]}");
  return out;
}

absl::StatusOr<uint64_t> TimeTravelQueries::Resolve(const api::LogPoint& point,
                                                    uint64_t fallback) const {
  if (point.position.has_value()) return *point.position;
  if (point.time_us.has_value()) {
    return time_travel_->PositionAtTime(*point.time_us);
  }
  return fallback;
}

absl::StatusOr<std::string> TimeTravelQueries::State(
    const api::StateQuery& query) {
  ASSIGN_OR_RETURN(uint64_t position,
                   Resolve(query.at, time_travel_->HeadPosition()));
  ReplayStats stats;
  if (!query.agent_id.empty() || !query.task_id.empty()) {
    const bool agent = !query.agent_id.empty();
    std::string row;
    if (agent) {
      ASSIGN_OR_RETURN(std::optional<AgentRow> found,
                       time_travel_->AgentAt(position, query.agent_id, &stats));
      if (found.has_value()) row = AgentJson(*found);
    } else {
      ASSIGN_OR_RETURN(std::optional<TaskRow> found,
                       time_travel_->TaskAt(position, query.task_id, &stats));
      if (found.has_value()) row = TaskJson(*found);
    }
    if (row.empty()) {
      return absl::NotFoundError(absl::StrCat(
          agent ? "agent \"" : "task \"",
          agent ? query.agent_id : query.task_id,
          "\" did not exist at position ", position));
    }
    SystemState point;
    point.position = position;
    ASSIGN_OR_RETURN(point.time_us, time_travel_->TimeAt(position));
    std::string out = StatsPrefix(point, stats);
    absl::StrAppend(&out, agent ? ",\"agent\":" : ",\"task\":", row, "}");
    return out;
  }
  uint64_t limit = query.task_limit == 0 ? kDefaultStateTasks : query.task_limit;
  if (limit > kMaxStateTasks) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be 1..", kMaxStateTasks));
  }
  ASSIGN_OR_RETURN(SystemState state, time_travel_->StateAt(position, &stats));
  return SystemStateJson(state, stats, limit, query.trace_id);
}

absl::StatusOr<std::string> TimeTravelQueries::Diff(
    const api::DiffQuery& query) {
  ASSIGN_OR_RETURN(uint64_t from, Resolve(query.from, 0));
  ASSIGN_OR_RETURN(uint64_t to, Resolve(query.to, time_travel_->HeadPosition()));
  ASSIGN_OR_RETURN(StateDiff diff, time_travel_->Diff(from, to));
  return DiffJson(diff);
}

}  // namespace vigil::projections
