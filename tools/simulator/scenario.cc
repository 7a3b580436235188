// Scenario (scenario.h). Over ~500 lines as one concept: every action
// (register, heartbeat, create, assign, work on, finish a task, stop a
// worker) draws from the one seeded generator and moves the one model of
// agents and tasks, so that the same seed gives the same steps byte for
// byte; apart, they would share all of Impl's state. The incident agent's
// script (IncidentStep) moves the same model and appends through the same
// helpers.

#include "tools/simulator/scenario.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cmath>
#include <deque>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/json.h"

namespace vigil::simulator {
namespace {

// At most this many agents of each role at the start; a bound on the
// scenario's memory, which grows with agents and tasks.
constexpr int kMaxAgents = 10'000;
constexpr size_t kMaxPrefix = 64;

// Shares of Next()'s decisions, cumulative; the rest is the workers' (and
// whatever else can be done when the chosen action cannot).
constexpr double kHeartbeat = 0.08;
constexpr double kStopWorker = kHeartbeat + 0.003;
constexpr double kCreateTask = kStopWorker + 0.11;
constexpr double kAssignTask = kCreateTask + 0.11;
constexpr double kManagerThinks = kAssignTask + 0.03;
constexpr double kManagerMessages = kManagerThinks + 0.03;

constexpr ModelPrice kPrices[] = {
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4o-mini", 0.15, 0.60},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"gemini-1.5-flash", 0.075, 0.30},
};
// Milliseconds per output token, by the index in kPrices: large models are
// slower.
constexpr int kMsPerToken[] = {22, 9, 25, 12, 7};
constexpr std::array<int, 2> kManagerModels = {0, 2};
constexpr std::array<int, 5> kWorkerModels = {1, 3, 4, 0, 1};

constexpr std::string_view kSpecialties[] = {"coder", "researcher", "tester",
                                             "writer", "analyst"};
constexpr std::string_view kVerbs[] = {
    "Summarize", "Fix",      "Review",  "Draft",   "Investigate",
    "Refactor",  "Benchmark", "Migrate", "Document", "Triage"};
constexpr std::string_view kObjects[] = {
    "the quarterly revenue report", "the flaky checkout test",
    "the onboarding guide",         "the login latency regression",
    "customer ticket #4711",        "the billing service schema",
    "the search ranking experiment", "the dependency upgrade",
    "the incident timeline",        "the API rate-limit design"};
struct Tool {
  std::string_view name;
  int min_ms, max_ms;
  double failure_rate;
};
constexpr Tool kTools[] = {
    {"web_search", 300, 2500, 0.05}, {"read_file", 2, 40, 0.01},
    {"write_file", 3, 60, 0.02},     {"run_tests", 2000, 90000, 0.20},
    {"shell", 20, 8000, 0.08},       {"http_get", 50, 3000, 0.06},
    {"sql_query", 10, 1500, 0.04},   {"code_search", 30, 600, 0.02}};
constexpr std::string_view kErrors[] = {
    "tests still failing after 3 attempts",
    "context window exceeded while reading the inputs",
    "timed out after 600 s",
    "upstream service returned 503",
    "could not reproduce the problem",
    "permission denied writing to the repository"};
constexpr std::string_view kStopReasons[] = {"scaled_down", "idle_timeout",
                                             "redeployed"};

template <typename T, size_t N>
const T& Pick(const T (&items)[N], uint64_t draw) {
  return items[draw % N];
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// FNV-1a: a stable hash (absl::Hash is salted per process).
uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

bool ValidPrefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > kMaxPrefix) return false;
  if (!std::isalnum(static_cast<unsigned char>(prefix[0]))) return false;
  return std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           c == '.' || c == ':' || c == '-';
  });
}

// Debian's Abseil has its own string_view, which StrCat takes.
absl::string_view A(std::string_view text) { return {text.data(), text.size()}; }

bool ValidShare(double share) { return share >= 0 && share <= 1; }

// A JSON object (base::Json) built field by field.
class Json {
 public:
  Json& Str(std::string_view key, std::string_view value) {
    return Set(key, value);
  }
  Json& Int(std::string_view key, int64_t value) { return Set(key, value); }
  // Rounded to `decimals` places, as a sensor or a bill would show it.
  Json& Num(std::string_view key, double value, int decimals) {
    return Set(key, base::RoundedNumber(value, decimals));
  }
  Json& Bool(std::string_view key, bool value) { return Set(key, value); }
  Json& Obj(std::string_view key, Json object) {
    return Set(key, std::move(object.json_));
  }
  std::string Done() const { return base::DumpJson(json_); }

 private:
  Json& Set(std::string_view key, base::Json value) {
    json_[std::string(key)] = std::move(value);
    return *this;
  }
  base::Json json_ = base::Json::object();
};

