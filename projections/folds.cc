#include "projections/folds.h"

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace vigil::projections {

// ---------------------------------------------------------------- agents

void AgentFold::Keys(const DomainEvent& event, std::vector<std::string>* ids) {
  switch (event.type) {
    case DomainType::kAgentRegistered:
    case DomainType::kAgentHeartbeat:
    case DomainType::kAgentStopped:
      ids->push_back(event.agent_id);
      break;
    case DomainType::kTaskStarted:
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed:
      ids->push_back(event.worker_id);
      break;
    default:
      break;
  }
}

void AgentFold::Seed(AgentRow row) {
  std::string id = row.agent_id;
  rows_.insert_or_assign(std::move(id), std::move(row));
}

AgentRow& AgentFold::Row(const std::string& agent_id,
                         const DomainEvent& event) {
  auto [it, inserted] = rows_.try_emplace(agent_id);
  AgentRow& row = it->second;
  if (inserted) {
    row.agent_id = agent_id;
    row.status = "idle";
  }
  row.updated_time_us = event.time_us;
  row.last_position = event.position;
  dirty_.insert(agent_id);
  return row;
}

void AgentFold::Apply(const DomainEvent& event) {
  switch (event.type) {
    case DomainType::kAgentRegistered: {
      AgentRow& row = Row(event.agent_id, event);
      row.role = event.role;
      row.name = event.name;
      row.model = event.model;
      if (row.registered_time_us == 0) row.registered_time_us = event.time_us;
      // Registering again revives a stopped agent.
      row.status = row.current_task_id.empty() ? "idle" : "busy";
      row.stopped_reason.clear();
      break;
    }
    case DomainType::kAgentHeartbeat: {
      AgentRow& row = Row(event.agent_id, event);
      row.last_heartbeat_time_us = event.time_us;
      row.cpu_pct = event.cpu_pct;
      row.mem_bytes = event.mem_bytes;
      row.queue_depth = event.queue_depth;
      break;
    }
    case DomainType::kAgentStopped: {
      AgentRow& row = Row(event.agent_id, event);
      row.status = "stopped";
      row.stopped_reason = event.reason;
      row.current_task_id.clear();
      break;
    }
    case DomainType::kTaskStarted: {
      AgentRow& row = Row(event.worker_id, event);
      row.current_task_id = event.task_id;
      if (row.status != "stopped") row.status = "busy";
      break;
    }
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed: {
      AgentRow& row = Row(event.worker_id, event);
      if (row.current_task_id == event.task_id) {
        row.current_task_id.clear();
        if (row.status != "stopped") row.status = "idle";
      }
      break;
    }
    default:
      break;
  }
}

void AgentFold::SpanAgent(const std::string& agent_id, const std::string& name,
                          const std::string& model, int64_t start_time_us,
                          const DomainEvent& event) {
  AgentRow& row = Row(agent_id, event);
  if (row.role.empty()) row.role = "worker";
  // The greatest value, the earliest time: the same row in any order.
  if (name > row.name) row.name = name;
  if (model > row.model) row.model = model;
  if (row.registered_time_us == 0 || start_time_us < row.registered_time_us) {
    row.registered_time_us = start_time_us;
  }
}

void AgentFold::SpanManager(const std::string& agent_id,
                            const DomainEvent& event) {
  Row(agent_id, event).role = "manager";
}

// ---------------------------------------------------------------- tasks

void TaskFold::Keys(const DomainEvent& event, std::vector<std::string>* ids) {
  switch (event.type) {
    case DomainType::kTaskCreated:
    case DomainType::kTaskAssigned:
    case DomainType::kTaskStarted:
    case DomainType::kTaskProgress:
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed:
      ids->push_back(event.task_id);
      break;
    default:
      break;
  }
}

void TaskFold::Seed(TaskRow row) {
  std::string id = row.task_id;
  rows_.insert_or_assign(std::move(id), std::move(row));
}

void TaskFold::SeedPair(const AgentPair& key, const PairCounts& counts) {
  // Seeds come in key order (a snapshot's entries, its page rows): with the
  // end as the hint each is placed without a search; a wrong hint only
  // costs the search.
  pairs_.insert_or_assign(pairs_.end(), key, counts);
}

void TaskFold::SeedMessages(const AgentPair& key,
                            const MessageCounts& counts) {
  messages_.insert_or_assign(messages_.end(), key, counts);  // as SeedPair
}

TaskRow& TaskFold::Row(const std::string& task_id, const DomainEvent& event) {
  auto [it, inserted] = rows_.try_emplace(task_id);
  TaskRow& row = it->second;
  if (inserted) {
    row.task_id = task_id;
    row.first_position = event.position;
    row.status = "created";
  }
  row.updated_time_us = event.time_us;
  row.last_position = event.position;
  dirty_.insert(task_id);
  removed_.erase(task_id);
  return row;
}

void TaskFold::SpanRun(const TaskRow& run, const DomainEvent& event) {
  TaskRow& row = Row(run.task_id, event);
  row.manager_id = run.manager_id;
  row.worker_id = run.worker_id;
  row.title = run.title;
  row.has_priority = false;
  row.priority = 0;
  row.parent_task_id = run.parent_task_id;
  row.status = run.status;
  row.created_time_us = run.created_time_us;
  row.assigned_time_us = run.assigned_time_us;
  row.started_time_us = run.started_time_us;
  row.finished_time_us = run.finished_time_us;
  row.progress = run.progress;
  row.progress_note.clear();
  row.result.clear();
  row.error = run.error;
}

void TaskFold::SpanPlaceholder(const std::string& task_id,
                               int64_t start_time_us,
                               const DomainEvent& event) {
  // A task of that id that is not running is no placeholder (the
  // dashboard's port, which may not hold every span of a trace, relies on
  // this; here it only guards against a task of native events).
  if (auto it = rows_.find(task_id);
      it != rows_.end() && it->second.status != "running") {
    return;
  }
  TaskRow& row = Row(task_id, event);
  row.status = "running";
  if (row.started_time_us == 0 || start_time_us < row.started_time_us) {
    row.started_time_us = start_time_us;
  }
}

void TaskFold::Remove(const std::string& task_id) {
  rows_.erase(task_id);
  dirty_.erase(task_id);
  removed_.insert(task_id);
}

void TaskFold::SpanPair(const std::string& manager, const std::string& worker,
                        bool completed, int64_t duration_us) {
  AgentPair key{manager, worker};
  dirty_pairs_.insert(key);
  PairCounts& pair = pairs_[std::move(key)];
  ++pair.assigned;
  if (completed) {
    ++pair.completed;
    pair.complete_time_sum_us += std::max<int64_t>(0, duration_us);
    ++pair.complete_time_count;
  } else {
    ++pair.failed;
  }
}

void TaskFold::Finish(TaskRow& task, const DomainEvent& event,
                      bool completed) {
  task.worker_id = event.worker_id;
  task.finished_time_us = event.time_us;
  if (task.manager_id.empty()) return;  // no pair to credit
  AgentPair key{task.manager_id, task.worker_id};
  dirty_pairs_.insert(key);
  PairCounts& pair = pairs_[std::move(key)];
  if (completed) {
    ++pair.completed;
    if (task.assigned_time_us > 0) {
      pair.complete_time_sum_us +=
          std::max<int64_t>(0, event.time_us - task.assigned_time_us);
      ++pair.complete_time_count;
    }
  } else {
    ++pair.failed;
  }
}

void TaskFold::Apply(const DomainEvent& event) {
  switch (event.type) {
    case DomainType::kTaskCreated: {
      TaskRow& task = Row(event.task_id, event);
      task.manager_id = event.manager_id;
      task.title = event.title;
      task.has_priority = event.has_priority;
      task.priority = event.priority;
      task.parent_task_id = event.parent_task_id;
      task.created_time_us = event.time_us;
      break;
    }
    case DomainType::kTaskAssigned: {
      TaskRow& task = Row(event.task_id, event);
      task.manager_id = event.manager_id;
      task.worker_id = event.worker_id;
      task.assigned_time_us = event.time_us;
      task.status = "assigned";
      dirty_pairs_.insert({event.manager_id, event.worker_id});
      ++pairs_[{event.manager_id, event.worker_id}].assigned;
      break;
    }
    case DomainType::kTaskStarted: {
      TaskRow& task = Row(event.task_id, event);
      task.worker_id = event.worker_id;
      task.started_time_us = event.time_us;
      task.status = "running";
      break;
    }
    case DomainType::kTaskProgress: {
      TaskRow& task = Row(event.task_id, event);
      task.worker_id = event.worker_id;
      task.progress = event.percent;
      task.progress_note = event.note;
      if (task.status == "created" || task.status == "assigned") {
        task.status = "running";
      }
      break;
    }
    case DomainType::kTaskCompleted: {
      TaskRow& task = Row(event.task_id, event);
      task.status = "completed";
      task.progress = 100;
      task.result = event.result;
      task.error.clear();
      Finish(task, event, /*completed=*/true);
      break;
    }
    case DomainType::kTaskFailed: {
      TaskRow& task = Row(event.task_id, event);
      task.status = "failed";
      task.error = event.error;
      Finish(task, event, /*completed=*/false);
      break;
    }
    case DomainType::kMessageSent: {
      dirty_messages_.insert({event.from_agent, event.to_agent});
      MessageCounts& counts = messages_[{event.from_agent, event.to_agent}];
      ++counts.messages;
      if (event.position > counts.last_position) {
        counts.last_kind = event.kind;
        counts.last_summary = event.summary;
        counts.last_time_us = event.time_us;
        counts.last_position = event.position;
      }
      break;
    }
    default:
      break;
  }
}

// ---------------------------------------------------------------- metrics

const std::string& ActingAgent(const DomainEvent& event) {
  static const std::string kNone;
  switch (event.type) {
    case DomainType::kAgentRegistered:
    case DomainType::kAgentHeartbeat:
    case DomainType::kAgentStopped:
    case DomainType::kToolCalled:
    case DomainType::kLlmCallCompleted:
      return event.agent_id;
    case DomainType::kTaskCreated:
    case DomainType::kTaskAssigned:
      return event.manager_id;
    case DomainType::kTaskStarted:
    case DomainType::kTaskProgress:
    case DomainType::kTaskCompleted:
    case DomainType::kTaskFailed:
      return event.worker_id;
    case DomainType::kMessageSent:
      return event.from_agent;
    case DomainType::kOther:
    case DomainType::kSpanRecorded:  // TraceFold settles who it is about
      break;
  }
  return kNone;
}

void MetricsFold::SeedAgentMinute(const MinuteKey& key,
                                  const AgentMinute& minute) {
  // In key order, as TaskFold::SeedPair's.
  agent_minutes_.insert_or_assign(agent_minutes_.end(), key, minute);
}

void MetricsFold::SeedUsageMinute(const MinuteKey& key,
                                  const UsageMinute& minute) {
  usage_minutes_.insert_or_assign(usage_minutes_.end(), key, minute);
}

void MetricsFold::Apply(const DomainEvent& event) {
  const std::string& agent = ActingAgent(event);
  if (agent.empty()) return;
  const int64_t minute = MinuteOf(event.time_us);
  dirty_agent_minutes_.insert({agent, minute});
  AgentMinute& m = agent_minutes_[{agent, minute}];
  ++m.events;
  switch (event.type) {
    case DomainType::kAgentHeartbeat:
      ++m.heartbeats;
      m.cpu_pct_sum += event.cpu_pct;
      m.mem_bytes_sum += static_cast<double>(event.mem_bytes);
      m.queue_depth_sum += static_cast<double>(event.queue_depth);
      break;
    case DomainType::kLlmCallCompleted: {
      ++m.llm_calls;
      m.input_tokens += event.input_tokens;
      m.output_tokens += event.output_tokens;
      m.cost_usd += event.cost_usd;
      dirty_usage_minutes_.insert({event.model, minute});
      UsageMinute& u = usage_minutes_[{event.model, minute}];
      ++u.calls;
      u.input_tokens += event.input_tokens;
      u.output_tokens += event.output_tokens;
      u.cost_usd += event.cost_usd;
      u.latency_ms_sum += event.latency_ms;
      break;
    }
    case DomainType::kToolCalled:
      ++m.tool_calls;
      if (!event.ok) ++m.tool_failures;
      break;
    case DomainType::kTaskCompleted:
      ++m.tasks_completed;
      break;
    case DomainType::kTaskFailed:
      ++m.tasks_failed;
      break;
    default:
      break;
  }
}

void MetricsFold::SpanRun(const std::string& agent_id, int64_t minute,
                          bool completed) {
  dirty_agent_minutes_.insert({agent_id, minute});
  AgentMinute& m = agent_minutes_[{agent_id, minute}];
  ++m.events;
  ++(completed ? m.tasks_completed : m.tasks_failed);
}

void MetricsFold::SpanTool(const std::string& agent_id, int64_t minute,
                           bool ok) {
  dirty_agent_minutes_.insert({agent_id, minute});
  AgentMinute& m = agent_minutes_[{agent_id, minute}];
  ++m.events;
  ++m.tool_calls;
  if (!ok) ++m.tool_failures;
}

void MetricsFold::SpanModel(const std::string& agent_id, int64_t minute,
                            int64_t input_tokens, int64_t output_tokens,
                            double cost_usd) {
  dirty_agent_minutes_.insert({agent_id, minute});
  AgentMinute& m = agent_minutes_[{agent_id, minute}];
  ++m.events;
  ++m.llm_calls;
  m.input_tokens += input_tokens;
  m.output_tokens += output_tokens;
  m.cost_usd += cost_usd;
}

void MetricsFold::SpanUsage(const std::string& model, int64_t minute,
                            int64_t input_tokens, int64_t output_tokens,
                            double cost_usd, double latency_ms) {
  dirty_usage_minutes_.insert({model, minute});
  UsageMinute& u = usage_minutes_[{model, minute}];
  ++u.calls;
  u.input_tokens += input_tokens;
  u.output_tokens += output_tokens;
  u.cost_usd += cost_usd;
  u.latency_ms_sum += latency_ms;
}

// ---------------------------------------------------------------- traces

namespace {

// Ancestors a walk up a trace visits at most: a longer chain (or a cycle
// of parent ids) ends as if it reached a root.
constexpr int kMaxSpanDepth = 256;

bool IsAgentRun(const SpanRow& s) {
  return s.operation == "invoke_agent" || s.operation == "create_agent";
}
bool IsRun(const SpanRow& s) {
  return IsAgentRun(s) || s.operation == "invoke_workflow";
}
bool IsToolCall(const SpanRow& s) { return s.operation == "execute_tool"; }
bool IsModelCall(const SpanRow& s) {
  return s.operation == "chat" || s.operation == "text_completion" ||
         s.operation == "generate_content" || s.operation == "embeddings";
}
// Spans whose facts depend on the agent of the run they are in.
bool NeedsContext(const SpanRow& s) {
  return IsRun(s) || IsToolCall(s) || IsModelCall(s);
}
bool Failed(const SpanRow& s) { return s.status == "error"; }

SpanRow SpanOf(const DomainEvent& e) {
  SpanRow row;
  row.trace_id = e.trace_id;
  row.span_id = e.span_id;
  row.parent_span_id = e.parent_span_id;
  row.name = e.name;
  row.kind = e.kind;
  row.start_time_us = e.start_time_us;
  row.end_time_us = e.end_time_us;
  row.duration_ms = e.duration_ms;
  row.status = e.status;
  row.error = e.error;
  row.operation = e.operation;
  row.agent_id = e.agent_id;
  row.agent_name = e.agent_name;
  row.caller_agent_id = e.caller_agent_id;
  row.tool = e.tool;
  row.tool_call_id = e.tool_call_id;
  row.provider = e.provider;
  row.model = e.model;
  row.has_input_tokens = e.has_input_tokens;
  row.input_tokens = e.input_tokens;
  row.has_output_tokens = e.has_output_tokens;
  row.output_tokens = e.output_tokens;
  row.has_cached_tokens = e.has_cached_tokens;
  row.cached_tokens = e.cached_tokens;
  row.cost_usd = e.cost_usd;
  row.attributes = e.attributes;
  row.events = e.span_events;
  row.links = e.links;
  row.resource = e.resource;
  row.scope = e.scope;
  row.position = e.position;
  row.recorded_time_us = e.time_us;
  return row;
}

}  // namespace

std::string RunTaskId(std::string_view span_id) {
  return absl::StrCat("run-", absl::string_view(span_id.data(), span_id.size()));
}

// Where a walk up a trace ends: at a run span, at a span that has not
// arrived (`missing`), or past the root.
struct TraceFold::Context {
  enum State { kRoot, kMissing, kRun } state = kRoot;
  const SpanRow* run = nullptr;
  std::string missing;
};

struct TraceFold::Sinks {
  AgentFold* agents;
  TaskFold* tasks;
  MetricsFold* metrics;
  const DomainEvent& event;
};

void TraceFold::Keys(const DomainEvent& event, std::vector<std::string>* ids) {
  if (event.type == DomainType::kSpanRecorded) ids->push_back(event.trace_id);
}

void TraceFold::Seed(SpanRow row) {
  Trace& trace = traces_[row.trace_id];
  trace.indexed = false;
  trace.touched = ++touch_;
  SpanKey key{row.trace_id, row.span_id};
  rows_.insert_or_assign(std::move(key), std::move(row));
}

const SpanRow* TraceFold::Find(const std::string& trace_id,
                               const std::string& span_id) const {
  auto it = rows_.find(SpanKey{trace_id, span_id});
  return it == rows_.end() ? nullptr : &it->second;
}

// The nearest run above `span` (any kind of run).
TraceFold::Context TraceFold::Up(const SpanRow& span) const {
  Context c;
  const SpanRow* at = &span;
  for (int depth = 0; depth < kMaxSpanDepth && !at->parent_span_id.empty();
       ++depth) {
    const SpanRow* parent = Find(span.trace_id, at->parent_span_id);
    if (parent == nullptr) {
      c.state = Context::kMissing;
      c.missing = at->parent_span_id;
      return c;
    }
    if (IsRun(*parent)) {
      c.state = Context::kRun;
      c.run = parent;
      return c;
    }
    at = parent;
  }
  return c;
}

// The nearest agent run above `span`: workflows are passed through.
TraceFold::Context TraceFold::AgentContext(const SpanRow& span) const {
  const SpanRow* at = &span;
  for (int depth = 0; depth < kMaxSpanDepth; ++depth) {
    Context c = Up(*at);
    if (c.state != Context::kRun || IsAgentRun(*c.run)) return c;
    at = c.run;
  }
  return {};
}

void TraceFold::Index(const std::string& trace_id, Trace& trace) {
  trace.waiting.clear();
  for (auto it = rows_.lower_bound(SpanKey{trace_id, ""});
       it != rows_.end() && it->first.first == trace_id; ++it) {
    if (!NeedsContext(it->second)) continue;
    Context c = AgentContext(it->second);
    if (c.state == Context::kMissing) {
      trace.waiting[c.missing].push_back(it->second.span_id);
    }
  }
  trace.indexed = true;
}

// Passes what `span` settles, given the spans there are now; a span whose
// context is not known yet waits on the first missing one.
void TraceFold::Settle(const SpanRow& span, Trace& trace, const Sinks& sinks) {
  if (!NeedsContext(span)) return;
  const Context agent = AgentContext(span);
  if (agent.state == Context::kMissing) {
    trace.waiting[agent.missing].push_back(span.span_id);
    if (sinks.tasks != nullptr) {
      sinks.tasks->SpanPlaceholder(RunTaskId(agent.missing),
                                   span.start_time_us, sinks.event);
    }
  }
  const bool settled = agent.state != Context::kMissing;
  // The agent of the run `span` is in: its worker, or its manager.
  const std::string& above =
      agent.state == Context::kRun ? agent.run->agent_id : span.caller_agent_id;
  if (IsRun(span)) {
    const std::string manager = settled ? above : std::string();
    if (sinks.tasks != nullptr) {
      TaskRow run;
      run.task_id = RunTaskId(span.span_id);
      const Context up = Up(span);
      if (up.state == Context::kRun) run.parent_task_id = RunTaskId(up.run->span_id);
      if (up.state == Context::kMissing) run.parent_task_id = RunTaskId(up.missing);
      run.manager_id = manager;
      if (IsAgentRun(span)) run.worker_id = span.agent_id;
      run.title = span.agent_name.empty() ? span.name : span.agent_name;
      run.status = Failed(span) ? "failed" : "completed";
      run.created_time_us = span.start_time_us;
      run.assigned_time_us = manager.empty() ? 0 : span.start_time_us;
      run.started_time_us = span.start_time_us;
      run.finished_time_us = span.end_time_us;
      run.progress = Failed(span) ? 0 : 100;
      if (Failed(span)) run.error = span.error.empty() ? "error" : span.error;
      sinks.tasks->SpanRun(run, sinks.event);
    }
    if (settled && IsAgentRun(span) && !manager.empty() &&
        !span.agent_id.empty()) {
      if (sinks.tasks != nullptr) {
        sinks.tasks->SpanPair(manager, span.agent_id, !Failed(span),
                              span.end_time_us - span.start_time_us);
      }
      if (sinks.agents != nullptr) {
        sinks.agents->SpanManager(manager, sinks.event);
      }
    }
    return;
  }
  // A tool or model call: a fact about the run's agent, if it has one.
  if (!settled || agent.state != Context::kRun || above.empty() ||
      sinks.metrics == nullptr) {
    return;
  }
  const int64_t minute = MinuteOf(span.end_time_us);
  if (IsToolCall(span)) {
    sinks.metrics->SpanTool(above, minute, !Failed(span));
  } else {
    sinks.metrics->SpanModel(above, minute, span.input_tokens,
                             span.output_tokens, span.cost_usd);
  }
}

void TraceFold::Apply(const DomainEvent& event, AgentFold* agents,
                      TaskFold* tasks, MetricsFold* metrics) {
  if (event.type != DomainType::kSpanRecorded) return;
  Trace& trace = traces_[event.trace_id];
  trace.touched = ++touch_;
  if (!trace.indexed) Index(event.trace_id, trace);
  SpanKey key{event.trace_id, event.span_id};
  if (rows_.contains(key)) return;  // recorded again: folded once
  dirty_.insert(key);
  const SpanRow& span =
      rows_.insert_or_assign(std::move(key), SpanOf(event)).first->second;
  const Sinks sinks{agents, tasks, metrics, event};

  // What the span says by itself.
  if (IsAgentRun(span) && !span.agent_id.empty()) {
    if (agents != nullptr) {
      agents->SpanAgent(span.agent_id,
                        span.agent_name.empty() ? span.agent_id
                                                : span.agent_name,
                        span.model, span.start_time_us, event);
    }
    if (metrics != nullptr) {
      metrics->SpanRun(span.agent_id, MinuteOf(span.end_time_us),
                       !Failed(span));
    }
  }
  if (IsModelCall(span) && metrics != nullptr) {
    metrics->SpanUsage(span.model, MinuteOf(span.end_time_us),
                       span.input_tokens, span.output_tokens, span.cost_usd,
                       span.duration_ms);
  }

  // The spans that waited for this one.
  std::vector<std::string> waiters;
  if (auto it = trace.waiting.find(span.span_id); it != trace.waiting.end()) {
    waiters = std::move(it->second);
    trace.waiting.erase(it);
  }
  if (!waiters.empty() && !IsRun(span) && tasks != nullptr) {
    tasks->Remove(RunTaskId(span.span_id));  // no run after all
  }
  Settle(span, trace, sinks);
  for (const std::string& id : waiters) {
    Settle(*Find(span.trace_id, id), trace, sinks);
  }
}

size_t TraceFold::EvictTraces(size_t max_spans) {
  if (rows_.size() <= max_spans) return 0;
  std::vector<std::pair<uint64_t, const std::string*>> order;
  order.reserve(traces_.size());
  for (const auto& [id, trace] : traces_) order.emplace_back(trace.touched, &id);
  std::sort(order.begin(), order.end());
  const size_t target = max_spans - max_spans / 4;
  std::vector<std::string> forget;
  size_t left = rows_.size();
  for (const auto& [touched, id] : order) {
    if (left <= target) break;
    auto first = rows_.lower_bound(SpanKey{*id, ""});
    size_t spans = 0;
    bool dirty = false;
    for (auto it = first; it != rows_.end() && it->first.first == *id; ++it) {
      ++spans;
      dirty = dirty || dirty_.contains(it->first);
    }
    if (dirty) continue;
    left -= spans;
    forget.push_back(*id);
  }
  for (const std::string& id : forget) {
    auto first = rows_.lower_bound(SpanKey{id, ""});
    auto last = first;
    while (last != rows_.end() && last->first.first == id) ++last;
    rows_.erase(first, last);
    traces_.erase(id);
  }
  return forget.size();
}

void TraceFold::VisitTouched(
    const std::vector<DomainEvent>& events,
    const std::function<void(const std::string& span_id,
                             const std::string& parent_span_id,
                             const std::string& agent_id,
                             const std::string& caller_agent_id)>& visit)
    const {
  absl::btree_set<std::string> traces;
  for (const DomainEvent& e : events) {
    if (e.type != DomainType::kSpanRecorded) continue;
    traces.insert(e.trace_id);
    visit(e.span_id, e.parent_span_id, e.agent_id, e.caller_agent_id);
  }
  for (const std::string& trace_id : traces) {
    for (auto it = rows_.lower_bound(SpanKey{trace_id, ""});
         it != rows_.end() && it->first.first == trace_id; ++it) {
      const SpanRow& s = it->second;
      visit(s.span_id, s.parent_span_id, s.agent_id, s.caller_agent_id);
    }
  }
}

void TraceFold::TaskKeys(const std::vector<DomainEvent>& events,
                         std::vector<std::string>* ids) const {
  VisitTouched(events, [ids](const std::string& span, const std::string& parent,
                             const std::string&, const std::string&) {
    ids->push_back(RunTaskId(span));
    if (!parent.empty()) ids->push_back(RunTaskId(parent));
  });
}

void TraceFold::AgentKeys(const std::vector<DomainEvent>& events,
                          std::vector<std::string>* ids) const {
  VisitTouched(events, [ids](const std::string&, const std::string&,
                             const std::string& agent,
                             const std::string& caller) {
    ids->push_back(agent);
    ids->push_back(caller);
  });
}

}  // namespace vigil::projections
