#include "projections/state_at.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <limits>
#include <functional>
#include <optional>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "eventlog/log_cursor.h"
#include "projections/domain_event.h"
#include "projections/internal/fold_codec.h"
#include "projections/internal/page_rows_cache.h"

namespace vigil::projections {
namespace {

using internal::kAgentKind;
using internal::kAgentMinuteKind;
using internal::kMessageKind;
using internal::kPairKind;
using internal::kSpanKind;
using internal::kTaskKind;
using internal::kUsageMinuteKind;

bool AffectsAgents(DomainType type) {
  switch (type) {
    case DomainType::kAgentRegistered:
    case DomainType::kAgentHeartbeat:
    case DomainType::kAgentStopped:
    case DomainType::kTaskStarted:
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed:
    case DomainType::kSpanRecorded:
      return true;
    default:
      return false;
  }
}

bool AffectsTasks(DomainType type) {
  switch (type) {
    case DomainType::kTaskCreated:
    case DomainType::kTaskAssigned:
    case DomainType::kTaskStarted:
    case DomainType::kTaskProgress:
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed:
    case DomainType::kSpanRecorded:
      return true;
    default:
      return false;
  }
}

// Every entry of `state` as snapshot entries; only the changed ones when
// `dirty_only`. In key order within each kind.
std::vector<eventlog::EventLog::SnapshotEntry> Entries(const SystemState& state,
                                                        bool dirty_only) {
  std::vector<eventlog::EventLog::SnapshotEntry> out;
  const auto& agents = state.agents.rows();
  auto add_agent = [&](const std::string& id) {
    out.emplace_back(internal::AgentKey(id),
                     internal::EncodeAgent(agents.at(id)));
  };
  const auto& tasks = state.tasks.rows();
  auto add_task = [&](const std::string& id) {
    out.emplace_back(internal::TaskKey(id), internal::EncodeTask(tasks.at(id)));
  };
  if (dirty_only) {
    for (const std::string& id : state.agents.dirty()) add_agent(id);
    for (const std::string& id : state.tasks.dirty()) add_task(id);
    // A removed task's entry: empty (internal/fold_codec.h).
    for (const std::string& id : state.tasks.removed()) {
      out.emplace_back(internal::TaskKey(id), std::string());
    }
    for (const SpanKey& k : state.traces.dirty()) {
      out.emplace_back(internal::SpanKeyOf(k),
                       internal::EncodeSpan(state.traces.rows().at(k)));
    }
    for (const AgentPair& k : state.tasks.dirty_pairs()) {
      out.emplace_back(internal::PairKey(kPairKind, k),
                       internal::EncodePair(state.tasks.pairs().at(k)));
    }
    for (const AgentPair& k : state.tasks.dirty_messages()) {
      out.emplace_back(internal::PairKey(kMessageKind, k),
                       internal::EncodeMessages(state.tasks.messages().at(k)));
    }
    for (const MinuteKey& k : state.metrics.dirty_agent_minutes()) {
      out.emplace_back(
          internal::MinuteKeyOf(kAgentMinuteKind, k),
          internal::EncodeAgentMinute(state.metrics.agent_minutes().at(k)));
    }
    for (const MinuteKey& k : state.metrics.dirty_usage_minutes()) {
      out.emplace_back(
          internal::MinuteKeyOf(kUsageMinuteKind, k),
          internal::EncodeUsageMinute(state.metrics.usage_minutes().at(k)));
    }
    return out;
  }
  std::vector<std::string> ids;
  for (const auto& [id, row] : agents) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) add_agent(id);
  ids.clear();
  for (const auto& [id, row] : tasks) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) add_task(id);
  for (const auto& [k, v] : state.tasks.pairs()) {
    out.emplace_back(internal::PairKey(kPairKind, k), internal::EncodePair(v));
  }
  for (const auto& [k, v] : state.tasks.messages()) {
    out.emplace_back(internal::PairKey(kMessageKind, k),
                     internal::EncodeMessages(v));
  }
  for (const auto& [k, v] : state.metrics.agent_minutes()) {
    out.emplace_back(internal::MinuteKeyOf(kAgentMinuteKind, k),
                     internal::EncodeAgentMinute(v));
  }
  for (const auto& [k, v] : state.metrics.usage_minutes()) {
    out.emplace_back(internal::MinuteKeyOf(kUsageMinuteKind, k),
                     internal::EncodeUsageMinute(v));
  }
  for (const auto& [k, v] : state.traces.rows()) {
    out.emplace_back(internal::SpanKeyOf(k), internal::EncodeSpan(v));
  }
  return out;
}

