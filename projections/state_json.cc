#include "projections/state_json.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "projections/internal/fold_codec.h"
#include "projections/row_columns.h"

namespace vigil::projections {
namespace {

using base::Json;

// Members of a row, added to a Json object by the rules of
// state_json.h: an empty text and a zero time are null.
class Object {
 public:
  explicit Object(Json* json) : json_(json) {
    if (!json_->is_object()) *json_ = Json::object();
  }
  Object& Text(std::string_view name, std::string_view value) {
    return Set(name, value.empty() ? Json() : Json(value));
  }
  Object& Int(std::string_view name, int64_t value) { return Set(name, value); }
  Object& Uint(std::string_view name, uint64_t value) {
    return Set(name, value);
  }
  Object& Time(std::string_view name, int64_t time_us) {
    return Set(name, time_us == 0 ? Json() : Json(time_us));
  }
  // Not finite: null (the library writes it so).
  Object& Double(std::string_view name, double value) {
    return Set(name, value);
  }
  // The mean sum / count, null when count is 0.
  Object& Mean(std::string_view name, double sum, int64_t count) {
    if (count == 0) return Set(name, Json());
    return Double(name, sum / static_cast<double>(count));
  }
  // JSON text a fold kept (a task's result): null when empty. The text
  // came from the log's validated data, so it parses; if it ever did not,
  // it would show as null rather than as broken JSON.
  Object& Inline(std::string_view name, std::string_view json) {
    if (json.empty()) return Set(name, Json());
    absl::StatusOr<Json> value = base::JsonFromText(json);
    return Set(name, value.ok() ? *std::move(value) : Json());
  }
  Object& Null(std::string_view name) { return Set(name, Json()); }
  Object& Set(std::string_view name, Json value) {
    (*json_)[std::string(name)] = std::move(value);
    return *this;
  }

 private:
  Json* json_;
};

// The same members as Object, written straight as JSON text, byte for
// byte what DumpJson prints of Object's Json (state_json_test): for the
// bodies that list thousands of rows, without building a tree. Close()
// ends the object.
class TextObject {
 public:
  explicit TextObject(std::string* out) : out_(out) { out_->push_back('{'); }
  TextObject& Text(std::string_view name, std::string_view value) {
    if (value.empty()) return Null(name);
    base::AppendJsonString(value, Key(name));
    return *this;
  }
  TextObject& Int(std::string_view name, int64_t value) {
    absl::StrAppend(Key(name), value);
    return *this;
  }
  TextObject& Uint(std::string_view name, uint64_t value) {
    absl::StrAppend(Key(name), value);
    return *this;
  }
  TextObject& Time(std::string_view name, int64_t time_us) {
    return time_us == 0 ? Null(name) : Int(name, time_us);
  }
  TextObject& Double(std::string_view name, double value) {
    base::AppendJsonNumber(value, Key(name));
    return *this;
  }
  TextObject& Mean(std::string_view name, double sum, int64_t count) {
    if (count == 0) return Null(name);
    return Double(name, sum / static_cast<double>(count));
  }
  TextObject& Inline(std::string_view name, std::string_view json) {
    if (json.empty()) return Null(name);
    base::AppendJsonText(json, Key(name));
    return *this;
  }
  TextObject& Null(std::string_view name) {
    Key(name)->append("null");
    return *this;
  }
  // Starts member `name`: the caller appends its value to the text.
  // Names are this file's and row_columns.h's identifiers, which JSON
  // never escapes: copied as they are (a scan of each per row cost a tenth
  // of a page's body).
  std::string* Key(std::string_view name) {
    if (!first_) out_->push_back(',');
    first_ = false;
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
    return out_;
  }
  void Close() { out_->push_back('}'); }

