#include "projections/read_queries.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>

#include <pqxx/pqxx>
#include <simdjson.h>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "api/event_json.h"
#include "base/status_macros.h"
#include "projections/internal/sql.h"

namespace vigil::projections {
namespace {

using internal::MicrosOf;

absl::string_view AsAbsl(std::string_view s) { return {s.data(), s.size()}; }

// ------------------------------------------------------------ columns

// How a selected column becomes a JSON value (NULL is always null).
enum class Kind {
  kText,    // a JSON string
  kInt,     // bigint or numeric without fraction: its text is the number
  kDouble,  // a JSON number; null when not finite
  kJson,    // jsonb: its text is inline JSON
};

struct Column {
  std::string_view json;  // field name
  std::string sql;        // the expression selected
  Kind kind;
};

Column Text(std::string_view name) { return {name, std::string(name), Kind::kText}; }
Column Int(std::string_view name) { return {name, std::string(name), Kind::kInt}; }
Column Double(std::string_view name) {
  return {name, std::string(name), Kind::kDouble};
}
// A timestamptz column as UTC microseconds.
Column Time(std::string_view name, std::string_view column) {
  return {name, MicrosOf(column), Kind::kInt};
}

std::string SelectList(std::span<const Column> columns) {
  std::string out;
  for (const Column& c : columns) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", c.sql);
  }
  return out;
}

void AppendDouble(double value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  const std::string_view text(buffer, static_cast<size_t>(end - buffer));
  out->append(text);
  // "10.0", not "10": a client reading untyped JSON gets a float every time.
  if (text.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

// `row`, selected with SelectList(columns), as a JSON object.
void AppendObject(const pqxx::row& row, std::span<const Column> columns,
                  std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column& column = columns[i];
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    absl::StrAppend(out, i == 0 ? "\"" : ",\"", AsAbsl(column.json), "\":");
    if (field.is_null()) {
      out->append("null");
      continue;
    }
    switch (column.kind) {
      case Kind::kText:
        api::AppendJsonString(std::string_view(field.c_str(), field.size()),
                              out);
        break;
      case Kind::kInt:
      case Kind::kJson:
        out->append(field.c_str(), field.size());
        break;
      case Kind::kDouble:
        AppendDouble(field.as<double>(), out);
        break;
    }
  }
  out->push_back('}');
}

// "[obj,obj,...]" of the first `max_rows` rows of `result`.
void AppendArray(const pqxx::result& result, std::span<const Column> columns,
                 size_t max_rows, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < result.size() && i < max_rows; ++i) {
    if (i > 0) out->push_back(',');
    AppendObject(result[static_cast<pqxx::result::size_type>(i)], columns, out);
  }
  out->push_back(']');
}

const std::vector<Column>& AgentColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      Text("agent_id"),
      Text("role"),
      Text("name"),
      Text("model"),
      Text("status"),
      Text("stopped_reason"),
      Text("current_task_id"),
      Time("registered_time_us", "registered_at"),
      Time("last_heartbeat_time_us", "last_heartbeat_at"),
      Double("cpu_pct"),
      Int("mem_bytes"),
      Int("queue_depth"),
      Time("updated_time_us", "updated_at"),
      Int("last_position"),
  };
  return *kColumns;
}

const std::vector<Column>& TaskColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      Text("task_id"),
      Int("first_position"),
      Text("manager_id"),
      Text("worker_id"),
      Text("title"),
      Int("priority"),
      Text("parent_task_id"),
      Text("status"),
      Time("created_time_us", "created_at"),
      Time("assigned_time_us", "assigned_at"),
      Time("started_time_us", "started_at"),
      Time("finished_time_us", "finished_at"),
      Double("progress"),
      Text("progress_note"),
      {"result", "result", Kind::kJson},
      Text("error"),
      Time("updated_time_us", "updated_at"),
      Int("last_position"),
  };
  return *kColumns;
}

const std::vector<Column>& PairColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      Text("manager_id"),
      Text("worker_id"),
      Int("tasks_assigned"),
      Int("tasks_completed"),
      Int("tasks_failed"),
      {"mean_time_to_complete_ms",
       "CASE WHEN complete_time_count > 0 THEN complete_time_sum_us::double "
       "precision / complete_time_count / 1000 END",
       Kind::kDouble},
  };
  return *kColumns;
}