// The entities the last applied event changed (the folds' dirty sets).
void CollectChanged(const SystemState& state, std::vector<EntityRef>* out) {
  for (const std::string& id : state.agents.dirty()) {
    out->push_back({kAgentKind, id, "", 0});
  }
  for (const std::string& id : state.tasks.dirty()) {
    out->push_back({kTaskKind, id, "", 0});
  }
  for (const std::string& id : state.tasks.removed()) {
    out->push_back({kTaskKind, id, "", 0});
  }
  for (const SpanKey& k : state.traces.dirty()) {
    out->push_back({kSpanKind, k.first, k.second, 0});
  }
  for (const AgentPair& k : state.tasks.dirty_pairs()) {
    out->push_back({kPairKind, k.first, k.second, 0});
  }
  for (const AgentPair& k : state.tasks.dirty_messages()) {
    out->push_back({kMessageKind, k.first, k.second, 0});
  }
  for (const MinuteKey& k : state.metrics.dirty_agent_minutes()) {
    out->push_back({kAgentMinuteKind, k.first, "", k.second});
  }
  for (const MinuteKey& k : state.metrics.dirty_usage_minutes()) {
    out->push_back({kUsageMinuteKind, k.first, "", k.second});
  }
}

// Whether entities of `kind` are among the page rows (internal::PageRows).
bool IsPageRowKind(char kind) {
  return kind == kAgentKind || kind == kPairKind || kind == kMessageKind ||
         kind == kAgentMinuteKind || kind == kUsageMinuteKind;
}

// The snapshot entry of page-row entity `ref` in `state`, appended to `out`.
void AddPageRow(const SystemState& state, const EntityRef& ref,
                std::vector<eventlog::EventLog::SnapshotEntry>* out) {
  switch (ref.kind) {
    case kAgentKind:
      out->emplace_back(internal::AgentKey(ref.id),
                        internal::EncodeAgent(state.agents.rows().at(ref.id)));
      break;
    case kPairKind: {
      const AgentPair key{ref.id, ref.id2};
      out->emplace_back(internal::PairKey(kPairKind, key),
                        internal::EncodePair(state.tasks.pairs().at(key)));
      break;
    }
    case kMessageKind: {
      const AgentPair key{ref.id, ref.id2};
      out->emplace_back(
          internal::PairKey(kMessageKind, key),
          internal::EncodeMessages(state.tasks.messages().at(key)));
      break;
    }
    case kAgentMinuteKind: {
      const MinuteKey key{ref.id, ref.minute};
      out->emplace_back(
          internal::MinuteKeyOf(kAgentMinuteKind, key),
          internal::EncodeAgentMinute(state.metrics.agent_minutes().at(key)));
      break;
    }
    case kUsageMinuteKind: {
      const MinuteKey key{ref.id, ref.minute};
      out->emplace_back(
          internal::MinuteKeyOf(kUsageMinuteKind, key),
          internal::EncodeUsageMinute(state.metrics.usage_minutes().at(key)));
      break;
    }
  }
}

// Every page-row entity of `state` (the minutes from the hour before its
// time on).
std::vector<EntityRef> AllPageRows(const SystemState& state) {
  std::vector<EntityRef> refs;
  for (const auto& [id, row] : state.agents.rows()) {
    refs.push_back({kAgentKind, id, "", 0});
  }
  for (const auto& [k, v] : state.tasks.pairs()) {
    refs.push_back({kPairKind, k.first, k.second, 0});
  }
  for (const auto& [k, v] : state.tasks.messages()) {
    refs.push_back({kMessageKind, k.first, k.second, 0});
  }
  const int64_t since = state.time_us - kStateMetricsWindowUs;
  for (const auto& [k, v] : state.metrics.agent_minutes()) {
    if (k.second >= since) {
      refs.push_back({kAgentMinuteKind, k.first, "", k.second});
    }
  }
  for (const auto& [k, v] : state.metrics.usage_minutes()) {
    if (k.second >= since) {
      refs.push_back({kUsageMinuteKind, k.first, "", k.second});
    }
  }
  return refs;
}

std::string Sha256Hex(const std::string& bytes) {
  return absl::BytesToHexString(base::Sha256Digest(bytes));
}

