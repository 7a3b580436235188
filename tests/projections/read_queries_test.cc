// ReadQueries (projections/read_queries.h) against a real PostgreSQL: every
// read-model query, its paging, filters, bounds and min_position waits. One
// component under test; over ~500 lines because it has many queries.

#include "projections/read_queries.h"

#include <simdjson.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "gateway/internal/read_model_routes.h"
#include "projections/migrations.h"
#include "tests/testing/pg_database.h"

namespace vigil::projections {
namespace {

using ::testing::HasSubstr;

// 2026-01-01T10:00:00Z: the minute rows and times below are offsets of it.
constexpr int64_t kT0 = 1'767'261'600'000'000;
constexpr int64_t kMinute = 60'000'000;

// A parsed answer. Values are compared as minified JSON: "\"text\"", "12",
// "null".
class Json {
 public:
  explicit Json(const std::string& body) : body_(body) {
    if (parser_.parse(body_).get(root_) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << body_;
    }
  }
  simdjson::dom::element root() const { return root_; }

 private:
  std::string body_;
  simdjson::dom::parser parser_;
  simdjson::dom::element root_;
};

simdjson::dom::element At(simdjson::dom::element e, std::string_view key) {
  simdjson::dom::element value;
  if (e[key].get(value) != simdjson::SUCCESS) {
    ADD_FAILURE() << "no field " << key << " in " << simdjson::minify(e);
  }
  return value;
}

std::vector<simdjson::dom::element> Array(simdjson::dom::element e,
                                          std::string_view key) {
  simdjson::dom::array array;
  std::vector<simdjson::dom::element> out;
  if (At(e, key).get(array) != simdjson::SUCCESS) {
    ADD_FAILURE() << key << " is not an array";
    return out;
  }
  for (simdjson::dom::element item : array) out.push_back(item);
  return out;
}

std::string Value(simdjson::dom::element e, std::string_view key) {
  return simdjson::minify(At(e, key));
}

double Double(simdjson::dom::element e, std::string_view key) {
  double value = 0;
  if (At(e, key).get(value) != simdjson::SUCCESS) {
    ADD_FAILURE() << key << " is not a number";
  }
  return value;
}

// `object` has exactly the fields of `expected`, with those values (as
// minified JSON).
void ExpectObject(simdjson::dom::element object,
                  const std::map<std::string, std::string>& expected) {
  std::map<std::string, std::string> actual;
  simdjson::dom::object fields;
  ASSERT_EQ(object.get(fields), simdjson::SUCCESS);
  for (auto [key, value] : fields) {
    actual[std::string(key)] = simdjson::minify(value);
  }
  EXPECT_EQ(actual, expected);
}

std::string Q(const std::string& text) { return "\"" + text + "\""; }

// GET `path`?`query` as the gateway answers it: parsed into a request
// (gateway/internal/read_model_routes.h), then read.
absl::StatusOr<std::string> Get(ReadQueries& reads, std::string_view path,
                                std::string_view query) {
  absl::StatusOr<api::ReadModelRequest> request =
      gateway::internal::ParseReadModelRequest(path, query);
  if (!request.ok()) return request.status();
  return reads.Read(request->query);
}

class ReadQueriesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto applied = ApplyMigrations(db_.url());
    ASSERT_TRUE(applied.ok()) << applied.status();
    // Two days of agent_metrics, as the metrics projection would create.
    Exec(
        "CREATE TABLE vigil.agent_metrics_20260101 PARTITION OF "
        "vigil.agent_metrics FOR VALUES FROM ('2026-01-01 00:00+00') TO "
        "('2026-01-02 00:00+00');"
        "CREATE TABLE vigil.agent_metrics_20260102 PARTITION OF "
        "vigil.agent_metrics FOR VALUES FROM ('2026-01-02 00:00+00') TO "
        "('2026-01-03 00:00+00')");
  }

  void Exec(const std::string& sql) {
    pqxx::connection connection{db_.url()};
    pqxx::work tx{connection};
    tx.exec(sql);
    tx.commit();
  }

  // The body of a GET that must succeed.
  std::string Ok(std::string_view path, std::string_view query = "") {
    absl::StatusOr<std::string> body = Get(reads_, path, query);
    EXPECT_TRUE(body.ok()) << path << "?" << query << ": " << body.status();
    return body.ok() ? *body : "null";
  }

  testing::PgDatabase db_;
  ReadQueries reads_{db_.url()};
};

// A timestamptz literal kT0 + offset_us.
std::string At0(int64_t offset_us) {
  return absl::StrCat(
      "'",
      absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00",
                       absl::FromUnixMicros(kT0 + offset_us),
                       absl::UTCTimeZone()),
      "'");
}

