// Time travel (docs/time-travel.md): the JSON of GET /v1/state and
// GET /v1/diff (projections/state_json.cc), turned into what the views show.
// A whole-system state becomes a PastView, the same shape as the live model
// (agents, tasks, pairs, usage, events, eventRate), so every view reads one or
// the other through `shown` (store/store.ts) without knowing which.

import { pairFromRest, pairKey, usageKey, type FoldState } from './fold';
import type { AgentRow, RecordedEvent, RestPair, SpanRow, TaskRow, UsagePoint } from './types';

// GET /v1/state (whole system). Rows have the REST read models' fields.
export interface StateAtResponse {
  position: number;
  time_us: number | null; // null at position 0
  snapshot_position: number;
  replayed_events: number;
  skipped_events: number;
  agents: AgentRow[];
  task_count: number;
  tasks: TaskRow[]; // newest first, at most the `limit` asked for
  coordination: { pairs: RestPair[]; messages: unknown[] };
  agent_metrics: unknown[];
  usage: UsagePoint[]; // minutes starting in the hour before time_us
  // By trace, start time, span id; left out when the state has none.
  span_count?: number;
  spans?: SpanRow[];
}

// A point on the log: a position, or a time (the last event recorded at or
// before it; the server resolves it to a position).
export type TravelPoint = { position: number } | { timeUs: number };

export function pointQuery(name: 'at' | 'from' | 'to', point: TravelPoint): string {
  return 'position' in point ? `${name}=${point.position}` : `${name}_time=${point.timeUs}`;
}

// The models every view reads, live or past.
export interface ShownModel extends FoldState {
  events: RecordedEvent[]; // the timeline, oldest first
  eventRate: Record<number, number>; // unix second -> events recorded in it
}

export interface PastView extends ShownModel {
  position: number;
  timeUs: number | null;
  taskCount: number; // tasks that existed; `tasks` may hold fewer (limit)
  snapshotPosition: number;
  replayedEvents: number;
  // GET /v1/all for the timeline failed: the views still show the state.
  eventsError: string | null;
}

function expectArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`unexpected response: ${what} is not a list`);
  return value;
}

function eventRate(events: readonly RecordedEvent[]): Record<number, number> {
  const rate: Record<number, number> = {};
  for (const e of events) {
    const second = Math.floor(e.recorded_time_us / 1e6);
    rate[second] = (rate[second] ?? 0) + 1;
  }
  return rate;
}

// A whole-system state and the events up to its position (oldest first)
// as the views show them. Throws on a body that is not a state.
export function pastView(state: StateAtResponse, events: readonly RecordedEvent[], eventsError: string | null = null): PastView {
  if (typeof state !== 'object' || state === null || typeof state.position !== 'number') {
    throw new Error('unexpected response: not a state (no position)');
  }
  const view: PastView = {
    agents: {}, tasks: {}, pairs: {}, usage: {}, spans: {}, events: [], eventRate: {},
    position: state.position, timeUs: state.time_us ?? null,
    taskCount: state.task_count ?? 0, snapshotPosition: state.snapshot_position ?? 0,
    replayedEvents: state.replayed_events ?? 0, eventsError,
  };
  for (const a of expectArray(state.agents, 'agents') as AgentRow[]) view.agents[a.agent_id] = a;
  for (const t of expectArray(state.tasks, 'tasks') as TaskRow[]) view.tasks[t.task_id] = t;
  for (const p of expectArray(state.coordination?.pairs, 'coordination.pairs') as RestPair[]) {
    view.pairs[pairKey(p.manager_id, p.worker_id)] = pairFromRest(p);
  }
  for (const u of expectArray(state.usage, 'usage') as UsagePoint[]) view.usage[usageKey(u.model, u.bucket_time_us)] = u;
  for (const sp of (state.spans === undefined ? [] : expectArray(state.spans, 'spans')) as SpanRow[]) {
    (view.spans[sp.trace_id] ??= {})[sp.span_id] = sp;
  }
  view.events = events.filter((e) => e.position <= state.position);
  view.eventRate = eventRate(view.events);
  return view;
}

// GET /v1/diff.
export type ChangeKind = 'agent' | 'task' | 'coordination' | 'agent_messages' | 'agent_metrics' | 'llm_usage';
export const CHANGE_KINDS: ChangeKind[] = ['agent', 'task', 'coordination', 'agent_messages', 'agent_metrics', 'llm_usage'];

export interface DiffResponse {
  from: { position: number; time_us: number | null };
  to: { position: number; time_us: number | null };
  change_count: number;
  changes: Array<{
    kind: ChangeKind;
    key: Record<string, string | number>;
    before: Record<string, unknown> | null;
    after: Record<string, unknown> | null;
    positions: number[];
    position_count: number;
  }>;
}