// The index written with snapshot `snapshot`; nullopt when it has none
// (DATA_LOSS when it does not decode).
absl::StatusOr<std::optional<internal::SnapshotIndex>> ReadIndex(
    const eventlog::EventLog& log, uint64_t snapshot) {
  ASSIGN_OR_RETURN(
      std::optional<std::string> value,
      log.ReadSnapshotEntry(kFoldSnapshotName, snapshot, internal::IndexKey()));
  if (!value.has_value()) return std::nullopt;
  std::optional<internal::SnapshotIndex> index = internal::DecodeIndex(*value);
  if (!index.has_value()) {
    return absl::DataLossError(absl::StrCat(
        "the index of time travel snapshot ", snapshot, " does not decode"));
  }
  // A key keeps its last version at or before the snapshot: an older one
  // means this snapshot wrote none.
  if (index->snapshot != snapshot) return std::nullopt;
  return index;
}

// The page rows written with snapshot `snapshot`, decoded into `state`
// (the whole ones through `cache`); false when it has none (DATA_LOSS when
// they do not decode).
absl::StatusOr<bool> LoadPageRows(const eventlog::EventLog& log,
                                  uint64_t snapshot,
                                  internal::PageRowsCache* cache,
                                  SystemState* state, ReplayStats* stats) {
  // The rows at `at`, when written with that snapshot: whole, or the
  // changes since their `base`.
  auto read = [&](uint64_t at, std::string* value)
      -> absl::StatusOr<std::optional<internal::PageRows>> {
    ASSIGN_OR_RETURN(
        std::optional<std::string> found,
        log.ReadSnapshotEntry(kFoldSnapshotName, at, internal::PageRowsKey()));
    if (!found.has_value()) return std::nullopt;
    *value = *std::move(found);
    std::optional<internal::PageRows> rows = internal::DecodePageRows(*value);
    if (!rows.has_value()) {
      return absl::DataLossError(absl::StrCat(
          "the page rows of time travel snapshot ", at, " do not decode"));
    }
    if (rows->snapshot != at) return std::nullopt;  // written by an older one
    return rows;
  };
  std::string changes_bytes;
  ASSIGN_OR_RETURN(std::optional<internal::PageRows> changes,
                   read(snapshot, &changes_bytes));
  if (!changes.has_value()) return false;
  if (changes->base == 0) {
    ASSIGN_OR_RETURN(stats->page_rows_cached,
                     cache->SetWhole(*changes, changes_bytes, state));
    return true;
  }
  std::string whole_bytes;
  ASSIGN_OR_RETURN(std::optional<internal::PageRows> whole,
                   read(changes->base, &whole_bytes));
  if (!whole.has_value() || whole->base != 0) {
    return absl::DataLossError(absl::StrCat(
        "time travel snapshot ", snapshot, " has page rows based on ",
        changes->base, ", which has no whole ones"));
  }
  ASSIGN_OR_RETURN(stats->page_rows_cached,
                   cache->SetWhole(*whole, whole_bytes, state));
  RETURN_IF_ERROR(internal::AddPageRows(*changes, state));
  return true;
}

// The index of the snapshot `state` is about to be written as: `previous`
// is the snapshot before it, `span_count` the spans it held.
internal::SnapshotIndex IndexOf(const SystemState& state, uint64_t previous,
                                uint64_t span_count) {
  internal::SnapshotIndex index{.snapshot = state.position,
                                .previous = previous,
                                .task_count = state.tasks.rows().size(),
                                .span_count =
                                    span_count + state.traces.dirty().size()};
  for (const std::string& id : state.tasks.dirty()) {
    auto row = state.tasks.rows().find(id);
    if (row != state.tasks.rows().end() &&
        row->second.first_position > previous) {
      index.created.emplace_back(row->second.first_position, id);
    }
  }
  std::sort(index.created.begin(), index.created.end(), std::greater<>());
  return index;
}

}  // namespace

void SystemState::Apply(const DomainEvent& event) {
  if (load_trace && event.type == DomainType::kSpanRecorded &&
      !traces.HasTrace(event.trace_id)) {
    load_trace(event.trace_id, &traces);
  }
  agents.Apply(event);
  tasks.Apply(event);
  metrics.Apply(event);
  traces.Apply(event, &agents, &tasks, &metrics);
}

void SystemState::ClearDirty() {
  agents.ClearDirty();
  tasks.ClearDirty();
  metrics.ClearDirty();
  traces.ClearDirty();
}

