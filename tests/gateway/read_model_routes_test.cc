// The read-model paths and their query strings
// (gateway/internal/read_model_routes.h), parsed into typed requests. The
// answers themselves are tested against PostgreSQL in
// tests/projections/read_queries_test.cc.

#include "gateway/internal/read_model_routes.h"

#include <string>
#include <variant>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::gateway::internal {
namespace {

using ::testing::HasSubstr;

template <typename T>
T Parsed(std::string_view path, std::string_view query) {
  absl::StatusOr<api::ReadModelRequest> request =
      ParseReadModelRequest(path, query);
  EXPECT_TRUE(request.ok()) << path << "?" << query << ": "
                            << request.status();
  if (!request.ok() || !std::holds_alternative<T>(request->query)) {
    ADD_FAILURE() << path << "?" << query << ": another query";
    return T{};
  }
  return std::get<T>(request->query);
}

TEST(ReadModelRoutesTest, EachPathItsQuery) {
  Parsed<api::AgentListQuery>("/v1/agents", "");
  EXPECT_EQ(Parsed<api::AgentQuery>("/v1/agents/team%2Fa%20b+c", "").agent_id,
            "team/a b+c");
  EXPECT_EQ(Parsed<api::TaskQuery>("/v1/tasks/t1", "").task_id, "t1");
  Parsed<api::CoordinationQuery>("/v1/coordination", "");
  EXPECT_EQ(Parsed<api::AgentMetricsQuery>("/v1/metrics/agents/a1", "")
                .agent_id,
            "a1");
  Parsed<api::UsageQuery>("/v1/usage", "");
  Parsed<api::ProjectionsQuery>("/v1/projections", "");
  EXPECT_EQ(ParseReadModelRequest("/v1/nothing", "").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsReadModelPath("/v1/projections"));
  EXPECT_FALSE(IsReadModelPath("/v1/agents/a/b"));
}

TEST(ReadModelRoutesTest, TracesAndTheSpansOfATask) {
  EXPECT_EQ(Parsed<api::TraceQuery>("/v1/traces/4bf92f35", "").trace_id,
            "4bf92f35");
  EXPECT_EQ(Parsed<api::TaskSpansQuery>("/v1/tasks/run-a%2Fb/spans", "")
                .task_id,
            "run-a/b");
  absl::StatusOr<api::ReadModelRequest> waited =
      ParseReadModelRequest("/v1/traces/t1", "min_position=12");
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->min_position, 12u);
  // A task named "spans" is a task.
  EXPECT_EQ(Parsed<api::TaskQuery>("/v1/tasks/spans", "").task_id, "spans");
  EXPECT_EQ(ParseReadModelRequest("/v1/traces/t1", "limit=5").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsReadModelPath("/v1/traces"));  // OTLP ingest, not a read
  EXPECT_FALSE(IsReadModelPath("/v1/traces/"));
  EXPECT_FALSE(IsReadModelPath("/v1/tasks//spans"));
  EXPECT_FALSE(IsReadModelPath("/v1/tasks/a/b/spans"));
}

TEST(ReadModelRoutesTest, TaskFiltersAreTextWithPlusAsSpace) {
  const api::TaskListQuery tasks = Parsed<api::TaskListQuery>(
      "/v1/tasks",
      "status=running&manager=lead+one&worker=w%2B1&limit=5&cursor=cDEw");
  EXPECT_EQ(tasks.status, "running");
  EXPECT_EQ(tasks.manager, "lead one");
  EXPECT_EQ(tasks.worker, "w+1");
  EXPECT_EQ(tasks.limit, 5);
  EXPECT_EQ(tasks.cursor, "cDEw");
  // Empty values count as not given.
  const api::TaskListQuery defaults =
      Parsed<api::TaskListQuery>("/v1/tasks", "status=&limit=");
  EXPECT_EQ(defaults.status, "");
  EXPECT_FALSE(defaults.limit.has_value());
}

TEST(ReadModelRoutesTest, TimesKeepPlusAsTheirOffset) {
  const api::UsageQuery usage = Parsed<api::UsageQuery>(
      "/v1/usage",
      "from=2026-01-01T12:00:00+02:00&to=2026-01-01T12:10:00%2B02:00"
      "&bucket=5m");
  EXPECT_EQ(usage.range.bucket, "5m");
  EXPECT_EQ(usage.range.from_us, 1'767'261'600'000'000);
  EXPECT_EQ(usage.range.to_us, 1'767'261'600'000'000 + 600'000'000);
  const api::AgentMetricsQuery micros = Parsed<api::AgentMetricsQuery>(
      "/v1/metrics/agents/a1", "from=-5&to=10");
  EXPECT_EQ(micros.range.from_us, -5);
  EXPECT_EQ(micros.range.to_us, 10);
  EXPECT_EQ(micros.range.bucket, "");
}

TEST(ReadModelRoutesTest, MinPositionOnEveryPath) {
  for (const char* path :
       {"/v1/agents", "/v1/agents/a1", "/v1/tasks", "/v1/tasks/t1",
        "/v1/coordination", "/v1/metrics/agents/a1", "/v1/usage",
        "/v1/projections"}) {
    absl::StatusOr<api::ReadModelRequest> request =
        ParseReadModelRequest(path, "min_position=42");
    ASSERT_TRUE(request.ok()) << path << ": " << request.status();
    EXPECT_EQ(request->min_position, 42u) << path;
    EXPECT_EQ(ParseReadModelRequest(path, "").value().min_position, 0u);
    for (const char* bad : {"min_position=soon", "min_position=",
                            "min_position=-1", "min_position=+1"}) {
      absl::StatusOr<api::ReadModelRequest> refused =
          ParseReadModelRequest(path, bad);
      EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
          << path << "?" << bad;
      EXPECT_THAT(refused.status().message(), HasSubstr("min_position"));
    }
  }
}

TEST(ReadModelRoutesTest, RefusalsNameTheParameter) {
  static constexpr struct {
    const char* path;
    const char* query;
    const char* names;
  } kCases[] = {
      {"/v1/tasks", "sort=asc", "sort"},
      {"/v1/tasks", "limit=5&limit=6", "limit"},
      {"/v1/tasks", "limit=ten", "limit"},
      {"/v1/tasks", "limit=+5", "limit"},
      {"/v1/tasks", "manager=%zz", "manager"},
      {"/v1/agents", "limit=5", "limit"},
      {"/v1/agents/a%2", "", "id"},
      {"/v1/tasks/t%00", "", "id"},
      {"/v1/projections", "x=1", "x"},
      {"/v1/usage", "from=yesterday", "from"},
      {"/v1/usage", "to=2026-01-01T10:00:00", "to"},
      {"/v1/usage", "from=99999999999999999999", "from"},
      {"/v1/usage", "from=-62135596800000001", "from"},
      {"/v1/metrics/agents/a1", "status=idle", "status"},
  };
  for (const auto& c : kCases) {
    absl::StatusOr<api::ReadModelRequest> request =
        ParseReadModelRequest(c.path, c.query);
    EXPECT_EQ(request.status().code(), absl::StatusCode::kInvalidArgument)
        << c.path << "?" << c.query;
    EXPECT_THAT(request.status().message(), HasSubstr(c.names))
        << c.path << "?" << c.query;
  }
}

}  // namespace
}  // namespace vigil::gateway::internal