constexpr std::pair<Incident, std::string_view> kIncidentNames[] = {
    {Incident::kNone, "team"},
    {Incident::kStuckWorker, "stuck-worker"},
    {Incident::kSilentAgent, "silent-agent"},
    {Incident::kFailureBurst, "failure-burst"},
    {Incident::kCostOverrun, "cost-overrun"}};
// Bounds of incident_start and incident_steps.
constexpr uint64_t kMaxIncidentSteps = 1'000'000;
// The incident agent's LLM calls, by the index in kPrices: cheap ones
// (gemini-1.5-flash, 400 tokens in, 100 out: $0.00006) and the overrun's
// (claude-3-5-sonnet, 150,000 in, 4,000 out: kCostBurstCallUsd).
constexpr int kCheapModel = 4;
constexpr int64_t kCheapTokens[] = {400, 100};
constexpr int kCostlyModel = 2;
constexpr int64_t kCostlyTokens[] = {150'000, 4'000};

}  // namespace

std::string_view IncidentName(Incident incident) {
  for (const auto& [value, name] : kIncidentNames) {
    if (value == incident) return name;
  }
  return "team";
}

absl::StatusOr<Incident> IncidentFromName(std::string_view name) {
  std::string known;
  for (const auto& [value, text] : kIncidentNames) {
    if (text == name) return value;
    absl::StrAppend(&known, known.empty() ? "" : ", ", A(text));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown scenario \"", A(name), "\"; known: ", known));
}

std::span<const ModelPrice> ModelPrices() { return kPrices; }

class Scenario::Impl {
 public:
  explicit Impl(ScenarioOptions options);
  Step Next();
  uint64_t steps() const { return steps_; }
  std::string incident_agent() const {
    return incident_agent_ != nullptr ? incident_agent_->id : "";
  }

 private:
  struct Task;
  struct Agent {
    std::string id;
    bool manager = false;
    std::string name;
    int model = 0;  // index in kPrices
    std::string stream;
    std::optional<uint64_t> last_revision;
    bool live = false;  // registered and not stopped
    std::deque<Task*> queue;  // assigned, not started
    Task* current = nullptr;  // started, not finished
    int64_t base_mem_bytes = 0;
    std::string last_decision;  // a manager's last LLM call, its event id
  };
  struct Task {
    std::string id;
    std::string stream;
    std::optional<uint64_t> last_revision;
    std::string title;
    Agent* manager = nullptr;
    std::string correlation_id;  // the root task's id
    std::string last_event_id;   // what the next step of its work follows
    int planned = 0;             // work steps before it ends
    int done = 0;
    int failed_tools = 0;
  };

  Agent& AddAgent(bool manager);
  void Register(Agent& agent, Step* step);
  bool Heartbeat(Step* step);
  bool StopWorker(Step* step);
  bool CreateTask(Step* step);
  bool AssignTask(Step* step);
  bool ManagerThinks(Step* step);
  bool ManagerMessages(Step* step);
  bool WorkerActs(Step* step);
  void WorkOn(Agent& worker, Task& task, Step* step);
  void FinishTask(Agent& worker, Task& task, Step* step);
  std::string AddLlmCall(const Agent& agent, const Task* task, int model,
                         const std::string& causation_id, Step* step);
  // An LLM call of `input` and `output` tokens.
  std::string AddLlmCallOf(const Agent& agent, const Task* task, int model,
                           int64_t input, int64_t output,
                           const std::string& causation_id, Step* step);
  void SendHeartbeat(Agent& agent, double cpu, Step* step);

  // The incident agent's scripted step, on its beat; false when it has
  // none now (see scenario.h).
  bool IncidentStep(Step* step);
  // Its task work: a new task created by manager 0 and assigned to it (one
  // append), then started, then ended as TaskFailed (`fail`) or
  // TaskCompleted. Returns true when the step ended a task.
  bool IncidentTaskCycle(bool fail, Step* step);
  // An event of the incident agent's current task, by the agent; `data`
  // gets the task and worker ids.
  void IncidentTaskEvent(std::string_view type, Json data, Step* step);
  void IncidentLlmCall(bool costly, Step* step);

  // Starts `step` as an append to `stream` after `last_revision` (nullopt:
  // the stream does not exist yet), under the next idempotency key.
  void Begin(Step* step, const std::string& stream,
             std::optional<uint64_t> last_revision);
  // Adds an event to `step`; returns its event id.
  std::string AddEvent(Step* step, std::string_view type, std::string data,
                       const std::string& correlation_id,
                       const std::string& causation_id);
  // The stream's last revision once `step` has landed.
  static uint64_t After(const Step& step, std::optional<uint64_t> last);