std::vector<std::pair<std::string, std::string>> StateDigests(
    const SystemState& state) {
  static constexpr std::pair<char, const char*> kModels[] = {
      {kAgentKind, "agents"},          {kTaskKind, "tasks"},
      {kPairKind, "coordination"},     {kMessageKind, "agent_messages"},
      {kAgentMinuteKind, "agent_metrics"}, {kUsageMinuteKind, "llm_usage"},
      {kSpanKind, "spans"},
  };
  constexpr size_t kCount = std::size(kModels);
  std::string bytes[kCount];
  for (const auto& [key, value] : Entries(state, /*dirty_only=*/false)) {
    for (size_t i = 0; i < kCount; ++i) {
      if (key[0] != kModels[i].first) continue;
      // Length-prefixed, so no two different entry lists hash alike.
      absl::StrAppend(&bytes[i], key.size(), ":", key, value.size(), ":");
      bytes[i].append(value);
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < kCount; ++i) {
    out.emplace_back(kModels[i].second, Sha256Hex(bytes[i]));
  }
  return out;
}

static TimeTravelOptions Normalized(TimeTravelOptions options) {
  options.snapshot_interval = std::max<uint64_t>(options.snapshot_interval, 1);
  options.page_events = std::max<uint64_t>(options.page_events, 1);
  return options;
}

TimeTravel::TimeTravel(eventlog::EventLog* log, TimeTravelOptions options)
    : log_(log),
      options_(Normalized(options)),
      page_rows_cache_(std::make_unique<internal::PageRowsCache>(
          options_.page_rows_cache)) {}

TimeTravel::~TimeTravel() { StopSnapshotting(); }

void TimeTravel::StopSnapshotting() {
  {
    absl::MutexLock lock(&thread_mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<uint64_t> TimeTravel::PositionAtTime(int64_t time_us) const {
  if (time_us == std::numeric_limits<int64_t>::max()) {
    return log_->HeadPosition();
  }
  ASSIGN_OR_RETURN(uint64_t after, log_->FindPosition(time_us + 1));
  return after - 1;
}

absl::StatusOr<int64_t> TimeTravel::TimeAt(uint64_t position) const {
  if (position == 0) return 0;
  ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> at,
                   log_->ReadAll(position, 1, {}));
  if (at.empty() || at.front().position != position) {
    return absl::InvalidArgumentError(
        absl::StrCat("no event at position ", position));
  }
  return at.front().recorded_time_us;
}

absl::Status TimeTravel::CheckPosition(uint64_t position) const {
  const uint64_t head = log_->HeadPosition();
  if (position <= head) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "position ", position, " is past the head position ", head));
}

absl::StatusOr<SystemState> TimeTravel::LoadSnapshot(uint64_t position,
                                                     ReplayStats* stats,
                                                     bool spans) const {
  SystemState state;
  ASSIGN_OR_RETURN(uint64_t snapshot,
                   log_->FindSnapshot(kFoldSnapshotName, position));
  if (snapshot == 0) return state;
  absl::Status decoded;
  RETURN_IF_ERROR(log_->ScanSnapshot(
      kFoldSnapshotName, snapshot, "",
      [&](std::string_view key, std::string_view value) {
        if (!decoded.ok()) return;
        decoded = internal::DecodeEntry(key, value, &state.agents,
                                        &state.tasks, &state.metrics,
                                        spans ? &state.traces : nullptr);
      }));
  RETURN_IF_ERROR(decoded);
  state.position = snapshot;
  if (stats != nullptr) stats->snapshot_position = snapshot;
  return state;
}

bool SystemState::Fold(const eventlog::RecordedEvent& event,
                       ReplayStats* stats) {
  return Fold(event, ParseDomainEvent(event), stats);
}

bool SystemState::Fold(const eventlog::RecordedEvent& event,
                       const absl::StatusOr<DomainEvent>& parsed,
                       ReplayStats* stats) {
  position = event.position;
  time_us = event.recorded_time_us;
  ++stats->replayed_events;
  if (!parsed.ok()) {
    // A poison event: the projections park it and go on; so do we.
    ++stats->skipped_events;
    return false;
  }
  if (parsed->type == DomainType::kOther) return false;
  Apply(*parsed);
  return true;
}

absl::Status TimeTravel::Replay(
    SystemState* state, uint64_t to, ReplayStats* stats,
    const std::function<bool(const eventlog::RecordedEvent&)>& wanted,
    const std::function<void(SystemState*)>& each) const {
  ReplayStats ignored;
  if (stats == nullptr) stats = &ignored;
  eventlog::LogCursor cursor(
      log_, state->position + 1, {},
      {.page_events = options_.page_events, .end_position = to});
  while (state->position < to) {
    ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor.Next());
    if (page.events.empty()) {
      return absl::DataLossError(absl::StrCat(
          "no record after position ", state->position, " below ", to));
    }
    for (const eventlog::RecordedEvent& event : page.events) {
      if (wanted && !wanted(event)) {
        state->position = event.position;
        state->time_us = event.recorded_time_us;
        ++stats->replayed_events;
        continue;
      }
      if (state->Fold(event, stats) && each) each(state);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SystemState> TimeTravel::StateAt(uint64_t position,
                                                ReplayStats* stats) const {
  RETURN_IF_ERROR(CheckPosition(position));
  ASSIGN_OR_RETURN(SystemState state, LoadSnapshot(position, stats));
  RETURN_IF_ERROR(Replay(&state, position, stats));
  if (state.time_us == 0) {
    ASSIGN_OR_RETURN(state.time_us, TimeAt(state.position));
  }
  state.ClearDirty();
  return state;
}

absl::StatusOr<StatePage> TimeTravel::StatePageAt(uint64_t position,
                                                  uint64_t task_limit,
                                                  ReplayStats* stats) const {
  RETURN_IF_ERROR(CheckPosition(position));
  ReplayStats ignored;
  if (stats == nullptr) stats = &ignored;
  ASSIGN_OR_RETURN(uint64_t snapshot,
                   log_->FindSnapshot(kFoldSnapshotName, position));
  if (snapshot != 0 &&
      position - snapshot <= 4 * options_.snapshot_interval) {
    ASSIGN_OR_RETURN(std::optional<StatePage> page,
                     PageFromSnapshot(snapshot, position, task_limit, stats));
    if (page.has_value()) return *std::move(page);
  }
  *stats = ReplayStats();
  StatePage whole;
  ASSIGN_OR_RETURN(whole.state, StateAt(position, stats));
  whole.task_count = whole.state.tasks.rows().size();
  return whole;
}

absl::StatusOr<std::optional<StatePage>> TimeTravel::PageFromSnapshot(
    uint64_t snapshot, uint64_t position, uint64_t task_limit,
    ReplayStats* stats) const {
  ASSIGN_OR_RETURN(std::optional<internal::SnapshotIndex> index,
                   ReadIndex(*log_, snapshot));
  if (!index.has_value() || index->span_count > 0) return std::nullopt;

  // The events after the snapshot, parsed once; the tasks they touch.
  std::vector<eventlog::RecordedEvent> recorded;
  eventlog::LogCursor cursor(
      log_, snapshot + 1, {},
      {.page_events = options_.page_events, .end_position = position});
  while (recorded.size() < position - snapshot) {
    ASSIGN_OR_RETURN(eventlog::CursorPage page, cursor.Next());
    if (page.events.empty()) {
      return absl::DataLossError(absl::StrCat(
          "no record after position ", snapshot + recorded.size(), " below ",
          position));
    }
    for (eventlog::RecordedEvent& event : page.events) {
      recorded.push_back(std::move(event));
    }
  }
  std::vector<absl::StatusOr<DomainEvent>> parsed;
  parsed.reserve(recorded.size());
  std::vector<std::string> ids;
  for (const eventlog::RecordedEvent& event : recorded) {
    parsed.push_back(ParseDomainEvent(event));
    if (!parsed.back().ok()) continue;
    if (parsed.back()->type == DomainType::kSpanRecorded) return std::nullopt;
    TaskFold::Keys(*parsed.back(), &ids);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());

  StatePage page;
  SystemState& state = page.state;
  auto decode = [&](std::string_view key, std::string_view value) {
    return internal::DecodeEntry(key, value, &state.agents, &state.tasks,
                                 &state.metrics);
  };
  // Every fold but the tasks, from one or two values: these grow with the
  // agents and the minutes of an hour, not with the events.
  ASSIGN_OR_RETURN(bool has_rows, LoadPageRows(*log_, snapshot,
                                                page_rows_cache_.get(),
                                                &state, stats));
  if (!has_rows) return std::nullopt;
  // The entries of tasks `task_ids` at the snapshot, in their order.
  auto read_tasks = [&](const std::vector<std::string>& task_ids) {
    std::vector<std::string> keys;
    keys.reserve(task_ids.size());
    for (const std::string& id : task_ids) keys.push_back(internal::TaskKey(id));
    return log_->ReadSnapshotEntries(kFoldSnapshotName, snapshot, keys);
  };
  // The touched tasks that existed at the snapshot, seeded for the replay.
  ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> touched_entries,
                   read_tasks(ids));
  uint64_t touched_before = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::optional<std::string>& entry = touched_entries[i];
    if (!entry.has_value() || entry->empty()) continue;  // none, or removed
    RETURN_IF_ERROR(decode(internal::TaskKey(ids[i]), *entry));
    ++touched_before;
  }
  state.position = snapshot;
  stats->snapshot_position = snapshot;
  for (size_t i = 0; i < recorded.size(); ++i) {
    state.Fold(recorded[i], parsed[i], stats);
  }
  if (state.time_us == 0) {
    ASSIGN_OR_RETURN(state.time_us, TimeAt(state.position));
  }
  const uint64_t touched_after = state.tasks.rows().size();
  page.task_count = index->task_count - touched_before + touched_after;

  // The newest tasks the events did not touch: the snapshots' indexes list
  // every task by the interval it was created in, newest first. Their rows
  // are their entries, kept as they are (StoredTask).
  const absl::btree_set<std::string> touched(ids.begin(), ids.end());
  std::vector<std::string> wanted;
  // For each wanted task, the interval (previous, snapshot] listing it.
  std::vector<std::pair<uint64_t, uint64_t>> listed_in;
  TaskRow row;  // each entry decoded in turn, its strings reused
  std::optional<internal::SnapshotIndex> at = *std::move(index);
  while (page.stored_tasks.size() < task_limit && at.has_value()) {
    // Indexes back until they list enough tasks for the page (at most one
    // per event; some may be gone), then their entries in one read.
    wanted.clear();
    listed_in.clear();
    while (at.has_value() &&
           page.stored_tasks.size() + wanted.size() < task_limit) {
      for (const auto& [first_position, id] : at->created) {
        if (touched.contains(id)) continue;
        wanted.push_back(id);
        listed_in.emplace_back(at->previous, at->snapshot);
      }
      if (at->previous == 0) {
        at.reset();
        break;
      }
      ASSIGN_OR_RETURN(at, ReadIndex(*log_, at->previous));
      if (!at.has_value()) return std::nullopt;  // not indexed
    }
    ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> entries,
                     read_tasks(wanted));
    for (size_t i = 0; i < wanted.size(); ++i) {
      std::optional<std::string>& entry = entries[i];
      if (!entry.has_value() || entry->empty()) continue;  // none, or removed
      if (!internal::DecodeTaskInto(*entry, &row)) {
        return absl::DataLossError(absl::StrCat(
            "the entry of task ", wanted[i], " in time travel snapshot ",
            snapshot, " does not decode"));
      }
      // A task whose first event moved is listed where it moved to (each
      // task is taken once, from the interval its first event is in).
      if (row.first_position > listed_in[i].second ||
          row.first_position <= listed_in[i].first) {
        continue;
      }
      page.stored_tasks.push_back(
          {row.first_position, std::move(wanted[i]), *std::move(entry)});
    }
  }
  state.ClearDirty();
  return page;
}

