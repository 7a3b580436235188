// Evaluator (evaluator.h): per rule kind, how an event moves a subject's
// state and what alert that state wants; Want and Reconcile turn wants into
// transitions. The clock-based kinds (task_stuck, agent_silent) keep a
// deadline per subject in an ordered set; llm_cost keeps, for subjects with
// an alert open, when their oldest cost leaves the window. The snapshot of
// that state (SnapshotEntries, Restore) is at the end: it writes every
// member the evaluation reads, in key order (the maps are hash maps).
//
// The cost per event (benchmarks/RESULTS.md "Alerts"): an event is shown
// only to the rules that read its type (by_type_), and a rule that has no
// alert wanted or open skips the slot bookkeeping of a "no alert" want.

#include "projections/alerts/evaluator.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "api/append_checks.h"
#include "domain/domain_event.h"
#include "domain/event_types.h"

namespace vigil::alerts {

using base::Json;
using domain::DomainEvent;
using domain::DomainType;

namespace {

// Alerts name at most this many causing positions (the most recent).
constexpr size_t kMaxCauses = 20;

void AddCause(std::vector<uint64_t>* causes, uint64_t position) {
  causes->push_back(position);
  if (causes->size() > kMaxCauses) causes->erase(causes->begin());
}

// The event types a domain rule of `kind` reads (a custom rule reads its
// event_type).
std::vector<DomainType> TypesRead(RuleKind kind) {
  switch (kind) {
    case RuleKind::kTaskStuck:
      return {DomainType::kTaskAssigned, DomainType::kTaskStarted,
              DomainType::kTaskProgress, DomainType::kTaskCompleted,
              DomainType::kTaskFailed};
    case RuleKind::kAgentSilent:
      return {DomainType::kAgentRegistered, DomainType::kAgentHeartbeat,
              DomainType::kAgentStopped};
    case RuleKind::kHeartbeat:
      return {DomainType::kAgentHeartbeat, DomainType::kAgentStopped};
    case RuleKind::kFailureRate:
      return {DomainType::kTaskCompleted, DomainType::kTaskFailed};
    case RuleKind::kLlmCost:
      return {DomainType::kLlmCallCompleted};
    case RuleKind::kCustom:
      return {};
  }
  return {};
}

using Deadlines = std::set<std::pair<int64_t, std::string>>;

// Moves `id`'s deadline from `from` to `to`, reusing its node; adds it when
// it had none at `from`.
void MoveDeadline(Deadlines& deadlines, int64_t from, const std::string& id,
                  int64_t to) {
  Deadlines::node_type node = deadlines.extract({from, id});
  if (node.empty()) {
    deadlines.emplace(to, id);
    return;
  }
  node.value().first = to;
  deadlines.insert(std::move(node));
}

// `map`'s entries, sorted by key: what a snapshot writes.
template <typename Map>
std::vector<const typename Map::value_type*> Sorted(const Map& map) {
  std::vector<const typename Map::value_type*> entries;
  entries.reserve(map.size());
  for (const auto& entry : map) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  return entries;
}

// The evidence of a Want that does not raise.
Json NoEvidence() { return Json(); }

std::string_view SubjectKind(const AlertRule& rule) {
  switch (rule.kind) {
    case RuleKind::kTaskStuck:
      return "task";
    case RuleKind::kAgentSilent:
    case RuleKind::kHeartbeat:
      return "agent";
    case RuleKind::kFailureRate:
    case RuleKind::kLlmCost:
      return ScopeName(rule.scope);
    case RuleKind::kCustom:
      return "subject";
  }
  return "subject";
}

bool Compare(const Json& actual, Comparison op, const Json& expected) {
  if (actual.is_number() && expected.is_number()) {
    const double a = actual.get<double>();
    const double b = expected.get<double>();
    switch (op) {
      case Comparison::kGt:
        return a > b;
      case Comparison::kGe:
        return a >= b;
      case Comparison::kLt:
        return a < b;
      case Comparison::kLe:
        return a <= b;
      case Comparison::kEq:
        return a == b;
      case Comparison::kNe:
        return a != b;
    }
  }
  if (op == Comparison::kEq) return actual == expected;
  if (op == Comparison::kNe) return actual != expected;
  return false;  // an ordering of values that are not both numbers
}

// data[`path`], a dotted path of object keys; nullptr when absent.
const Json* Lookup(const Json& data, std::string_view path) {
  const Json* at = &data;
  while (true) {
    const size_t dot = path.find('.');
    if (!at->is_object()) return nullptr;
    auto it = at->find(std::string(path.substr(0, dot)));
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string_view::npos) return at;
    path.remove_prefix(dot + 1);
  }
}

}  // namespace

