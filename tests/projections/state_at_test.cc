// Time travel against a replay from position 1: state-at with snapshots,
// one agent or task, and diffs, at random positions of a simulated log.

#include "projections/state_at.h"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "eventlog/event_log.h"
#include "gateway/internal/state_routes.h"
#include "gtest/gtest.h"
#include "projections/domain_event.h"
#include "projections/internal/fold_codec.h"
#include "projections/state_json.h"
#include "tests/testing/agent_trace.h"
#include "tests/testing/temp_dir.h"
#include "tools/simulator/fill_log.h"
#include "tools/simulator/scenario.h"

namespace vigil::projections {
namespace {

class StateAtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eventlog::Options options;
    // 50 ms per group commit (clock_step_us_): the events span several
    // minutes.
    options.clock = [this] { return clock_us_ += clock_step_us_; };
    auto log = eventlog::EventLog::Open(options, dir_.Sub("log"));
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = *std::move(log);
    auto scenario = simulator::Scenario::Create(
        {.managers = 2, .workers = 10, .seed = 11, .id_prefix = "tt"});
    ASSERT_TRUE(scenario.ok());
    scenario_ = *std::move(scenario);
  }

  void AppendEvents(uint64_t events) {
    ASSERT_TRUE(simulator::FillLog(log_.get(), scenario_.get(), events).ok());
  }

  // The folds from position 1 to each of `positions` (sorted), by hand.
  std::vector<SystemState> Reference(const std::vector<uint64_t>& positions) {
    std::vector<SystemState> out;
    SystemState state;
    auto events = log_->ReadAll(1, 0, {});
    EXPECT_TRUE(events.ok());
    size_t next = 0;
    for (uint64_t want : positions) {
      for (; next < events->size() && (*events)[next].position <= want;
           ++next) {
        auto parsed = ParseDomainEvent((*events)[next]);
        if (parsed.ok()) state.Apply(*parsed);
        state.position = (*events)[next].position;
        state.time_us = (*events)[next].recorded_time_us;
      }
      state.ClearDirty();
      out.push_back(state);
    }
    return out;
  }

  int64_t clock_us_ = 1'800'000'000'000'000;
  int64_t clock_step_us_ = 50'000;
  testing::TempDir dir_;
  std::unique_ptr<eventlog::EventLog> log_;
  std::unique_ptr<simulator::Scenario> scenario_;
};

void ExpectSameState(const SystemState& got, const SystemState& want) {
  EXPECT_EQ(got.position, want.position);
  EXPECT_EQ(got.time_us, want.time_us);
  EXPECT_EQ(got.agents.rows(), want.agents.rows());
  EXPECT_EQ(got.tasks.rows(), want.tasks.rows());
  EXPECT_EQ(got.tasks.pairs(), want.tasks.pairs());
  EXPECT_EQ(got.tasks.messages(), want.tasks.messages());
  EXPECT_EQ(got.metrics.agent_minutes(), want.metrics.agent_minutes());
  EXPECT_EQ(got.metrics.usage_minutes(), want.metrics.usage_minutes());
  EXPECT_EQ(StateDigests(got), StateDigests(want));
}

