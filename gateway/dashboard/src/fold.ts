// The read-model folds of projections/folds.cc (AgentFold, TaskFold's tasks
// and manager → worker pairs, MetricsFold's LLM usage per model and minute,
// TraceFold's spans and what they settle in the others),
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
// their task row has seen the event. Spans are keyed by (trace id, span id)
// and immutable: a span already in `spans` is not folded again.
//
// Spans (docs/otlp.md "How spans fold"): what a span settles depends on the
// other spans of its trace, and this port knows only the spans it holds in
// `spans` (those folded live, or loaded by a view). A span whose ancestors
// it lacks waits on them as on the server; a placeholder never replaces a
// task that is not running, so runs from the REST snapshot stay as they are.

import type { AgentRow, PairRow, RecordedEvent, SpanRow, TaskRow, UsagePoint } from './types';

export const MINUTE_US = 60_000_000;

export interface FoldState {
  agents: Record<string, AgentRow>;
  tasks: Record<string, TaskRow>;
  pairs: Record<string, PairRow>; // key pairKey(manager, worker)
  usage: Record<string, UsagePoint>; // key usageKey(model, minute)
  spans: Record<string, Record<string, SpanRow>>; // trace_id -> span_id -> row
}

// Per projection: events with position <= gate are already in the snapshot.
export interface FoldGates {
  agents: number;
  tasks: number;
  metrics: number;
}