TEST(ReadModelRoutes, ThePathsOfTheReadEndpoints) {
  for (const char* path :
       {"/v1/agents", "/v1/agents/a1", "/v1/agents/a%2F1", "/v1/tasks",
        "/v1/tasks/t1", "/v1/coordination", "/v1/metrics/agents/a1",
        "/v1/usage"}) {
    EXPECT_TRUE(gateway::internal::IsReadModelPath(path)) << path;
  }
  for (const char* path :
       {"", "/", "/v1", "/v1/agents/", "/v1/agents/a/b", "/v1/tasks/",
        "/v1/metrics", "/v1/metrics/agents", "/v1/metrics/agents/",
        "/v1/usage/x", "/v1/streams/s", "/v1/agentsx", "/v2/agents"}) {
    EXPECT_FALSE(gateway::internal::IsReadModelPath(path)) << path;
  }
}

TEST_F(ReadQueriesTest, AgentsListedByIdWithEveryField) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.agents VALUES "
      "('w2', 'worker', 'quote\" back\\ nl\n tab\t é', 'claude', 'busy', NULL,"
      " 't9', ", At0(123456), ", ", At0(kMinute), ", 12.5, 1048576, 3, ",
      At0(2 * kMinute), ", 42),"
      "('m1', NULL, NULL, NULL, 'idle', NULL, NULL, NULL, NULL, 0, 0, 0, ",
      At0(0), ", 7),"
      "('w1', 'worker', 'w', 'm', 'stopped', 'crashed', NULL, ", At0(0),
      ", NULL, 0.25, 5, 0, ", At0(-1), ", 9)"));
  Json json(Ok("/v1/agents"));
  const auto agents = Array(json.root(), "agents");
  ASSERT_EQ(agents.size(), 3u);
  EXPECT_EQ(Value(agents[0], "agent_id"), Q("m1"));
  EXPECT_EQ(Value(agents[1], "agent_id"), Q("w1"));
  ExpectObject(
      agents[2],
      {{"agent_id", Q("w2")},
       {"role", Q("worker")},
       {"name", "\"quote\\\" back\\\\ nl\\n tab\\t é\""},
       {"model", Q("claude")},
       {"status", Q("busy")},
       {"stopped_reason", "null"},
       {"current_task_id", Q("t9")},
       {"registered_time_us", absl::StrCat(kT0 + 123456)},
       {"last_heartbeat_time_us", absl::StrCat(kT0 + kMinute)},
       {"cpu_pct", "12.5"},
       {"mem_bytes", "1048576"},
       {"queue_depth", "3"},
       {"updated_time_us", absl::StrCat(kT0 + 2 * kMinute)},
       {"last_position", "42"}});
  ExpectObject(agents[0], {{"agent_id", Q("m1")},
                           {"role", "null"},
                           {"name", "null"},
                           {"model", "null"},
                           {"status", Q("idle")},
                           {"stopped_reason", "null"},
                           {"current_task_id", "null"},
                           {"registered_time_us", "null"},
                           {"last_heartbeat_time_us", "null"},
                           {"cpu_pct", "0.0"},
                           {"mem_bytes", "0"},
                           {"queue_depth", "0"},
                           {"updated_time_us", absl::StrCat(kT0)},
                           {"last_position", "7"}});
  EXPECT_EQ(Value(agents[1], "stopped_reason"), Q("crashed"));
  EXPECT_EQ(Value(agents[1], "updated_time_us"), absl::StrCat(kT0 - 1));

  // min_position is accepted (the caller waits for it) and ignored.
  EXPECT_EQ(Ok("/v1/agents", "min_position=5"), Ok("/v1/agents"));
}

TEST_F(ReadQueriesTest, OneAgentByPercentDecodedIdOrNotFound) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.agents (agent_id, status, updated_at, last_position)"
      " VALUES ('team/a b+c', 'idle', ", At0(0), ", 1), ('é', 'busy', ",
      At0(0), ", 2)"));
  Json json(Ok("/v1/agents/team%2Fa%20b+c"));
  EXPECT_EQ(Value(json.root(), "agent_id"), Q("team/a b+c"));
  EXPECT_EQ(Value(json.root(), "status"), Q("idle"));
  EXPECT_EQ(Value(Json(Ok("/v1/agents/%C3%A9")).root(), "agent_id"), Q("é"));

  absl::StatusOr<std::string> missing = Get(reads_, "/v1/agents/nobody", "");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nobody"));
  EXPECT_EQ(Get(reads_, "/v1/nothing", "").status().code(),
            absl::StatusCode::kNotFound);
}

