"""Typed constructors for the domain events the server knows
(schemas/events/README.md), so agent code never writes their JSON by hand.

Each returns an EventData ready for `append`; optional fields left None are
left out. Agent events go to `agent_stream(agent_id)`, task events to
`task_stream(task_id)`; messages, tool calls and model calls to the task's
stream when they belong to a task, else to the agent's. `metadata` is the
event's metadata object (`correlation_id`, `causation_id`, `trace_id`, free
keys). The server checks required fields and JSON types on append.
"""

from __future__ import annotations

from typing import Literal

from vigil_client.models import EventData, Json

Role = Literal["manager", "worker"]
Metadata = dict[str, Json] | None


def agent_stream(agent_id: str) -> str:
    return f"agent-{agent_id}"


def task_stream(task_id: str) -> str:
    return f"task-{task_id}"


def _event(type: str, metadata: Metadata, **fields: Json) -> EventData:
    return EventData(type=type, data={k: v for k, v in fields.items() if v is not None},
                     metadata=metadata)


def agent_registered(agent_id: str, *, role: Role, name: str, model: str | None = None,
                     metadata: Metadata = None) -> EventData:
    if role not in ("manager", "worker"):
        raise ValueError(f"role must be 'manager' or 'worker', not {role!r}")
    return _event("AgentRegistered", metadata, agent_id=agent_id, role=role, name=name,
                  model=model)


def agent_heartbeat(agent_id: str, *, cpu_pct: float, mem_bytes: int, queue_depth: int,
                    metadata: Metadata = None) -> EventData:
    return _event("AgentHeartbeat", metadata, agent_id=agent_id, cpu_pct=cpu_pct,
                  mem_bytes=mem_bytes, queue_depth=queue_depth)


def agent_stopped(agent_id: str, *, reason: str, metadata: Metadata = None) -> EventData:
    return _event("AgentStopped", metadata, agent_id=agent_id, reason=reason)


def task_created(task_id: str, *, manager_id: str, title: str, priority: float | None = None,
                 parent_task_id: str | None = None, metadata: Metadata = None) -> EventData:
    return _event("TaskCreated", metadata, task_id=task_id, manager_id=manager_id, title=title,
                  priority=priority, parent_task_id=parent_task_id)


def task_assigned(task_id: str, *, manager_id: str, worker_id: str,
                  metadata: Metadata = None) -> EventData:
    return _event("TaskAssigned", metadata, task_id=task_id, manager_id=manager_id,
                  worker_id=worker_id)


def task_started(task_id: str, *, worker_id: str, metadata: Metadata = None) -> EventData:
    return _event("TaskStarted", metadata, task_id=task_id, worker_id=worker_id)


def task_progress(task_id: str, *, worker_id: str, percent: float, note: str | None = None,
                  metadata: Metadata = None) -> EventData:
    return _event("TaskProgress", metadata, task_id=task_id, worker_id=worker_id,
                  percent=percent, note=note)


def task_completed(task_id: str, *, worker_id: str, result: Json = None,
                   metadata: Metadata = None) -> EventData:
    return _event("TaskCompleted", metadata, task_id=task_id, worker_id=worker_id, result=result)


def task_failed(task_id: str, *, worker_id: str, error: str,
                metadata: Metadata = None) -> EventData:
    return _event("TaskFailed", metadata, task_id=task_id, worker_id=worker_id, error=error)


def message_sent(*, from_agent: str, to_agent: str, kind: str, task_id: str | None = None,
                 summary: str | None = None, metadata: Metadata = None) -> EventData:
    return _event("MessageSent", metadata, from_agent=from_agent, to_agent=to_agent,
                  task_id=task_id, kind=kind, summary=summary)


def tool_called(agent_id: str, *, tool: str, duration_ms: float, ok: bool,
                task_id: str | None = None, metadata: Metadata = None) -> EventData:
    return _event("ToolCalled", metadata, agent_id=agent_id, task_id=task_id, tool=tool,
                  duration_ms=duration_ms, ok=ok)


def llm_call_completed(agent_id: str, *, model: str, input_tokens: int, output_tokens: int,
                       cost_usd: float, latency_ms: float, task_id: str | None = None,
                       metadata: Metadata = None) -> EventData:
    return _event("LlmCallCompleted", metadata, agent_id=agent_id, task_id=task_id, model=model,
                  input_tokens=input_tokens, output_tokens=output_tokens, cost_usd=cost_usd,
                  latency_ms=latency_ms)