template <typename Row, typename Fold>
absl::StatusOr<std::optional<Row>> TimeTravel::EntityAt(
    uint64_t position, std::string_view id, std::string key,
    bool (*affects)(DomainType), ReplayStats* stats) const {
  RETURN_IF_ERROR(CheckPosition(position));
  SystemState state;
  ASSIGN_OR_RETURN(uint64_t snapshot,
                   log_->FindSnapshot(kFoldSnapshotName, position));
  if (snapshot != 0) {
    ASSIGN_OR_RETURN(std::optional<std::string> value,
                     log_->ReadSnapshotEntry(kFoldSnapshotName, snapshot, key));
    if (value.has_value()) {
      RETURN_IF_ERROR(internal::DecodeEntry(key, *value, &state.agents,
                                            &state.tasks, &state.metrics));
    }
    // Rows from traces depend on the other spans of their trace: every
    // span is loaded (none, in a log without spans).
    absl::Status decoded;
    RETURN_IF_ERROR(log_->ScanSnapshot(
        kFoldSnapshotName, snapshot, std::string(1, kSpanKind),
        [&](std::string_view k, std::string_view v) {
          if (!decoded.ok()) return;
          decoded = internal::DecodeEntry(k, v, &state.agents, &state.tasks,
                                          &state.metrics, &state.traces);
        }));
    RETURN_IF_ERROR(decoded);
    state.position = snapshot;
    if (stats != nullptr) stats->snapshot_position = snapshot;
  }
  // Only events of the kinds that change such rows, and that can name the
  // entity, are parsed and folded; the rows of other entities they make
  // are thrown away. An event about the entity holds its id in its data,
  // literally unless the data escapes something: with no backslash in the
  // data and no character in the id that JSON must escape, an event whose
  // data lacks the id is not about it.
  const std::string wanted_id(id);
  const bool literal_id =
      std::none_of(wanted_id.begin(), wanted_id.end(), [](char c) {
        return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
      });
  RETURN_IF_ERROR(Replay(
      &state, position, stats,
      [&](const eventlog::RecordedEvent& event) {
        const DomainType type = DomainTypeOf(event.type);
        if (!affects(type)) return false;
        // A span can settle rows whose ids it does not hold.
        if (type == DomainType::kSpanRecorded) return true;
        if (!literal_id || event.data.find('\\') != std::string::npos) {
          return true;
        }
        return event.data.find(wanted_id) != std::string::npos;
      }));
  const auto& rows = [&]() -> const auto& {
    if constexpr (std::is_same_v<Fold, AgentFold>) {
      return state.agents.rows();
    } else {
      return state.tasks.rows();
    }
  }();
  auto it = rows.find(wanted_id);
  if (it == rows.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::optional<AgentRow>> TimeTravel::AgentAt(
    uint64_t position, std::string_view agent_id, ReplayStats* stats) const {
  return EntityAt<AgentRow, AgentFold>(position, agent_id,
                                       internal::AgentKey(agent_id),
                                       &AffectsAgents, stats);
}

absl::StatusOr<std::optional<TaskRow>> TimeTravel::TaskAt(
    uint64_t position, std::string_view task_id, ReplayStats* stats) const {
  return EntityAt<TaskRow, TaskFold>(position, task_id,
                                     internal::TaskKey(task_id),
                                     &AffectsTasks, stats);
}

absl::StatusOr<StateDiff> TimeTravel::Diff(uint64_t from, uint64_t to) const {
  if (from > to) {
    return absl::InvalidArgumentError(
        absl::StrCat("from position ", from, " is after to position ", to));
  }
  if (to - from > options_.max_diff_events) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a diff spans at most ", options_.max_diff_events, " events, not ",
        to - from));
  }
  RETURN_IF_ERROR(CheckPosition(to));
  StateDiff diff;
  ASSIGN_OR_RETURN(diff.before, StateAt(from));
  diff.after = diff.before;
  std::vector<EntityRef> changed;
  RETURN_IF_ERROR(Replay(
      &diff.after, to, nullptr, nullptr, [&](SystemState* state) {
        changed.clear();
        CollectChanged(*state, &changed);
        for (EntityRef& ref : changed) {
          EntityChange& change = diff.changes[std::move(ref)];
          if (change.positions.size() < options_.max_change_positions) {
            change.positions.push_back(state->position);
          }
          ++change.position_count;
        }
        state->ClearDirty();
      }));
  diff.after.ClearDirty();
  return diff;
}