// ReadAtLeast answers only from a snapshot whose checkpoints have reached
// the position: below it, it reads again until the deadline, then says
// where they are; a checkpoint committed meanwhile lets it answer.
TEST_F(ReadQueriesTest, ReadAtLeastWaitsForTheCheckpointsInItsSnapshot) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.agents (agent_id, status, updated_at, last_position)"
      " VALUES ('a1', 'idle', ", At0(0), ", 7);"
      "INSERT INTO vigil.projection_checkpoints (name, position) VALUES "
      "('agents', 7), ('tasks', 3)"));
  const api::ReadModelQuery one = api::AgentQuery{.agent_id = "a1"};
  absl::StatusOr<std::string> reached = reads_.ReadAtLeast(
      one, {"agents"}, 7, absl::Now() + absl::Seconds(5));
  ASSERT_TRUE(reached.ok()) << reached.status();
  EXPECT_THAT(*reached, HasSubstr(R"("agent_id":"a1")"));

  // The lowest of the named checkpoints counts, and a name without a row
  // counts as 0.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> behind = reads_.ReadAtLeast(
      one, {"agents", "tasks"}, 7, absl::Now() + absl::Milliseconds(200));
  EXPECT_EQ(behind.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(behind.status().message(), HasSubstr("reached position 3"));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_EQ(reads_
                .ReadAtLeast(one, {"metrics"}, 1,
                             absl::Now() + absl::Milliseconds(50))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);

  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(300));
    Exec("UPDATE vigil.projection_checkpoints SET position = 9 "
         "WHERE name = 'tasks'");
  });
  absl::StatusOr<std::string> waited = reads_.ReadAtLeast(
      one, {"agents", "tasks"}, 7, absl::Now() + absl::Seconds(10));
  later.join();
  EXPECT_TRUE(waited.ok()) << waited.status();
  // Errors of the query itself are not waited on.
  EXPECT_EQ(reads_
                .ReadAtLeast(api::AgentQuery{.agent_id = "nobody"}, {"agents"},
                             7, absl::Now() + absl::Seconds(5))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ReadQueriesTest, OneTaskWithItsResultInline) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.tasks VALUES "
      "('t1', 3, 'm1', 'w1', 'Write \"docs\"', 2, 't0', 'completed', ",
      At0(0), ", ", At0(1), ", ", At0(2), ", ", At0(kMinute),
      ", 100, 'done', '{\"files\": [1, 2], \"ok\": true}', NULL, ",
      At0(kMinute), ", 8),"
      "('t2', 4, NULL, NULL, NULL, NULL, NULL, 'created', NULL, NULL, NULL,"
      " NULL, 0, NULL, NULL, NULL, ",
      At0(0), ", 4)"));
  ExpectObject(Json(Ok("/v1/tasks/t1")).root(),
               {{"task_id", Q("t1")},
                {"first_position", "3"},
                {"manager_id", Q("m1")},
                {"worker_id", Q("w1")},
                {"title", "\"Write \\\"docs\\\"\""},
                {"priority", "2"},
                {"parent_task_id", Q("t0")},
                {"status", Q("completed")},
                {"created_time_us", absl::StrCat(kT0)},
                {"assigned_time_us", absl::StrCat(kT0 + 1)},
                {"started_time_us", absl::StrCat(kT0 + 2)},
                {"finished_time_us", absl::StrCat(kT0 + kMinute)},
                {"progress", "100.0"},
                {"progress_note", Q("done")},
                // jsonb keeps objects with shorter keys first.
                {"result", R"({"ok":true,"files":[1,2]})"},
                {"error", "null"},
                {"updated_time_us", absl::StrCat(kT0 + kMinute)},
                {"last_position", "8"}});
  Json t2(Ok("/v1/tasks/t2"));
  EXPECT_EQ(Value(t2.root(), "result"), "null");
  EXPECT_EQ(Value(t2.root(), "priority"), "null");
  EXPECT_EQ(Value(t2.root(), "created_time_us"), "null");
  EXPECT_EQ(Get(reads_, "/v1/tasks/t3", "").status().code(),
            absl::StatusCode::kNotFound);
}

class TaskListTest : public ReadQueriesTest {
 protected:
  // 25 tasks at first_position 10, 20, ..., 250: task i has manager m(i%2),
  // worker w(i%3), status kStatuses[i%5].
  static constexpr int kTasks = 25;
  static constexpr const char* kStatuses[] = {"created", "assigned", "running",
                                              "completed", "failed"};

  void SetUp() override {
    ReadQueriesTest::SetUp();
    std::string sql =
        "INSERT INTO vigil.tasks (task_id, first_position, manager_id, "
        "worker_id, status, updated_at, last_position) VALUES ";
    for (int i = 1; i <= kTasks; ++i) {
      absl::StrAppend(&sql, i > 1 ? "," : "", "('t", i, "', ", 10 * i, ", 'm",
                      i % 2, "', 'w", i % 3, "', '", kStatuses[i % 5], "', ",
                      At0(0), ", ", 10 * i, ")");
    }
    Exec(sql);
  }

  // Walks every page of `filters` with `limit`; the task ids in order.
  std::vector<std::string> Walk(const std::string& filters, int limit,
                                int* pages) {
    std::vector<std::string> ids;
    std::string cursor;
    *pages = 0;
    int64_t last_position = INT64_MAX;
    while (*pages < 100) {
      std::string query = absl::StrCat("limit=", limit, filters);
      if (!cursor.empty()) absl::StrAppend(&query, "&cursor=", cursor);
      Json json(Ok("/v1/tasks", query));
      ++*pages;
      const auto tasks = Array(json.root(), "tasks");
      EXPECT_LE(tasks.size(), static_cast<size_t>(limit));
      for (simdjson::dom::element task : tasks) {
        std::string_view id;
        EXPECT_EQ(At(task, "task_id").get(id), simdjson::SUCCESS);
        ids.emplace_back(id);
        int64_t position = 0;
        EXPECT_EQ(At(task, "first_position").get(position), simdjson::SUCCESS);
        EXPECT_LT(position, last_position) << "not newest first";
        last_position = position;
      }
      simdjson::dom::element next = At(json.root(), "next_cursor");
      if (next.is_null()) break;
      std::string_view next_cursor;
      EXPECT_EQ(next.get(next_cursor), simdjson::SUCCESS);
      EXPECT_EQ(tasks.size(), static_cast<size_t>(limit));
      cursor = std::string(next_cursor);
    }
    return ids;
  }

