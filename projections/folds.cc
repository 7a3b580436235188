#include "projections/folds.h"

#include <algorithm>
#include <string>
#include <vector>

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
  pairs_.insert_or_assign(key, counts);
}

void TaskFold::SeedMessages(const AgentPair& key,
                            const MessageCounts& counts) {
  messages_.insert_or_assign(key, counts);
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
  return row;
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
      break;
  }
  return kNone;
}

void MetricsFold::SeedAgentMinute(const MinuteKey& key,
                                  const AgentMinute& minute) {
  agent_minutes_.insert_or_assign(key, minute);
}

void MetricsFold::SeedUsageMinute(const MinuteKey& key,
                                  const UsageMinute& minute) {
  usage_minutes_.insert_or_assign(key, minute);
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

}  // namespace vigil::projections