  std::string NewEventId();
  uint64_t Uniform(uint64_t n) { return decisions_() % n; }
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(Uniform(high - low + 1));
  }
  double Unit() {
    return static_cast<double>(decisions_() >> 11) * 0x1.0p-53;
  }
  bool Chance(double p) { return Unit() < p; }
  Agent* RandomLiveWorker();

  const ScenarioOptions options_;
  const std::string ids_;  // `<id_prefix>-s<seed>`
  // The standard fixes mt19937_64's output (not the distributions'), so
  // Uniform and Unit draw the same numbers with every standard library.
  std::mt19937_64 decisions_;
  std::mt19937_64 event_ids_;
  std::vector<std::unique_ptr<Agent>> managers_;
  std::vector<std::unique_ptr<Agent>> workers_;
  int live_workers_ = 0;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::deque<Task*> unassigned_;
  int open_tasks_ = 0;
  // Steps decided with an earlier one: registrations, the losing side of a
  // race. Next() returns them first.
  std::deque<Step> queued_;
  uint64_t keys_ = 0;
  uint64_t steps_ = 0;
  // The incident (options_.incident): its agent, its current task (the
  // earlier ones are over: the memory stays flat), the tasks it had, the
  // stage of the current one, and the burst so far.
  enum class Stage { kNone, kAssigned, kStarted, kEnded };
  std::unique_ptr<Agent> incident_agent_;
  std::unique_ptr<Task> incident_task_;
  uint64_t incident_tasks_ = 0;
  Stage incident_stage_ = Stage::kNone;
  uint64_t incident_beats_ = 0;
  uint64_t next_beat_ = kIncidentBeat;  // in steps_
  int burst_done_ = 0;
  bool recovered_ = false;
};

Scenario::Impl::Impl(ScenarioOptions options)
    : options_(std::move(options)),
      ids_(absl::StrCat(options_.id_prefix, "-s", options_.seed)),
      decisions_(SplitMix64(options_.seed)),
      event_ids_(SplitMix64(Fnv1a(ids_))) {
  for (int i = 0; i < options_.managers; ++i) {
    Register(AddAgent(true), &queued_.emplace_back());
  }
  for (int i = 0; i < options_.workers; ++i) {
    Register(AddAgent(false), &queued_.emplace_back());
  }
  if (options_.incident == Incident::kNone) return;
  incident_agent_ = std::make_unique<Agent>();
  Agent& agent = *incident_agent_;
  agent.id = ids_ + "-x0";
  agent.stream = "agent-" + agent.id;
  agent.name = "incident-0";
  agent.model = kCheapModel;
  agent.base_mem_bytes = int64_t{512} << 20;
  Register(agent, &queued_.emplace_back());
}

Step Scenario::Impl::Next() {
  ++steps_;
  if (!queued_.empty()) {
    Step step = std::move(queued_.front());
    queued_.pop_front();
    return step;
  }
  Step step;
  if (IncidentStep(&step)) return step;
  const double r = Unit();
  bool done = false;
  if (r < kHeartbeat) {
    done = Heartbeat(&step);
  } else if (r < kStopWorker) {
    done = StopWorker(&step);
  } else if (r < kCreateTask) {
    done = CreateTask(&step);
  } else if (r < kAssignTask) {
    done = AssignTask(&step);
  } else if (r < kManagerThinks) {
    done = ManagerThinks(&step);
  } else if (r < kManagerMessages) {
    done = ManagerMessages(&step);
  }
  // A heartbeat is always possible: managers never stop.
  if (!done) {
    done = WorkerActs(&step) || AssignTask(&step) || CreateTask(&step) ||
           Heartbeat(&step);
  }
  return step;
}

Scenario::Impl::Agent& Scenario::Impl::AddAgent(bool manager) {
  auto& agents = manager ? managers_ : workers_;
  auto agent = std::make_unique<Agent>();
  const size_t index = agents.size();
  agent->manager = manager;
  agent->id = absl::StrCat(ids_, manager ? "-m" : "-w", index);
  agent->stream = "agent-" + agent->id;
  agent->name = manager ? absl::StrCat("manager-", index)
                        : absl::StrCat(A(Pick(kSpecialties, Uniform(100))), "-",
                                       index);
  agent->model = manager ? kManagerModels[Uniform(kManagerModels.size())]
                         : kWorkerModels[Uniform(kWorkerModels.size())];
  agent->base_mem_bytes = Between(256, 2048) << 20;
  agents.push_back(std::move(agent));
  return *agents.back();
}