struct Evaluator::Desired {
  std::string alert_id;
  std::vector<uint64_t> causes;
  Json evidence;
};

struct Evaluator::Context {
  std::vector<Transition> out;
};

namespace {

struct Sample {
  int64_t time_us;
  double value;  // cost in USD; 1 for a failed task, 0 for a completed one
  uint64_t position;
};

struct SubjectState {
  uint64_t last_position = 0;  // clock kinds: the last sign of life
  int64_t deadline_us = 0;     // clock kinds; llm_cost: the oldest's expiry
  std::deque<Sample> window;   // failure_rate, llm_cost
  double sum = 0;
  std::vector<uint64_t> over;  // heartbeat: consecutive samples over
};

}  // namespace

struct Evaluator::RuleState {
  RegisteredRule registered;
  absl::node_hash_map<std::string, SubjectState> subjects;  // by subject id
  // (deadline, subject id): clock kinds, and llm_cost subjects with an
  // alert open (when their oldest cost leaves the window).
  Deadlines deadlines;
  // Slots of this rule in desired_ and in open_.
  size_t desired = 0;
  size_t open = 0;

  const AlertRule& rule() const { return registered.rule; }
  const std::string& id() const { return registered.id; }
};

Evaluator::Evaluator(EvaluatorOptions options) : options_(options) {}
Evaluator::~Evaluator() = default;

void Evaluator::Reconcile(const std::string& slot, RuleState* state,
                          const std::string& rule_id, const Subject& subject,
                          const std::vector<uint64_t>& causes,
                          Context& context) {
  auto want = desired_.find(slot);
  auto open = open_.find(slot);
  if (open != open_.end() &&
      (want == desired_.end() || open->second.alert_id != want->second.alert_id)) {
    context.out.push_back(Transition{
        .raised = false,
        .alert_id = open->second.alert_id,
        .rule_id = open->second.rule_id,
        .subject = open->second.subject,
        .reason = want == desired_.end() ? "cleared" : "superseded",
        .cause_positions = causes,
        .evaluated_position = position_});
    open_.erase(open);
    if (state != nullptr) --state->open;
  }
  if (want != desired_.end() && !open_.contains(slot)) {
    context.out.push_back(Transition{.raised = true,
                                     .alert_id = want->second.alert_id,
                                     .rule_id = rule_id,
                                     .subject = subject,
                                     .evidence = want->second.evidence,
                                     .cause_positions = want->second.causes,
                                     .evaluated_position = position_});
    open_[slot] = OpenAlert{.alert_id = want->second.alert_id,
                            .rule_id = rule_id,
                            .subject = subject};
    if (state != nullptr) ++state->open;
  }
}

void Evaluator::Want(RuleState& state, const Subject& subject, bool open,
                     uint64_t key_position, std::vector<uint64_t> causes,
                     absl::FunctionRef<Json()> evidence, Context& context) {
  // Nothing wanted or open for this rule: "no alert" changes nothing.
  if (!open && state.desired == 0 && state.open == 0) return;
  const std::string slot = SlotKey(state.id(), subject);
  if (open) {
    if (!desired_.contains(slot)) {
      desired_[slot] = Desired{
          .alert_id = AlertId(state.id(), subject, key_position),
          .causes = causes,
          .evidence = evidence()};
      ++state.desired;
    }
  } else {
    state.desired -= desired_.erase(slot);
  }
  Reconcile(slot, &state, state.id(), subject, causes, context);
}