absl::Status TimeTravel::CatchUpSnapshots() {
  absl::MutexLock lock(&snapshot_mu_);
  const uint64_t head = log_->HeadPosition();
  if (!live_.has_value()) {
    // Spans are read back trace by trace as their traces get new spans.
    ASSIGN_OR_RETURN(SystemState loaded,
                     LoadSnapshot(head, nullptr, /*spans=*/false));
    live_ = std::move(loaded);
    live_snapshot_ = live_->position;
    live_span_count_ = 0;
    // Loaded without page rows: the next snapshot writes them whole.
    page_rows_base_ = 0;
    page_rows_changed_.clear();
    if (live_snapshot_ != 0) {
      ASSIGN_OR_RETURN(std::optional<internal::SnapshotIndex> index,
                       ReadIndex(*log_, live_snapshot_));
      if (!index.has_value()) {
        live_.reset();
        return absl::DataLossError(absl::StrCat(
            "time travel snapshot ", live_snapshot_, " has no index"));
      }
      live_span_count_ = index->span_count;
    }
    live_->load_trace = [this](const std::string& trace_id,
                               TraceFold* traces) {
      snapshot_mu_.AssertHeld();
      if (live_snapshot_ == 0 || !live_load_.ok()) return;
      absl::Status decoded;
      live_load_ = log_->ScanSnapshot(
          kFoldSnapshotName, live_snapshot_, internal::TraceKeyPrefix(trace_id),
          [&](std::string_view key, std::string_view value) {
            if (!decoded.ok()) return;
            decoded = internal::DecodeEntry(key, value, nullptr, nullptr,
                                            nullptr, traces);
          });
      if (live_load_.ok()) live_load_ = decoded;
    };
  }
  const uint64_t interval = options_.snapshot_interval;
  while (true) {
    const uint64_t next = (live_->position / interval + 1) * interval;
    if (next > head) break;
    absl::Status replayed = Replay(&*live_, next, nullptr);
    if (replayed.ok()) replayed = live_load_;
    if (!replayed.ok()) {
      // The state may hold half an event's effects: fold again from the
      // last snapshot next time.
      live_.reset();
      live_load_ = absl::OkStatus();
      return replayed;
    }
    const internal::SnapshotIndex index =
        IndexOf(*live_, live_snapshot_, live_span_count_);
    std::vector<eventlog::EventLog::SnapshotEntry> entries =
        Entries(*live_, /*dirty_only=*/true);
    entries.emplace_back(internal::IndexKey(), internal::EncodeIndex(index));
    entries.push_back(NextPageRows());
    RETURN_IF_ERROR(log_->WriteSnapshot(kFoldSnapshotName, next, entries));
    live_->ClearDirty();
    live_snapshot_ = next;
    live_span_count_ = index.span_count;
    live_->traces.EvictTraces(options_.live_spans);
  }
  return absl::OkStatus();
}