  // The ids of the tasks `keep` selects, newest first.
  static std::vector<std::string> Expected(bool (*keep)(int)) {
    std::vector<std::string> ids;
    for (int i = kTasks; i >= 1; --i) {
      if (keep(i)) ids.push_back(absl::StrCat("t", i));
    }
    return ids;
  }
};

TEST_F(TaskListTest, PagesVisitEveryTaskOnceNewestFirst) {
  int pages = 0;
  EXPECT_EQ(Walk("", 7, &pages), Expected([](int) { return true; }));
  EXPECT_EQ(pages, 4);
  // An exact multiple of the page: the last full page still says there is
  // none after it.
  EXPECT_EQ(Walk("", 5, &pages), Expected([](int) { return true; }));
  EXPECT_EQ(pages, 5);
  EXPECT_EQ(Walk("", 1000, &pages).size(), 25u);
  EXPECT_EQ(pages, 1);
}

TEST_F(TaskListTest, DefaultLimitIsOneHundred) {
  std::string sql =
      "INSERT INTO vigil.tasks (task_id, first_position, status, updated_at, "
      "last_position) SELECT 'x' || n, 1000 + n, 'created', now(), 1000 + n "
      "FROM generate_series(1, 100) n";
  Exec(sql);
  Json json(Ok("/v1/tasks"));
  EXPECT_EQ(Array(json.root(), "tasks").size(), 100u);
  EXPECT_FALSE(At(json.root(), "next_cursor").is_null());
}

TEST_F(TaskListTest, FiltersCombineWithAnd) {
  int pages = 0;
  EXPECT_EQ(Walk("&status=completed", 2, &pages),
            Expected([](int i) { return i % 5 == 3; }));
  EXPECT_EQ(Walk("&manager=m1", 4, &pages),
            Expected([](int i) { return i % 2 == 1; }));
  EXPECT_EQ(Walk("&worker=w2", 3, &pages),
            Expected([](int i) { return i % 3 == 2; }));
  EXPECT_EQ(Walk("&manager=m0&worker=w1", 1, &pages),
            Expected([](int i) { return i % 2 == 0 && i % 3 == 1; }));
  EXPECT_EQ(Walk("&status=failed&manager=m1&worker=w0", 10, &pages),
            Expected([](int i) {
              return i % 5 == 4 && i % 2 == 1 && i % 3 == 0;
            }));
  EXPECT_EQ(Walk("&manager=nobody", 10, &pages), std::vector<std::string>{});
  // An empty value is no filter.
  EXPECT_EQ(Walk("&status=&manager=", 100, &pages).size(), 25u);
}