void Evaluator::AdvanceClock(int64_t now_us, Context& context) {
  if (now_us <= now_us_) return;
  now_us_ = now_us;
  for (auto& [rule_id, state] : states_) {
    const AlertRule& rule = state->rule();
    while (!state->deadlines.empty() &&
           state->deadlines.begin()->first <= now_us_) {
      const std::string id = state->deadlines.begin()->second;
      state->deadlines.erase(state->deadlines.begin());
      SubjectState& subject = state->subjects[id];
      const Subject who{.kind = std::string(SubjectKind(rule)), .id = id};
      if (rule.kind != RuleKind::kLlmCost) {
        Want(
            *state, who, true, subject.last_position, {subject.last_position},
            [&]() -> Json {
              return {{"silent_for_us", rule.window_us},
                      {"last_position", subject.last_position},
                      {"deadline_time_us", subject.deadline_us}};
            },
            context);
        continue;
      }
      // A cost window shrinking: it only lowers the sum, so it can only
      // resolve levels (a level fires on a cost event).
      while (!subject.window.empty() &&
             subject.window.front().time_us <= now_us_ - rule.window_us) {
        subject.sum -= subject.window.front().value;
        subject.window.pop_front();
      }
      bool any_open = false;
      for (double level : rule.levels_pct) {
        Subject at = who;
        at.level_pct = level;
        if (subject.sum < rule.budget_usd * level / 100) {
          Want(*state, at, false, 0, {}, NoEvidence, context);
        } else {
          any_open = any_open || desired_.contains(SlotKey(rule_id, at));
        }
      }
      if (any_open && !subject.window.empty()) {
        subject.deadline_us = subject.window.front().time_us + rule.window_us;
        state->deadlines.emplace(subject.deadline_us, id);
      }
    }
  }
}

std::vector<Transition> Evaluator::Tick(int64_t now_us) {
  Context context;
  AdvanceClock(now_us, context);
  return std::move(context.out);
}

std::vector<Transition> Evaluator::Apply(const eventlog::RecordedEvent& event) {
  Context context;
  position_ = event.position;
  AdvanceClock(event.recorded_time_us, context);
  if (event.stream == kRulesStream) {
    std::string rule_id;
    // A malformed registration (written around the service) is skipped.
    if (!rules_.Apply(event, &rule_id).ok() || rule_id.empty()) {
      return std::move(context.out);
    }
    if (const RegisteredRule* rule = rules_.Find(rule_id); rule != nullptr) {
      auto state = std::make_unique<RuleState>();
      state->registered = *rule;
      states_[rule_id] = std::move(state);
      IndexRules();
      return std::move(context.out);
    }
    // Deleted: its open alerts are resolved.
    states_.erase(rule_id);
    IndexRules();
    for (auto it = desired_.begin(); it != desired_.end();) {
      it = it->first.starts_with(rule_id + "/") ? desired_.erase(it)
                                                : std::next(it);
    }
    for (auto it = open_.begin(); it != open_.end();) {
      auto next = std::next(it);
      if (it->second.rule_id == rule_id) {
        const OpenAlert alert = it->second;
        Reconcile(it->first, nullptr, alert.rule_id, alert.subject,
                  {event.position}, context);
        context.out.back().reason = "rule_deleted";
      }
      it = next;
    }
    return std::move(context.out);
  }
  if (api::IsReservedStream(event.stream)) return std::move(context.out);
  ApplyDomain(event, context);
  return std::move(context.out);
}