void Scenario::Impl::Register(Agent& agent, Step* step) {
  Begin(step, agent.stream, agent.last_revision);
  AddEvent(step, "AgentRegistered",
           Json()
               .Str("agent_id", agent.id)
               .Str("role", agent.manager ? "manager" : "worker")
               .Str("name", agent.name)
               .Str("model", kPrices[agent.model].model)
               .Done(),
           agent.id, "");
  agent.last_revision = After(*step, agent.last_revision);
  agent.live = true;
  // The incident agent is not one of the team's workers.
  if (!agent.manager && &agent != incident_agent_.get()) ++live_workers_;
}

bool Scenario::Impl::Heartbeat(Step* step) {
  // Managers are always live; a stopped worker's turn goes to manager 0.
  const size_t n = managers_.size() + workers_.size();
  const size_t i = Uniform(n);
  Agent* agent = i < managers_.size() ? managers_[i].get()
                                      : workers_[i - managers_.size()].get();
  if (!agent->live) agent = managers_[0].get();
  const bool busy = agent->current != nullptr || agent->manager;
  const double cpu = busy ? 35 + 60 * Unit() : 2 + 13 * Unit();
  SendHeartbeat(*agent, cpu, step);
  return true;
}

void Scenario::Impl::SendHeartbeat(Agent& agent, double cpu, Step* step) {
  Begin(step, agent.stream, agent.last_revision);
  AddEvent(step, "AgentHeartbeat",
           Json()
               .Str("agent_id", agent.id)
               .Num("cpu_pct", cpu, 1)
               .Int("mem_bytes",
                    agent.base_mem_bytes + Between(0, 256) * (1 << 20))
               .Int("queue_depth", static_cast<int64_t>(agent.queue.size()) +
                                       (agent.current != nullptr ? 1 : 0))
               .Done(),
           agent.id, "");
  agent.last_revision = After(*step, agent.last_revision);
}

Scenario::Impl::Agent* Scenario::Impl::RandomLiveWorker() {
  for (int tries = 0; tries < 8; ++tries) {
    Agent* worker = workers_[Uniform(workers_.size())].get();
    if (worker->live) return worker;
  }
  return nullptr;
}

// An idle worker is scaled down and a fresh one registers in its place; the
// tasks assigned to it but not started go back to the managers.
bool Scenario::Impl::StopWorker(Step* step) {
  Agent* worker = RandomLiveWorker();
  if (worker == nullptr || worker->current != nullptr) return false;
  Begin(step, worker->stream, worker->last_revision);
  AddEvent(step, "AgentStopped",
           Json()
               .Str("agent_id", worker->id)
               .Str("reason", Pick(kStopReasons, Uniform(100)))
               .Done(),
           worker->id, "");
  worker->last_revision = After(*step, worker->last_revision);
  worker->live = false;
  --live_workers_;
  for (Task* task : worker->queue) unassigned_.push_front(task);
  worker->queue.clear();
  Register(AddAgent(false), &queued_.emplace_back());
  return true;
}

bool Scenario::Impl::CreateTask(Step* step) {
  // Enough open work to keep every worker busy, not an endless backlog.
  if (open_tasks_ >= 2 * live_workers_ + 2) return false;
  Agent& manager = *managers_[Uniform(managers_.size())];
  auto task = std::make_unique<Task>();
  task->id = absl::StrCat(ids_, "-t", tasks_.size());
  task->stream = "task-" + task->id;
  task->manager = &manager;
  task->title = absl::StrCat(A(Pick(kVerbs, Uniform(100))), " ",
                             A(Pick(kObjects, Uniform(100))));
  // Some tasks split off from one a worker is on.
  const Task* parent = nullptr;
  if (Chance(0.2)) {
    const Agent* worker = RandomLiveWorker();
    if (worker != nullptr) parent = worker->current;
  }
  task->correlation_id = parent != nullptr ? parent->correlation_id : task->id;
  static constexpr int kPriorities[] = {1, 2, 2, 3, 3, 3, 3, 4, 4, 5};
  Json data;
  data.Str("task_id", task->id)
      .Str("manager_id", manager.id)
      .Str("title", task->title)
      .Int("priority", Pick(kPriorities, Uniform(100)));
  if (parent != nullptr) {
    data.Str("parent_task_id", parent->id);
    task->title = "Subtask: " + task->title;
  }
  Begin(step, task->stream, task->last_revision);
  task->last_event_id =
      AddEvent(step, "TaskCreated", data.Done(), task->correlation_id,
               parent != nullptr ? parent->last_event_id
                                 : manager.last_decision);
  task->last_revision = After(*step, task->last_revision);
  unassigned_.push_back(task.get());
  tasks_.push_back(std::move(task));
  ++open_tasks_;
  return true;
}

