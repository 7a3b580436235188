// Evaluator: the alert rules as a projection of the log. Fed every event
// of the log in position order (Apply) and the clock (Tick), it folds the
// rules of `$alert-rules` and the agents', tasks' and costs' state the
// rules need, and returns the transitions (an alert raised or resolved)
// they cause. It does not read `$alerts`: which alerts are open is its own
// fold of the transitions it returned, so replaying the log from position 1
// returns the same transitions again (AlertService decides which of them
// the log already holds).
//
// Deterministic: the same events and clock readings give the same
// transitions. A clock-based alert (a stuck task, a silent agent) is keyed
// on the position of the subject's last event, so it has the same id
// whether a wall-clock Tick or a later event's recorded time fired it;
// Apply first moves the clock to the event's recorded time. See
// docs/alerts.md "Evaluation".
//
// Its state can be taken as snapshot entries and restored (SnapshotEntries,
// Restore), so that a restart need not replay the log from position 1.
//
// Not thread-safe: one thread owns it.

#ifndef VIGIL_PROJECTIONS_ALERTS_EVALUATOR_H_
#define VIGIL_PROJECTIONS_ALERTS_EVALUATOR_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "eventlog/event.h"
#include "projections/alerts/rule_set.h"
#include "projections/alerts/transition.h"

namespace vigil::domain {
struct DomainEvent;
}  // namespace vigil::domain

namespace vigil::alerts {

struct EvaluatorOptions {
  // Subjects (agents, tasks, managers, custom subjects) one rule tracks;
  // events about further subjects are not evaluated by it (counted in
  // dropped_subjects()).
  size_t max_subjects_per_rule = 10000;
  // Outcomes or costs one subject's sliding window holds; the oldest leave
  // first when it is full.
  size_t max_window_samples = 10000;
  // Tasks whose manager is remembered (for the manager scope); further
  // tasks are not attributed to a manager.
  size_t max_tracked_tasks = 100000;
};

// An alert as `$alerts` (or Recorded) says it is open.
struct OpenAlert {
  std::string alert_id;
  std::string rule_id;
  Subject subject;
};

class Evaluator {
 public:
  explicit Evaluator(EvaluatorOptions options = {});
  ~Evaluator();
  Evaluator(const Evaluator&) = delete;
  Evaluator& operator=(const Evaluator&) = delete;

  // Applies the log's next event. Events of `$alert-rules` change the
  // rules (a deleted rule resolves its open alerts); events of other `$`
  // streams are skipped. Returns the transitions: every alert that should
  // now be open and is not is raised, every one open that should not be is
  // resolved.
  std::vector<Transition> Apply(const eventlog::RecordedEvent& event);

  // Moves the clock to `now_us` (it never goes back): stuck tasks and
  // silent agents whose deadline passed fire, cost windows drop what is
  // older than the window.
  std::vector<Transition> Tick(int64_t now_us);

  const RuleSet& rules() const { return rules_; }
  // Open alerts (raised by a returned transition, not yet resolved), by
  // SlotKey.
  const std::map<std::string, OpenAlert>& open() const { return open_; }
  uint64_t dropped_subjects() const { return dropped_subjects_; }
  // The last position applied; 0 before the first.
  uint64_t position() const { return position_; }

  // The state as snapshot entries (key, JSON text): "clock" (the clock, the
  // position, the dropped count), "alerts" (the alerts open and wanted),
  // "tasks" (the tasks' managers) and "rule/<rule id>" for each rule (its
  // subjects and deadlines). The rules themselves are not in it: they are
  // the log's `$alert-rules` up to position(). Each entry's text is the
  // same for the same state, so a writer can store only the changed ones.
  std::vector<std::pair<std::string, std::string>> SnapshotEntries() const;

  // REQUIRES: a fresh evaluator (nothing applied). Makes it the evaluator
  // that took `entries` (of SnapshotEntries; a "rule/" entry of a rule not
  // in `rule_events` is ignored), given the `$alert-rules` events at or
  // before that evaluator's position(), in order: it then returns what
  // that one would. DATA_LOSS naming the entry when one is malformed or
  // missing (the evaluator is then unusable).
  absl::Status Restore(const std::vector<eventlog::RecordedEvent>& rule_events,
                       const std::map<std::string, std::string>& entries);

 private:
  struct RuleState;
  struct Desired;
  struct Context;

  void ApplyDomain(const eventlog::RecordedEvent& event, Context& context);
  // `parsed`: the event as a domain event; null for a custom type or a
  // malformed one. `data`: its data as JSON when a custom rule reads its
  // type (null JSON when malformed), else null.
  void Evaluate(RuleState& state, const eventlog::RecordedEvent& event,
                const domain::DomainEvent* parsed, const base::Json* data,
                Context& context);
  // Sets what slot `subject` of `state` should be and reconciles it with
  // what is open.
  // `evidence` is called only when an alert is raised (building it on
  // every event was measured: RESULTS.md "Alerts").
  void Want(RuleState& state, const Subject& subject, bool open,
            uint64_t key_position, std::vector<uint64_t> causes,
            absl::FunctionRef<base::Json()> evidence, Context& context);
  // `state`: the slot's rule, whose counts of wanted and open slots it
  // keeps; null for a deleted rule.
  void Reconcile(const std::string& slot, RuleState* state,
                 const std::string& rule_id, const Subject& subject,
                 const std::vector<uint64_t>& causes, Context& context);
  // by_type_ again from states_ (when the rules change).
  void IndexRules();
  void AdvanceClock(int64_t now_us, Context& context);

  const EvaluatorOptions options_;
  RuleSet rules_;
  std::map<std::string, std::unique_ptr<RuleState>> states_;  // by rule id
  // The rules that read an event type, by its name, in rule-id order: an
  // event is evaluated by these only.
  absl::flat_hash_map<std::string, std::vector<RuleState*>> by_type_;
  std::map<std::string, Desired> desired_;  // open ones only, by slot
  std::map<std::string, OpenAlert> open_;   // by slot
  absl::flat_hash_map<std::string, std::string> task_managers_;
  int64_t now_us_ = 0;
  uint64_t position_ = 0;  // the last applied
  uint64_t dropped_subjects_ = 0;
};

}  // namespace vigil::alerts

#endif  // VIGIL_PROJECTIONS_ALERTS_EVALUATOR_H_