const std::vector<Column>& MessageColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      Text("from_agent"),   Text("to_agent"),     Int("messages"),
      Text("last_kind"),    Text("last_summary"), Time("last_time_us", "last_at"),
  };
  return *kColumns;
}

// Metrics and usage queries bind $1 = the bucket width (an interval), $2 and
// $3 = from and to (µs); the bucket of a 1-minute row is:
constexpr char kBin[] =
    "date_bin($1::interval, bucket, TIMESTAMPTZ '1970-01-01 00:00:00+00')";
constexpr char kInRange[] =
    "bucket >= TIMESTAMPTZ '1970-01-01 00:00:00+00' + $2::bigint * INTERVAL "
    "'1 microsecond' AND bucket < TIMESTAMPTZ '1970-01-01 00:00:00+00' + "
    "$3::bigint * INTERVAL '1 microsecond'";

Column Sum(std::string_view name) {
  return {name, absl::StrCat("sum(", AsAbsl(name), ")"), Kind::kInt};
}
// sum(numerator) / sum(denominator), null when the latter is 0.
Column Average(std::string_view name, std::string_view numerator,
               std::string_view denominator) {
  return {name,
          absl::StrCat("sum(", AsAbsl(numerator), ") / NULLIF(sum(",
                       AsAbsl(denominator), "), 0)"),
          Kind::kDouble};
}

const std::vector<Column>& MetricColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      {"bucket_time_us", MicrosOf(kBin), Kind::kInt},
      Sum("events"),
      Sum("heartbeats"),
      Average("cpu_pct_avg", "cpu_pct_sum", "heartbeats"),
      Average("mem_bytes_avg", "mem_bytes_sum", "heartbeats"),
      Average("queue_depth_avg", "queue_depth_sum", "heartbeats"),
      Sum("llm_calls"),
      Sum("input_tokens"),
      Sum("output_tokens"),
      {"cost_usd", "sum(cost_usd)", Kind::kDouble},
      Sum("tool_calls"),
      Sum("tool_failures"),
      Sum("tasks_completed"),
      Sum("tasks_failed"),
  };
  return *kColumns;
}

const std::vector<Column>& UsageColumns() {
  static const auto* const kColumns = new std::vector<Column>{
      {"bucket_time_us", MicrosOf(kBin), Kind::kInt},
      Text("model"),
      Sum("calls"),
      Sum("input_tokens"),
      Sum("output_tokens"),
      {"cost_usd", "sum(cost_usd)", Kind::kDouble},
      Average("latency_ms_avg", "latency_ms_sum", "calls"),
  };
  return *kColumns;
}

// ------------------------------------------------------------ parameters

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; in a query string ('+' as space) when `form`.
// Rejects bad escapes, NUL and bytes that are not UTF-8: none of them can
// be a value PostgreSQL's text holds. `what` names the value in errors.
absl::StatusOr<std::string> Decode(std::string_view in, bool form,
                                   std::string_view what) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+' && form) {
      out.push_back(' ');
    } else if (in[i] != '%') {
      out.push_back(in[i]);
    } else {
      const int high = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      const int low = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (high < 0 || low < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(AsAbsl(what), ": malformed percent-encoding"));
      }
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    }
  }
  if (out.find('\0') != std::string::npos ||
      !simdjson::validate_utf8(out.data(), out.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat(AsAbsl(what), ": not UTF-8 text without NUL"));
  }
  return out;
}

using Params = absl::flat_hash_map<std::string, std::string>;

// The parameters of `query`, each one of `allowed` (or min_position, which is
// dropped) at most once. Empty values are left out.
absl::StatusOr<Params> ParseQuery(std::string_view query,
                                  std::initializer_list<std::string_view> allowed) {
  Params params;
  for (absl::string_view part : absl::StrSplit(AsAbsl(query), '&')) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    const absl::string_view raw_name = part.substr(0, eq);
    const absl::string_view raw_value =
        eq == absl::string_view::npos ? absl::string_view() : part.substr(eq + 1);
    ASSIGN_OR_RETURN(std::string name,
                     Decode({raw_name.data(), raw_name.size()}, true,
                            "query parameter name"));
    ASSIGN_OR_RETURN(std::string value,
                     Decode({raw_value.data(), raw_value.size()}, true, name));
    bool known = name == "min_position";
    for (std::string_view a : allowed) known = known || name == a;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown query parameter \"", name, "\""));
    }
    if (!params.try_emplace(name, std::move(value)).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("query parameter \"", name, "\" given twice"));
    }
  }
  params.erase("min_position");
  for (auto it = params.begin(); it != params.end();) {
    if (it->second.empty()) {
      params.erase(it++);
    } else {
      ++it;
    }
  }
  return params;
}

