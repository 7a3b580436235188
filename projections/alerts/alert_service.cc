#include "projections/alerts/alert_service.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/json.h"
#include "base/sha256.h"
#include "base/status_macros.h"
#include "projections/alerts/transition.h"

namespace vigil::alerts {

using base::Json;

struct AlertService::LogAlert {
  Transition raised;
  uint64_t position = 0;  // of its AlertRaised event
  int64_t time_us = 0;
};

struct AlertService::Gauges {
  base::GaugeFamily* alerts;
  base::Gauge* rules;
  base::Gauge* evaluated_position;
  base::Gauge* dropped_subjects;
  base::Gauge* snapshot_position;
  base::Gauge* resumed_position;
  base::Gauge* events_evaluated;
};

namespace {

// `stream` is read back in chunks of this many events.
constexpr uint64_t kReadChunk = 1000;
// The evaluator reads the log in pages of this many events.
constexpr uint64_t kPage = 512;
// After a failed evaluation (the log refused an append), wait this long
// before evaluating again from position 1.
constexpr absl::Duration kRetryWait = absl::Seconds(1);
// Alert events per append (the log takes up to 1,000).
constexpr size_t kMaxBatch = 256;

std::string NewId() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  return "ar_" + absl::BytesToHexString(absl::string_view(
                     reinterpret_cast<char*>(bytes), sizeof(bytes)));
}

// Calls `apply` on every event of `stream` (none when it does not exist).
absl::Status ForEachInStream(
    const eventlog::EventLog& log, const std::string& stream,
    const std::function<absl::Status(const eventlog::RecordedEvent&)>& apply) {
  for (uint64_t from = 0;;) {
    absl::StatusOr<std::vector<eventlog::RecordedEvent>> events =
        log.ReadStream(stream, from, kReadChunk, false);
    if (absl::IsNotFound(events.status())) return absl::OkStatus();
    if (!events.ok()) return events.status();
    for (const eventlog::RecordedEvent& event : *events) {
      RETURN_IF_ERROR(apply(event));
      from = event.revision + 1;
    }
    if (events->size() < kReadChunk) return absl::OkStatus();
  }
}

}  // namespace

AlertService::AlertService(AlertOptions options, eventlog::EventLog* log)
    : options_(std::move(options)), log_(log) {
  base::Metrics* metrics = options_.metrics;
  gauges_ = std::make_unique<Gauges>(Gauges{
      .alerts = metrics->AddGauge(
          "vigil_alerts",
          "Alerts in the log by rule and state: open now, or resolved.",
          {"rule", "state"}),
      .rules = metrics->AddGauge("vigil_alert_rules", "Alert rules registered.")
                   ->Get(),
      .evaluated_position =
          metrics
              ->AddGauge("vigil_alert_evaluated_position",
                         "The last log position the alert rules evaluated.")
              ->Get(),
      .dropped_subjects =
          metrics
              ->AddGauge("vigil_alert_subjects_dropped",
                         "Events about a subject not evaluated because its "
                         "rule tracked max_subjects_per_rule already, since "
                         "the evaluation began.")
              ->Get(),
      .snapshot_position =
          metrics
              ->AddGauge("vigil_alert_snapshot_position",
                         "The log position of the evaluator's last snapshot, "
                         "written or resumed from; 0: none.")
              ->Get(),
      .resumed_position =
          metrics
              ->AddGauge("vigil_alert_resumed_position",
                         "The snapshot position the evaluation resumed "
                         "from; 0: it began at position 1.")
              ->Get(),
      .events_evaluated =
          metrics
              ->AddGauge("vigil_alert_events_evaluated",
                         "Events the evaluator applied since the evaluation "
                         "began (or resumed).")
              ->Get()});
}