// Every bad parameter: INVALID_ARGUMENT naming it.
TEST_F(TaskListTest, BadParametersAreInvalidArguments) {
  const struct {
    const char* path;
    const char* query;
    const char* names;
  } kCases[] = {
      {"/v1/tasks", "status=done", "status"},
      {"/v1/tasks", "status=Completed", "status"},
      {"/v1/tasks", "limit=0", "limit"},
      {"/v1/tasks", "limit=1001", "limit"},
      {"/v1/tasks", "limit=-1", "limit"},
      {"/v1/tasks", "limit=ten", "limit"},
      {"/v1/tasks", "limit=+5", "limit"},
      {"/v1/tasks", "limit=99999999999999999999", "limit"},
      {"/v1/tasks", "cursor=abc", "cursor"},
      {"/v1/tasks", "cursor=cDEw%3D", "cursor"},  // "p10=": padded
      {"/v1/tasks", "cursor=eDEw", "cursor"},     // "x10"
      {"/v1/tasks", "cursor=cC0x", "cursor"},     // "p-1"
      {"/v1/tasks", "cursor=cA", "cursor"},       // "p"
      {"/v1/tasks", "cursor=!!!", "cursor"},
      {"/v1/tasks", "sort=asc", "sort"},
      {"/v1/tasks", "limit=5&limit=6", "limit"},
      {"/v1/tasks", "manager=%zz", "manager"},
      {"/v1/tasks", "manager=a%00b", "manager"},
      {"/v1/tasks", "worker=%FF", "worker"},
      {"/v1/tasks", "worker=%4", "worker"},
      {"/v1/agents", "limit=5", "limit"},
      {"/v1/agents/a%2", "", "id"},
      {"/v1/tasks/t%00", "", "id"},
      {"/v1/coordination", "x=1", "x"},
      {"/v1/usage", "bucket=2m", "bucket"},
      {"/v1/usage", "bucket=1M", "bucket"},
      {"/v1/usage", "from=yesterday", "from"},
      {"/v1/usage", "to=2026-01-01", "to"},
      {"/v1/usage", "to=2026-01-01T10:00:00", "to"},  // no offset
      {"/v1/usage", "from=1e6", "from"},
      {"/v1/usage", "from=99999999999999999999", "from"},
      {"/v1/usage", "from=-62135596800000001&to=0", "from"},  // before year 1
      {"/v1/usage", "from=10&to=9", "to"},
      {"/v1/usage",
       "from=2026-01-01T10:00:00Z&to=2026-01-01T09:59:59.999999Z", "to"},
      // 10,001 one-minute buckets; and 10,000 minutes not aligned to them.
      {"/v1/usage", "from=0&to=600060000000", "from, to"},
      {"/v1/usage", "from=1&to=600000000001", "from, to"},
      {"/v1/usage", "model=x", "model"},
      {"/v1/metrics/agents/a1", "bucket=1d", "bucket"},
      {"/v1/metrics/agents/a1", "from=0&to=36000000000001&bucket=1h",
       "from, to"},
      {"/v1/metrics/agents/a1", "to=x", "to"},
      {"/v1/metrics/agents/a1", "status=idle", "status"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<std::string> body = Get(reads_, c.path, c.query);
    EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument)
        << c.path << "?" << c.query;
    EXPECT_THAT(body.status().message(), HasSubstr(c.names))
        << c.path << "?" << c.query;
  }
  // The largest ranges allowed.
  EXPECT_TRUE(Get(reads_, "/v1/usage", "from=0&to=600000000000").ok());
  EXPECT_TRUE(Get(reads_, "/v1/usage", "from=1&to=600000000000").ok());
  EXPECT_TRUE(
      Get(reads_, "/v1/usage", "from=0&to=36000000000000&bucket=1h").ok());
}

TEST_F(ReadQueriesTest, CoordinationPairsAndMessages) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.coordination VALUES "
      "('m1', 'w2', 5, 3, 1, 4500000, 3),"
      "('m1', 'w1', 1, 0, 0, 0, 0),"
      "('m0', 'w1', 2, 2, 0, 3000, 2);"
      "INSERT INTO vigil.agent_messages VALUES "
      "('w1', 'm1', 4, 'status', 'all \"good\"', ",
      At0(5), ", 77),"
      "('m1', 'w1', 1, NULL, NULL, NULL, 0)"));
  Json json(Ok("/v1/coordination"));
  const auto pairs = Array(json.root(), "pairs");
  ASSERT_EQ(pairs.size(), 3u);
  ExpectObject(pairs[0], {{"manager_id", Q("m0")},
                          {"worker_id", Q("w1")},
                          {"tasks_assigned", "2"},
                          {"tasks_completed", "2"},
                          {"tasks_failed", "0"},
                          {"mean_time_to_complete_ms", "1.5"}});
  EXPECT_EQ(Value(pairs[1], "worker_id"), Q("w1"));
  EXPECT_EQ(Value(pairs[1], "mean_time_to_complete_ms"), "null");
  EXPECT_EQ(Value(pairs[2], "worker_id"), Q("w2"));
  EXPECT_DOUBLE_EQ(Double(pairs[2], "mean_time_to_complete_ms"), 1500.0);
  const auto messages = Array(json.root(), "messages");
  ASSERT_EQ(messages.size(), 2u);
  ExpectObject(messages[0], {{"from_agent", Q("m1")},
                             {"to_agent", Q("w1")},
                             {"messages", "1"},
                             {"last_kind", "null"},
                             {"last_summary", "null"},
                             {"last_time_us", "null"}});
  ExpectObject(messages[1], {{"from_agent", Q("w1")},
                             {"to_agent", Q("m1")},
                             {"messages", "4"},
                             {"last_kind", Q("status")},
                             {"last_summary", "\"all \\\"good\\\"\""},
                             {"last_time_us", absl::StrCat(kT0 + 5)}});
  ExpectObject(Json(Ok("/v1/coordination", "min_position=3")).root(),
               {{"pairs", simdjson::minify(At(json.root(), "pairs"))},
                {"messages", simdjson::minify(At(json.root(), "messages"))}});
}

