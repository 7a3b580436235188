// The read-model folds of projections/folds.cc (AgentFold, TaskFold's tasks
// and manager → worker pairs, MetricsFold's LLM usage per model and minute),
// ported to TypeScript so that live events change the views exactly as the
// server's projections change the rows REST returns. Keep the two in step:
// a change to folds.cc is a change here, and tests/fixtures/folds/*.json
// ("given these events, expect these rows") hold both to the same rows
// (test/fold_fixtures.test.ts here, tests/projections/fold_fixtures_test.cc
// there).
//
// Deduplication: the REST snapshot is taken at (or after) each projection's
// checkpoint, so an event at or below a projection's gate is already in it.
// Entity rows also carry last_position, and an event at or below a row's
// last_position is skipped, which makes rows exact even when the snapshot
// ran ahead of the checkpoint read before it. Counters (pairs, usage) have
// no such guard beyond the gate; pair increments are also skipped whenever
// their task row has seen the event.

import type { AgentRow, PairRow, RecordedEvent, TaskRow, UsagePoint } from './types';

export const MINUTE_US = 60_000_000;

export interface FoldState {
  agents: Record<string, AgentRow>;
  tasks: Record<string, TaskRow>;
  pairs: Record<string, PairRow>; // key pairKey(manager, worker)
  usage: Record<string, UsagePoint>; // key usageKey(model, minute)
}

// Per projection: events with position <= gate are already in the snapshot.
export interface FoldGates {
  agents: number;
  tasks: number;
  metrics: number;
}

export const emptyFoldState = (): FoldState => ({ agents: {}, tasks: {}, pairs: {}, usage: {} });

export const pairKey = (manager: string, worker: string) => `${manager}\u0000${worker}`;
export const usageKey = (model: string, minute: number) => `${model}\u0000${minute}`;
export const minuteOf = (timeUs: number) => timeUs - (((timeUs % MINUTE_US) + MINUTE_US) % MINUTE_US);