bool Scenario::Impl::AssignTask(Step* step) {
  if (unassigned_.empty() || live_workers_ == 0) return false;
  Task& task = *unassigned_.front();
  // The least loaded live worker; the scan starts at a random one so that
  // ties do not always go to the first.
  Agent* chosen = nullptr;
  size_t least = SIZE_MAX;
  const size_t start = Uniform(workers_.size());
  for (size_t k = 0; k < workers_.size(); ++k) {
    Agent* worker = workers_[(start + k) % workers_.size()].get();
    if (!worker->live) continue;
    const size_t load = worker->queue.size() + (worker->current ? 1 : 0);
    if (load < least) {
      least = load;
      chosen = worker;
    }
  }
  unassigned_.pop_front();
  Begin(step, task.stream, task.last_revision);
  task.last_event_id = AddEvent(step, "TaskAssigned",
                                Json()
                                    .Str("task_id", task.id)
                                    .Str("manager_id", task.manager->id)
                                    .Str("worker_id", chosen->id)
                                    .Done(),
                                task.correlation_id, task.last_event_id);
  task.last_revision = After(*step, task.last_revision);
  chosen->queue.push_back(&task);
  return true;
}

bool Scenario::Impl::ManagerThinks(Step* step) {
  Agent& manager = *managers_[Uniform(managers_.size())];
  Begin(step, manager.stream, manager.last_revision);
  manager.last_decision =
      AddLlmCall(manager, nullptr, manager.model, manager.last_decision, step);
  manager.last_revision = After(*step, manager.last_revision);
  return true;
}

bool Scenario::Impl::ManagerMessages(Step* step) {
  Agent* worker = RandomLiveWorker();
  if (worker == nullptr || worker->current == nullptr) return false;
  Task& task = *worker->current;
  static constexpr std::string_view kKinds[] = {"instruction", "review",
                                                "status_request"};
  const std::string_view kind = Pick(kKinds, Uniform(100));
  Begin(step, task.stream, task.last_revision);
  task.last_event_id = AddEvent(
      step, "MessageSent",
      Json()
          .Str("from_agent", task.manager->id)
          .Str("to_agent", worker->id)
          .Str("task_id", task.id)
          .Str("kind", kind)
          .Str("summary", absl::StrCat(kind == "review" ? "Please double-check "
                                                        : "About ",
                                       task.title))
          .Done(),
      task.correlation_id, task.last_event_id);
  task.last_revision = After(*step, task.last_revision);
  return true;
}

bool Scenario::Impl::WorkerActs(Step* step) {
  for (int tries = 0; tries < 8; ++tries) {
    Agent* worker = RandomLiveWorker();
    if (worker == nullptr) return false;
    if (worker->current != nullptr) {
      WorkOn(*worker, *worker->current, step);
      return true;
    }
    if (worker->queue.empty()) continue;
    Task& task = *worker->queue.front();
    worker->queue.pop_front();
    worker->current = &task;
    task.planned = static_cast<int>(Between(3, 10));
    Begin(step, task.stream, task.last_revision);
    task.last_event_id = AddEvent(
        step, "TaskStarted",
        Json().Str("task_id", task.id).Str("worker_id", worker->id).Done(),
        task.correlation_id, task.last_event_id);
    task.last_revision = After(*step, task.last_revision);
    return true;
  }
  return false;
}