class MetricsTest : public ReadQueriesTest {
 protected:
  void SetUp() override {
    ReadQueriesTest::SetUp();
    // a1: minutes 0..9 of kT0. Minute m has m+1 events, heartbeats 2 on
    // even minutes and 0 on odd ones, cpu_pct_sum 10*m (so cpu 5*m on even
    // minutes), mem_bytes_sum 2000, queue_depth_sum m, llm_calls 1,
    // input_tokens 100, output_tokens 10, cost 0.5, tool calls 2, failures
    // m%2, tasks completed 1 on minute 4 and failed 1 on minute 7.
    std::string sql = "INSERT INTO vigil.agent_metrics VALUES ";
    for (int m = 0; m < 10; ++m) {
      const bool even = m % 2 == 0;
      absl::StrAppend(&sql, m > 0 ? "," : "", "('a1', ", At0(m * kMinute),
                      ", ", m + 1, ", ", even ? 2 : 0, ", ", even ? 10 * m : 0,
                      ", ", even ? 2000 : 0, ", ", even ? m : 0, ", 1, 100, 10, 0.5, 2, ",
                      m % 2, ", ", m == 4 ? 1 : 0, ", ", m == 7 ? 1 : 0, ")");
    }
    // Another agent in the same minutes, and a1 in the next day.
    absl::StrAppend(&sql, ",('a2', ", At0(0), ", 99, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0)");
    absl::StrAppend(&sql, ",('a1', '2026-01-02 00:03:00+00', 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)");
    Exec(sql);
  }
};

TEST_F(MetricsTest, OneMinuteBucketsAreTheRows) {
  Json json(Ok("/v1/metrics/agents/a1",
               absl::StrCat("from=", kT0, "&to=", kT0 + 10 * kMinute,
                            "&bucket=1m")));
  EXPECT_EQ(Value(json.root(), "agent_id"), Q("a1"));
  EXPECT_EQ(Value(json.root(), "bucket"), Q("1m"));
  const auto points = Array(json.root(), "points");
  ASSERT_EQ(points.size(), 10u);
  ExpectObject(points[2], {{"bucket_time_us", absl::StrCat(kT0 + 2 * kMinute)},
                           {"events", "3"},
                           {"heartbeats", "2"},
                           {"cpu_pct_avg", "10.0"},
                           {"mem_bytes_avg", "1000.0"},
                           {"queue_depth_avg", "1.0"},
                           {"llm_calls", "1"},
                           {"input_tokens", "100"},
                           {"output_tokens", "10"},
                           {"cost_usd", "0.5"},
                           {"tool_calls", "2"},
                           {"tool_failures", "0"},
                           {"tasks_completed", "0"},
                           {"tasks_failed", "0"}});
  // No heartbeats: no averages.
  EXPECT_EQ(Value(points[3], "cpu_pct_avg"), "null");
  EXPECT_EQ(Value(points[3], "mem_bytes_avg"), "null");
  EXPECT_EQ(Value(points[3], "queue_depth_avg"), "null");
  // bucket defaults to 1m.
  EXPECT_EQ(Ok("/v1/metrics/agents/a1",
               absl::StrCat("from=", kT0, "&to=", kT0 + 10 * kMinute)),
            Ok("/v1/metrics/agents/a1",
               absl::StrCat("from=", kT0, "&to=", kT0 + 10 * kMinute,
                            "&bucket=1m&min_position=9")));
}

TEST_F(MetricsTest, FiveMinuteBucketsSumTheirMinutes) {
  // RFC 3339 bounds, one with an offset (%2B is '+').
  Json json(Ok("/v1/metrics/agents/a1",
               "from=2026-01-01T10:00:00Z&to=2026-01-01T12:10:00%2B02:00"
               "&bucket=5m"));
  const auto points = Array(json.root(), "points");
  ASSERT_EQ(points.size(), 2u);
  // Minutes 0-4: heartbeats on 0, 2, 4 (2 each); cpu sums 0+20+40.
  ExpectObject(points[0], {{"bucket_time_us", absl::StrCat(kT0)},
                           {"events", "15"},
                           {"heartbeats", "6"},
                           {"cpu_pct_avg", "10.0"},
                           {"mem_bytes_avg", "1000.0"},
                           {"queue_depth_avg", "1.0"},
                           {"llm_calls", "5"},
                           {"input_tokens", "500"},
                           {"output_tokens", "50"},
                           {"cost_usd", "2.5"},
                           {"tool_calls", "10"},
                           {"tool_failures", "2"},
                           {"tasks_completed", "1"},
                           {"tasks_failed", "0"}});
  // Minutes 5-9: heartbeats on 6 and 8; cpu sums 60+80 over 4.
  EXPECT_EQ(Value(points[1], "bucket_time_us"), absl::StrCat(kT0 + 5 * kMinute));
  EXPECT_EQ(Value(points[1], "events"), "40");
  EXPECT_EQ(Value(points[1], "heartbeats"), "4");
  EXPECT_DOUBLE_EQ(Double(points[1], "cpu_pct_avg"), 35.0);
  EXPECT_DOUBLE_EQ(Double(points[1], "queue_depth_avg"), 3.5);
  EXPECT_EQ(Value(points[1], "tool_failures"), "3");
  EXPECT_EQ(Value(points[1], "tasks_failed"), "1");
}