TEST_F(StateAtTest, WithSnapshotsEqualsReplayFromZeroAtRandomPositions) {
  AppendEvents(20'000);
  const uint64_t head = log_->HeadPosition();
  TimeTravel time_travel(log_.get(), {.snapshot_interval = 997});
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  ASSERT_EQ(*log_->FindSnapshot(kFoldSnapshotName, head), head - head % 997);

  std::mt19937_64 random(5);
  std::vector<uint64_t> positions = {0, 1, 996, 997, 998, 1994, head};
  for (int i = 0; i < 40; ++i) positions.push_back(random() % (head + 1));
  std::sort(positions.begin(), positions.end());
  const std::vector<SystemState> want = Reference(positions);
  for (size_t i = 0; i < positions.size(); ++i) {
    SCOPED_TRACE(positions[i]);
    ReplayStats stats;
    auto got = time_travel.StateAt(positions[i], &stats);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_LT(stats.replayed_events, 997u);
    EXPECT_EQ(stats.snapshot_position, positions[i] - positions[i] % 997);
    ExpectSameState(*got, want[i]);
    // One agent and one task, from their snapshot entries alone.
    for (const auto& [id, row] : want[i].agents.rows()) {
      auto agent = time_travel.AgentAt(positions[i], id);
      ASSERT_TRUE(agent.ok());
      ASSERT_TRUE(agent->has_value());
      EXPECT_EQ(**agent, row);
    }
    int checked = 0;
    for (const auto& [id, row] : want[i].tasks.rows()) {
      if (++checked > 20) break;
      auto task = time_travel.TaskAt(positions[i], id);
      ASSERT_TRUE(task.ok());
      ASSERT_TRUE(task->has_value());
      EXPECT_EQ(**task, row);
    }
  }
  auto missing = time_travel.AgentAt(head, "nobody");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(time_travel.StateAt(head + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The snapshotter keeps few spans in memory (live_spans = 24) and reads a
// trace back from its last snapshot when a late span of it comes: its
// snapshots, and so every state-at, equal a replay that held every span.
// Traces of a manager, three workers and their calls arrive shuffled
// together, so most spans come after their trace was dropped.
TEST_F(StateAtTest, SnapshotsOfEvictedTracesEqualReplayFromZero) {
  using testing::TraceSpan;
  std::vector<std::pair<std::string, TraceSpan>> spans;
  for (int t = 0; t < 30; ++t) {
    const std::string trace =
        absl::StrCat("5555555555555555", absl::Hex(t, absl::kZeroPad16));
    const auto id = [&](int n) {
      return absl::StrCat(absl::Hex(t * 1000 + n, absl::kZeroPad16));
    };
    spans.push_back({trace, {.span_id = id(0), .name = "boss",
                             .operation = "invoke_agent", .start_ms = 0,
                             .end_ms = 9000, .agent_id = "boss"}});
    for (int w = 1; w <= 3; ++w) {
      spans.push_back({trace, {.span_id = id(w * 10), .parent_span_id = id(0),
                               .name = "worker", .operation = "invoke_agent",
                               .start_ms = w, .end_ms = 8000,
                               .agent_id = absl::StrCat("w", w)}});
      for (int c = 1; c <= 4; ++c) {
        spans.push_back(
            {trace, {.span_id = id(w * 10 + c), .parent_span_id = id(w * 10),
                     .name = "call", .operation = c % 2 ? "chat" : "execute_tool",
                     .start_ms = w + c, .end_ms = w + c + 1, .model = "m",
                     .input_tokens = c, .output_tokens = 1, .cost_usd = 0.25,
                     .error = c == 4 && w == 2 ? "timeout" : ""}});
      }
    }
  }
  std::shuffle(spans.begin(), spans.end(), std::mt19937(23));
  const auto append = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      const auto& [trace, span] = spans[i];
      eventlog::AppendRequest request;
      request.stream = absl::StrCat("trace-", trace);
      request.events.push_back(
          {.event_id = "", .type = "SpanRecorded",
           .data = testing::SpanRecordedJson(span, trace),
           .content_type = std::string(eventlog::kJsonContentType)});
      ASSERT_TRUE(log_->Append(request).ok());
    }
  };
  const TimeTravelOptions options{.snapshot_interval = 7, .live_spans = 24};
  append(0, spans.size() / 2);
  ASSERT_TRUE(TimeTravel(log_.get(), options).CatchUpSnapshots().ok());
  // A restart: the next snapshotter starts from a state whose spans it
  // has not loaded.
  append(spans.size() / 2, spans.size());
  TimeTravel time_travel(log_.get(), options);
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  const uint64_t head = log_->HeadPosition();
  ASSERT_EQ(head, spans.size());
  std::vector<uint64_t> positions;
  for (uint64_t p = 0; p <= head; p += 5) positions.push_back(p);
  positions.push_back(head);
  const std::vector<SystemState> want = Reference(positions);
  for (size_t i = 0; i < positions.size(); ++i) {
    SCOPED_TRACE(positions[i]);
    auto got = time_travel.StateAt(positions[i]);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectSameState(*got, want[i]);
    EXPECT_EQ(got->traces.rows(), want[i].traces.rows());
    // With spans the scrubber's page is the whole state: same body.
    ReplayStats page_stats;
    auto page = time_travel.StatePageAt(positions[i], 3, &page_stats);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(StatePageJson(*page, page_stats, 3),
              SystemStateJson(*got, page_stats, 3));
  }
  // No span is lost or doubled: every task is a run that completed or
  // failed, none a placeholder of a span never seen.
  for (const auto& [id, task] : want.back().tasks.rows()) {
    EXPECT_TRUE(task.status == "completed" || task.status == "failed") << id;
  }
  EXPECT_EQ(want.back().tasks.rows().size(), 30u * 4);
}

// The scrubber's page (StatePageAt) decodes only the newest tasks and
// those the events after the snapshot touch, found through the snapshots'
// index, yet answers the same body as the whole state for every limit.
TEST_F(StateAtTest, ScrubberPageAnswersAsTheWholeStateAtRandomPositions) {
  AppendEvents(20'000);
  const uint64_t interval = 97;
  TimeTravel time_travel(log_.get(), {.snapshot_interval = interval});
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  const uint64_t head = log_->HeadPosition();
  std::mt19937_64 random(7);
  std::vector<uint64_t> positions = {0,        1,        interval - 1,
                                     interval, interval + 1, head};
  for (int i = 0; i < 40; ++i) positions.push_back(random() % (head + 1));
  size_t paged = 0;
  for (uint64_t position : positions) {
    SCOPED_TRACE(position);
    ReplayStats whole_stats;
    auto whole = time_travel.StateAt(position, &whole_stats);
    ASSERT_TRUE(whole.ok()) << whole.status();
    for (uint64_t limit : {1, 5, 100, 4000}) {
      SCOPED_TRACE(limit);
      ReplayStats page_stats;
      auto page = time_travel.StatePageAt(position, limit, &page_stats);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_EQ(page->task_count, whole->tasks.rows().size());
      EXPECT_EQ(StatePageJson(*page, page_stats, limit),
                SystemStateJson(*whole, whole_stats, limit));
      // Past the first snapshot it decoded a page, not every task.
      if (position >= interval && limit == 5) {
        EXPECT_LT(page->state.tasks.rows().size() + page->stored_tasks.size(),
                  std::max<size_t>(whole->tasks.rows().size() / 2, 60));
        paged += whole->tasks.rows().size() > 200;
      }
    }
  }
  EXPECT_GT(paged, 20u);  // most positions had far more tasks than a page

  // Snapshots far behind (more than 4 intervals): the whole state, same body.
  AppendEvents(head + 5 * interval);
  const uint64_t later = log_->HeadPosition();
  ReplayStats page_stats, whole_stats;
  auto page = time_travel.StatePageAt(later, 100, &page_stats);
  auto whole = time_travel.StateAt(later, &whole_stats);
  ASSERT_TRUE(page.ok() && whole.ok());
  EXPECT_EQ(page->state.tasks.rows().size(), whole->tasks.rows().size());
  EXPECT_TRUE(page->stored_tasks.empty());
  EXPECT_EQ(StatePageJson(*page, page_stats, 100),
            SystemStateJson(*whole, whole_stats, 100));
}

// Over hours of events: the page keeps only the last hour's minutes in
// its rows, written whole at some snapshots and as the changes since the
// last whole ones at the others; it still answers as the whole state.
TEST_F(StateAtTest, ScrubberPageOverHoursAnswersAsTheWholeState) {
  clock_step_us_ = 2'000'000;  // 2 s per commit: an hour spans snapshots
  AppendEvents(20'000);
  const uint64_t interval = 97;
  TimeTravel time_travel(log_.get(), {.snapshot_interval = interval});
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  const uint64_t head = log_->HeadPosition();
  auto first = time_travel.TimeAt(1);
  auto last = time_travel.TimeAt(head);
  ASSERT_TRUE(first.ok() && last.ok());
  ASSERT_GT(*last - *first, 4 * kStateMetricsWindowUs);
  // Both forms of page rows were written.
  int whole = 0;
  int changes = 0;
  for (uint64_t snapshot = interval; snapshot <= head; snapshot += interval) {
    auto value = log_->ReadSnapshotEntry(kFoldSnapshotName, snapshot,
                                         internal::PageRowsKey());
    ASSERT_TRUE(value.ok() && value->has_value()) << snapshot;
    auto rows = internal::DecodePageRows(**value);
    ASSERT_TRUE(rows.has_value()) << snapshot;
    ASSERT_EQ(rows->snapshot, snapshot);
    ++(rows->base == 0 ? whole : changes);
  }
  EXPECT_GT(whole, 1);
  EXPECT_GT(changes, 1);
  std::mt19937_64 random(5);
  std::vector<uint64_t> positions = {interval, head};
  for (int i = 0; i < 30; ++i) positions.push_back(random() % (head + 1));
  // Positions past two hours, and those whose page held fewer minutes
  // than the whole state. Not every one: the page rows may be changes
  // since whole ones written up to an hour earlier, which keep the minutes
  // of the hour before their own time (the commit times vary with how the
  // appends group).
  int late = 0;
  int fewer = 0;
  for (uint64_t position : positions) {
    SCOPED_TRACE(position);
    ReplayStats whole_stats;
    auto state = time_travel.StateAt(position, &whole_stats);
    ASSERT_TRUE(state.ok()) << state.status();
    for (uint64_t limit : {5, 4000}) {
      ReplayStats page_stats;
      auto page = time_travel.StatePageAt(position, limit, &page_stats);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_EQ(StatePageJson(*page, page_stats, limit),
                SystemStateJson(*state, whole_stats, limit));
      if (limit == 5 && state->time_us - *first > 2 * kStateMetricsWindowUs) {
        // From the snapshot's page rows: at most the minutes of the whole.
        EXPECT_LE(page->state.metrics.agent_minutes().size(),
                  state->metrics.agent_minutes().size());
        ++late;
        fewer += page->state.metrics.agent_minutes().size() <
                 state->metrics.agent_minutes().size();
      }
    }
  }
  // Most late pages were read from pruned rows.
  EXPECT_GT(late, 10);
  EXPECT_GT(fewer * 2, late);
}

// The page's agents, pairs and minutes come from memory at neighbouring
// positions (TimeTravelOptions::page_rows_cache) and answer as decoding
// them does. Control: the whole page rows rewritten under the same
// snapshot change the answer, and the cache gives the new one, not the
// one it holds.
TEST_F(StateAtTest, ScrubberPageRowsFromMemoryAnswerAsDecodedOnes) {
  AppendEvents(20'000);
  const uint64_t interval = 97;
  TimeTravel writer(log_.get(), {.snapshot_interval = interval});
  ASSERT_TRUE(writer.CatchUpSnapshots().ok());
  TimeTravel cached(log_.get(), {.snapshot_interval = interval});
  TimeTravel decoded(log_.get(),
                     {.snapshot_interval = interval, .page_rows_cache = 0});
  // The body at `position` from `time_travel`, with whether it was cached.
  auto body = [](TimeTravel& time_travel, uint64_t position, bool* hit) {
    ReplayStats stats;
    auto page = time_travel.StatePageAt(position, 4000, &stats);
    EXPECT_TRUE(page.ok()) << page.status();
    if (hit != nullptr) *hit = stats.page_rows_cached;
    return page.ok() ? StatePageJson(*page, stats, 4000) : std::string();
  };
  int hits = 0;
  // A drag: neighbouring positions, forwards and back.
  std::vector<uint64_t> positions;
  for (uint64_t p = 5'000; p < 9'000; p += 61) positions.push_back(p);
  for (uint64_t p = 9'000; p > 5'000; p -= 83) positions.push_back(p);
  for (uint64_t position : positions) {
    SCOPED_TRACE(position);
    bool hit = false;
    const std::string from_memory = body(cached, position, &hit);
    bool decoded_hit = true;
    // (EXPECT_TRUE: a body is megabytes.)
    EXPECT_TRUE(from_memory == body(decoded, position, &decoded_hit));
    EXPECT_FALSE(decoded_hit);
    hits += hit;
  }
  EXPECT_GT(hits, static_cast<int>(positions.size()) / 2);

  // The whole rows a page at `position` used, rewritten with one agent
  // fewer (one the changes since them do not hold) under the same
  // snapshot.
  const uint64_t position = 7'000;
  bool hit = false;
  const std::string before = body(cached, position, &hit);
  ASSERT_TRUE(hit);
  auto read_rows = [&](uint64_t snapshot, std::string* bytes) {
    auto value = log_->ReadSnapshotEntry(kFoldSnapshotName, snapshot,
                                         internal::PageRowsKey());
    EXPECT_TRUE(value.ok() && value->has_value());
    *bytes = value.ok() ? value->value_or("") : "";
    return internal::DecodePageRows(*bytes);
  };
  std::string changes_bytes;
  std::string whole_bytes;
  auto changes = read_rows(position - position % interval, &changes_bytes);
  ASSERT_TRUE(changes.has_value());
  auto whole = changes->base == 0 ? changes
                                  : read_rows(changes->base, &whole_bytes);
  ASSERT_TRUE(whole.has_value());
  ASSERT_EQ(whole->base, 0u);
  auto dropped = std::find_if(
      whole->entries.begin(), whole->entries.end(), [&](const auto& entry) {
        return entry.first[0] == internal::kAgentKind &&
               (changes->base == 0 ||
                std::none_of(
                    changes->entries.begin(), changes->entries.end(),
                    [&](const auto& c) { return c.first == entry.first; }));
      });
  ASSERT_NE(dropped, whole->entries.end());
  whole->entries.erase(dropped);
  ASSERT_TRUE(log_->WriteSnapshot(kFoldSnapshotName, whole->snapshot,
                                  {{internal::PageRowsKey(),
                                    internal::EncodePageRows(*whole)}})
                  .ok());
  const std::string after = body(cached, position, &hit);
  EXPECT_FALSE(hit);  // other bytes: decoded again
  EXPECT_TRUE(after != before);
  EXPECT_TRUE(after == body(decoded, position, nullptr));
  EXPECT_TRUE(body(cached, position, &hit) == after);
  EXPECT_TRUE(hit);  // and kept
}

TEST_F(StateAtTest, SnapshotsCatchUpIncrementallyAndWithoutThemReplayFromOne) {
  AppendEvents(3'000);
  TimeTravel none(log_.get(), {.snapshot_interval = 500});
  ReplayStats stats;
  auto cold = none.StateAt(2'750, &stats);
  ASSERT_TRUE(cold.ok()) << cold.status();
  EXPECT_EQ(stats.snapshot_position, 0u);
  EXPECT_EQ(stats.replayed_events, 2'750u);

  ASSERT_TRUE(none.CatchUpSnapshots().ok());
  AppendEvents(4'100);
  ASSERT_TRUE(none.CatchUpSnapshots().ok());  // continues from 3,000
  EXPECT_EQ(*log_->FindSnapshot(kFoldSnapshotName, UINT64_MAX),
            log_->HeadPosition() / 500 * 500);
  ReplayStats warm_stats;
  auto warm = none.StateAt(2'750, &warm_stats);
  ASSERT_TRUE(warm.ok());
  EXPECT_EQ(warm_stats.snapshot_position, 2'500u);
  EXPECT_EQ(warm_stats.replayed_events, 250u);
  ExpectSameState(*warm, *cold);
  ExpectSameState(*none.StateAt(log_->HeadPosition()),
                  Reference({log_->HeadPosition()})[0]);
}

TEST_F(StateAtTest, DiffListsEveryChangedEntityWithItsPositions) {
  AppendEvents(4'000);
  TimeTravel time_travel(log_.get(), {.snapshot_interval = 1'000});
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  const uint64_t from = 1'234;
  const uint64_t to = 2'345;
  auto diff = time_travel.Diff(from, to);
  ASSERT_TRUE(diff.ok()) << diff.status();
  ExpectSameState(diff->before, *time_travel.StateAt(from));
  ExpectSameState(diff->after, *time_travel.StateAt(to));
  ASSERT_FALSE(diff->changes.empty());
  // Every agent and task whose row differs is listed, with positions in
  // (from, to]; every listed one was touched by those positions.
  for (const auto& [id, row] : diff->after.agents.rows()) {
    auto before = diff->before.agents.rows().find(id);
    const bool changed =
        before == diff->before.agents.rows().end() || !(before->second == row);
    EXPECT_EQ(changed, diff->changes.contains({'a', id, "", 0})) << id;
  }
  for (const auto& [id, row] : diff->after.tasks.rows()) {
    auto before = diff->before.tasks.rows().find(id);
    const bool changed =
        before == diff->before.tasks.rows().end() || !(before->second == row);
    EXPECT_EQ(changed, diff->changes.contains({'t', id, "", 0})) << id;
    if (changed) {
      const EntityChange& change = diff->changes.at({'t', id, "", 0});
      EXPECT_EQ(change.positions.back(), row.last_position);
      for (uint64_t p : change.positions) {
        EXPECT_GT(p, from);
        EXPECT_LE(p, to);
      }
    }
  }
  const std::string json = DiffJson(*diff);
  EXPECT_NE(json.find("\"kind\":\"task\""), std::string::npos);
  EXPECT_NE(json.find("\"from\":{\"position\":1234"), std::string::npos);
  EXPECT_EQ(time_travel.Diff(to, from).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StateAtTest, QueriesAnswerJsonByPositionOrTime) {
  AppendEvents(1'500);
  TimeTravel time_travel(log_.get(), {.snapshot_interval = 1'000});
  TimeTravelQueries queries(&time_travel);
  auto at = gateway::internal::ParseStateQuery("at=1200&limit=5");
  ASSERT_TRUE(at.ok());
  auto body = queries.State(*at);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->rfind("{\"position\":1200,", 0), 0u) << *body;
  EXPECT_NE(body->find("\"agents\":[{\"agent_id\":"), std::string::npos);

  auto event = log_->ReadAll(700, 1, {});
  ASSERT_TRUE(event.ok());
  auto by_time = queries.State(
      {.at = {.time_us = (*event)[0].recorded_time_us},
       .agent_id = "tt-s11-w0"});
  ASSERT_TRUE(by_time.ok()) << by_time.status();
  EXPECT_NE(by_time->find("\"agent\":{\"agent_id\":\"tt-s11-w0\""),
            std::string::npos)
      << *by_time;
  EXPECT_EQ(queries.State({.at = {.position = 10}, .task_id = "nope"})
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(gateway::internal::ParseStateQuery("at=1&at_time=2").ok());
  EXPECT_FALSE(gateway::internal::ParseStateQuery("when=1").ok());
  auto diff = gateway::internal::ParseDiffQuery("from=10&to_time=2026-12-01T10:00:00Z");
  ASSERT_TRUE(diff.ok());
  EXPECT_EQ(*diff->from.position, 10u);
  EXPECT_EQ(*diff->to.time_us, 1'796'119'200'000'000);
}

TEST_F(StateAtTest, OneAgentFoundThroughEscapedIds) {
  eventlog::AppendRequest request;
  request.stream = "agent-ab";
  request.events.push_back(
      {.type = "AgentRegistered",
       .data = R"({"agent_id":"\u0061b","role":"worker","name":"A"})"});
  request.events.push_back(
      {.type = "AgentStopped", .data = R"({"agent_id":"ab","reason":"r"})"});
  ASSERT_TRUE(log_->Append(request).ok());
  TimeTravel time_travel(log_.get(), {.snapshot_interval = 1});
  auto agent = time_travel.AgentAt(1, "ab");
  ASSERT_TRUE(agent.ok());
  ASSERT_TRUE(agent->has_value());
  EXPECT_EQ((*agent)->name, "A");
  ASSERT_TRUE(time_travel.CatchUpSnapshots().ok());
  agent = time_travel.AgentAt(2, "ab");
  ASSERT_TRUE(agent->has_value());
  EXPECT_EQ((*agent)->status, "stopped");
  EXPECT_EQ((*agent)->name, "A");
}

// The snapshot thread runs TimeTravelOptions::snapshot_nice steps below
// the thread that started it; 0 leaves it at that one's.
TEST_F(StateAtTest, TheSnapshotThreadRunsAtItsNiceValue) {
  AppendEvents(100);
  // The nice value (field 19 of /proc/self/task/TID/stat) of the thread
  // named "vigil-snapshots"; -100 when there is none.
  auto snapshot_thread_nice = [] {
    DIR* tasks = opendir("/proc/self/task");
    if (tasks == nullptr) return -100;
    int nice = -100;
    while (dirent* entry = readdir(tasks)) {
      const std::string task = absl::StrCat("/proc/self/task/", entry->d_name);
      std::ifstream comm(task + "/comm");
      std::string name;
      if (!std::getline(comm, name) || name != "vigil-snapshots") continue;
      std::ifstream stat(task + "/stat");
      std::string line;
      std::getline(stat, line);
      std::istringstream fields(line.substr(line.rfind(')') + 2));
      std::string field;
      for (int i = 3; i <= 19 && fields >> field; ++i) {
        if (i == 19) nice = std::stoi(field);
      }
    }
    closedir(tasks);
    return nice;
  };
  const int own_nice = getpriority(PRIO_PROCESS, 0);  // this thread's
  for (int wanted : {10, 0}) {
    SCOPED_TRACE(wanted);
    TimeTravel time_travel(log_.get(),
                           {.snapshot_interval = 10, .snapshot_nice = wanted});
    time_travel.StartSnapshotting();
    int nice = -100;
    const int expected = std::min(own_nice + wanted, 19);
    for (int i = 0; i < 200 && nice != expected; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
      nice = snapshot_thread_nice();
    }
    EXPECT_EQ(nice, expected);
    time_travel.StopSnapshotting();
  }
}

}  // namespace
}  // namespace vigil::projections