void Scenario::Impl::WorkOn(Agent& worker, Task& task, Step* step) {
  if (task.done >= task.planned) {
    FinishTask(worker, task, step);
    return;
  }
  ++task.done;
  const double r = Unit();
  if (r < 0.35) {
    // Mostly the worker's own model; sometimes a cheap one for a small job.
    const int model = Chance(0.8) ? worker.model : 1;
    Begin(step, worker.stream, worker.last_revision);
    task.last_event_id =
        AddLlmCall(worker, &task, model, task.last_event_id, step);
    worker.last_revision = After(*step, worker.last_revision);
    return;
  }
  if (r < 0.70) {
    // A tool call, often right after the LLM call that chose it: both
    // events in one append.
    Begin(step, worker.stream, worker.last_revision);
    std::string cause = task.last_event_id;
    if (Chance(0.4)) {
      cause = AddLlmCall(worker, &task, worker.model, cause, step);
    }
    const Tool& tool = Pick(kTools, Uniform(1000));
    const bool ok = !Chance(tool.failure_rate);
    if (!ok) ++task.failed_tools;
    task.last_event_id = AddEvent(step, "ToolCalled",
                                  Json()
                                      .Str("agent_id", worker.id)
                                      .Str("task_id", task.id)
                                      .Str("tool", tool.name)
                                      .Int("duration_ms",
                                           Between(tool.min_ms, tool.max_ms))
                                      .Bool("ok", ok)
                                      .Done(),
                                  task.correlation_id, cause);
    worker.last_revision = After(*step, worker.last_revision);
    return;
  }
  const std::optional<uint64_t> before = task.last_revision;
  const std::string before_cause = task.last_event_id;
  Begin(step, task.stream, before);
  if (r < 0.90) {
    const int percent = task.done * 100 / (task.planned + 1);
    static constexpr std::string_view kNotes[] = {
        "gathered the inputs", "first draft done", "tests written",
        "waiting on a tool", "reviewing the results"};
    task.last_event_id =
        AddEvent(step, "TaskProgress",
                 Json()
                     .Str("task_id", task.id)
                     .Str("worker_id", worker.id)
                     .Int("percent", percent)
                     .Str("note", Pick(kNotes, Uniform(100)))
                     .Done(),
                 task.correlation_id, before_cause);
  } else {
    static constexpr std::string_view kKinds[] = {"question", "status_update"};
    const std::string_view kind = Pick(kKinds, Uniform(100));
    task.last_event_id = AddEvent(
        step, "MessageSent",
        Json()
            .Str("from_agent", worker.id)
            .Str("to_agent", task.manager->id)
            .Str("task_id", task.id)
            .Str("kind", kind)
            .Str("summary", kind == "question"
                                ? "Which format should the output have?"
                                : absl::StrCat(task.done, " of ", task.planned,
                                               " steps done"))
            .Done(),
        task.correlation_id, before_cause);
  }
  task.last_revision = After(*step, before);
  if (r >= 0.90 || !Chance(options_.conflict_rate)) return;

  // The race: the manager read the task before the worker's progress landed
  // and asks for a status on that stale revision.
  Step& race = queued_.emplace_back();
  race.races_previous = true;
  Begin(&race, task.stream, before);
  task.last_event_id =
      AddEvent(&race, "MessageSent",
               Json()
                   .Str("from_agent", task.manager->id)
                   .Str("to_agent", worker.id)
                   .Str("task_id", task.id)
                   .Str("kind", "status_request")
                   .Str("summary", "Any blockers?")
                   .Done(),
               task.correlation_id, before_cause);
  // Once the client has appended the loser again after the winner.
  task.last_revision = After(race, task.last_revision);
}

void Scenario::Impl::FinishTask(Agent& worker, Task& task, Step* step) {
  const double failure = std::min(
      0.9, options_.task_failure_rate + 0.1 * task.failed_tools);
  Begin(step, task.stream, task.last_revision);
  if (Chance(failure)) {
    task.last_event_id =
        AddEvent(step, "TaskFailed",
                 Json()
                     .Str("task_id", task.id)
                     .Str("worker_id", worker.id)
                     .Str("error", Pick(kErrors, Uniform(1000)))
                     .Done(),
                 task.correlation_id, task.last_event_id);
  } else {
    task.last_event_id = AddEvent(
        step, "TaskCompleted",
        Json()
            .Str("task_id", task.id)
            .Str("worker_id", worker.id)
            .Obj("result", Json()
                               .Str("summary", "Done: " + task.title)
                               .Int("artifacts", Between(0, 4)))
            .Done(),
        task.correlation_id, task.last_event_id);
  }
  task.last_revision = After(*step, task.last_revision);
  worker.current = nullptr;
  --open_tasks_;
}

std::string Scenario::Impl::AddLlmCall(const Agent& agent, const Task* task,
                                       int model,
                                       const std::string& causation_id,
                                       Step* step) {
  const int64_t input = Between(400, 12000);
  const int64_t output = Between(40, 1800);
  return AddLlmCallOf(agent, task, model, input, output, causation_id, step);
}

std::string Scenario::Impl::AddLlmCallOf(const Agent& agent, const Task* task,
                                         int model, int64_t input,
                                         int64_t output,
                                         const std::string& causation_id,
                                         Step* step) {
  const ModelPrice& price = kPrices[model];
  const double cost =
      (static_cast<double>(input) * price.usd_per_million_input +
       static_cast<double>(output) * price.usd_per_million_output) /
      1e6;
  Json data;
  data.Str("agent_id", agent.id);
  if (task != nullptr) data.Str("task_id", task->id);
  data.Str("model", price.model)
      .Int("input_tokens", input)
      .Int("output_tokens", output)
      .Num("cost_usd", cost, 6)
      .Int("latency_ms", 150 + output * kMsPerToken[model] + Between(0, 400));
  return AddEvent(step, "LlmCallCompleted", data.Done(),
                  task != nullptr ? task->correlation_id : agent.id,
                  causation_id);
}

