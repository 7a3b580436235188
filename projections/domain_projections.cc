#include "projections/internal/domain_projections.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pqxx/stream_to>

#include "absl/container/btree_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "projections/folds.h"
#include "projections/internal/row_sql.h"
#include "projections/internal/sql.h"
#include "projections/internal/upsert.h"
#include "projections/row_columns.h"

namespace vigil::projections {
namespace {

using internal::AsAbslView;
using internal::ColumnNames;
using internal::CopyValues;
using internal::ReadRow;
using internal::RowSelectList;
using internal::SqlTextArray;
using internal::SqlTime;
using internal::Upsert;
using internal::WriteCopyLine;

// Seeds `fold` with the stored rows of `table` whose keys are `ids`.
template <typename Row, typename Fold>
void Preload(pqxx::work& tx, const std::string& schema,
             const RowTable<Row>& table, const std::vector<std::string>& ids,
             Fold* fold) {
  const pqxx::result stored = tx.exec(absl::StrCat(
      "SELECT ", RowSelectList(table), " FROM ", schema, ".",
      AsAbslView(table.table), " WHERE ", AsAbslView(table.columns[0].sql),
      " = ANY(", SqlTextArray(tx, ids), ")"));
  for (const pqxx::row& r : stored) fold->Seed(ReadRow(r, table));
}

// Sorted, without duplicates or empty ids.
std::vector<std::string> Unique(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (!ids.empty() && ids.front().empty()) ids.erase(ids.begin());
  return ids;
}

std::vector<std::string> UniqueKeys(
    const std::vector<DomainEvent>& events,
    void (*keys)(const DomainEvent&, std::vector<std::string>*)) {
  std::vector<std::string> ids;
  for (const DomainEvent& event : events) keys(event, &ids);
  return Unique(std::move(ids));
}

// Seeds `traces` with the stored spans (in `table`) of the traces `events`
// touch; false when they touch none.
bool PreloadTraces(pqxx::work& tx, const std::string& schema,
                   const RowTable<SpanRow>& table,
                   const std::vector<DomainEvent>& events, TraceFold* traces) {
  const std::vector<std::string> ids = UniqueKeys(events, &TraceFold::Keys);
  if (ids.empty()) return false;
  Preload(tx, schema, table, ids, traces);
  return true;
}

// Writes the spans `traces` recorded into `table` with COPY: they are new
// to it (the fold was seeded with every stored span of their traces, and
// the checkpoint's compare-and-set keeps a second runner out), and a span
// is one row per event, so the rows are many. The trace-state copies leave
// out the JSON columns, which no fold reads.
void WriteSpans(pqxx::work& tx, const std::string& schema,
                const RowTable<SpanRow>& table, const TraceFold& traces,
                bool with_json) {
  if (traces.dirty().empty()) return;
  pqxx::stream_to copy(tx, absl::StrCat(schema, ".", AsAbslView(table.table)),
                       ColumnNames(table));
  std::vector<const char*> line;
  for (const SpanKey& key : traces.dirty()) {
    SpanRow span = traces.rows().at(key);
    if (!with_json) {
      span.attributes.clear();
      span.events.clear();
      span.links.clear();
      span.resource.clear();
      span.scope.clear();
    }
    WriteCopyLine(copy, CopyValues(span, table), &line);
  }
  copy.complete();
}

// ---------------------------------------------------------------- agents

class AgentsProjection final : public Projection {
 public:
  const std::string& name() const override { return name_; }
  std::vector<TableSpec> tables() const override {
    return {{"agents"}, {"agents_spans"}};
  }

  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<DomainEvent>& events) override {
    TraceFold traces;
    const bool spans =
        PreloadTraces(tx, schema, AgentSpanTable(), events, &traces);
    std::vector<std::string> ids;
    for (const DomainEvent& event : events) AgentFold::Keys(event, &ids);
    if (spans) traces.AgentKeys(events, &ids);
    ids = Unique(std::move(ids));
    if (ids.empty() && !spans) return;
    AgentFold fold;
    if (!ids.empty()) Preload(tx, schema, AgentTable(), ids, &fold);
    for (const DomainEvent& event : events) {
      fold.Apply(event);
      traces.Apply(event, &fold, nullptr, nullptr);
    }
    if (spans) WriteSpans(tx, schema, AgentSpanTable(), traces, false);

    Upsert<AgentRow> agents(tx, schema, AgentTable(), fold.dirty().size());
    for (const std::string& id : fold.dirty()) agents.Add(fold.rows().at(id));
    agents.Finish();
  }