 private:
  std::string* out_;
  bool first_ = true;
};

// The columns of a row as row_columns.h describes them, into `o` (an
// Object or a TextObject): the same fields, in the same order, as the REST
// reads of read_queries.cc.
template <typename Row, typename Members>
void AddColumns(const Row& row, const RowTable<Row>& table, Members& o) {
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
          o.Null(c.json);
        }
        break;
      case ColumnType::kJson:
        o.Inline(c.json, row.*c.text);
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
Json RowJson(const Row& row, const RowTable<Row>& table) {
  Json json;
  Object o(&json);
  AddColumns(row, table, o);
  return json;
}

// The key of a counter row (an AgentPair or a MinuteKey), into `o`.
template <typename Second, typename Row, typename Members>
void AddKey(const std::string& first, const Second& second,
            const RowTable<Row>& table, Members& o) {
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
Json RowJson(const std::pair<std::string, Second>& key, const Row& row,
             const RowTable<Row>& table) {
  Json json;
  Object o(&json);
  AddKey(key.first, key.second, table, o);
  AddColumns(row, table, o);
  return json;
}

// An entity row as JSON text, appended to `out`.
template <typename Row>
void AppendRow(const Row& row, const RowTable<Row>& table, std::string* out) {
  TextObject o(out);
  AddColumns(row, table, o);
  o.Close();
}

// A counter row as JSON text: its key, then its columns.
template <typename Second, typename Row>
void AppendRow(const std::pair<std::string, Second>& key, const Row& row,
               const RowTable<Row>& table, std::string* out) {
  TextObject o(out);
  AddKey(key.first, key.second, table, o);
  AddColumns(row, table, o);
  o.Close();
}

Json Agent(const AgentRow& r) { return RowJson(r, AgentTable()); }

Json Task(const TaskRow& r) { return RowJson(r, TaskTable()); }

Json Pair(const AgentPair& k, const PairCounts& c) {
  return RowJson(k, c, CoordinationTable());
}

Json Messages(const AgentPair& k, const MessageCounts& c) {
  return RowJson(k, c, MessageTable());
}

Json AgentMinuteJson(const MinuteKey& k, const AgentMinute& m) {
  return RowJson(k, m, AgentMinuteTable());
}

Json Span(const SpanRow& r) { return RowJson(r, SpanTable()); }

Json UsageMinuteJson(const MinuteKey& k, const UsageMinute& u) {
  return RowJson(k, u, UsageTable());
}

Json Point(const SystemState& state) {
  Json json;
  Object(&json).Uint("position", state.position).Time("time_us", state.time_us);
  return json;
}

// A JSON array of at most `limit` items, each appended by `append(item,
// out)`, appended to `out`.
template <typename Range, typename Append>
void AppendList(const Range& items, size_t limit, Append append,
                std::string* out) {
  out->push_back('[');
  size_t listed = 0;
  for (const auto& item : items) {
    if (listed == limit) break;
    if (listed++ > 0) out->push_back(',');
    append(item, out);
  }
  out->push_back(']');
}

// The row of `ref` in `state`, null when it has none.
Json EntityJson(const SystemState& state, const EntityRef& ref) {
  switch (ref.kind) {
    case internal::kAgentKind:
      if (auto it = state.agents.rows().find(ref.id);
          it != state.agents.rows().end()) {
        return Agent(it->second);
      }
      break;
    case internal::kTaskKind:
      if (auto it = state.tasks.rows().find(ref.id);
          it != state.tasks.rows().end()) {
        return Task(it->second);
      }
      break;
    case internal::kPairKind:
      if (auto it = state.tasks.pairs().find({ref.id, ref.id2});
          it != state.tasks.pairs().end()) {
        return Pair(it->first, it->second);
      }
      break;
    case internal::kMessageKind:
      if (auto it = state.tasks.messages().find({ref.id, ref.id2});
          it != state.tasks.messages().end()) {
        return Messages(it->first, it->second);
      }
      break;
    case internal::kAgentMinuteKind:
      if (auto it = state.metrics.agent_minutes().find({ref.id, ref.minute});
          it != state.metrics.agent_minutes().end()) {
        return AgentMinuteJson(it->first, it->second);
      }
      break;
    case internal::kUsageMinuteKind:
      if (auto it = state.metrics.usage_minutes().find({ref.id, ref.minute});
          it != state.metrics.usage_minutes().end()) {
        return UsageMinuteJson(it->first, it->second);
      }
      break;
    case internal::kSpanKind:
      if (auto it = state.traces.rows().find({ref.id, ref.id2});
          it != state.traces.rows().end()) {
        return Span(it->second);
      }
      break;
  }
  return Json();
}

Json RefKey(const EntityRef& ref) {
  Json json;
  Object o(&json);
  switch (ref.kind) {
    case internal::kAgentKind:
      o.Text("agent_id", ref.id);
      break;
    case internal::kTaskKind:
      o.Text("task_id", ref.id);
      break;
    case internal::kPairKind:
      AddKey(ref.id, ref.id2, CoordinationTable(), o);
      break;
    case internal::kMessageKind:
      AddKey(ref.id, ref.id2, MessageTable(), o);
      break;
    case internal::kAgentMinuteKind:
      AddKey(ref.id, ref.minute, AgentMinuteTable(), o);
      break;
    case internal::kUsageMinuteKind:
      // Model first: a diff's key order, unlike the row's (UsageTable).
      o.Text("model", ref.id).Int("bucket_time_us", ref.minute);
      break;
    case internal::kSpanKind:
      o.Text("trace_id", ref.id).Text("span_id", ref.id2);
      break;
  }
  return json;
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

// The members every state answer starts with, into `o`.
template <typename Members>
void AddStats(const SystemState& state, const ReplayStats& stats,
              Members& o) {
  o.Uint("position", state.position)
      .Time("time_us", state.time_us)
      .Uint("snapshot_position", stats.snapshot_position)
      .Uint("replayed_events", stats.replayed_events)
      .Uint("skipped_events", stats.skipped_events);
}

}  // namespace

std::string AgentJson(const AgentRow& row) {
  return base::DumpJson(Agent(row));
}

std::string TaskJson(const TaskRow& row) { return base::DumpJson(Task(row)); }

std::string SpanJson(const SpanRow& row) { return base::DumpJson(Span(row)); }

namespace {

// A task to list: a row of the folds, or a page's stored entry.
struct ListedTask {
  uint64_t first_position;
  std::string_view task_id;
  const TaskRow* row;        // null: `stored`
  const StoredTask* stored;  // null: `row`
};

// SystemStateJson with the task count given (a page holds only some) and
// the tasks `stored` beside the folds' (a page's), written as text
// (TextObject).
std::string StateJson(const SystemState& state, const ReplayStats& stats,
                      uint64_t task_limit, const std::string& trace_id,
                      uint64_t task_count,
                      const std::vector<StoredTask>& stored = {}) {
  std::string out;
  // About 300 bytes a row, reserved at once rather than grown by copies.
  out.reserve(300 * (state.agents.rows().size() +
                     std::min<size_t>(
                         state.tasks.rows().size() + stored.size(),
                         task_limit) +
                     state.tasks.pairs().size() +
                     state.tasks.messages().size() +
                     state.metrics.agent_minutes().size() +
                     state.metrics.usage_minutes().size()));
  TextObject o(&out);
  AddStats(state, stats, o);
  std::vector<const AgentRow*> agents;
  for (const auto& [id, row] : state.agents.rows()) agents.push_back(&row);
  std::sort(agents.begin(), agents.end(),
            [](auto* a, auto* b) { return a->agent_id < b->agent_id; });
  AppendList(agents, kMaxStateListRows,
             [](const AgentRow* r, std::string* out) {
               AppendRow(*r, AgentTable(), out);
             },
             o.Key("agents"));
  std::vector<ListedTask> tasks;
  tasks.reserve(state.tasks.rows().size() + stored.size());
  for (const auto& [id, row] : state.tasks.rows()) {
    tasks.push_back({row.first_position, row.task_id, &row, nullptr});
  }
  for (const StoredTask& task : stored) {
    tasks.push_back({task.first_position, task.task_id, nullptr, &task});
  }
  const size_t shown = std::min<size_t>(tasks.size(), task_limit);
  // Newest first, as /v1/tasks lists them.
  std::partial_sort(tasks.begin(), tasks.begin() + shown, tasks.end(),
                    [](const ListedTask& a, const ListedTask& b) {
                      return std::tie(a.first_position, a.task_id) >
                             std::tie(b.first_position, b.task_id);
                    });
  o.Uint("task_count", task_count);
  TaskRow decoded;  // each stored entry in turn, its strings reused
  AppendList(tasks, shown,
             [&decoded](const ListedTask& t, std::string* out) {
               const TaskRow* row = t.row;
               if (row == nullptr) {
                 // Decoded when the page was read (StatePageAt): it does.
                 internal::DecodeTaskInto(t.stored->entry, &decoded);
                 row = &decoded;
               }
               AppendRow(*row, TaskTable(), out);
             },
             o.Key("tasks"));
  TextObject coordination(o.Key("coordination"));
  AppendList(state.tasks.pairs(), kMaxStateListRows,
             [](const auto& kv, std::string* out) {
               AppendRow(kv.first, kv.second, CoordinationTable(), out);
             },
             coordination.Key("pairs"));
  AppendList(state.tasks.messages(), kMaxStateListRows,
             [](const auto& kv, std::string* out) {
               AppendRow(kv.first, kv.second, MessageTable(), out);
             },
             coordination.Key("messages"));
  coordination.Close();
  const int64_t since = state.time_us - kStateMetricsWindowUs;
  std::vector<std::pair<const MinuteKey*, const AgentMinute*>> minutes;
  for (const auto& [k, m] : state.metrics.agent_minutes()) {
    if (k.second >= since) minutes.emplace_back(&k, &m);
  }
  AppendList(minutes, SIZE_MAX,
             [](const auto& kv, std::string* out) {
               AppendRow(*kv.first, *kv.second, AgentMinuteTable(), out);
             },
             o.Key("agent_metrics"));
  std::vector<std::pair<const MinuteKey*, const UsageMinute*>> usage;
  for (const auto& [k, u] : state.metrics.usage_minutes()) {
    if (k.second >= since) usage.emplace_back(&k, &u);
  }
  AppendList(usage, SIZE_MAX,
             [](const auto& kv, std::string* out) {
               AppendRow(*kv.first, *kv.second, UsageTable(), out);
             },
             o.Key("usage"));
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
  if (!spans.empty() || !trace_id.empty()) {
    o.Uint("span_count", spans.size());
    AppendList(spans, kMaxStateSpans,
               [](const SpanRow* r, std::string* out) {
                 AppendRow(*r, SpanTable(), out);
               },
               o.Key("spans"));
  }
  o.Close();
  return out;
}

}  // namespace

std::string SystemStateJson(const SystemState& state, const ReplayStats& stats,
                            uint64_t task_limit, const std::string& trace_id) {
  return StateJson(state, stats, task_limit, trace_id,
                   state.tasks.rows().size());
}

std::string StatePageJson(const StatePage& page, const ReplayStats& stats,
                          uint64_t task_limit) {
  return StateJson(page.state, stats, task_limit, "", page.task_count,
                   page.stored_tasks);
}

std::string DiffJson(const StateDiff& diff) {
  Json changes = Json::array();
  for (const auto& [ref, change] : diff.changes) {
    changes.push_back({{"kind", KindName(ref.kind)},
                       {"key", RefKey(ref)},
                       {"before", EntityJson(diff.before, ref)},
                       {"after", EntityJson(diff.after, ref)},
                       {"positions", change.positions},
                       {"position_count", change.position_count}});
  }
  return base::DumpJson({{"from", Point(diff.before)},
                         {"to", Point(diff.after)},
                         {"change_count", diff.changes.size()},
                         {"changes", std::move(changes)}});
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
    Json row;
    if (agent) {
      ASSIGN_OR_RETURN(std::optional<AgentRow> found,
                       time_travel_->AgentAt(position, query.agent_id, &stats));
      if (found.has_value()) row = Agent(*found);
    } else {
      ASSIGN_OR_RETURN(std::optional<TaskRow> found,
                       time_travel_->TaskAt(position, query.task_id, &stats));
      if (found.has_value()) row = Task(*found);
    }
    if (row.is_null()) {
      return absl::NotFoundError(absl::StrCat(
          agent ? "agent \"" : "task \"",
          agent ? query.agent_id : query.task_id,
          "\" did not exist at position ", position));
    }
    SystemState point;
    point.position = position;
    ASSIGN_OR_RETURN(point.time_us, time_travel_->TimeAt(position));
    Json json;
    Object o(&json);
    AddStats(point, stats, o);
    o.Set(agent ? "agent" : "task", std::move(row));
    return base::DumpJson(json);
  }
  uint64_t limit = query.task_limit == 0 ? kDefaultStateTasks : query.task_limit;
  if (limit > kMaxStateTasks) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be 1..", kMaxStateTasks));
  }
  if (query.trace_id.empty()) {
    ASSIGN_OR_RETURN(StatePage page,
                     time_travel_->StatePageAt(position, limit, &stats));
    return StatePageJson(page, stats, limit);
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
