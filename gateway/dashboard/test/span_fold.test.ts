// The port of TraceFold (projections/folds.cc): spans give the same rows
// whatever order they arrive in, in one batch or one event at a time, and
// a span folded twice changes nothing. The events are those of the shared
// fixture tests/fixtures/folds/spans.json (children first), reordered.
import { describe, expect, it } from 'vitest';
import { emptyFoldState, foldEvents, type FoldState } from '../src/fold';
import { createDashboardStore, MAX_SPAN_TRACES } from '../src/store/store';
import type { LiveFrame, RecordedEvent } from '../src/types';
import { ev } from './helpers';

const fixture = Object.values(
  import.meta.glob<{ events: Array<Record<string, unknown>> }>('../../../tests/fixtures/folds/spans.json', {
    eager: true,
    import: 'default',
  }),
)[0];

const noGates = { agents: 0, tasks: 0, metrics: 0 };

// The fixture's events in `order`, at positions 1.. in that order.
function events(order: number[]): RecordedEvent[] {
  return order.map((i, n) => ({
    ...(fixture.events[i] as unknown as RecordedEvent),
    position: n + 1,
    recorded_time_us: 1_765_000_000_000_000 + n * 1000,
    event_id: `e${n}`,
    revision: n,
    metadata: {},
    hash: '',
  }));
}

// The rows without the columns that name the event that last touched them.
function rows(s: FoldState) {
  const strip = <T extends object>(row: T, keys: string[]) =>
    Object.fromEntries(Object.entries(row).filter(([k]) => !keys.includes(k)));
  return {
    agents: Object.fromEntries(Object.entries(s.agents).map(([k, r]) => [k, strip(r, ['updated_time_us', 'last_position'])])),
    tasks: Object.fromEntries(
      Object.entries(s.tasks).map(([k, r]) => [k, strip(r, ['first_position', 'updated_time_us', 'last_position'])]),
    ),
    pairs: s.pairs,
    usage: s.usage,
    spans: Object.fromEntries(
      Object.entries(s.spans).map(([t, spans]) => [
        t,
        Object.fromEntries(Object.entries(spans).map(([k, r]) => [k, strip(r, ['position', 'recorded_time_us'])])),
      ]),
    ),
  };
}

// A deterministic shuffle (mulberry32).
function shuffled(n: number, seed: number): number[] {
  let a = seed;
  const random = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const order = [...Array(n).keys()];
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

describe('the span fold (the port of TraceFold)', () => {
  const all = [...fixture.events.keys()];
  const want = rows(foldEvents(emptyFoldState(), events(all), noGates));

  it('gives the same rows in any order', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const order = shuffled(all.length, seed);
      expect(rows(foldEvents(emptyFoldState(), events(order), noGates)), `seed ${seed}`).toEqual(want);
    }
  });

  it('gives the same rows one event at a time', () => {
    for (let seed = 1; seed <= 50; seed++) {
      let s = emptyFoldState();
      for (const e of events(shuffled(all.length, seed))) s = foldEvents(s, [e], noGates);
      expect(rows(s), `seed ${seed}`).toEqual(want);
    }
  });

  it('shows a run whose children came first as running', () => {
    // The researcher's chat and tool call only (events 1 and 2).
    const s = foldEvents(emptyFoldState(), events([1, 2]), noGates);
    expect(s.tasks['run-a000000000000005']).toMatchObject({ status: 'running', worker_id: null });
    expect(s.spans['4bf92f3577b34da6a3ce929d0e0e4736']['a000000000000006']).toMatchObject({
      model: 'claude-3', input_tokens: 50, cost_usd: 0.25, parent_span_id: 'a000000000000005',
    });
    // A placeholder never replaces a task that is not running: the run
    // came with a REST snapshot, its span was never folded here.
    const done = foldEvents(emptyFoldState(), events([3]), noGates); // the run itself
    const snapshot = { ...done, spans: {} };
    const later = foldEvents(snapshot, events([3, 1]).slice(1), noGates);
    expect(later.tasks['run-a000000000000005'].status).toBe('completed');
    expect(later.tasks['run-a000000000000005'].worker_id).toBe('researcher');
  });
});

describe('the live spans slice', () => {
  it('keeps the spans of the MAX_SPAN_TRACES latest traces', () => {
    const store = createDashboardStore();
    store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
    const span = fixture.events[0].data as Record<string, unknown>;
    const frames: LiveFrame[] = [];
    for (let t = 0; t <= MAX_SPAN_TRACES; t++) {
      const trace = t.toString(16).padStart(32, '0');
      frames.push({ kind: 'event', ...ev(t + 1, 'SpanRecorded', { ...span, trace_id: trace }, `trace-${trace}`) });
    }
    store.getState().applyFrames(frames);
    const traces = Object.keys(store.getState().spans);
    expect(traces.length).toBe(MAX_SPAN_TRACES);
    expect(traces).not.toContain('0'.repeat(32)); // the oldest went
    expect(traces).toContain(MAX_SPAN_TRACES.toString(16).padStart(32, '0'));
  });
});