 private:
  const std::string name_ = "agents";
};

// ---------------------------------------------------------------- tasks

class TasksProjection final : public Projection {
 public:
  const std::string& name() const override { return name_; }
  std::vector<TableSpec> tables() const override {
    return {{"tasks"}, {"coordination"}, {"agent_messages"}, {"spans"}};
  }

  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<DomainEvent>& events) override {
    TraceFold traces;
    const bool spans = PreloadTraces(tx, schema, SpanTable(), events, &traces);
    std::vector<std::string> ids;
    for (const DomainEvent& event : events) TaskFold::Keys(event, &ids);
    if (spans) traces.TaskKeys(events, &ids);
    ids = Unique(std::move(ids));
    TaskFold fold;
    if (!ids.empty()) Preload(tx, schema, TaskTable(), ids, &fold);
    for (const DomainEvent& event : events) {
      fold.Apply(event);
      traces.Apply(event, nullptr, &fold, nullptr);
    }
    if (spans) WriteSpans(tx, schema, SpanTable(), traces, true);

    if (!fold.removed().empty()) {
      tx.exec(absl::StrCat(
          "DELETE FROM ", schema, ".", AsAbslView(TaskTable().table),
          " WHERE task_id = ANY(",
          SqlTextArray(tx, std::vector<std::string>(fold.removed().begin(),
                                                    fold.removed().end())),
          ")"));
    }
    Upsert<TaskRow> tasks(tx, schema, TaskTable(), fold.dirty().size());
    for (const std::string& id : fold.dirty()) tasks.Add(fold.rows().at(id));
    tasks.Finish();

    Upsert<PairCounts> pairs(tx, schema, CoordinationTable(),
                             fold.pairs().size());
    for (const auto& [pair, c] : fold.pairs()) pairs.Add(pair, c);
    pairs.Finish();

    Upsert<MessageCounts> messages(tx, schema, MessageTable(),
                                   fold.messages().size());
    for (const auto& [pair, m] : fold.messages()) messages.Add(pair, m);
    messages.Finish();
  }

 private:
  const std::string name_ = "tasks";
};

// ---------------------------------------------------------------- metrics

constexpr int64_t kDayUs = 86'400'000'000;

int64_t DayOf(int64_t time_us) {
  return time_us - ((time_us % kDayUs) + kDayUs) % kDayUs;
}

std::string PartitionName(int64_t day_us) {
  return absl::StrCat(
      "agent_metrics_p",
      absl::FormatTime("%Y%m%d", absl::FromUnixMicros(day_us),
                       absl::UTCTimeZone()));
}

// The first day kept: today's minus the retention.
int64_t FirstKeptDay(const DomainProjectionOptions& options) {
  return DayOf(absl::ToUnixMicros(options.now())) -
         int64_t{options.metrics_retention_days} * kDayUs;
}

class MetricsProjection final : public Projection {
 public:
  explicit MetricsProjection(const DomainProjectionOptions& options)
      : options_(options) {}

  const std::string& name() const override { return name_; }
  std::vector<TableSpec> tables() const override {
    return {{"agent_metrics", /*partitioned=*/true},
            {"llm_usage"},
            {"metrics_spans"}};
  }