const std::string* Find(const Params& params, const std::string& name) {
  auto it = params.find(name);
  return it == params.end() ? nullptr : &it->second;
}

// Optional sign, then digits only (no spaces, no '+').
bool IsInteger(std::string_view text) {
  if (!text.empty() && text[0] == '-') text.remove_prefix(1);
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Years 0001 to 9999, within timestamptz and RFC 3339.
constexpr int64_t kMinTimeUs = -62'135'596'800'000'000;
constexpr int64_t kMaxTimeUs = 253'402'300'799'999'999;

absl::StatusOr<int64_t> ParseTime(const std::string& name,
                                  const std::string& text) {
  int64_t time_us = 0;
  if (IsInteger(text)) {
    if (!absl::SimpleAtoi(text, &time_us)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": out of range: ", text));
    }
  } else {
    absl::Time time;
    std::string error;
    if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": neither RFC 3339 nor integer microseconds: ", text));
    }
    time_us = absl::ToUnixMicros(time);
  }
  if (time_us < kMinTimeUs || time_us > kMaxTimeUs) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": out of range (years 1 to 9999): ", text));
  }
  return time_us;
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

struct Range {
  std::string bucket;    // "1m", "5m" or "1h"
  std::string interval;  // its PostgreSQL interval
  int64_t from_us;
  int64_t to_us;
};

absl::StatusOr<Range> ParseRange(const Params& params) {
  static constexpr struct {
    std::string_view name;
    std::string_view interval;
    int64_t width_us;
  } kBuckets[] = {{"1m", "1 minute", 60'000'000},
                  {"5m", "5 minutes", 300'000'000},
                  {"1h", "1 hour", 3'600'000'000}};
  Range range;
  int64_t width_us = 0;
  const std::string* bucket = Find(params, "bucket");
  range.bucket = bucket == nullptr ? "1m" : *bucket;
  for (const auto& b : kBuckets) {
    if (range.bucket == b.name) {
      range.interval = std::string(b.interval);
      width_us = b.width_us;
    }
  }
  if (width_us == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket: must be 1m, 5m or 1h, not \"", range.bucket, "\""));
  }
  if (const std::string* to = Find(params, "to")) {
    ASSIGN_OR_RETURN(range.to_us, ParseTime("to", *to));
  } else {
    range.to_us = absl::ToUnixMicros(absl::Now());
  }
  if (const std::string* from = Find(params, "from")) {
    ASSIGN_OR_RETURN(range.from_us, ParseTime("from", *from));
  } else {
    range.from_us = range.to_us - 3'600'000'000;
  }
  if (range.to_us < range.from_us) {
    return absl::InvalidArgumentError("to: before from");
  }
  // The aligned buckets [from, to) touches.
  const int64_t buckets =
      range.to_us == range.from_us
          ? 0
          : FloorDiv(range.to_us - 1, width_us) -
                FloorDiv(range.from_us, width_us) + 1;
  if (buckets > ReadQueries::kMaxBuckets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "from, to: ", buckets, " buckets of ", range.bucket, "; at most ",
        ReadQueries::kMaxBuckets));
  }
  return range;
}

// Task cursors: web-safe base64 of "p<first_position>", opaque to clients.
std::string EncodeCursor(int64_t first_position) {
  std::string out;
  absl::WebSafeBase64Escape(absl::StrCat("p", first_position), &out);
  return out;
}

absl::StatusOr<int64_t> DecodeCursor(const std::string& cursor) {
  std::string text;
  int64_t position = 0;
  if (!absl::WebSafeBase64Unescape(cursor, &text) || text.size() < 2 ||
      text[0] != 'p' || !IsInteger(text.substr(1)) || text[1] == '-' ||
      !absl::SimpleAtoi(text.substr(1), &position) ||
      EncodeCursor(position) != cursor) {
    return absl::InvalidArgumentError("cursor: malformed");
  }
  return position;
}

// ------------------------------------------------------------ endpoints

using Tx = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;
// A planned read: parameters checked, to run in a read-only transaction.
using Query = std::function<absl::StatusOr<std::string>(Tx&)>;