void Evaluator::IndexRules() {
  by_type_.clear();
  for (auto& [id, state] : states_) {
    const AlertRule& rule = state->rule();
    if (rule.kind == RuleKind::kCustom) {
      by_type_[rule.event_type].push_back(state.get());
      continue;
    }
    const std::vector<DomainType> read = TypesRead(rule.kind);
    for (const domain::DomainEventType& known : domain::DomainEventTypes()) {
      if (std::find(read.begin(), read.end(), known.domain_type) !=
          read.end()) {
        by_type_[std::string(known.type)].push_back(state.get());
      }
    }
  }
}

void Evaluator::ApplyDomain(const eventlog::RecordedEvent& event,
                            Context& context) {
  if (states_.empty()) return;
  const DomainType type = domain::DomainTypeOf(event.type);
  // While there are rules, the tasks' managers are followed (for the
  // manager scope) whether or not a rule reads this type.
  const bool task_event =
      type == DomainType::kTaskCreated || type == DomainType::kTaskAssigned ||
      type == DomainType::kTaskCompleted || type == DomainType::kTaskFailed;
  auto readers = by_type_.find(event.type);
  if (readers == by_type_.end() && !task_event) return;
  // Parsed once for every rule; a poison event (the projections park it)
  // is seen by custom rules only.
  std::optional<DomainEvent> parsed;
  if (type != DomainType::kOther) {
    absl::StatusOr<DomainEvent> domain_event = domain::ParseDomainEvent(event);
    if (domain_event.ok()) parsed = *std::move(domain_event);
  }
  if (readers != by_type_.end()) {
    // The data as JSON, parsed once, when a custom rule reads this type.
    std::optional<Json> data;
    for (RuleState* state : readers->second) {
      if (state->rule().kind == RuleKind::kCustom) {
        absl::StatusOr<Json> json = base::JsonFromText(event.data);
        data = json.ok() ? *std::move(json) : Json();
        break;
      }
    }
    for (RuleState* state : readers->second) {
      Evaluate(*state, event, parsed.has_value() ? &*parsed : nullptr,
               data.has_value() ? &*data : nullptr, context);
    }
  }
  // Forget a task's manager once the task is over (after the rules above
  // attributed its outcome).
  if (parsed.has_value() && task_event) {
    if (type == DomainType::kTaskCompleted || type == DomainType::kTaskFailed) {
      task_managers_.erase(parsed->task_id);
    } else if (task_managers_.contains(parsed->task_id) ||
               task_managers_.size() < options_.max_tracked_tasks) {
      task_managers_[parsed->task_id] = parsed->manager_id;
    }
  }
}