export interface FieldChange {
  field: string;
  before: unknown; // undefined: the entity did not exist
  after: unknown;
}

export interface Change {
  kind: ChangeKind;
  key: Record<string, string | number>;
  label: string; // the key, readable: "w1", "m1 → w1", "gpt-4o @ 10:01"
  what: 'added' | 'removed' | 'changed';
  fields: FieldChange[]; // the fields whose value differs, in the row's order
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  positions: number[]; // the first 1,000 events in (from, to] that changed it
  positionCount: number; // all of them
}

export interface DiffView {
  from: { position: number; timeUs: number | null };
  to: { position: number; timeUs: number | null };
  changes: Change[];
  byKind: Record<ChangeKind, number>;
}

function minute(timeUs: unknown): string {
  return typeof timeUs === 'number' ? new Date(timeUs / 1000).toISOString().slice(11, 16) : '?';
}

export function changeLabel(kind: ChangeKind, key: Record<string, string | number>): string {
  switch (kind) {
    case 'agent': return String(key.agent_id);
    case 'task': return String(key.task_id);
    case 'coordination': return `${key.manager_id} → ${key.worker_id}`;
    case 'agent_messages': return `${key.from_agent} → ${key.to_agent}`;
    case 'agent_metrics': return `${key.agent_id} @ ${minute(key.bucket_time_us)}`;
    case 'llm_usage': return `${key.model} @ ${minute(key.bucket_time_us)}`;
  }
  return JSON.stringify(key);
}

// The fields of two rows that differ (by their JSON), in the rows' order.
export function fieldChanges(before: Record<string, unknown> | null, after: Record<string, unknown> | null): FieldChange[] {
  const names = [...new Set([...Object.keys(after ?? {}), ...Object.keys(before ?? {})])];
  const out: FieldChange[] = [];
  for (const field of names) {
    const b = before ? before[field] : undefined;
    const a = after ? after[field] : undefined;
    if (JSON.stringify(b) !== JSON.stringify(a)) out.push({ field, before: b, after: a });
  }
  return out;
}

// Throws on a body that is not a diff.
export function parseDiff(body: DiffResponse): DiffView {
  if (typeof body !== 'object' || body === null || !body.from || !body.to) {
    throw new Error('unexpected response: not a diff (no from/to)');
  }
  const byKind = Object.fromEntries(CHANGE_KINDS.map((k) => [k, 0])) as Record<ChangeKind, number>;
  const changes = (expectArray(body.changes, 'changes') as DiffResponse['changes']).map((c): Change => {
    byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
    const positions = Array.isArray(c.positions) ? c.positions : [];
    return {
      kind: c.kind, key: c.key, label: changeLabel(c.kind, c.key),
      what: c.before === null ? 'added' : c.after === null ? 'removed' : 'changed',
      fields: fieldChanges(c.before, c.after), before: c.before, after: c.after,
      positions, positionCount: c.position_count ?? positions.length,
    };
  });
  return {
    from: { position: body.from.position, timeUs: body.from.time_us ?? null },
    to: { position: body.to.position, timeUs: body.to.time_us ?? null },
    changes, byKind,
  };
}

// The recorded time of the event at `position` in `events` (sorted by
// position), or null when it is not there.
export function eventTime(events: readonly RecordedEvent[], position: number): number | null {
  let lo = 0;
  let hi = events.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const p = events[mid].position;
    if (p === position) return events[mid].recorded_time_us;
    if (p < position) lo = mid + 1;
    else hi = mid - 1;
  }
  return null;
}

// An RFC 3339 time in microseconds (the fraction kept to the microsecond;
// without a zone it is local time), anything else Date.parse reads, or null.
export function parseTimeInput(text: string): number | null {
  const t = text.trim();
  const m = /^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$/i.exec(t);
  if (m) {
    const seconds = Date.parse(`${m[1]}T${m[2]}${(m[4] ?? '').toUpperCase()}`);
    if (!Number.isFinite(seconds)) return null;
    return seconds * 1000 + Number((m[3] ?? '').padEnd(6, '0').slice(0, 6));
  }
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? ms * 1000 : null;
}

// Microseconds as RFC 3339 in UTC, to the microsecond.
export function rfc3339(timeUs: number): string {
  const ms = Math.floor(timeUs / 1000);
  const micros = String(((timeUs % 1000) + 1000) % 1000).padStart(3, '0');
  return new Date(ms).toISOString().replace('Z', `${micros}Z`);
}
