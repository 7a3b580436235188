// ReadQueries: the typed read-model queries planned as SQL and rendered as
// JSON (projections/read_queries.h). The connections live in
// internal/read_pool.h; the URLs are parsed by the gateway. The column
// lists come from the row descriptions (row_columns.h). A little over 500 lines, one concept: each read query's plan (SQL and
// parameter checks) and its rendering as JSON.

#include "projections/read_queries.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <variant>

#include <pqxx/pqxx>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "api/read_models.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "projections/internal/read_pool.h"
#include "projections/internal/sql.h"
#include "projections/row_columns.h"

namespace vigil::projections {
namespace {

using base::Json;
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

// The text of a kInt column as a JSON number: bigint, or numeric without a
// fraction (a sum); one beyond 64 bits becomes the nearest double.
Json IntegerJson(std::string_view text) {
  if (int64_t value = 0; absl::SimpleAtoi(AsAbsl(text), &value)) return value;
  if (uint64_t value = 0; absl::SimpleAtoi(AsAbsl(text), &value)) return value;
  double value = 0;
  if (absl::SimpleAtod(AsAbsl(text), &value)) return value;
  return Json();
}

// `row`, selected with SelectList(columns), as a JSON object. A jsonb
// column's text is PostgreSQL's, so it parses; INTERNAL if it does not.
absl::StatusOr<Json> ObjectOf(const pqxx::row& row,
                              std::span<const Column> columns) {
  Json object = Json::object();
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column& column = columns[i];
    const pqxx::field field = row[static_cast<pqxx::row::size_type>(i)];
    Json& value = object[std::string(column.json)];
    if (field.is_null()) continue;  // null
    const std::string_view text(field.c_str(), field.size());
    switch (column.kind) {
      case Kind::kText:
        value = text;
        break;
      case Kind::kInt:
        value = IntegerJson(text);
        break;
      case Kind::kJson: {
        absl::StatusOr<Json> json = base::JsonFromText(text);
        if (!json.ok()) {
          return absl::InternalError(absl::StrCat(
              AsAbsl(column.json), ": ", json.status().message()));
        }
        value = *std::move(json);
        break;
      }
      case Kind::kDouble:
        // Not finite: null (the library writes it so).
        value = field.as<double>();
        break;
    }
  }
  return object;
}

// The first `max_rows` rows of `result` as a JSON array of objects.
absl::StatusOr<Json> ArrayOf(const pqxx::result& result,
                             std::span<const Column> columns,
                             size_t max_rows) {
  Json array = Json::array();
  for (size_t i = 0; i < result.size() && i < max_rows; ++i) {
    ASSIGN_OR_RETURN(
        Json object,
        ObjectOf(result[static_cast<pqxx::result::size_type>(i)], columns));
    array.push_back(std::move(object));
  }
  return array;
}

// The columns of a row as row_columns.h describes them: a counter row's
// key first, then the columns shown in JSON.
template <typename Row>
std::vector<Column> ColumnsOf(const RowTable<Row>& table) {
  std::vector<Column> columns;
  for (const KeyColumn& k : table.key) {
    columns.push_back({k.json, std::string(k.sql), Kind::kText});
  }
  for (const RowColumn<Row>& c : table.columns) {
    if (c.json.empty()) continue;
    switch (c.type) {
      case ColumnType::kKey:
      case ColumnType::kText:
        columns.push_back({c.json, std::string(c.sql), Kind::kText});
        break;
      case ColumnType::kInt:
      case ColumnType::kPosition:
      case ColumnType::kOptionalInt:
        columns.push_back({c.json, std::string(c.sql), Kind::kInt});
        break;
      case ColumnType::kDouble:
        columns.push_back({c.json, std::string(c.sql), Kind::kDouble});
        break;
      case ColumnType::kTime:
        columns.push_back(Time(c.json, c.sql));
        break;
      case ColumnType::kJson:
        columns.push_back({c.json, std::string(c.sql), Kind::kJson});
        break;
      case ColumnType::kMean: {
        const absl::string_view sum =
            AsAbsl(StoredColumnOf(table, c.int64, c.real));
        const absl::string_view count = AsAbsl(StoredColumnOf(table, c.count));
        columns.push_back(
            {c.json,
             absl::StrCat("CASE WHEN ", count, " > 0 THEN ", sum,
                          "::double precision / ", count,
                          c.divisor == 1 ? "" : absl::StrCat(" / ", c.divisor),
                          " END"),
             Kind::kDouble});
        break;
      }
    }
  }
  return columns;
}

const std::vector<Column>& AgentColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(ColumnsOf(AgentTable()));
  return *kColumns;
}