// The fields folds read, as projections/domain_event.h names them.
function str(d: Record<string, unknown>, k: string): string {
  const v = d[k];
  return typeof v === 'string' ? v : '';
}
function num(d: Record<string, unknown>, k: string): number {
  const v = d[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function newAgent(id: string): AgentRow {
  return {
    agent_id: id, role: null, name: null, model: null, status: 'idle', stopped_reason: null,
    current_task_id: null, registered_time_us: null, last_heartbeat_time_us: null, cpu_pct: 0,
    mem_bytes: 0, queue_depth: 0, updated_time_us: 0, last_position: 0,
  };
}

function newTask(id: string, position: number): TaskRow {
  return {
    task_id: id, first_position: position, manager_id: null, worker_id: null, title: null,
    priority: null, parent_task_id: null, status: 'created', created_time_us: null,
    assigned_time_us: null, started_time_us: null, finished_time_us: null, progress: 0,
    progress_note: null, result: null, error: null, updated_time_us: 0, last_position: 0,
  };
}

// A fold over one batch: copies each map at most once, then mutates the
// copies (and copies of the rows it touches), so the state given is never
// changed and unchanged maps keep their identity (cheap React selectors).
class Batch {
  agents: Record<string, AgentRow> | null = null;
  tasks: Record<string, TaskRow> | null = null;
  pairs: Record<string, PairRow> | null = null;
  usage: Record<string, UsagePoint> | null = null;
  private touched = new Set<object>();

  constructor(private readonly base: FoldState) {}

  result(): FoldState {
    return {
      agents: this.agents ?? this.base.agents,
      tasks: this.tasks ?? this.base.tasks,
      pairs: this.pairs ?? this.base.pairs,
      usage: this.usage ?? this.base.usage,
    };
  }

  // The agent row `id` to change for `e`, or null when the row has seen it.
  agent(id: string, e: RecordedEvent): AgentRow | null {
    const current = (this.agents ?? this.base.agents)[id];
    if (current && e.position <= current.last_position) return null;
    this.agents ??= { ...this.base.agents };
    let row = this.agents[id];
    if (!row || !this.touched.has(row)) {
      row = row ? { ...row } : newAgent(id);
      this.touched.add(row);
      this.agents[id] = row;
    }
    row.updated_time_us = e.recorded_time_us;
    row.last_position = e.position;
    return row;
  }

  task(id: string, e: RecordedEvent): TaskRow | null {
    const current = (this.tasks ?? this.base.tasks)[id];
    if (current && e.position <= current.last_position) return null;
    this.tasks ??= { ...this.base.tasks };
    let row = this.tasks[id];
    if (!row || !this.touched.has(row)) {
      row = row ? { ...row } : newTask(id, e.position);
      this.touched.add(row);
      this.tasks[id] = row;
    }
    row.updated_time_us = e.recorded_time_us;
    row.last_position = e.position;
    return row;
  }

  pair(manager: string, worker: string): PairRow {
    this.pairs ??= { ...this.base.pairs };
    const key = pairKey(manager, worker);
    let row = this.pairs[key];
    if (!row || !this.touched.has(row)) {
      row = row
        ? { ...row }
        : { manager_id: manager, worker_id: worker, tasks_assigned: 0, tasks_completed: 0,
            tasks_failed: 0, complete_time_sum_ms: 0, complete_time_count: 0 };
      this.touched.add(row);
      this.pairs[key] = row;
    }
    return row;
  }

  usagePoint(model: string, minute: number): UsagePoint {
    this.usage ??= { ...this.base.usage };
    const key = usageKey(model, minute);
    let row = this.usage[key];
    if (!row || !this.touched.has(row)) {
      row = row
        ? { ...row }
        : { bucket_time_us: minute, model, calls: 0, input_tokens: 0, output_tokens: 0,
            cost_usd: 0, latency_ms_avg: null };
      this.touched.add(row);
      this.usage[key] = row;
    }
    return row;
  }
}

// AgentFold::Apply.
function applyAgent(b: Batch, e: RecordedEvent, d: Record<string, unknown>) {
  switch (e.type) {
    case 'AgentRegistered': {
      const row = b.agent(str(d, 'agent_id'), e);
      if (!row) return;
      row.role = str(d, 'role');
      row.name = str(d, 'name');
      row.model = str(d, 'model') || null;
      if (!row.registered_time_us) row.registered_time_us = e.recorded_time_us;
      // Registering again revives a stopped agent.
      row.status = row.current_task_id ? 'busy' : 'idle';
      row.stopped_reason = null;
      return;
    }
    case 'AgentHeartbeat': {
      const row = b.agent(str(d, 'agent_id'), e);
      if (!row) return;
      row.last_heartbeat_time_us = e.recorded_time_us;
      row.cpu_pct = num(d, 'cpu_pct');
      row.mem_bytes = num(d, 'mem_bytes');
      row.queue_depth = num(d, 'queue_depth');
      return;
    }
    case 'AgentStopped': {
      const row = b.agent(str(d, 'agent_id'), e);
      if (!row) return;
      row.status = 'stopped';
      row.stopped_reason = str(d, 'reason');
      row.current_task_id = null;
      return;
    }
    case 'TaskStarted': {
      const row = b.agent(str(d, 'worker_id'), e);
      if (!row) return;
      row.current_task_id = str(d, 'task_id');
      if (row.status !== 'stopped') row.status = 'busy';
      return;
    }
    case 'TaskCompleted':
    case 'TaskFailed': {
      const row = b.agent(str(d, 'worker_id'), e);
      if (!row) return;
      if (row.current_task_id === str(d, 'task_id')) {
        row.current_task_id = null;
        if (row.status !== 'stopped') row.status = 'idle';
      }
      return;
    }
  }
}

// TaskFold::Finish.
function finish(b: Batch, task: TaskRow, e: RecordedEvent, d: Record<string, unknown>, completed: boolean) {
  task.worker_id = str(d, 'worker_id');
  task.finished_time_us = e.recorded_time_us;
  if (!task.manager_id) return; // no pair to credit
  const pair = b.pair(task.manager_id, task.worker_id);
  if (completed) {
    pair.tasks_completed += 1;
    if (task.assigned_time_us && task.assigned_time_us > 0) {
      pair.complete_time_sum_ms += Math.max(0, e.recorded_time_us - task.assigned_time_us) / 1000;
      pair.complete_time_count += 1;
    }
  } else {
    pair.tasks_failed += 1;
  }
}

// TaskFold::Apply (tasks and pairs; messages are not shown).
function applyTask(b: Batch, e: RecordedEvent, d: Record<string, unknown>) {
  if (!e.type.startsWith('Task')) return;
  const id = str(d, 'task_id');
  switch (e.type) {
    case 'TaskCreated': {
      const task = b.task(id, e);
      if (!task) return;
      task.manager_id = str(d, 'manager_id');
      task.title = str(d, 'title');
      task.priority = typeof d.priority === 'number' ? d.priority : null;
      task.parent_task_id = str(d, 'parent_task_id') || null;
      task.created_time_us = e.recorded_time_us;
      return;
    }
    case 'TaskAssigned': {
      const task = b.task(id, e);
      if (!task) return;
      task.manager_id = str(d, 'manager_id');
      task.worker_id = str(d, 'worker_id');
      task.assigned_time_us = e.recorded_time_us;
      task.status = 'assigned';
      b.pair(task.manager_id, task.worker_id).tasks_assigned += 1;
      return;
    }
    case 'TaskStarted': {
      const task = b.task(id, e);
      if (!task) return;
      task.worker_id = str(d, 'worker_id');
      task.started_time_us = e.recorded_time_us;
      task.status = 'running';
      return;
    }
    case 'TaskProgress': {
      const task = b.task(id, e);
      if (!task) return;
      task.worker_id = str(d, 'worker_id');
      task.progress = num(d, 'percent');
      task.progress_note = str(d, 'note') || null;
      if (task.status === 'created' || task.status === 'assigned') task.status = 'running';
      return;
    }
    case 'TaskCompleted': {
      const task = b.task(id, e);
      if (!task) return;
      task.status = 'completed';
      task.progress = 100;
      task.result = d.result ?? null;
      task.error = null;
      finish(b, task, e, d, true);
      return;
    }
    case 'TaskFailed': {
      const task = b.task(id, e);
      if (!task) return;
      task.status = 'failed';
      task.error = str(d, 'error');
      finish(b, task, e, d, false);
      return;
    }
  }
}

// MetricsFold's usage_minutes (per model and minute).
function applyUsage(b: Batch, e: RecordedEvent, d: Record<string, unknown>) {
  if (e.type !== 'LlmCallCompleted') return;
  const u = b.usagePoint(str(d, 'model'), minuteOf(e.recorded_time_us));
  const latencySum = (u.latency_ms_avg ?? 0) * u.calls + num(d, 'latency_ms');
  u.calls += 1;
  u.input_tokens += num(d, 'input_tokens');
  u.output_tokens += num(d, 'output_tokens');
  u.cost_usd += num(d, 'cost_usd');
  u.latency_ms_avg = latencySum / u.calls;
}

// Folds `events` (in position order) into `state`; returns the new state
// and leaves `state` as it was.
export function foldEvents(state: FoldState, events: readonly RecordedEvent[], gates: FoldGates): FoldState {
  const b = new Batch(state);
  for (const e of events) {
    const d = e.data;
    if (!d || typeof d !== 'object') continue; // not JSON: folds skip it
    if (e.position > gates.agents) applyAgent(b, e, d);
    if (e.position > gates.tasks) applyTask(b, e, d);
    if (e.position > gates.metrics) applyUsage(b, e, d);
  }
  return b.result();
}

// A REST pair as the dashboard keeps it (sum and count for the mean).
export function pairFromRest(p: {
  manager_id: string; worker_id: string; tasks_assigned: number; tasks_completed: number;
  tasks_failed: number; mean_time_to_complete_ms: number | null;
}): PairRow {
  const count = p.mean_time_to_complete_ms === null ? 0 : p.tasks_completed;
  return {
    manager_id: p.manager_id, worker_id: p.worker_id, tasks_assigned: p.tasks_assigned,
    tasks_completed: p.tasks_completed, tasks_failed: p.tasks_failed,
    complete_time_sum_ms: (p.mean_time_to_complete_ms ?? 0) * count, complete_time_count: count,
  };
}