TEST_F(MetricsTest, RangesSelectMinutesAndSpanPartitions) {
  // [10:02, 10:07) with 5m buckets: minutes 2-4 in the 10:00 bucket, 5-6 in
  // the 10:05 one.
  Json part(Ok("/v1/metrics/agents/a1",
               absl::StrCat("from=", kT0 + 2 * kMinute, "&to=",
                            kT0 + 7 * kMinute, "&bucket=5m")));
  auto points = Array(part.root(), "points");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(Value(points[0], "bucket_time_us"), absl::StrCat(kT0));
  EXPECT_EQ(Value(points[0], "events"), "12");  // 3+4+5
  EXPECT_EQ(Value(points[1], "events"), "13");  // 6+7
  // A minute starting before `from` is left out.
  Json late(Ok("/v1/metrics/agents/a1",
               absl::StrCat("from=", kT0 + 9 * kMinute + 1, "&to=",
                            kT0 + 10 * kMinute)));
  EXPECT_EQ(Array(late.root(), "points").size(), 0u);
  // Across midnight, 1h buckets: 10:00 and the next day's 00:00.
  Json days(Ok("/v1/metrics/agents/a1",
               "from=2026-01-01T00:00:00Z&to=2026-01-02T01:00:00Z&bucket=1h"));
  points = Array(days.root(), "points");
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(Value(points[0], "bucket_time_us"), absl::StrCat(kT0));
  EXPECT_EQ(Value(points[0], "events"), "55");
  EXPECT_EQ(Value(points[0], "heartbeats"), "10");
  EXPECT_DOUBLE_EQ(Double(points[0], "cpu_pct_avg"), 20.0);  // 200 / 10
  EXPECT_EQ(Value(points[1], "bucket_time_us"),
            absl::StrCat(kT0 + 14 * 60 * kMinute));
  EXPECT_EQ(Value(points[1], "events"), "5");
  EXPECT_EQ(Value(points[1], "cpu_pct_avg"), "null");
  // from == to: no minutes.
  EXPECT_EQ(Array(Json(Ok("/v1/metrics/agents/a1",
                          absl::StrCat("from=", kT0, "&to=", kT0)))
                      .root(),
                  "points")
                .size(),
            0u);
  // Defaults: the hour before now, long after these rows.
  Json now(Ok("/v1/metrics/agents/a1"));
  EXPECT_EQ(Value(now.root(), "bucket"), Q("1m"));
  EXPECT_EQ(Array(now.root(), "points").size(), 0u);
}

TEST_F(MetricsTest, UnknownAgentIsNotFound) {
  absl::StatusOr<std::string> body = Get(reads_, "/v1/metrics/agents/zz", "");
  EXPECT_EQ(body.status().code(), absl::StatusCode::kNotFound);
  // An agent with an agents row and no metrics, and one with metrics only.
  Exec(absl::StrCat(
      "INSERT INTO vigil.agents (agent_id, status, updated_at, last_position)"
      " VALUES ('quiet', 'idle', ", At0(0), ", 1)"));
  EXPECT_EQ(Array(Json(Ok("/v1/metrics/agents/quiet")).root(), "points").size(),
            0u);
  EXPECT_EQ(Array(Json(Ok("/v1/metrics/agents/a2",
                          absl::StrCat("from=", kT0, "&to=", kT0 + kMinute)))
                      .root(),
                  "points")
                .size(),
            1u);
}

TEST_F(ReadQueriesTest, UsageByBucketAndModel) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.llm_usage VALUES "
      "('opus', ", At0(0), ", 2, 100, 10, 0.25, 300),"
      "('opus', ", At0(4 * kMinute), ", 1, 50, 5, 0.5, 600),"
      "('haiku', ", At0(kMinute), ", 4, 40, 4, 0.125, 100),"
      "('haiku', ", At0(5 * kMinute), ", 0, 0, 0, 0, 0),"
      "('opus', ", At0(10 * kMinute), ", 1, 1, 1, 1, 1)"));
  Json json(Ok("/v1/usage", absl::StrCat("from=", kT0, "&to=",
                                         kT0 + 10 * kMinute, "&bucket=5m")));
  EXPECT_EQ(Value(json.root(), "bucket"), Q("5m"));
  const auto points = Array(json.root(), "points");
  ASSERT_EQ(points.size(), 3u);
  ExpectObject(points[0], {{"bucket_time_us", absl::StrCat(kT0)},
                           {"model", Q("haiku")},
                           {"calls", "4"},
                           {"input_tokens", "40"},
                           {"output_tokens", "4"},
                           {"cost_usd", "0.125"},
                           {"latency_ms_avg", "25.0"}});
  ExpectObject(points[1], {{"bucket_time_us", absl::StrCat(kT0)},
                           {"model", Q("opus")},
                           {"calls", "3"},
                           {"input_tokens", "150"},
                           {"output_tokens", "15"},
                           {"cost_usd", "0.75"},
                           {"latency_ms_avg", "300.0"}});
  EXPECT_EQ(Value(points[2], "bucket_time_us"), absl::StrCat(kT0 + 5 * kMinute));
  EXPECT_EQ(Value(points[2], "model"), Q("haiku"));
  EXPECT_EQ(Value(points[2], "latency_ms_avg"), "null");  // no calls

  Json minutes(Ok("/v1/usage", absl::StrCat("from=", kT0, "&to=",
                                            kT0 + 11 * kMinute)));
  EXPECT_EQ(Value(minutes.root(), "bucket"), Q("1m"));
  EXPECT_EQ(Array(minutes.root(), "points").size(), 5u);
}