absl::StatusOr<std::unique_ptr<AlertService>> AlertService::Start(
    AlertOptions options, eventlog::EventLog* log) {
  std::unique_ptr<AlertService> service(
      new AlertService(std::move(options), log));
  {
    absl::MutexLock lock(&service->mu_);
    absl::Status replayed = ForEachInStream(
        *log, kRulesStream, [&](const eventlog::RecordedEvent& event) {
          return service->rules_.Apply(event);
        });
    if (!replayed.ok()) return absl::DataLossError(replayed.message());
    service->gauges_->rules->Set(
        static_cast<double>(service->rules_.rules().size()));
  }
  service->thread_ = std::thread([raw = service.get()] { raw->Run(); });
  return service;
}

AlertService::~AlertService() { Stop(); }

void AlertService::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

absl::Status AlertService::Record(eventlog::EventData event) {
  if (stopping_) return absl::UnavailableError("the server is stopping");
  eventlog::AppendRequest request;
  request.stream = kRulesStream;
  request.events.push_back(std::move(event));
  ASSIGN_OR_RETURN(eventlog::AppendResult appended, log_->Append(request));
  // Fold exactly what a replay will (position, time).
  ASSIGN_OR_RETURN(
      std::vector<eventlog::RecordedEvent> recorded,
      log_->ReadAll(appended.first_position, 1, eventlog::Filter{}));
  if (recorded.empty()) {
    return absl::InternalError("an appended $alert-rules event is not readable");
  }
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(rules_.Apply(recorded.front()));
  gauges_->rules->Set(static_cast<double>(rules_.rules().size()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> AlertService::RegisterRule(std::string_view body) {
  ASSIGN_OR_RETURN(AlertRule rule, ParseAlertRule(body));
  // Held across the check and the append, so concurrent registrations
  // cannot pass the bound together.
  absl::MutexLock record_lock(&record_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (rules_.rules().size() >= options_.max_rules) {
      return absl::InvalidArgumentError(
          absl::StrCat("this server holds ", options_.max_rules,
                       " alert rules already (--alerts-max-rules); delete "
                       "one first"));
    }
  }
  const std::string id = NewId();
  RETURN_IF_ERROR(Record(RuleRegisteredEvent(id, rule)));
  absl::MutexLock lock(&mu_);
  return base::DumpJson(RegisteredRuleJson(*rules_.Find(id)));
}

absl::StatusOr<std::string> AlertService::ListRules() {
  absl::MutexLock lock(&mu_);
  Json rules = Json::array();
  for (const auto& [id, rule] : rules_.rules()) {
    rules.push_back(RegisteredRuleJson(rule));
  }
  return base::DumpJson({{"rules", std::move(rules)}});
}

absl::StatusOr<std::string> AlertService::GetRule(const std::string& id) {
  absl::MutexLock lock(&mu_);
  const RegisteredRule* rule = rules_.Find(id);
  if (rule == nullptr) return absl::NotFoundError("no alert rule " + id);
  return base::DumpJson(RegisteredRuleJson(*rule));
}

absl::StatusOr<std::string> AlertService::DeleteRule(const std::string& id) {
  absl::MutexLock record_lock(&record_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (rules_.Find(id) == nullptr) {
      return absl::NotFoundError("no alert rule " + id);
    }
  }
  RETURN_IF_ERROR(Record(RuleDeletedEvent(id)));
  return base::DumpJson({{"id", id}, {"deleted", true}});
}

absl::StatusOr<std::string> AlertService::OpenAlerts() {
  absl::MutexLock lock(&mu_);
  Json alerts = Json::array();
  for (const auto& [slot, alert] : log_open_) {
    const RegisteredRule* rule = rules_.Find(alert.raised.rule_id);
    Json json = {{"alert_id", alert.raised.alert_id},
                 {"rule_id", alert.raised.rule_id},
                 {"rule_name", rule != nullptr ? rule->rule.name : ""},
                 {"severity", rule != nullptr ? rule->rule.severity : ""},
                 {"subject",
                  {{"kind", alert.raised.subject.kind},
                   {"id", alert.raised.subject.id}}},
                 {"cause_positions", alert.raised.cause_positions},
                 {"raised_position", alert.position},
                 {"raised_time_us", alert.time_us}};
    if (alert.raised.subject.level_pct != 0) {
      json["level_pct"] = alert.raised.subject.level_pct;
    }
    alerts.push_back(std::move(json));
  }
  return base::DumpJson({{"alerts", std::move(alerts)},
                         {"evaluated_position", evaluated_position_}});
}

void AlertService::Count(const std::string& rule_id, const char* state,
                         double delta) {
  gauges_->alerts->WithLabels({rule_id, state})->Add(delta);
}

void AlertService::Run() {
  while (!stopping_) {
    absl::Status evaluated = Evaluate();
    if (stopping_) return;
    // The log refused an append or a read: start over, from what the log
    // holds.
    (void)evaluated;
    absl::SleepFor(kRetryWait);
  }
}

absl::Status AlertService::Evaluate() {
  uint64_t checkpoint = 0;
  // What the log holds: the open alerts, the counts, the checkpoint.
  std::map<std::string, std::pair<double, double>> counts;  // open, resolved
  std::map<std::string, LogAlert> open;
  RETURN_IF_ERROR(ForEachInStream(
      *log_, kAlertsStream, [&](const eventlog::RecordedEvent& event) {
        absl::StatusOr<Transition> t = ParseTransition(event);
        if (!t.ok()) return absl::OkStatus();  // not ours: skipped
        checkpoint = std::max(checkpoint, t->evaluated_position);
        const std::string slot = SlotKey(t->rule_id, t->subject);
        if (t->raised) {
          open[slot] = LogAlert{.raised = *t,
                                .position = event.position,
                                .time_us = event.recorded_time_us};
          counts[t->rule_id].first += 1;
        } else if (auto it = open.find(slot);
                   it != open.end() && it->second.raised.alert_id == t->alert_id) {
          open.erase(it);
          counts[t->rule_id].first -= 1;
          counts[t->rule_id].second += 1;
        }
        return absl::OkStatus();
      }));
  {
    absl::MutexLock lock(&mu_);
    log_open_ = std::move(open);
    for (const auto& [rule, count] : counts) {
      gauges_->alerts->WithLabels({rule, "open"})->Set(count.first);
      gauges_->alerts->WithLabels({rule, "resolved"})->Set(count.second);
    }
  }

  auto owned = std::make_unique<Evaluator>(options_.evaluator);
  const uint64_t resumed = Resume(&owned);
  Evaluator& evaluator = *owned;
  uint64_t next = resumed + 1;
  uint64_t applied = 0;
  uint64_t snapshot = resumed;
  {
    absl::MutexLock lock(&mu_);
    evaluated_position_ = resumed;
    gauges_->evaluated_position->Set(static_cast<double>(resumed));
    gauges_->resumed_position->Set(static_cast<double>(resumed));
    gauges_->snapshot_position->Set(static_cast<double>(resumed));
    gauges_->events_evaluated->Set(0);
  }
  while (!stopping_) {
    ASSIGN_OR_RETURN(std::vector<eventlog::RecordedEvent> events,
                     log_->ReadAll(next, kPage, eventlog::Filter{}));
    // A short page reached the head as it was: the clock's turn, then
    // wait for more (reading again at once would find little or nothing:
    // one read and one wake-up per group commit is the cost to keep low).
    const bool caught_up = events.size() < kPage;
    if (events.empty()) {
      RETURN_IF_ERROR(CaughtUp(evaluator, next, checkpoint));
      continue;
    }
    // The page's transitions are appended together, before the next page
    // is read: all of them or none are in the log, so the checkpoint
    // argument (alert_service.h) holds for pages as for single events.
    std::vector<Transition> page;
    for (const eventlog::RecordedEvent& event : events) {
      std::vector<Transition> transitions = evaluator.Apply(event);
      next = event.position + 1;
      if (event.position <= checkpoint) continue;
      page.insert(page.end(), std::make_move_iterator(transitions.begin()),
                  std::make_move_iterator(transitions.end()));
      if (event.stream == kRulesStream) {
        RETURN_IF_ERROR(Append(page, evaluator));
        page.clear();
        RETURN_IF_ERROR(ResolveOrphans(evaluator));
      }
    }
    RETURN_IF_ERROR(Append(page, evaluator));
    applied += events.size();
    // Every alert up to here is in the log: a state to resume from.
    if (next - 1 >= snapshot + options_.snapshot_every) {
      Snapshot(evaluator);
      snapshot = next - 1;
    }
    {
      absl::MutexLock lock(&mu_);
      evaluated_position_ = next - 1;
      gauges_->evaluated_position->Set(static_cast<double>(next - 1));
      gauges_->dropped_subjects->Set(
          static_cast<double>(evaluator.dropped_subjects()));
      gauges_->events_evaluated->Set(static_cast<double>(applied));
    }
    if (caught_up) RETURN_IF_ERROR(CaughtUp(evaluator, next, checkpoint));
  }
  // Stopping, every page and tick appended: the state to resume from.
  if (evaluator.position() > snapshot) Snapshot(evaluator);
  return absl::OkStatus();
}

absl::Status AlertService::CaughtUp(Evaluator& evaluator, uint64_t next,
                                    uint64_t checkpoint) {
  const absl::Time now = absl::Now();
  if (next > checkpoint && log_->HeadPosition() < next) {
    RETURN_IF_ERROR(Append(
        evaluator.Tick(absl::ToUnixMicros(now - options_.clock_margin)),
        evaluator));
  }
  log_->WaitForHead(next - 1, now + options_.idle_wait);
  return absl::OkStatus();
}

uint64_t AlertService::Resume(std::unique_ptr<Evaluator>* evaluator) {
  written_.clear();
  absl::StatusOr<uint64_t> at =
      log_->FindSnapshot(kSnapshotName, log_->HeadPosition());
  if (!at.ok() || *at == 0) return 0;
  std::map<std::string, std::string> entries;
  absl::Status read = log_->ScanSnapshot(
      kSnapshotName, *at, "", [&](std::string_view key, std::string_view value) {
        entries.emplace(std::string(key), std::string(value));
      });
  std::vector<eventlog::RecordedEvent> rules;
  if (read.ok()) {
    read = ForEachInStream(*log_, kRulesStream,
                           [&](const eventlog::RecordedEvent& event) {
                             if (event.position <= *at) rules.push_back(event);
                             return absl::OkStatus();
                           });
  }
  if (read.ok()) read = (*evaluator)->Restore(rules, entries);
  if (!read.ok() || (*evaluator)->position() != *at) {
    // Unusable (a format this server does not know, a torn read): the
    // evaluation from position 1 gives the same alerts.
    *evaluator = std::make_unique<Evaluator>(options_.evaluator);
    return 0;
  }
  for (const auto& [key, value] : entries) {
    written_[key] = absl::HashOf(value);
  }
  return *at;
}

void AlertService::Snapshot(const Evaluator& evaluator) {
  std::vector<std::pair<std::string, std::string>> entries =
      evaluator.SnapshotEntries();
  size_t bytes = 0;
  for (const auto& [key, value] : entries) bytes += key.size() + value.size();
  if (bytes > options_.max_snapshot_bytes || evaluator.position() == 0) return;
  std::map<std::string, size_t> now;
  std::vector<eventlog::EventLog::SnapshotEntry> changed;
  for (auto& [key, value] : entries) {
    const size_t hash = absl::HashOf(value);
    now[key] = hash;
    auto it = written_.find(key);
    if (it == written_.end() || it->second != hash) {
      changed.emplace_back(key, std::move(value));
    }
  }
  // A rule deleted since: its entry shrinks to an empty state (Restore
  // ignores it, as the rule is gone).
  for (const auto& [key, hash] : written_) {
    if (now.contains(key)) continue;
    const std::string empty = base::DumpJson({Json::array(), Json::array()});
    now[key] = absl::HashOf(empty);
    if (hash != now[key]) changed.emplace_back(key, empty);
  }
  // Not synced and outside the hash chain: a lost snapshot means a longer
  // start, nothing else. A failed write leaves written_ as it was.
  if (!log_->WriteSnapshot(kSnapshotName, evaluator.position(), changed).ok()) {
    return;
  }
  written_ = std::move(now);
  absl::MutexLock lock(&mu_);
  gauges_->snapshot_position->Set(static_cast<double>(evaluator.position()));
}

absl::Status AlertService::Append(const std::vector<Transition>& transitions,
                                  const Evaluator& evaluator) {
  const AlertRule deleted;  // a resolve does not read its rule
  for (size_t from = 0; from < transitions.size(); from += kMaxBatch) {
    const size_t to = std::min(transitions.size(), from + kMaxBatch);
    // A batch followed by another claims only the positions the next one
    // does not also name: after a crash between the two, the evaluation
    // resumes at the position they share (the checkpoint's meaning:
    // every transition up to it is in the log).
    const uint64_t complete = to < transitions.size()
                                  ? transitions[to].evaluated_position - 1
                                  : UINT64_MAX;
    std::vector<std::pair<Transition, const AlertRule*>> batch;
    for (size_t i = from; i < to; ++i) {
      const RegisteredRule* rule =
          evaluator.rules().Find(transitions[i].rule_id);
      batch.emplace_back(transitions[i],
                         rule != nullptr ? &rule->rule : &deleted);
      batch.back().first.evaluated_position =
          std::min(batch.back().first.evaluated_position, complete);
    }
    RETURN_IF_ERROR(AppendBatch(batch));
  }
  return absl::OkStatus();
}

absl::Status AlertService::ResolveOrphans(const Evaluator& evaluator) {
  std::vector<Transition> orphans;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [slot, alert] : log_open_) {
      if (evaluator.rules().Find(alert.raised.rule_id) != nullptr) continue;
      Transition resolve = alert.raised;
      resolve.raised = false;
      resolve.reason = "rule_deleted";
      resolve.evidence = Json::object();
      orphans.push_back(std::move(resolve));
    }
  }
  return Append(orphans, evaluator);
}

absl::Status AlertService::AppendBatch(
    const std::vector<std::pair<Transition, const AlertRule*>>& batch) {
  // Which of them change what the log holds, in order: a raise of an alert
  // the log holds open, or a resolve of one it does not, is dropped.
  std::vector<const Transition*> kept;
  eventlog::AppendRequest request;
  request.stream = kAlertsStream;
  std::string keys;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, std::string> held;  // slot -> alert id, as it goes
    for (const auto& [t, rule] : batch) {
      const std::string slot = SlotKey(t.rule_id, t.subject);
      auto overlay = held.find(slot);
      std::string open_id;
      if (overlay != held.end()) {
        open_id = overlay->second;
      } else if (auto it = log_open_.find(slot); it != log_open_.end()) {
        open_id = it->second.raised.alert_id;
      }
      if (t.raised == (open_id == t.alert_id)) continue;
      held[slot] = t.raised ? t.alert_id : "";
      kept.push_back(&t);
      request.events.push_back(TransitionEvent(t, *rule));
      keys += TransitionIdempotencyKey(t);
    }
  }
  if (kept.empty()) return absl::OkStatus();
  request.idempotency_key =
      kept.size() == 1 ? TransitionIdempotencyKey(*kept.front())
                       : "alerts-" + absl::BytesToHexString(
                                         base::Sha256Digest(keys));
  ASSIGN_OR_RETURN(eventlog::AppendResult appended, log_->Append(request));
  absl::MutexLock lock(&mu_);
  const int64_t now_us = absl::ToUnixMicros(absl::Now());
  for (size_t i = 0; i < kept.size(); ++i) {
    const Transition& t = *kept[i];
    const std::string slot = SlotKey(t.rule_id, t.subject);
    if (t.raised) {
      log_open_[slot] = LogAlert{.raised = t,
                                 .position = appended.first_position + i,
                                 .time_us = now_us};
      Count(t.rule_id, "open", 1);
    } else {
      log_open_.erase(slot);
      Count(t.rule_id, "open", -1);
      Count(t.rule_id, "resolved", 1);
    }
  }
  return absl::OkStatus();
}

}  // namespace vigil::alerts