const std::vector<Column>& TaskColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(ColumnsOf(TaskTable()));
  return *kColumns;
}

const std::vector<Column>& SpanColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(ColumnsOf(SpanTable()));
  return *kColumns;
}

const std::vector<Column>& PairColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(ColumnsOf(CoordinationTable()));
  return *kColumns;
}

const std::vector<Column>& MessageColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(ColumnsOf(MessageTable()));
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

// sum(numerator) / sum(denominator), null when the latter is 0.
Column Average(std::string_view name, std::string_view numerator,
               std::string_view denominator) {
  return {name,
          absl::StrCat("sum(", AsAbsl(numerator), ") / NULLIF(sum(",
                       AsAbsl(denominator), "), 0)"),
          Kind::kDouble};
}

// The columns of a counter row summed over wider buckets (GROUP BY the
// key): its minute binned by kBin, its increments summed, a mean as the
// sum over the summed count. `with_text_key`: the text part of the key is
// selected too (not when the query is about one agent).
template <typename Row>
std::vector<Column> SummedColumnsOf(const RowTable<Row>& table,
                                    bool with_text_key) {
  std::vector<Column> columns;
  for (const KeyColumn& k : table.key) {
    if (k.minute) {
      columns.push_back({k.json, MicrosOf(kBin), Kind::kInt});
    } else if (with_text_key) {
      columns.push_back({k.json, std::string(k.sql), Kind::kText});
    }
  }
  for (const RowColumn<Row>& c : table.columns) {
    if (c.json.empty()) continue;
    switch (c.type) {
      case ColumnType::kInt:
        columns.push_back({c.json, absl::StrCat("sum(", AsAbsl(c.sql), ")"),
                           Kind::kInt});
        break;
      case ColumnType::kDouble:
        columns.push_back({c.json, absl::StrCat("sum(", AsAbsl(c.sql), ")"),
                           Kind::kDouble});
        break;
      case ColumnType::kMean:
        // The summed means (llm_usage, agent_metrics) have divisor 1.
        columns.push_back(Average(c.json,
                                  StoredColumnOf(table, c.int64, c.real),
                                  StoredColumnOf(table, c.count)));
        break;
      default:  // not a counter
        break;
    }
  }
  return columns;
}

const std::vector<Column>& MetricColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(SummedColumnsOf(AgentMinuteTable(), false));
  return *kColumns;
}

const std::vector<Column>& UsageColumns() {
  static const auto* const kColumns =
      new std::vector<Column>(SummedColumnsOf(UsageTable(), true));
  return *kColumns;
}

// ------------------------------------------------------------ parameters

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

struct Range {
  std::string bucket;    // "1m", "5m" or "1h"
  std::string interval;  // its PostgreSQL interval
  int64_t from_us;
  int64_t to_us;
};