void Evaluator::Evaluate(RuleState& state, const eventlog::RecordedEvent& event,
                         const DomainEvent* parsed, const Json* data,
                         Context& context) {
  const AlertRule& rule = state.rule();
  if (event.position <= state.registered.registered_position) return;
  const Subject kind_only{.kind = std::string(SubjectKind(rule))};

  // The subject's state, or nullptr when the rule tracks too many.
  const auto track = [&](const std::string& id) -> SubjectState* {
    auto it = state.subjects.find(id);
    if (it != state.subjects.end()) return &it->second;
    if (state.subjects.size() >= options_.max_subjects_per_rule) {
      ++dropped_subjects_;
      return nullptr;
    }
    return &state.subjects[id];
  };
  const auto untrack = [&](const std::string& id) {
    auto it = state.subjects.find(id);
    if (it == state.subjects.end()) return;
    state.deadlines.erase({it->second.deadline_us, id});
    state.subjects.erase(it);
    Subject who = kind_only;
    who.id = id;
    Want(state, who, false, 0, {event.position}, NoEvidence, context);
  };

  if (rule.kind == RuleKind::kCustom) {
    if (event.type != rule.event_type || data == nullptr) return;
    Subject who = kind_only;
    who.id = event.stream;
    if (!rule.subject_field.empty()) {
      const Json* named = Lookup(*data, rule.subject_field);
      if (named == nullptr) return;
      who.id = named->is_string() ? named->get<std::string>()
                                  : base::DumpJson(*named);
    }
    const Json* actual = Lookup(*data, rule.field);
    const bool match =
        actual != nullptr && Compare(*actual, rule.op, rule.value);
    if (match && track(who.id) == nullptr) return;
    if (!match) state.subjects.erase(who.id);
    Want(
        state, who, match, event.position, {event.position},
        [&]() -> Json {
          return {{"field", rule.field},
                  {"value", actual != nullptr ? *actual : Json()},
                  {"expected", rule.value}};
        },
        context);
    return;
  }

  if (parsed == nullptr) return;
  const DomainEvent& e = *parsed;
  const DomainType type = e.type;

  switch (rule.kind) {
    case RuleKind::kTaskStuck:
    case RuleKind::kAgentSilent: {
      const bool stuck = rule.kind == RuleKind::kTaskStuck;
      const bool alive = stuck ? (type == DomainType::kTaskAssigned ||
                                  type == DomainType::kTaskStarted ||
                                  type == DomainType::kTaskProgress)
                               : (type == DomainType::kAgentRegistered ||
                                  type == DomainType::kAgentHeartbeat);
      const bool over = stuck ? (type == DomainType::kTaskCompleted ||
                                 type == DomainType::kTaskFailed)
                              : type == DomainType::kAgentStopped;
      const std::string& id = stuck ? e.task_id : e.agent_id;
      if (over) return untrack(id);
      if (!alive) return;
      SubjectState* subject = track(id);
      if (subject == nullptr) return;
      Subject who = kind_only;
      who.id = id;
      // A sign of life ends the alert keyed on the one before.
      Want(state, who, false, 0, {event.position}, NoEvidence, context);
      const int64_t deadline = event.recorded_time_us + rule.window_us;
      MoveDeadline(state.deadlines, subject->deadline_us, id, deadline);
      subject->last_position = event.position;
      subject->deadline_us = deadline;
      return;
    }
    case RuleKind::kHeartbeat: {
      if (type == DomainType::kAgentStopped) return untrack(e.agent_id);
      if (type != DomainType::kAgentHeartbeat) return;
      SubjectState* subject = track(e.agent_id);
      if (subject == nullptr) return;
      const double value = rule.metric == "cpu_pct"
                               ? e.cpu_pct
                               : static_cast<double>(e.mem_bytes);
      Subject who = kind_only;
      who.id = e.agent_id;
      if (value > rule.threshold) {
        AddCause(&subject->over, event.position);
      } else {
        subject->over.clear();
      }
      const bool fire =
          static_cast<int64_t>(subject->over.size()) >= rule.samples;
      Want(
          state, who, fire, event.position, subject->over,
          [&]() -> Json {
            return {{"metric", rule.metric},
                    {"value", value},
                    {"threshold", rule.threshold},
                    {"samples", rule.samples}};
          },
          context);
      return;
    }
    case RuleKind::kFailureRate:
    case RuleKind::kLlmCost: {
      const bool cost = rule.kind == RuleKind::kLlmCost;
      if (cost ? type != DomainType::kLlmCallCompleted
               : type != DomainType::kTaskCompleted &&
                     type != DomainType::kTaskFailed) {
        return;
      }
      Subject who = kind_only;
      const std::string& agent = cost ? e.agent_id : e.worker_id;
      if (rule.scope == Scope::kAgent) {
        who.id = agent;
      } else if (rule.scope == Scope::kManager) {
        auto manager = task_managers_.find(e.task_id);
        if (e.task_id.empty() || manager == task_managers_.end()) return;
        who.id = manager->second;
      }
      SubjectState* subject = track(who.id);
      if (subject == nullptr) return;
      // Older samples leave first, then this one comes in.
      while (!subject->window.empty() &&
             (subject->window.front().time_us <=
                  event.recorded_time_us - rule.window_us ||
              subject->window.size() >= options_.max_window_samples)) {
        subject->sum -= subject->window.front().value;
        subject->window.pop_front();
      }
      const double value =
          cost ? e.cost_usd : (type == DomainType::kTaskFailed ? 1 : 0);
      subject->window.push_back(
          {event.recorded_time_us, value, event.position});
      subject->sum += value;
      // The last kMaxCauses samples that count (successes cause nothing),
      // from the newest back: a window may hold thousands.
      std::vector<uint64_t> causes;
      for (auto it = subject->window.rbegin();
           it != subject->window.rend() && causes.size() < kMaxCauses; ++it) {
        if (cost || it->value != 0) causes.push_back(it->position);
      }
      std::reverse(causes.begin(), causes.end());
      if (!cost) {
        const double total = static_cast<double>(subject->window.size());
        const double pct = subject->sum * 100 / total;
        const bool fire =
            static_cast<int64_t>(subject->window.size()) >= rule.min_outcomes &&
            pct > rule.threshold_pct;
        Want(
            state, who, fire, event.position, causes,
            [&]() -> Json {
              return {{"failure_pct", base::RoundedNumber(pct, 2)},
                      {"failed", subject->sum},
                      {"outcomes", subject->window.size()},
                      {"threshold_pct", rule.threshold_pct}};
            },
            context);
        return;
      }
      bool any_open = false;
      for (double level : rule.levels_pct) {
        Subject at = who;
        at.level_pct = level;
        const bool fire = subject->sum >= rule.budget_usd * level / 100;
        Want(
            state, at, fire, event.position, causes,
            [&]() -> Json {
              return {{"cost_usd", base::RoundedNumber(subject->sum, 6)},
                      {"budget_usd", rule.budget_usd},
                      {"level_pct", level}};
            },
            context);
        any_open = any_open || fire;
      }
      state.deadlines.erase({subject->deadline_us, who.id});
      if (any_open) {
        subject->deadline_us = subject->window.front().time_us + rule.window_us;
        state.deadlines.emplace(subject->deadline_us, who.id);
      }
      return;
    }
    case RuleKind::kCustom:
      return;
  }
}