  void Apply(pqxx::work& tx, const std::string& schema,
             const std::vector<DomainEvent>& events) override {
    TraceFold traces;
    const bool spans =
        PreloadTraces(tx, schema, MetricSpanTable(), events, &traces);
    MetricsFold fold;
    for (const DomainEvent& event : events) {
      fold.Apply(event);
      traces.Apply(event, nullptr, nullptr, &fold);
    }
    if (spans) WriteSpans(tx, schema, MetricSpanTable(), traces, false);

    const int64_t first_kept_day = FirstKeptDay(options_);
    absl::btree_set<int64_t> days;
    std::vector<std::pair<const MinuteKey*, const AgentMinute*>> kept;
    for (const auto& [key, m] : fold.agent_minutes()) {
      const int64_t day = DayOf(key.second);
      if (day < first_kept_day) continue;  // past the retention
      days.insert(day);
      kept.emplace_back(&key, &m);
    }
    // Create the missing day partitions. Looked up first: CREATE TABLE ...
    // PARTITION OF locks the parent even when the partition exists.
    for (int64_t day : days) {
      const std::string partition =
          absl::StrCat(schema, ".", PartitionName(day));
      if (tx.exec1(absl::StrCat("SELECT to_regclass(", tx.quote(partition),
                                ") IS NULL"))[0]
              .as<bool>()) {
        tx.exec(absl::StrCat("CREATE TABLE IF NOT EXISTS ", partition,
                             " PARTITION OF ", schema,
                             ".agent_metrics FOR VALUES FROM (", SqlTime(day),
                             ") TO (", SqlTime(day + kDayUs), ")"));
      }
    }
    Upsert<AgentMinute> minutes(tx, schema, AgentMinuteTable(), kept.size());
    for (const auto& [key, m] : kept) minutes.Add(*key, *m);
    minutes.Finish();

    Upsert<UsageMinute> usage(tx, schema, UsageTable(),
                              fold.usage_minutes().size());
    for (const auto& [key, u] : fold.usage_minutes()) usage.Add(key, u);
    usage.Finish();
  }

 private:
  const std::string name_ = "metrics";
  const DomainProjectionOptions options_;
};

}  // namespace

std::unique_ptr<Projection> NewAgentsProjection() {
  return std::make_unique<AgentsProjection>();
}
std::unique_ptr<Projection> NewTasksProjection() {
  return std::make_unique<TasksProjection>();
}
std::unique_ptr<Projection> NewMetricsProjection(
    const DomainProjectionOptions& options) {
  return std::make_unique<MetricsProjection>(options);
}

std::vector<std::unique_ptr<Projection>> NewDomainProjections(
    const DomainProjectionOptions& options) {
  std::vector<std::unique_ptr<Projection>> projections;
  projections.push_back(NewAgentsProjection());
  projections.push_back(NewTasksProjection());
  projections.push_back(NewMetricsProjection(options));
  return projections;
}

int DropExpiredMetricPartitions(pqxx::work& tx, const std::string& schema,
                                const DomainProjectionOptions& options) {
  const std::string first_kept = PartitionName(FirstKeptDay(options));
  // Partition names sort by day: agent_metrics_pYYYYMMDD.
  const pqxx::result partitions = tx.exec(absl::StrCat(
      "SELECT c.relname FROM pg_inherits i "
      "JOIN pg_class c ON c.oid = i.inhrelid "
      "JOIN pg_class p ON p.oid = i.inhparent "
      "JOIN pg_namespace n ON n.oid = p.relnamespace "
      "WHERE n.nspname = ",
      tx.quote(schema), " AND p.relname = 'agent_metrics' AND c.relname < ",
      tx.quote(first_kept)));
  for (const pqxx::row& r : partitions) {
    tx.exec(absl::StrCat("DROP TABLE ", schema, ".", r[0].as<std::string>()));
  }
  return static_cast<int>(partitions.size());
}

}  // namespace vigil::projections
