import { describe, expect, it } from 'vitest';
import { emptyFoldState, foldEvents, pairKey, usageKey, minuteOf } from '../src/fold';
import { story, T0 } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };
const at = (p: number) => T0 + p * 1_000_000;

describe('foldEvents (the port of projections/folds.cc)', () => {
  it('folds agents as AgentFold does', () => {
    const s = foldEvents(emptyFoldState(), story(), noGates);
    expect(s.agents.m1).toMatchObject({ role: 'manager', name: 'M1', model: 'gpt-4o', status: 'idle', last_position: 1 });
    expect(s.agents.w1).toMatchObject({
      status: 'busy', current_task_id: 't3', cpu_pct: 42.5, mem_bytes: 1024, queue_depth: 3,
      last_heartbeat_time_us: at(14), registered_time_us: at(2), last_position: 17,
    });
    expect(s.agents.w2).toMatchObject({ status: 'stopped', stopped_reason: 'idle', current_task_id: null, last_position: 18 });
  });

  it('folds tasks as TaskFold does', () => {
    const s = foldEvents(emptyFoldState(), story(), noGates);
    expect(s.tasks.t1).toMatchObject({
      status: 'completed', progress: 100, manager_id: 'm1', worker_id: 'w1', priority: 2, first_position: 4,
      created_time_us: at(4), assigned_time_us: at(5), started_time_us: at(6), finished_time_us: at(9),
      result: { ok: true }, progress_note: 'half', last_position: 9,
    });
    expect(s.tasks.t2).toMatchObject({ status: 'failed', error: 'boom', finished_time_us: at(13) });
    expect(s.tasks.t3).toMatchObject({ status: 'running', worker_id: 'w1', progress: 0 });
  });

  it('counts manager → worker pairs with the mean time to complete', () => {
    const s = foldEvents(emptyFoldState(), story(), noGates);
    expect(s.pairs[pairKey('m1', 'w1')]).toMatchObject({
      tasks_assigned: 2, tasks_completed: 1, tasks_failed: 0, complete_time_sum_ms: 4000, complete_time_count: 1,
    });
    expect(s.pairs[pairKey('m1', 'w2')]).toMatchObject({ tasks_assigned: 1, tasks_completed: 0, tasks_failed: 1 });
  });

  it('sums LLM usage per model and minute', () => {
    const s = foldEvents(emptyFoldState(), story(), noGates);
    expect(s.usage[usageKey('gpt-4o', minuteOf(at(8)))]).toMatchObject({
      calls: 1, input_tokens: 100, output_tokens: 20, cost_usd: 0.5, latency_ms_avg: 300,
    });
  });

  it('progress moves a created or assigned task to running', () => {
    const events = story().slice(0, 5); // t1 created and assigned
    const s = foldEvents(emptyFoldState(), [...events, { ...story()[6], position: 6 }], noGates);
    expect(s.tasks.t1.status).toBe('running');
  });

  it('is the same folded at once or in batches, and never changes its input', () => {
    const all = story();
    const once = foldEvents(emptyFoldState(), all, noGates);
    let batched = emptyFoldState();
    for (let i = 0; i < all.length; i += 3) {
      const before = JSON.stringify(batched);
      const next = foldEvents(batched, all.slice(i, i + 3), noGates);
      expect(JSON.stringify(batched)).toBe(before);
      batched = next;
    }
    expect(batched).toEqual(once);
  });

  it('skips events at or below a row\'s last_position and at or below the gates', () => {
    const all = story();
    const s = foldEvents(emptyFoldState(), all, noGates);
    // Replaying everything again changes nothing: rows have seen it all,
    // and the counters are behind the gates.
    const gates = { agents: all.length, tasks: all.length, metrics: all.length };
    expect(foldEvents(s, all, gates)).toEqual(s);
    // Rows alone also guard: with no gates, entity rows stay the same.
    const again = foldEvents(s, all, noGates);
    expect(again.agents).toEqual(s.agents);
    expect(again.tasks).toEqual(s.tasks);
    expect(again.pairs).toEqual(s.pairs); // pair increments follow their task rows
  });
});