absl::StatusOr<Range> CheckRange(const api::BucketRange& given) {
  static constexpr struct {
    std::string_view name;
    std::string_view interval;
    int64_t width_us;
  } kBuckets[] = {{"1m", "1 minute", 60'000'000},
                  {"5m", "5 minutes", 300'000'000},
                  {"1h", "1 hour", 3'600'000'000}};
  Range range;
  int64_t width_us = 0;
  range.bucket = given.bucket.empty() ? "1m" : given.bucket;
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
  range.to_us = given.to_us.value_or(absl::ToUnixMicros(absl::Now()));
  range.from_us = given.from_us.value_or(range.to_us - 3'600'000'000);
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

// Task cursors: web-safe base64 of "p<first_position>" and, when given,
// ":<task_id>" (tasks from spans may share a first_position), opaque to
// clients. The last task of a page: the next one lists the tasks before it
// in (first_position, task_id) order.
struct Cursor {
  int64_t first_position = 0;
  std::string task_id;  // "": before every task of first_position
};

std::string EncodeCursor(const Cursor& cursor) {
  std::string out;
  absl::WebSafeBase64Escape(
      absl::StrCat("p", cursor.first_position,
                   cursor.task_id.empty() ? "" : ":", cursor.task_id),
      &out);
  return out;
}

absl::StatusOr<Cursor> DecodeCursor(const std::string& cursor) {
  std::string text;
  Cursor decoded;
  if (!absl::WebSafeBase64Unescape(cursor, &text)) {
    return absl::InvalidArgumentError("cursor: malformed");
  }
  const size_t colon = text.find(':');
  const std::string digits = text.substr(1, colon == std::string::npos
                                                ? std::string::npos
                                                : colon - 1);
  if (colon != std::string::npos) decoded.task_id = text.substr(colon + 1);
  if (text.size() < 2 || text[0] != 'p' || digits.empty() ||
      !absl::c_all_of(digits, [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(digits, &decoded.first_position) ||
      EncodeCursor(decoded) != cursor) {
    return absl::InvalidArgumentError("cursor: malformed");
  }
  return decoded;
}

// ------------------------------------------------------------ endpoints

using Tx = internal::ReadPool::Tx;
// A planned read: parameters checked, to run in a read-only transaction.
using Query = std::function<absl::StatusOr<std::string>(Tx&)>;

Query ListAgents() {
  return [](Tx& tx) -> absl::StatusOr<std::string> {
    const pqxx::result rows = tx.exec(absl::StrCat(
        "SELECT ", SelectList(AgentColumns()),
        " FROM vigil.agents ORDER BY agent_id LIMIT ", ReadQueries::kMaxListRows));
    ASSIGN_OR_RETURN(Json agents,
                     ArrayOf(rows, AgentColumns(), rows.size()));
    return base::DumpJson({{"agents", std::move(agents)}});
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
    ASSIGN_OR_RETURN(Json object, ObjectOf(rows[0], columns));
    return base::DumpJson(object);
  };
}

absl::StatusOr<Query> ListTasks(const api::TaskListQuery& query) {
  static constexpr std::string_view kStatuses[] = {
      "created", "assigned", "running", "completed", "failed"};
  if (!query.status.empty() &&
      !absl::c_linear_search(kStatuses, query.status)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "status: must be created, assigned, running, completed or failed, "
        "not \"",
        query.status, "\""));
  }
  const int64_t limit = query.limit.value_or(ReadQueries::kDefaultTaskLimit);
  if (limit < 1 || limit > ReadQueries::kMaxTaskLimit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "limit: must be an integer from 1 to ", ReadQueries::kMaxTaskLimit,
        ", not ", limit));
  }
  Cursor before{std::numeric_limits<int64_t>::max(), ""};
  if (!query.cursor.empty()) {
    ASSIGN_OR_RETURN(before, DecodeCursor(query.cursor));
  }
  return [status = query.status, limit, before, manager = query.manager,
          worker = query.worker](Tx& tx) -> absl::StatusOr<std::string> {
    // An empty filter matches every row; one row more than the page tells
    // whether there is a next one.
    const pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", SelectList(TaskColumns()),
                     " FROM vigil.tasks"
                     " WHERE ($1::text = '' OR status = $1)"
                     " AND ($2::text = '' OR manager_id = $2)"
                     " AND ($3::text = '' OR worker_id = $3)"
                     " AND (first_position, task_id) < ($4, $6)"
                     " ORDER BY first_position DESC, task_id DESC LIMIT $5"),
        status, manager, worker, before.first_position, limit + 1,
        before.task_id);
    const size_t page = std::min(rows.size(), static_cast<size_t>(limit));
    ASSIGN_OR_RETURN(Json tasks, ArrayOf(rows, TaskColumns(), page));
    Json next_cursor;  // null on the last page
    if (rows.size() > page) {
      // Column 0 is task_id, column 1 first_position.
      const pqxx::row last =
          rows[static_cast<pqxx::result::size_type>(page - 1)];
      next_cursor =
          EncodeCursor({last[1].as<int64_t>(), last[0].as<std::string>()});
    }
    return base::DumpJson(
        {{"tasks", std::move(tasks)}, {"next_cursor", std::move(next_cursor)}});
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
    ASSIGN_OR_RETURN(Json pair_rows,
                     ArrayOf(pairs, PairColumns(), pairs.size()));
    ASSIGN_OR_RETURN(Json message_rows,
                     ArrayOf(messages, MessageColumns(), messages.size()));
    return base::DumpJson({{"pairs", std::move(pair_rows)},
                           {"messages", std::move(message_rows)}});
  };
}