// ---- Snapshot ------------------------------------------------------------

namespace {

constexpr char kClockEntry[] = "clock";
constexpr char kAlertsEntry[] = "alerts";
constexpr char kTasksEntry[] = "tasks";
constexpr char kRulePrefix[] = "rule/";

Json SubjectJson(const Subject& subject) {
  return {subject.kind, subject.id, subject.level_pct};
}

Subject SubjectFrom(const Json& json) {
  return Subject{.kind = json.at(0).get<std::string>(),
                 .id = json.at(1).get<std::string>(),
                 .level_pct = json.at(2).get<double>()};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Evaluator::SnapshotEntries()
    const {
  std::vector<std::pair<std::string, std::string>> entries;
  entries.emplace_back(
      kClockEntry, base::DumpJson({now_us_, position_, dropped_subjects_}));
  // Doubles are written as the shortest text that reads back the same
  // (base/json.h), so sums and levels restore exactly.
  Json desired = Json::array();
  for (const auto& [slot, want] : desired_) {
    desired.push_back({slot, want.alert_id, want.causes, want.evidence});
  }
  Json open = Json::array();
  for (const auto& [slot, alert] : open_) {
    open.push_back(
        {slot, alert.alert_id, alert.rule_id, SubjectJson(alert.subject)});
  }
  entries.emplace_back(kAlertsEntry,
                       base::DumpJson({std::move(desired), std::move(open)}));
  Json tasks = Json::array();
  for (const auto* task : Sorted(task_managers_)) {
    tasks.push_back({task->first, task->second});
  }
  entries.emplace_back(kTasksEntry, base::DumpJson(tasks));
  for (const auto& [rule_id, state] : states_) {
    Json subjects = Json::array();
    for (const auto* entry : Sorted(state->subjects)) {
      const auto& [id, subject] = *entry;
      Json window = Json::array();
      for (const Sample& sample : subject.window) {
        window.push_back({sample.time_us, sample.value, sample.position});
      }
      subjects.push_back({id, subject.last_position, subject.deadline_us,
                          std::move(window), subject.sum, subject.over});
    }
    Json deadlines = Json::array();
    for (const auto& [deadline, id] : state->deadlines) {
      deadlines.push_back({deadline, id});
    }
    entries.emplace_back(
        kRulePrefix + rule_id,
        base::DumpJson({std::move(subjects), std::move(deadlines)}));
  }
  return entries;
}

absl::Status Evaluator::Restore(
    const std::vector<eventlog::RecordedEvent>& rule_events,
    const std::map<std::string, std::string>& entries) {
  for (const eventlog::RecordedEvent& event : rule_events) {
    std::string rule_id;
    // Skipped when malformed, as Apply skips it.
    (void)rules_.Apply(event, &rule_id);
  }
  std::string at;  // the entry being read, for the error
  const auto entry = [&](const std::string& key) -> absl::StatusOr<Json> {
    at = key;
    auto it = entries.find(key);
    if (it == entries.end()) {
      return absl::DataLossError("the alerts snapshot has no entry " + key);
    }
    return base::JsonFromText(it->second);
  };
  try {
    absl::StatusOr<Json> clock = entry(kClockEntry);
    if (!clock.ok()) return absl::DataLossError(clock.status().message());
    now_us_ = clock->at(0).get<int64_t>();
    position_ = clock->at(1).get<uint64_t>();
    dropped_subjects_ = clock->at(2).get<uint64_t>();

    absl::StatusOr<Json> alerts = entry(kAlertsEntry);
    if (!alerts.ok()) return absl::DataLossError(alerts.status().message());
    for (const Json& want : alerts->at(0)) {
      desired_[want.at(0).get<std::string>()] = Desired{
          .alert_id = want.at(1).get<std::string>(),
          .causes = want.at(2).get<std::vector<uint64_t>>(),
          .evidence = want.at(3)};
    }
    for (const Json& alert : alerts->at(1)) {
      open_[alert.at(0).get<std::string>()] =
          OpenAlert{.alert_id = alert.at(1).get<std::string>(),
                    .rule_id = alert.at(2).get<std::string>(),
                    .subject = SubjectFrom(alert.at(3))};
    }

    absl::StatusOr<Json> tasks = entry(kTasksEntry);
    if (!tasks.ok()) return absl::DataLossError(tasks.status().message());
    for (const Json& task : *tasks) {
      task_managers_[task.at(0).get<std::string>()] =
          task.at(1).get<std::string>();
    }

    for (const auto& [rule_id, rule] : rules_.rules()) {
      absl::StatusOr<Json> json = entry(kRulePrefix + rule_id);
      if (!json.ok()) return absl::DataLossError(json.status().message());
      auto state = std::make_unique<RuleState>();
      state->registered = rule;
      for (const Json& subject : json->at(0)) {
        SubjectState& s = state->subjects[subject.at(0).get<std::string>()];
        s.last_position = subject.at(1).get<uint64_t>();
        s.deadline_us = subject.at(2).get<int64_t>();
        for (const Json& sample : subject.at(3)) {
          s.window.push_back({sample.at(0).get<int64_t>(),
                              sample.at(1).get<double>(),
                              sample.at(2).get<uint64_t>()});
        }
        s.sum = subject.at(4).get<double>();
        s.over = subject.at(5).get<std::vector<uint64_t>>();
      }
      for (const Json& deadline : json->at(1)) {
        state->deadlines.emplace(deadline.at(0).get<int64_t>(),
                                 deadline.at(1).get<std::string>());
      }
      for (const auto& [slot, want] : desired_) {
        if (slot.starts_with(rule_id + "/")) ++state->desired;
      }
      for (const auto& [slot, alert] : open_) {
        if (alert.rule_id == rule_id) ++state->open;
      }
      states_[rule_id] = std::move(state);
    }
    IndexRules();
  } catch (const Json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("the alerts snapshot's entry ", at, " is malformed: ",
                     e.what()));
  }
  return absl::OkStatus();
}

}  // namespace vigil::alerts