eventlog::EventLog::SnapshotEntry TimeTravel::NextPageRows() {
  std::vector<EntityRef> changed;
  CollectChanged(*live_, &changed);
  for (EntityRef& ref : changed) {
    if (IsPageRowKind(ref.kind)) page_rows_changed_.insert(std::move(ref));
  }
  const std::vector<EntityRef> all = AllPageRows(*live_);
  internal::PageRows rows{.snapshot = live_->position};
  // Whole when there is no base, or when the changes since it are half
  // as many rows as the whole: a page then reads at most twice the rows
  // it shows, and the space per snapshot is at most the whole's.
  const bool whole =
      page_rows_base_ == 0 || 2 * page_rows_changed_.size() >= all.size();
  std::vector<eventlog::EventLog::SnapshotEntry> encoded;
  for (const EntityRef& ref :
       whole ? all : std::vector<EntityRef>(page_rows_changed_.begin(),
                                             page_rows_changed_.end())) {
    AddPageRow(*live_, ref, &encoded);
  }
  if (whole) {
    page_rows_base_ = live_->position;
    page_rows_changed_.clear();
  } else {
    rows.base = page_rows_base_;
  }
  rows.entries.assign(encoded.begin(), encoded.end());
  return {internal::PageRowsKey(), internal::EncodePageRows(rows)};
}

