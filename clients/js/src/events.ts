// Typed builders for the domain events of docs/contract.md "Domain events"
// (schemas/events/README.md), so agent code does not write their JSON by
// hand: each takes the fields in camelCase and returns an EventInput whose
// data has the contract's snake_case names. Optional fields left undefined
// are not sent. No Node or gRPC import: usable in a browser.
import type { EventInput } from './types.js';

/** Optional parts of the event besides its fields. */
export interface EventExtras {
  eventId?: string;
  /** `correlation_id`, `causation_id`, `trace_id`, free keys. */
  metadata?: Record<string, unknown>;
  /** Fields beyond the contract's (kept by the server). */
  extra?: Record<string, unknown>;
}

type FieldNames<T> = { [K in keyof Required<T>]: string };

function domainEvent<T extends object>(type: string, names: FieldNames<T>) {
  return (fields: T, extras: EventExtras = {}): EventInput => {
    const data: Record<string, unknown> = { ...extras.extra };
    for (const [key, name] of Object.entries(names) as Array<[keyof T, string]>) {
      const value = fields[key];
      if (value !== undefined) data[name] = value;
    }
    const event: EventInput = { type, data };
    if (extras.eventId !== undefined) event.eventId = extras.eventId;
    if (extras.metadata !== undefined) event.metadata = extras.metadata;
    return event;
  };
}

/** The stream of an agent's events: `agent-<agentId>`. */
export const agentStream = (agentId: string): string => `agent-${agentId}`;
/** The stream of a task's events: `task-<taskId>`. */
export const taskStream = (taskId: string): string => `task-${taskId}`;

export interface AgentRegistered { agentId: string; role: 'manager' | 'worker'; name: string; model?: string }
export interface AgentHeartbeat { agentId: string; cpuPct: number; memBytes: number; queueDepth: number }
export interface AgentStopped { agentId: string; reason: string }
export interface TaskCreated { taskId: string; managerId: string; title: string; priority?: number; parentTaskId?: string }
export interface TaskAssigned { taskId: string; managerId: string; workerId: string }
export interface TaskStarted { taskId: string; workerId: string }
export interface TaskProgress { taskId: string; workerId: string; percent: number; note?: string }
export interface TaskCompleted { taskId: string; workerId: string; result?: unknown }
export interface TaskFailed { taskId: string; workerId: string; error: string }
export interface MessageSent { fromAgent: string; toAgent: string; taskId?: string; kind: string; summary?: string }
export interface ToolCalled { agentId: string; taskId?: string; tool: string; durationMs: number; ok: boolean }
export interface LlmCallCompleted {
  agentId: string; taskId?: string; model: string; inputTokens: number; outputTokens: number;
  costUsd: number; latencyMs: number;
}

export const agentRegistered = domainEvent<AgentRegistered>('AgentRegistered',
  { agentId: 'agent_id', role: 'role', name: 'name', model: 'model' });
export const agentHeartbeat = domainEvent<AgentHeartbeat>('AgentHeartbeat',
  { agentId: 'agent_id', cpuPct: 'cpu_pct', memBytes: 'mem_bytes', queueDepth: 'queue_depth' });
export const agentStopped = domainEvent<AgentStopped>('AgentStopped', { agentId: 'agent_id', reason: 'reason' });
export const taskCreated = domainEvent<TaskCreated>('TaskCreated', {
  taskId: 'task_id', managerId: 'manager_id', title: 'title', priority: 'priority', parentTaskId: 'parent_task_id',
});
export const taskAssigned = domainEvent<TaskAssigned>('TaskAssigned',
  { taskId: 'task_id', managerId: 'manager_id', workerId: 'worker_id' });
export const taskStarted = domainEvent<TaskStarted>('TaskStarted', { taskId: 'task_id', workerId: 'worker_id' });
export const taskProgress = domainEvent<TaskProgress>('TaskProgress',
  { taskId: 'task_id', workerId: 'worker_id', percent: 'percent', note: 'note' });
export const taskCompleted = domainEvent<TaskCompleted>('TaskCompleted',
  { taskId: 'task_id', workerId: 'worker_id', result: 'result' });
export const taskFailed = domainEvent<TaskFailed>('TaskFailed', { taskId: 'task_id', workerId: 'worker_id', error: 'error' });
export const messageSent = domainEvent<MessageSent>('MessageSent', {
  fromAgent: 'from_agent', toAgent: 'to_agent', taskId: 'task_id', kind: 'kind', summary: 'summary',
});
export const toolCalled = domainEvent<ToolCalled>('ToolCalled',
  { agentId: 'agent_id', taskId: 'task_id', tool: 'tool', durationMs: 'duration_ms', ok: 'ok' });
export const llmCallCompleted = domainEvent<LlmCallCompleted>('LlmCallCompleted', {
  agentId: 'agent_id', taskId: 'task_id', model: 'model', inputTokens: 'input_tokens', outputTokens: 'output_tokens',
  costUsd: 'cost_usd', latencyMs: 'latency_ms',
});