absl::StatusOr<Query> AgentMetrics(const api::AgentMetricsQuery& query) {
  ASSIGN_OR_RETURN(Range range, CheckRange(query.range));
  return [id = query.agent_id, range](Tx& tx) -> absl::StatusOr<std::string> {
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
    ASSIGN_OR_RETURN(Json points,
                     ArrayOf(rows, MetricColumns(), rows.size()));
    return base::DumpJson({{"agent_id", id},
                           {"bucket", range.bucket},
                           {"points", std::move(points)}});
  };
}

absl::StatusOr<Query> Usage(const api::UsageQuery& query) {
  ASSIGN_OR_RETURN(Range range, CheckRange(query.range));
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
    ASSIGN_OR_RETURN(Json points, ArrayOf(rows, UsageColumns(), rows.size()));
    return base::DumpJson(
        {{"bucket", range.bucket}, {"points", std::move(points)}});
  };
}

// {"trace_id","spans":[...]}: by start time, then span id.
Query Trace(std::string trace_id) {
  return [id = std::move(trace_id)](Tx& tx) -> absl::StatusOr<std::string> {
    const pqxx::result rows = tx.exec_params(
        absl::StrCat("SELECT ", SelectList(SpanColumns()),
                     " FROM vigil.spans WHERE trace_id = $1"
                     " ORDER BY start_at, span_id LIMIT ",
                     ReadQueries::kMaxTraceSpans),
        id);
    if (rows.empty()) {
      return absl::NotFoundError(absl::StrCat("no trace \"", id, "\""));
    }
    ASSIGN_OR_RETURN(Json spans, ArrayOf(rows, SpanColumns(), rows.size()));
    return base::DumpJson({{"trace_id", id}, {"spans", std::move(spans)}});
  };
}

// {"task_id","trace_id","spans":[...]}: the span of run task
// "run-<span_id>" and every span below it (for a run that has not arrived
// yet, the spans below it that have); a task of native events has none.
Query TaskSpans(std::string task_id) {
  return [id = std::move(task_id)](Tx& tx) -> absl::StatusOr<std::string> {
    if (!tx.exec_params1(
               "SELECT EXISTS (SELECT 1 FROM vigil.tasks WHERE task_id = $1)",
               id)[0]
             .as<bool>()) {
      return absl::NotFoundError(absl::StrCat("no task \"", id, "\""));
    }
    constexpr std::string_view kRunPrefix = "run-";
    const std::string span_id =
        id.starts_with(kRunPrefix) ? id.substr(kRunPrefix.size()) : "";
    std::string trace_id;
    if (!span_id.empty()) {
      const pqxx::result trace = tx.exec_params(
          "SELECT trace_id FROM vigil.spans WHERE span_id = $1"
          " OR parent_span_id = $1 ORDER BY trace_id LIMIT 1",
          span_id);
      if (!trace.empty()) trace_id = trace[0][0].as<std::string>();
    }
    if (trace_id.empty()) {
      return base::DumpJson(
          {{"task_id", id}, {"trace_id", nullptr}, {"spans", Json::array()}});
    }
    // UNION, not UNION ALL: a cycle of parent ids ends.
    const pqxx::result rows = tx.exec_params(
        absl::StrCat(
            "WITH RECURSIVE below(span_id) AS ("
            " SELECT span_id FROM vigil.spans WHERE trace_id = $1"
            " AND (span_id = $2 OR parent_span_id = $2)"
            " UNION SELECT s.span_id FROM vigil.spans s JOIN below b"
            " ON s.trace_id = $1 AND s.parent_span_id = b.span_id)"
            " SELECT ", SelectList(SpanColumns()),
            " FROM vigil.spans WHERE trace_id = $1"
            " AND span_id IN (SELECT span_id FROM below)"
            " ORDER BY start_at, span_id LIMIT ", ReadQueries::kMaxTraceSpans),
        trace_id, span_id);
    ASSIGN_OR_RETURN(Json spans, ArrayOf(rows, SpanColumns(), rows.size()));
    return base::DumpJson({{"task_id", id},
                           {"trace_id", trace_id},
                           {"spans", std::move(spans)}});
  };
}