TEST_F(ReadQueriesTest, TooManyUsagePointsIsInvalidArgument) {
  // 10,001 models in one minute.
  Exec(absl::StrCat(
      "INSERT INTO vigil.llm_usage (model, bucket, calls) SELECT 'm' || n, ",
      At0(0), ", 1 FROM generate_series(1, 10001) n"));
  absl::StatusOr<std::string> body =
      Get(reads_, "/v1/usage", absl::StrCat("from=", kT0, "&to=", kT0 + kMinute));
  EXPECT_EQ(body.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(body.status().message(), HasSubstr("from, to"));
  Exec("DELETE FROM vigil.llm_usage WHERE model = 'm1'");
  EXPECT_EQ(Array(Json(Ok("/v1/usage", absl::StrCat("from=", kT0, "&to=",
                                                     kT0 + kMinute)))
                      .root(),
                  "points")
                .size(),
            10000u);
}

TEST_F(ReadQueriesTest, AgentListIsBounded) {
  Exec(
      "INSERT INTO vigil.agents (agent_id, status, updated_at, last_position)"
      " SELECT 'a' || lpad(n::text, 5, '0'), 'idle', now(), n"
      " FROM generate_series(1, 10001) n");
  Json json(Ok("/v1/agents"));
  const auto agents = Array(json.root(), "agents");
  ASSERT_EQ(agents.size(), 10000u);
  EXPECT_EQ(Value(agents.back(), "agent_id"), Q("a10000"));
}

TEST(ReadQueriesUnavailable, UnreachableServer) {
  // Port 1 on localhost: nothing listens there.
  ReadQueries reads("postgresql://vigil@127.0.0.1:1/vigil?connect_timeout=5");
  absl::StatusOr<std::string> body = Get(reads, "/v1/agents", "");
  EXPECT_EQ(body.status().code(), absl::StatusCode::kUnavailable);
  // Parameters are checked before any connection.
  EXPECT_EQ(Get(reads, "/v1/tasks", "limit=0").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReadQueriesTest, ReconnectsAfterTheServerDropsItsConnections) {
  ASSERT_EQ(Ok("/v1/agents"), R"({"agents":[]})");
  // What a server restart does to the pooled connection.
  Exec(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
      " WHERE datname = current_database() AND pid <> pg_backend_pid()");
  // Termination is a signal: wait until the backend is gone.
  pqxx::connection watcher{db_.url()};
  for (int i = 0; i < 500; ++i) {
    pqxx::nontransaction tx{watcher};
    if (tx.exec1("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                 "current_database() AND pid <> pg_backend_pid()")[0]
            .as<int>() == 0) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(Ok("/v1/agents"), R"({"agents":[]})");
}

TEST_F(ReadQueriesTest, WaitsAtMostWaitForAFreeConnection) {
  ReadQueries one(db_.url(), 1, absl::Milliseconds(200));
  ASSERT_TRUE(Get(one, "/v1/agents", "").ok());
  // Hold the pool's only connection: its query waits for a table lock.
  pqxx::connection locker{db_.url()};
  pqxx::work lock_tx{locker};
  lock_tx.exec("LOCK TABLE vigil.agents IN ACCESS EXCLUSIVE MODE");
  absl::StatusOr<std::string> blocked;
  std::thread reader([&] { blocked = Get(one, "/v1/agents", ""); });
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<std::string> waited = Get(one, "/v1/coordination", "");
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kUnavailable);
  lock_tx.commit();
  reader.join();
  EXPECT_TRUE(blocked.ok()) << blocked.status();
  EXPECT_TRUE(Get(one, "/v1/coordination", "").ok());
}

TEST_F(ReadQueriesTest, ManyThreadsShareTwoConnections) {
  Exec(absl::StrCat(
      "INSERT INTO vigil.agents (agent_id, status, updated_at, last_position)"
      " VALUES ('a1', 'idle', ", At0(0), ", 1)"));
  // The backends of this database other than the probe's own. Exec's
  // connection has closed, but its backend may still be listed for a moment
  // (backends exit asynchronously), so only backends that appear after the
  // reads began are counted.
  pqxx::connection probe{db_.url()};
  auto backends = [&probe] {
    pqxx::work tx{probe};
    std::set<int> pids;
    for (const pqxx::row& row :
         tx.exec("SELECT pid FROM pg_stat_activity WHERE datname = "
                 "current_database() AND pid <> pg_backend_pid()")) {
      pids.insert(row[0].as<int>());
    }
    tx.commit();
    return pids;
  };
  const std::set<int> before = backends();
  ReadQueries two(db_.url(), 2, absl::Seconds(30));  // opens connections lazily
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (Get(two, "/v1/agents/a1", "").ok()) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 200);
  // At most two connections were opened.
  int opened = 0;
  for (int pid : backends()) opened += before.count(pid) == 0 ? 1 : 0;
  EXPECT_LE(opened, 2);
}

}  // namespace
}  // namespace vigil::projections