Query ListAgents() {
  return [](Tx& tx) -> absl::StatusOr<std::string> {
    const pqxx::result rows = tx.exec(absl::StrCat(
        "SELECT ", SelectList(AgentColumns()),
        " FROM vigil.agents ORDER BY agent_id LIMIT ", ReadQueries::kMaxListRows));
    std::string out = "{\"agents\":";
    AppendArray(rows, AgentColumns(), rows.size(), &out);
    out.push_back('}');
    return out;
  };
}

// The row of `table` whose `key` is `id`; NOT_FOUND naming the `noun`.
Query GetOne(std::string_view noun, std::string_view table,
             std::string_view key, const std::vector<Column>& columns,
             std::string id) {
  return [sql = absl::StrCat("SELECT ", SelectList(columns), " FROM ",
                             AsAbsl(table), " WHERE ", AsAbsl(key), " = $1"),
          noun, &columns, id = std::move(id)](Tx& tx)
             -> absl::StatusOr<std::string> {
    const pqxx::result rows = tx.exec_params(sql, id);
    if (rows.empty()) {
      return absl::NotFoundError(
          absl::StrCat("no ", AsAbsl(noun), " \"", id, "\""));
    }
    std::string out;
    AppendObject(rows[0], columns, &out);
    return out;
  };
}

absl::StatusOr<Query> ListTasks(const Params& params) {
  static constexpr std::string_view kStatuses[] = {
      "created", "assigned", "running", "completed", "failed"};
  std::string status;
  if (const std::string* s = Find(params, "status")) {
    bool known = false;
    for (std::string_view k : kStatuses) known = known || *s == k;
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat(
          "status: must be created, assigned, running, completed or failed, "
          "not \"",
          *s, "\""));
    }
    status = *s;
  }
  int64_t limit = ReadQueries::kDefaultTaskLimit;
  if (const std::string* l = Find(params, "limit")) {
    if (!IsInteger(*l) || !absl::SimpleAtoi(*l, &limit) || limit < 1 ||
        limit > ReadQueries::kMaxTaskLimit) {
      return absl::InvalidArgumentError(absl::StrCat(
          "limit: must be an integer from 1 to ", ReadQueries::kMaxTaskLimit,
          ", not \"", *l, "\""));
    }
  }
  int64_t before = std::numeric_limits<int64_t>::max();
  if (const std::string* c = Find(params, "cursor")) {
    ASSIGN_OR_RETURN(before, DecodeCursor(*c));
  }
  const std::string* manager = Find(params, "manager");
  const std::string* worker = Find(params, "worker");
  return [status, limit, before, manager = manager ? *manager : "",
          worker = worker ? *worker : ""](Tx& tx) -> absl::StatusOr<std::string> {
    // An empty filter matches every row; one row more than the page tells
    // whether there is a next one.
    const pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", SelectList(TaskColumns()),
                     " FROM vigil.tasks"
                     " WHERE ($1::text = '' OR status = $1)"
                     " AND ($2::text = '' OR manager_id = $2)"
                     " AND ($3::text = '' OR worker_id = $3)"
                     " AND first_position < $4"
                     " ORDER BY first_position DESC LIMIT $5"),
        status, manager, worker, before, limit + 1);
    const size_t page = std::min(rows.size(), static_cast<size_t>(limit));
    std::string out = "{\"tasks\":";
    AppendArray(rows, TaskColumns(), page, &out);
    out.append(",\"next_cursor\":");
    if (rows.size() > page) {
      // Column 1 is first_position.
      api::AppendJsonString(
          EncodeCursor(rows[static_cast<pqxx::result::size_type>(page - 1)][1]
                           .as<int64_t>()),
          &out);
    } else {
      out.append("null");
    }
    out.push_back('}');
    return out;
  };
}

Query Coordination() {
  return [](Tx& tx) -> absl::StatusOr<std::string> {
    // One repeatable-read transaction: both lists from the same snapshot.
    const pqxx::result pairs = tx.exec(absl::StrCat(
        "SELECT ", SelectList(PairColumns()),
        " FROM vigil.coordination ORDER BY manager_id, worker_id LIMIT ",
        ReadQueries::kMaxListRows));
    const pqxx::result messages = tx.exec(absl::StrCat(
        "SELECT ", SelectList(MessageColumns()),
        " FROM vigil.agent_messages ORDER BY from_agent, to_agent LIMIT ",
        ReadQueries::kMaxListRows));
    std::string out = "{\"pairs\":";
    AppendArray(pairs, PairColumns(), pairs.size(), &out);
    out.append(",\"messages\":");
    AppendArray(messages, MessageColumns(), messages.size(), &out);
    out.push_back('}');
    return out;
  };
}