// ------------------------------------------------------------ dispatch

// Checks `query` and plans its read.
absl::StatusOr<Query> Plan(const api::ReadModelQuery& query) {
  struct Planner {
    absl::StatusOr<Query> operator()(const api::AgentListQuery&) const {
      return ListAgents();
    }
    absl::StatusOr<Query> operator()(const api::AgentQuery& q) const {
      return GetOne("agent", "vigil.agents", "agent_id", AgentColumns(),
                    q.agent_id);
    }
    absl::StatusOr<Query> operator()(const api::TaskListQuery& q) const {
      return ListTasks(q);
    }
    absl::StatusOr<Query> operator()(const api::TaskQuery& q) const {
      return GetOne("task", "vigil.tasks", "task_id", TaskColumns(),
                    q.task_id);
    }
    absl::StatusOr<Query> operator()(const api::CoordinationQuery&) const {
      return Coordination();
    }
    absl::StatusOr<Query> operator()(const api::AgentMetricsQuery& q) const {
      return AgentMetrics(q);
    }
    absl::StatusOr<Query> operator()(const api::UsageQuery& q) const {
      return Usage(q);
    }
    absl::StatusOr<Query> operator()(const api::TraceQuery& q) const {
      return Trace(q.trace_id);
    }
    absl::StatusOr<Query> operator()(const api::TaskSpansQuery& q) const {
      return TaskSpans(q.task_id);
    }
    absl::StatusOr<Query> operator()(const api::ProjectionsQuery&) const {
      return absl::UnimplementedError(
          "the projections' status is answered by ProjectionService");
    }
  };
  return std::visit(Planner{}, query);
}

}  // namespace

ReadQueries::ReadQueries(std::string pg_url, int connections,
                         absl::Duration wait)
    : pool_(std::make_unique<internal::ReadPool>(std::move(pg_url),
                                                 connections, wait)) {}

ReadQueries::~ReadQueries() = default;

absl::StatusOr<std::string> ReadQueries::Read(
    const api::ReadModelQuery& query) {
  ASSIGN_OR_RETURN(Query run, Plan(query));
  return pool_->Run(run);
}

absl::StatusOr<std::string> ReadQueries::ReadAtLeast(
    const api::ReadModelQuery& query,
    const std::vector<std::string>& projections, uint64_t min_position,
    absl::Time deadline, absl::Duration poll) {
  ASSIGN_OR_RETURN(Query run, Plan(query));
  while (true) {
    // The lowest checkpoint of `projections` in this snapshot; a
    // projection without one yet counts as 0.
    uint64_t reached = 0;
    absl::StatusOr<std::string> body =
        pool_->Run([&](Tx& tx) -> absl::StatusOr<std::string> {
          std::string names;
          for (const std::string& name : projections) {
            absl::StrAppend(&names, names.empty() ? "" : ", ", tx.quote(name));
          }
          const pqxx::row row = tx.exec1(absl::StrCat(
              "SELECT count(*), coalesce(min(position), 0) "
              "FROM vigil.projection_checkpoints WHERE name IN (",
              names, ")"));
          reached = row[0].as<size_t>() == projections.size()
                        ? row[1].as<uint64_t>()
                        : 0;
          if (reached < min_position) return std::string();
          return run(tx);
        });
    if (!body.ok() || reached >= min_position) return body;
    if (absl::Now() + poll > deadline) {
      return absl::UnavailableError(absl::StrCat(
          "the read models' server has reached position ", reached,
          ", not min_position ", min_position, "; retry"));
    }
    absl::SleepFor(poll);
  }
}

}  // namespace vigil::projections