void TimeTravel::StartSnapshotting() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-snapshots");
    // Linux: a thread's nice value is its own (setpriority on its id);
    // it starts at its creator's.
    const id_t tid = static_cast<id_t>(::gettid());
    const int nice =
        std::min(getpriority(PRIO_PROCESS, tid) + options_.snapshot_nice, 19);
    if (options_.snapshot_nice > 0 &&
        setpriority(PRIO_PROCESS, tid, nice) != 0) {
      std::fprintf(stderr, "vigild: time travel snapshots: nice %d: %s\n",
                   nice, std::strerror(errno));
    }
    uint64_t done_up_to = 0;  // head at the last successful catch-up
    bool failing = false;     // said so on stderr
    while (true) {
      {
        absl::MutexLock lock(&thread_mu_);
        if (stopping_) return;
      }
      // Waits for the log to reach the next snapshot's position.
      const eventlog::LogCursor next_snapshot(
          log_, done_up_to + options_.snapshot_interval);
      if (!next_snapshot.WaitForMore(absl::Now() + absl::Seconds(1))) continue;
      const uint64_t head = log_->HeadPosition();
      const absl::Status caught_up = CatchUpSnapshots();
      if (caught_up.ok() == failing) {
        // Once per change (a full disk fails every retry): a state-at
        // meanwhile replays from the last snapshot written, slower, same
        // answer.
        std::fprintf(stderr, "vigild: time travel snapshots %s%s\n",
                     failing ? "resumed" : "not written, retrying: ",
                     failing ? "" : std::string(caught_up.message()).c_str());
        failing = !caught_up.ok();
      }
      if (caught_up.ok()) {
        done_up_to = head - head % options_.snapshot_interval;
      } else {
        absl::MutexLock lock(&thread_mu_);
        thread_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                    absl::Seconds(1));
      }
    }
  });
}

}  // namespace vigil::projections