absl::StatusOr<Query> AgentMetrics(std::string id, const Params& params) {
  ASSIGN_OR_RETURN(Range range, ParseRange(params));
  return [id = std::move(id), range](Tx& tx) -> absl::StatusOr<std::string> {
    // Metrics also name agents that never had an agents row (the manager
    // of a task, the sender of a message): either makes the id known.
    const pqxx::row known = tx.exec_params1(
        "SELECT EXISTS (SELECT 1 FROM vigil.agents WHERE agent_id = $1)"
        " OR EXISTS (SELECT 1 FROM vigil.agent_metrics WHERE agent_id = $1)",
        id);
    if (!known[0].as<bool>()) {
      return absl::NotFoundError(absl::StrCat("no agent \"", id, "\""));
    }
    const pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", SelectList(MetricColumns()),
                     " FROM vigil.agent_metrics WHERE agent_id = $4 AND ",
                     kInRange, " GROUP BY 1 ORDER BY 1"),
        range.interval, range.from_us, range.to_us, id);
    std::string out = "{\"agent_id\":";
    api::AppendJsonString(id, &out);
    out.append(",\"bucket\":");
    api::AppendJsonString(range.bucket, &out);
    out.append(",\"points\":");
    AppendArray(rows, MetricColumns(), rows.size(), &out);
    out.push_back('}');
    return out;
  };
}

absl::StatusOr<Query> Usage(const Params& params) {
  ASSIGN_OR_RETURN(Range range, ParseRange(params));
  return [range](Tx& tx) -> absl::StatusOr<std::string> {
    const pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", SelectList(UsageColumns()),
                     " FROM vigil.llm_usage WHERE ", kInRange,
                     " GROUP BY 1, 2 ORDER BY 1, 2 LIMIT ",
                     ReadQueries::kMaxUsagePoints + 1),
        range.interval, range.from_us, range.to_us);
    if (rows.size() > static_cast<size_t>(ReadQueries::kMaxUsagePoints)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "from, to: more than ", ReadQueries::kMaxUsagePoints,
          " usage points; narrow the range or widen the bucket"));
    }
    std::string out = "{\"bucket\":";
    api::AppendJsonString(range.bucket, &out);
    out.append(",\"points\":");
    AppendArray(rows, UsageColumns(), rows.size(), &out);
    out.push_back('}');
    return out;
  };
}

// ------------------------------------------------------------ routing

enum class Endpoint { kNone, kAgents, kAgent, kTasks, kTask, kCoordination,
                      kMetrics, kUsage };

struct Route {
  Endpoint endpoint = Endpoint::kNone;
  std::string_view id;  // still percent-encoded
};

Route Match(std::string_view path) {
  if (path == "/v1/agents") return {Endpoint::kAgents, {}};
  if (path == "/v1/tasks") return {Endpoint::kTasks, {}};
  if (path == "/v1/coordination") return {Endpoint::kCoordination, {}};
  if (path == "/v1/usage") return {Endpoint::kUsage, {}};
  static constexpr struct {
    std::string_view prefix;
    Endpoint endpoint;
  } kWithId[] = {{"/v1/agents/", Endpoint::kAgent},
                 {"/v1/tasks/", Endpoint::kTask},
                 {"/v1/metrics/agents/", Endpoint::kMetrics}};
  for (const auto& p : kWithId) {
    if (!path.starts_with(p.prefix)) continue;
    const std::string_view id = path.substr(p.prefix.size());
    if (id.empty() || id.find('/') != std::string_view::npos) break;
    return {p.endpoint, id};
  }
  return {};
}