bool Scenario::Impl::IncidentStep(Step* step) {
  // On its beat, or at the first step after it that no queued step took.
  if (incident_agent_ == nullptr || steps_ < next_beat_) return false;
  next_beat_ += kIncidentBeat;
  Agent& agent = *incident_agent_;
  const uint64_t now = steps_ - 1;  // this step, from 0
  const bool before = now < options_.incident_start;
  const bool during =
      !before && now - options_.incident_start < options_.incident_steps;
  const bool odd = ++incident_beats_ % 2 == 1;
  constexpr double kCpu = 30;
  switch (options_.incident) {
    case Incident::kNone:
      return false;
    case Incident::kSilentAgent:
      if (during) return false;
      SendHeartbeat(agent, kCpu, step);
      return true;
    case Incident::kStuckWorker:
      if (incident_stage_ == Stage::kNone ||
          incident_stage_ == Stage::kAssigned) {
        IncidentTaskCycle(false, step);
        return true;
      }
      if (incident_stage_ == Stage::kEnded || during || (before && odd)) {
        SendHeartbeat(agent, kCpu, step);
        return true;
      }
      if (before || !recovered_) {
        recovered_ = !before;
        // Never backwards: one percent per report, up to 99.
        const int percent = static_cast<int>(
            std::min<uint64_t>(incident_beats_ / 2, 99));
        IncidentTaskEvent(
            "TaskProgress",
            std::move(Json().Int("percent", percent).Str(
                "note", recovered_ ? "unstuck" : "working")),
            step);
        return true;
      }
      IncidentTaskCycle(false, step);
      return true;
    case Incident::kFailureBurst:
      if (before || (during && burst_done_ >= kFailureBurst &&
                     incident_stage_ != Stage::kAssigned &&
                     incident_stage_ != Stage::kStarted)) {
        SendHeartbeat(agent, kCpu, step);
        return true;
      }
      if (IncidentTaskCycle(during, step) && during) ++burst_done_;
      return true;
    case Incident::kCostOverrun:
      if (during && burst_done_ < kCostBurst) {
        ++burst_done_;
        IncidentLlmCall(true, step);
      } else if (odd) {
        SendHeartbeat(agent, kCpu, step);
      } else {
        IncidentLlmCall(false, step);
      }
      return true;
  }
  return false;
}

bool Scenario::Impl::IncidentTaskCycle(bool fail, Step* step) {
  Agent& agent = *incident_agent_;
  switch (incident_stage_) {
    case Stage::kNone:
    case Stage::kEnded: {
      Agent& manager = *managers_[0];
      auto task = std::make_unique<Task>();
      task->id = absl::StrCat(agent.id, "-t", incident_tasks_);
      task->stream = "task-" + task->id;
      task->manager = &manager;
      task->title = absl::StrCat("Incident task ", incident_tasks_);
      task->correlation_id = task->id;
      Begin(step, task->stream, task->last_revision);
      const std::string created =
          AddEvent(step, "TaskCreated",
                   Json()
                       .Str("task_id", task->id)
                       .Str("manager_id", manager.id)
                       .Str("title", task->title)
                       .Int("priority", 3)
                       .Done(),
                   task->correlation_id, manager.last_decision);
      task->last_event_id = AddEvent(step, "TaskAssigned",
                                     Json()
                                         .Str("task_id", task->id)
                                         .Str("manager_id", manager.id)
                                         .Str("worker_id", agent.id)
                                         .Done(),
                                     task->correlation_id, created);
      task->last_revision = After(*step, task->last_revision);
      incident_task_ = std::move(task);
      ++incident_tasks_;
      incident_stage_ = Stage::kAssigned;
      return false;
    }
    case Stage::kAssigned:
      IncidentTaskEvent("TaskStarted", Json(), step);
      agent.current = incident_task_.get();
      incident_stage_ = Stage::kStarted;
      return false;
    case Stage::kStarted:
      if (fail) {
        IncidentTaskEvent("TaskFailed",
                          std::move(Json().Str("error", Pick(kErrors, 0))),
                          step);
      } else {
        Json result;
        result.Str("summary", "Done").Int("artifacts", 1);
        Json data;
        data.Obj("result", std::move(result));
        IncidentTaskEvent("TaskCompleted", std::move(data), step);
      }
      agent.current = nullptr;
      incident_stage_ = Stage::kEnded;
      return true;
  }
  return false;
}

void Scenario::Impl::IncidentTaskEvent(std::string_view type, Json data,
                                       Step* step) {
  Task& task = *incident_task_;
  data.Str("task_id", task.id).Str("worker_id", incident_agent_->id);
  Begin(step, task.stream, task.last_revision);
  task.last_event_id = AddEvent(step, type, data.Done(), task.correlation_id,
                                task.last_event_id);
  task.last_revision = After(*step, task.last_revision);
}

