// A deterministic Manager/Worker workload: the appends a team of AI agents
// would make, in docs/contract.md "Domain events" vocabulary, without a server.
// Managers create tasks (some as subtasks) and assign them to workers; workers
// start them, call LLMs and tools, report progress, message their manager, and
// complete or fail them; every agent heartbeats; idle workers are sometimes
// stopped and replaced. `vigil simulate` sends it to a vigild, benchmarks
// append it straight into a log, tests feed it to read models.
//
// Streams: `agent-<agent_id>` (AgentRegistered, AgentHeartbeat,
// AgentStopped, the agent's ToolCalled and LlmCallCompleted, and its
// MessageSent that concern no task) and `task-<task_id>` (TaskCreated ..
// TaskCompleted/TaskFailed, and the MessageSent about the task). Every append
// carries an exact expected revision (`no_stream` for a stream's first) and
// an idempotency key; every event a client-made UUID and metadata with
// `correlation_id` (the root task, or the agent) and `causation_id` (the
// event that led to it, when there is one).
//
// Same options, same sequence of steps, byte for byte. The decisions follow
// `seed` alone; ids, keys and event ids also follow `id_prefix`, so two runs
// with different prefixes (or seeds) never write to the same streams.
//
// Conflicts: with `conflict_rate` > 0, a manager sometimes writes to a task
// stream the worker is writing to, from a stale read: the two steps expect
// the same revision and the second is marked `races_previous`. Applied in
// order, the later one fails with ABORTED; the client then appends
// OnConflict's step before any later step of that stream. Only events whose
// meaning does not depend on their order race (TaskProgress, MessageSent),
// so appending the loser after the winner is the right decision.
//
// Incidents: with ScenarioOptions::incident set, one more worker, the
// incident agent `<id_prefix>-s<seed>-x0` (its manager: the team's first
// manager), plays a script beside the random team (whose decisions then
// differ from a run without it: the script draws from the same generator
// for memory readings and latencies). The agent
// takes one scripted step every kIncidentBeat steps of Next(): healthy
// before step `incident_start`, the incident for `incident_steps` steps,
// then healthy again. What a rule sees (docs/alerts.md "Simulator
// scenarios"):
//   stuck-worker   its task `<agent>-t0` is created, assigned to it and
//                  started on its first beats and reports progress every
//                  other beat; during the incident it only heartbeats (no
//                  progress); then the task progresses and completes.
//   silent-agent   a heartbeat every beat; nothing at all during the
//                  incident; heartbeats again after it.
//   failure-burst  heartbeats; the incident starts with kFailureBurst tasks
//                  (`<agent>-t<k>`, 3 beats each) that end in TaskFailed;
//                  after it, tasks that end in TaskCompleted, one after
//                  the other.
//   cost-overrun   a heartbeat and a cheap LLM call (gemini-1.5-flash,
//                  $0.00006) on alternate beats; the incident starts with
//                  kCostBurst calls of claude-3-5-sonnet at $0.51 each
//                  (150,000 tokens in, 4,000 out), then cheap calls again.
// So, at --rate R steps per second, the stuck task and the silent agent go
// quiet for about incident_steps / R seconds.
//
// Not thread-safe: one thread calls Next(); OnConflict is a pure function.

#ifndef VIGIL_TOOLS_SIMULATOR_SCENARIO_H_
#define VIGIL_TOOLS_SIMULATOR_SCENARIO_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "eventlog/event.h"

namespace vigil::simulator {

// The scripted incidents (see the file comment).
enum class Incident { kNone, kStuckWorker, kSilentAgent, kFailureBurst, kCostOverrun };
// Steps of Next() between two scripted steps of the incident agent (a
// step due while Next() returns queued ones is taken right after them).
inline constexpr uint64_t kIncidentBeat = 5;
// failure-burst: tasks failed at the incident's start.
inline constexpr int kFailureBurst = 3;
// cost-overrun: expensive LLM calls at the incident's start, and the cost
// of each in USD.
inline constexpr int kCostBurst = 10;
inline constexpr double kCostBurstCallUsd = 0.51;

// "team" (kNone), "stuck-worker", "silent-agent", "failure-burst", "cost-overrun".
std::string_view IncidentName(Incident incident);
// The incident named `name`; INVALID_ARGUMENT naming the known ones.
absl::StatusOr<Incident> IncidentFromName(std::string_view name);

struct ScenarioOptions {
  // Agents at the start, each registered by the first steps. 1..10,000.
  int managers = 2;
  int workers = 8;
  // Decides everything; the same seed gives the same steps.
  uint64_t seed = 1;
  // Starts every id: `<id_prefix>-s<seed>-m0`, `-w3`, `-t17`. 1..64 of
  // [A-Za-z0-9_.:-], starting with a letter or digit (it becomes part of
  // stream names).
  std::string id_prefix = "sim";
  // Share of the worker's TaskProgress steps that a manager's MessageSent
  // races on the same task stream (0..1). 0: every step applies in order.
  double conflict_rate = 0;
  // Share of tasks that end in TaskFailed before tool failures add to it
  // (0..1): each failed tool call of the task adds 0.1, up to 0.9.
  double task_failure_rate = 0.1;
  // The incident the incident agent plays; kNone: no incident agent, the
  // steps are those of a scenario without these three options.
  Incident incident = Incident::kNone;
  // The step of Next() at which the incident starts (0..1,000,000), and
  // how many steps it lasts (1..1,000,000).
  uint64_t incident_start = 100;
  uint64_t incident_steps = 300;
};

// The LLMs agents use, and what they cost: cost_usd of an
// LlmCallCompleted is input_tokens * input + output_tokens * output, per
// million tokens, rounded to 6 decimals. Public list prices of late 2024.
struct ModelPrice {
  std::string_view model;
  double usd_per_million_input;
  double usd_per_million_output;
};
std::span<const ModelPrice> ModelPrices();

// One append. `request` is complete: stream, expected revision, idempotency
// key, and its events (data and metadata are JSON objects).
struct Step {
  eventlog::AppendRequest request;
  // The step expects the same revision as the step before it, to the same
  // stream, which a concurrent writer would send without waiting for it.
  bool races_previous = false;
};

class Scenario {
 public:
  // INVALID_ARGUMENT when an option is out of its range.
  static absl::StatusOr<std::unique_ptr<Scenario>> Create(
      ScenarioOptions options);

  ~Scenario();
  Scenario(const Scenario&) = delete;
  Scenario& operator=(const Scenario&) = delete;

  // The next append. Its expected revision assumes that every earlier step
  // landed exactly once (an ABORTED one through OnConflict) and that the
  // steps of one stream landed in order. Never ends.
  Step Next();

  // What a client does with `step` after it failed with ABORTED and the
  // stream's actual last revision `actual_revision` (nullopt: no stream):
  // the same events at the actual revision, under a key derived from the
  // step's (the request differs, so the old key must not be reused); or
  // nullopt when the step must be dropped because the stream's existence is
  // not what it assumed (another writer owns those ids). Pure.
  static std::optional<Step> OnConflict(const Step& step,
                                        std::optional<uint64_t> actual_revision);

  // How many steps Next() returned so far.
  uint64_t steps() const;

  // The incident agent's id (`<id_prefix>-s<seed>-x0`); empty without an
  // incident. Its tasks are `<that id>-t<k>`, from 0.
  std::string incident_agent() const;

 private:
  class Impl;  // the agents, tasks and random streams, in scenario.cc
  explicit Scenario(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::simulator

#endif  // VIGIL_TOOLS_SIMULATOR_SCENARIO_H_