export const emptyFoldState = (): FoldState => ({ agents: {}, tasks: {}, pairs: {}, usage: {}, spans: {} });

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
  spans: Record<string, Record<string, SpanRow>> | null = null;
  private touched = new Set<object>();

  constructor(private readonly base: FoldState) {}

  result(): FoldState {
    return {
      agents: this.agents ?? this.base.agents,
      tasks: this.tasks ?? this.base.tasks,
      pairs: this.pairs ?? this.base.pairs,
      usage: this.usage ?? this.base.usage,
      spans: this.spans ?? this.base.spans,
    };
  }

  // The spans of trace `id` as they are now (read-only).
  trace(id: string): Record<string, SpanRow> {
    return (this.spans ?? this.base.spans)[id] ?? {};
  }

  addSpan(row: SpanRow) {
    this.spans ??= { ...this.base.spans };
    let trace = this.spans[row.trace_id];
    if (!trace || !this.touched.has(trace)) {
      trace = { ...(trace ?? {}) };
      this.touched.add(trace);
      this.spans[row.trace_id] = trace;
    }
    trace[row.span_id] = row;
  }

  taskRow(id: string): TaskRow | undefined {
    return (this.tasks ?? this.base.tasks)[id];
  }

  removeTask(id: string) {
    if (!(id in (this.tasks ?? this.base.tasks))) return;
    this.tasks ??= { ...this.base.tasks };
    delete this.tasks[id];
  }

  // Whether `row` has seen `e` before: a span may change one row twice
  // (a placeholder several waiting spans start), which is not seeing it.
  private seen(row: AgentRow | TaskRow, e: RecordedEvent): boolean {
    return e.position < row.last_position || (e.position === row.last_position && !this.touched.has(row));
  }

  // The agent row `id` to change for `e`, or null when the row has seen it.
  agent(id: string, e: RecordedEvent): AgentRow | null {
    const current = (this.agents ?? this.base.agents)[id];
    if (current && this.seen(current, e)) return null;
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
    if (current && this.seen(current, e)) return null;
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

// ---------------------------------------------------------------- traces
// TraceFold (projections/folds.cc), without the per-agent metrics the
// dashboard does not fold.

const MAX_SPAN_DEPTH = 256;
const isAgentRun = (s: SpanRow) => s.operation === 'invoke_agent' || s.operation === 'create_agent';
const isRun = (s: SpanRow) => isAgentRun(s) || s.operation === 'invoke_workflow';
const isToolCall = (s: SpanRow) => s.operation === 'execute_tool';
const isModelCall = (s: SpanRow) =>
  s.operation === 'chat' || s.operation === 'text_completion' ||
  s.operation === 'generate_content' || s.operation === 'embeddings';
const needsContext = (s: SpanRow) => isRun(s) || isToolCall(s) || isModelCall(s);
const failed = (s: SpanRow) => s.status === 'error';
export const runTaskId = (spanId: string) => `run-${spanId}`;

// Where a walk up a trace ends: a run span, a span not there yet, the root.
type Context = { state: 'root' } | { state: 'missing'; missing: string } | { state: 'run'; run: SpanRow };

// The nearest run above `span`.
function up(trace: Record<string, SpanRow>, span: SpanRow): Context {
  let at = span;
  for (let depth = 0; depth < MAX_SPAN_DEPTH && at.parent_span_id; depth++) {
    const parent = trace[at.parent_span_id];
    if (!parent) return { state: 'missing', missing: at.parent_span_id };
    if (isRun(parent)) return { state: 'run', run: parent };
    at = parent;
  }
  return { state: 'root' };
}

// The nearest agent run above `span`: workflows are passed through.
function agentContext(trace: Record<string, SpanRow>, span: SpanRow): Context {
  let at = span;
  for (let depth = 0; depth < MAX_SPAN_DEPTH; depth++) {
    const c = up(trace, at);
    if (c.state !== 'run' || isAgentRun(c.run)) return c;
    at = c.run;
  }
  return { state: 'root' };
}

function spanOf(e: RecordedEvent, d: Record<string, unknown>): SpanRow {
  const text = (k: string) => str(d, k) || null;
  const count = (k: string) => (typeof d[k] === 'number' ? (d[k] as number) : null);
  const json = (k: string) => (d[k] === undefined ? null : d[k]);
  return {
    trace_id: str(d, 'trace_id'), span_id: str(d, 'span_id'), parent_span_id: text('parent_span_id'),
    name: str(d, 'name'), kind: str(d, 'kind'), start_time_us: num(d, 'start_time_us'),
    end_time_us: num(d, 'end_time_us'), duration_ms: num(d, 'duration_ms'), status: str(d, 'status'),
    error: text('error'), operation: text('operation'), agent_id: text('agent_id'),
    agent_name: text('agent_name'), caller_agent_id: text('caller_agent_id'), tool: text('tool'),
    tool_call_id: text('tool_call_id'), provider: text('provider'), model: text('model'),
    input_tokens: count('input_tokens'), output_tokens: count('output_tokens'),
    cached_tokens: count('cached_tokens'), cost_usd: num(d, 'cost_usd'),
    attributes: json('attributes'), events: json('events'), links: json('links'),
    resource: json('resource'), scope: json('scope'), position: e.position,
    recorded_time_us: e.recorded_time_us,
  };
}

interface SpanGates {
  agents: boolean;
  tasks: boolean;
  metrics: boolean;
}

// TraceFold::Settle: what `span` settles given the spans there are now.
function settle(b: Batch, trace: Record<string, SpanRow>, span: SpanRow, e: RecordedEvent, g: SpanGates) {
  if (!needsContext(span)) return;
  const agent = agentContext(trace, span);
  if (agent.state === 'missing' && g.tasks) {
    const id = runTaskId(agent.missing);
    const existing = b.taskRow(id);
    if (!existing || existing.status === 'running') {
      const row = b.task(id, e);
      if (row) {
        row.status = 'running';
        if (!row.started_time_us || span.start_time_us < row.started_time_us) row.started_time_us = span.start_time_us;
      }
    }
  }
  const settled = agent.state !== 'missing';
  const above = agent.state === 'run' ? agent.run.agent_id ?? '' : span.caller_agent_id ?? '';
  if (!isRun(span)) return; // tool and model calls only feed per-agent metrics
  const manager = settled ? above : '';
  if (g.tasks) {
    const row = b.task(runTaskId(span.span_id), e);
    if (row) {
      const parent = up(trace, span);
      row.parent_task_id =
        parent.state === 'run' ? runTaskId(parent.run.span_id) : parent.state === 'missing' ? runTaskId(parent.missing) : null;
      row.manager_id = manager || null;
      row.worker_id = isAgentRun(span) ? span.agent_id : null;
      row.title = span.agent_name || span.name || null;
      row.priority = null;
      row.status = failed(span) ? 'failed' : 'completed';
      row.created_time_us = span.start_time_us || null;
      row.assigned_time_us = manager ? span.start_time_us : null;
      row.started_time_us = span.start_time_us || null;
      row.finished_time_us = span.end_time_us || null;
      row.progress = failed(span) ? 0 : 100;
      row.progress_note = null;
      row.result = null;
      row.error = failed(span) ? span.error || 'error' : null;
    }
  }
  if (settled && isAgentRun(span) && manager && span.agent_id) {
    if (g.tasks) {
      const pair = b.pair(manager, span.agent_id);
      pair.tasks_assigned += 1;
      if (failed(span)) {
        pair.tasks_failed += 1;
      } else {
        pair.tasks_completed += 1;
        pair.complete_time_sum_ms += Math.max(0, span.end_time_us - span.start_time_us) / 1000;
        pair.complete_time_count += 1;
      }
    }
    if (g.agents) {
      const row = b.agent(manager, e);
      if (row) row.role = 'manager';
    }
  }
}

// TraceFold::Apply.
function applySpan(b: Batch, e: RecordedEvent, d: Record<string, unknown>, gates: FoldGates) {
  const span = spanOf(e, d);
  if (b.trace(span.trace_id)[span.span_id]) return; // recorded again: folded once
  const g: SpanGates = { agents: e.position > gates.agents, tasks: e.position > gates.tasks, metrics: e.position > gates.metrics };
  // The spans waiting for this one: those whose context stopped at it.
  const before = b.trace(span.trace_id);
  const waiters = Object.values(before).filter((s) => {
    if (!needsContext(s)) return false;
    const c = agentContext(before, s);
    return c.state === 'missing' && c.missing === span.span_id;
  });
  b.addSpan(span);
  const trace = b.trace(span.trace_id);

  if (isAgentRun(span) && span.agent_id && g.agents) {
    const row = b.agent(span.agent_id, e);
    if (row) {
      if (!row.role) row.role = 'worker';
      const name = span.agent_name || span.agent_id;
      if (name > (row.name ?? '')) row.name = name;
      if (span.model && span.model > (row.model ?? '')) row.model = span.model;
      if (!row.registered_time_us || span.start_time_us < row.registered_time_us) row.registered_time_us = span.start_time_us;
    }
  }
  if (isModelCall(span) && g.metrics) {
    const u = b.usagePoint(span.model ?? '', minuteOf(span.end_time_us));
    const latencySum = (u.latency_ms_avg ?? 0) * u.calls + span.duration_ms;
    u.calls += 1;
    u.input_tokens += span.input_tokens ?? 0;
    u.output_tokens += span.output_tokens ?? 0;
    u.cost_usd += span.cost_usd;
    u.latency_ms_avg = latencySum / u.calls;
  }
  if (waiters.length > 0 && !isRun(span) && g.tasks) b.removeTask(runTaskId(span.span_id));
  settle(b, trace, span, e, g);
  for (const w of waiters) settle(b, trace, w, e, g);
}

// Folds `events` (in position order) into `state`; returns the new state
// and leaves `state` as it was.
export function foldEvents(state: FoldState, events: readonly RecordedEvent[], gates: FoldGates): FoldState {
  const b = new Batch(state);
  for (const e of events) {
    const d = e.data;
    if (!d || typeof d !== 'object') continue; // not JSON: folds skip it
    if (e.type === 'SpanRecorded') {
      applySpan(b, e, d, gates);
      continue;
    }
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