void Scenario::Impl::IncidentLlmCall(bool costly, Step* step) {
  Agent& agent = *incident_agent_;
  const int64_t* tokens = costly ? kCostlyTokens : kCheapTokens;
  Begin(step, agent.stream, agent.last_revision);
  AddLlmCallOf(agent, nullptr, costly ? kCostlyModel : kCheapModel, tokens[0],
               tokens[1], "", step);
  agent.last_revision = After(*step, agent.last_revision);
}

void Scenario::Impl::Begin(Step* step, const std::string& stream,
                           std::optional<uint64_t> last_revision) {
  step->request.stream = stream;
  step->request.expected_revision =
      last_revision.has_value()
          ? eventlog::ExpectedRevision::Exact(*last_revision)
          : eventlog::ExpectedRevision::NoStream();
  step->request.idempotency_key = absl::StrCat(ids_, "/", keys_++);
}

std::string Scenario::Impl::AddEvent(Step* step, std::string_view type,
                                     std::string data,
                                     const std::string& correlation_id,
                                     const std::string& causation_id) {
  eventlog::EventData& event = step->request.events.emplace_back();
  event.event_id = NewEventId();
  event.type = std::string(type);
  event.data = std::move(data);
  Json metadata;
  metadata.Str("correlation_id", correlation_id);
  if (!causation_id.empty()) metadata.Str("causation_id", causation_id);
  event.metadata = metadata.Done();
  return event.event_id;
}

uint64_t Scenario::Impl::After(const Step& step, std::optional<uint64_t> last) {
  const uint64_t n = step.request.events.size();
  return last.has_value() ? *last + n : n - 1;
}

// A UUIDv8 (RFC 9562: layout of the application's choosing) from the id
// stream, so that event ids are reproducible.
std::string Scenario::Impl::NewEventId() {
  const uint64_t high = (event_ids_() & ~0xf000ULL) | 0x8000ULL;
  const uint64_t low = (event_ids_() & ~(3ULL << 62)) | (2ULL << 62);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32,
                         (high >> 16) & 0xffff, high & 0xffff, low >> 48,
                         low & 0xffffffffffffULL);
}

absl::StatusOr<std::unique_ptr<Scenario>> Scenario::Create(
    ScenarioOptions options) {
  if (options.managers < 1 || options.managers > kMaxAgents ||
      options.workers < 1 || options.workers > kMaxAgents) {
    return absl::InvalidArgumentError(absl::StrCat(
        "managers and workers must be 1..", kMaxAgents, ", not ",
        options.managers, " and ", options.workers));
  }
  if (!ValidPrefix(options.id_prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id prefix must be 1..", kMaxPrefix,
        " of [A-Za-z0-9_.:-] starting with a letter or digit, not \"",
        options.id_prefix, "\""));
  }
  if (!ValidShare(options.conflict_rate) ||
      !ValidShare(options.task_failure_rate)) {
    return absl::InvalidArgumentError(
        "conflict rate and task failure rate must be 0..1");
  }
  if (options.incident_start > kMaxIncidentSteps ||
      options.incident_steps == 0 ||
      options.incident_steps > kMaxIncidentSteps) {
    return absl::InvalidArgumentError(absl::StrCat(
        "incident start must be 0..", kMaxIncidentSteps, " and its steps 1..",
        kMaxIncidentSteps, ", not ", options.incident_start, " and ",
        options.incident_steps));
  }
  return std::unique_ptr<Scenario>(
      new Scenario(std::make_unique<Impl>(std::move(options))));
}

Scenario::Scenario(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scenario::~Scenario() = default;

Step Scenario::Next() { return impl_->Next(); }
uint64_t Scenario::steps() const { return impl_->steps(); }
std::string Scenario::incident_agent() const { return impl_->incident_agent(); }

std::optional<Step> Scenario::OnConflict(
    const Step& step, std::optional<uint64_t> actual_revision) {
  using Kind = eventlog::ExpectedRevision::Kind;
  const Kind expected = step.request.expected_revision.kind();
  // The stream exists when it should not, or the reverse: those ids belong
  // to someone else, or the stream was never created.
  if (expected == Kind::kNoStream && actual_revision.has_value()) {
    return std::nullopt;
  }
  if (expected == Kind::kExact && !actual_revision.has_value()) {
    return std::nullopt;
  }
  Step retry = step;
  retry.races_previous = false;
  retry.request.expected_revision =
      actual_revision.has_value()
          ? eventlog::ExpectedRevision::Exact(*actual_revision)
          : eventlog::ExpectedRevision::NoStream();
  const std::string& key = step.request.idempotency_key;
  retry.request.idempotency_key = absl::StrCat(
      key.substr(0, key.find('@')), "@",
      actual_revision.has_value() ? absl::StrCat(*actual_revision) : "none");
  return retry;
}

}  // namespace vigil::simulator