absl::StatusOr<Query> Plan(std::string_view path, std::string_view query) {
  const Route route = Match(path);
  std::string id;
  if (!route.id.empty()) {
    ASSIGN_OR_RETURN(id, Decode(route.id, false, "id"));
  }
  switch (route.endpoint) {
    case Endpoint::kNone:
      break;
    case Endpoint::kAgents:
      RETURN_IF_ERROR(ParseQuery(query, {}).status());
      return ListAgents();
    case Endpoint::kAgent:
      RETURN_IF_ERROR(ParseQuery(query, {}).status());
      return GetOne("agent", "vigil.agents", "agent_id", AgentColumns(),
                    std::move(id));
    case Endpoint::kTasks: {
      ASSIGN_OR_RETURN(
          Params params,
          ParseQuery(query, {"status", "manager", "worker", "limit", "cursor"}));
      return ListTasks(params);
    }
    case Endpoint::kTask:
      RETURN_IF_ERROR(ParseQuery(query, {}).status());
      return GetOne("task", "vigil.tasks", "task_id", TaskColumns(),
                    std::move(id));
    case Endpoint::kCoordination:
      RETURN_IF_ERROR(ParseQuery(query, {}).status());
      return Coordination();
    case Endpoint::kMetrics: {
      ASSIGN_OR_RETURN(Params params,
                       ParseQuery(query, {"from", "to", "bucket"}));
      return AgentMetrics(std::move(id), params);
    }
    case Endpoint::kUsage: {
      ASSIGN_OR_RETURN(Params params,
                       ParseQuery(query, {"from", "to", "bucket"}));
      return Usage(params);
    }
  }
  return absl::NotFoundError(
      absl::StrCat("no read endpoint ", AsAbsl(path)));
}

bool NonEmpty(std::vector<int>* v) { return !v->empty(); }

}  // namespace

// ------------------------------------------------------------ the pool

struct ReadQueries::Slot {
  std::unique_ptr<pqxx::connection> connection;  // null until opened
};

// Gives a slot back to the pool when the call ends.
class ReadQueries::Lease {
 public:
  Lease(ReadQueries* pool, int slot) : pool_(pool), slot_(slot) {}
  ~Lease() { pool_->Release(slot_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

 private:
  ReadQueries* const pool_;
  const int slot_;
};

ReadQueries::ReadQueries(std::string pg_url, int connections,
                         absl::Duration wait)
    : pg_url_(std::move(pg_url)), wait_(wait) {
  const int n = std::max(connections, 1);
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < n; ++i) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(n - 1 - i);
  }
}

ReadQueries::~ReadQueries() = default;

bool ReadQueries::Handles(std::string_view path) {
  return Match(path).endpoint != Endpoint::kNone;
}

absl::StatusOr<int> ReadQueries::Acquire() {
  if (!mu_.LockWhenWithTimeout(absl::Condition(&NonEmpty, &free_), wait_)) {
    mu_.Unlock();
    return absl::UnavailableError(absl::StrCat(
        "no PostgreSQL connection free within ", absl::FormatDuration(wait_)));
  }
  const int slot = free_.back();
  free_.pop_back();
  mu_.Unlock();
  return slot;
}

void ReadQueries::Release(int slot) {
  absl::MutexLock lock(&mu_);
  free_.push_back(slot);
}

absl::StatusOr<std::string> ReadQueries::Get(std::string_view path,
                                             std::string_view query) {
  ASSIGN_OR_RETURN(Query run, Plan(path, query));
  ASSIGN_OR_RETURN(const int slot_index, Acquire());
  Lease lease(this, slot_index);
  Slot& slot = *slots_[static_cast<size_t>(slot_index)];
  // A pooled connection may have broken while idle (a server restart):
  // then the read is retried once on a new connection.
  for (bool retried = false;; retried = true) {
    bool fresh = false;
    if (slot.connection == nullptr || !slot.connection->is_open()) {
      slot.connection.reset();
      try {
        slot.connection = std::make_unique<pqxx::connection>(pg_url_);
      } catch (const std::exception& e) {
        return absl::UnavailableError(
            absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
      }
      fresh = true;
    }
    std::string error;
    try {
      Tx tx(*slot.connection);
      absl::StatusOr<std::string> body = run(tx);
      tx.commit();
      return body;
    } catch (const pqxx::broken_connection& e) {
      error = e.what();
    } catch (const std::exception& e) {
      if (slot.connection->is_open()) {
        return absl::InternalError(
            absl::StrCat("read query for ", AsAbsl(path), " failed: ", e.what()));
      }
      error = e.what();
    }
    slot.connection.reset();
    if (fresh || retried) {
      return absl::UnavailableError(
          absl::StrCat("PostgreSQL connection lost: ", error));
    }
  }
}

}  // namespace vigil::projections
