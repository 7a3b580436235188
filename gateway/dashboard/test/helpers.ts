import type { SpanRow } from '../src/types';
import type { LiveFrame, RecordedEvent } from '../src/types';

export const T0 = 1_764_000_000_000_000; // µs

// An event at `position`, recorded `position` seconds after T0.
export function ev(position: number, type: string, data: Record<string, unknown>, stream?: string): RecordedEvent {
  const id = (data.task_id ?? data.agent_id ?? data.from_agent ?? 'x') as string;
  return {
    event_id: `00000000-0000-7000-8000-${String(position).padStart(12, '0')}`,
    stream: stream ?? (type.startsWith('Task') ? `task-${id}` : `agent-${id}`),
    revision: 0,
    position,
    type,
    data,
    metadata: {},
    recorded_time_us: T0 + position * 1_000_000,
    hash: position.toString(16).padStart(64, '0'),
  };
}

export const frame = (e: RecordedEvent): LiveFrame => ({ kind: 'event', ...e });

// A small team's life: manager m1, workers w1 and w2; t1 completes on w1,
// t2 fails on w2, t3 is running on w1; w2 stops.
export function story(): RecordedEvent[] {
  let p = 0;
  const e = (type: string, data: Record<string, unknown>) => ev(++p, type, data);
  return [
    e('AgentRegistered', { agent_id: 'm1', role: 'manager', name: 'M1', model: 'gpt-4o' }),
    e('AgentRegistered', { agent_id: 'w1', role: 'worker', name: 'W1' }),
    e('AgentRegistered', { agent_id: 'w2', role: 'worker', name: 'W2' }),
    e('TaskCreated', { task_id: 't1', manager_id: 'm1', title: 'one', priority: 2 }),
    e('TaskAssigned', { task_id: 't1', manager_id: 'm1', worker_id: 'w1' }),
    e('TaskStarted', { task_id: 't1', worker_id: 'w1' }),
    e('TaskProgress', { task_id: 't1', worker_id: 'w1', percent: 50, note: 'half' }),
    e('LlmCallCompleted', { agent_id: 'w1', task_id: 't1', model: 'gpt-4o', input_tokens: 100, output_tokens: 20, cost_usd: 0.5, latency_ms: 300 }),
    e('TaskCompleted', { task_id: 't1', worker_id: 'w1', result: { ok: true } }),
    e('TaskCreated', { task_id: 't2', manager_id: 'm1', title: 'two' }),
    e('TaskAssigned', { task_id: 't2', manager_id: 'm1', worker_id: 'w2' }),
    e('TaskStarted', { task_id: 't2', worker_id: 'w2' }),
    e('TaskFailed', { task_id: 't2', worker_id: 'w2', error: 'boom' }),
    e('AgentHeartbeat', { agent_id: 'w1', cpu_pct: 42.5, mem_bytes: 1024, queue_depth: 3 }),
    e('TaskCreated', { task_id: 't3', manager_id: 'm1', title: 'three' }),
    e('TaskAssigned', { task_id: 't3', manager_id: 'm1', worker_id: 'w1' }),
    e('TaskStarted', { task_id: 't3', worker_id: 'w1' }),
    e('AgentStopped', { agent_id: 'w2', reason: 'idle' }),
    e('CustomThing', { anything: 1 }),
  ];
}

// An in-process Web Locks stand-in: one holder per name, the rest queue.
export class FakeLocks {
  private held = new Map<string, Array<() => void>>();
  request(name: string, callback: () => Promise<void>): Promise<unknown> {
    return new Promise((done) => {
      const run = () => {
        void callback().then(() => {
          const queue = this.held.get(name)!;
          queue.shift();
          if (queue.length > 0) queue[0]();
          else this.held.delete(name);
          done(undefined);
        });
      };
      const queue = this.held.get(name);
      if (queue) queue.push(run);
      else {
        this.held.set(name, [run]);
        run();
      }
    });
  }
}

export const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

export const TRACE = '0af7651916cd43dd8448eb211c80319c';

// A recorded span of TRACE from `start` to `end` ms after T0, recorded at
// `position` (1 unless given).
export function span(id: string, parent: string | null, start: number, end: number, more: Partial<SpanRow> = {}): SpanRow {
  return {
    trace_id: TRACE, span_id: id, parent_span_id: parent, name: `span ${id}`, kind: 'internal',
    start_time_us: T0 + start * 1000, end_time_us: T0 + end * 1000, duration_ms: end - start, status: 'ok', error: null,
    operation: null, agent_id: null, agent_name: null, caller_agent_id: null, tool: null, tool_call_id: null,
    provider: null, model: null, input_tokens: null, output_tokens: null, cached_tokens: null, cost_usd: 0,
    attributes: {}, events: null, links: null, resource: {}, scope: null, position: 1, recorded_time_us: T0, ...more,
  };
}

// A pending parent, as the trace view draws one (withPendingParents).
export function pending(id: string, parent: string | null = null): SpanRow {
  return { ...span(id, parent, 0, 0), name: '', status: 'pending', start_time_us: 0, end_time_us: 0, duration_ms: 0 };
}
