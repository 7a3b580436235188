import { describe, expect, it } from 'vitest';
import { emptyFoldState } from '../src/fold';
import { TraceClient } from '../src/live/traces';
import { PAST_TASK_LIMIT, TravelClient } from '../src/live/travel';
import { spansOf } from '../src/spans';
import type { SpanRow } from '../src/types';
import { createDashboardStore, type DashboardState } from '../src/store/store';
import { selectedTraceId, shownSpans, type Trace } from '../src/store/trace';
import { ev, frame, span, tick, TRACE } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };
const OTHER = 'ffffffffffffffffffffffffffffffff';

function loaded() {
  const store = createDashboardStore();
  store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
  return store;
}

// A REST stand-in: records the paths asked, answers each when told.
class Server {
  asked: string[] = [];
  private waiting: Array<{ resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  get<T>(path: string): Promise<T> {
    this.asked.push(path);
    return new Promise((resolve, reject) => this.waiting.push({ resolve: resolve as (v: unknown) => void, reject }));
  }
  answerWith(body: unknown) {
    this.waiting.shift()!.resolve(body);
  }
  async answer(spans: SpanRow[], traceId = TRACE) {
    this.waiting.shift()!.resolve({ trace_id: traceId, spans });
    await tick();
  }
  async fail(error: Error) {
    this.waiting.shift()!.reject(error);
    await tick();
  }
  get pending() { return this.waiting.length; }
}

// Timers run when the test says (the debounce).
class Timers {
  private due: Array<() => void> = [];
  options = {
    setTimer: (fn: () => void) => { this.due.push(fn); return fn; },
    clearTimer: (id: unknown) => { this.due = this.due.filter((f) => f !== id); },
  };
  fire() { const due = this.due; this.due = []; for (const f of due) f(); }
  get count() { return this.due.length; }
}

// A span the store does not fold (not JSON here; also: a store without
// spans, a trace its bound dropped): the client asks REST again.
const spanEvent = (position: number, traceId: string) => frame({
  ...ev(position, 'SpanRecorded', {}, `trace-${traceId}`), data: undefined, content_type: 'application/x-protobuf',
  data_base64: 'AA==',
});

const run = () => [span('r', null, 0, 100, { operation: 'invoke_agent', agent_id: 'w1', position: 3 }),
  span('t', 'r', 10, 20, { operation: 'execute_tool', position: 2 })];

function setup() {
  const store = loaded();
  const server = new Server();
  const timers = new Timers();
  const client = new TraceClient(store, server, timers.options);
  return { store, server, timers, client };
}

describe('TraceClient', () => {
  it('asks for a run task\'s spans, then for its trace again when spans of it arrive live', async () => {
    const { store, server, timers, client } = setup();
    client.open({ taskId: 'run-r', traceId: null, agentId: null });
    expect(server.asked).toEqual(['/v1/tasks/run-r/spans?min_position=0']);
    expect(store.getState().trace.loading).toBe(true);
    await server.answer(run());
    const t = store.getState().trace;
    expect([t.traceId, t.fetched.length, t.loading, t.error]).toEqual([TRACE, 2, false, null]);

    // A span of another trace: nothing; of this one: asked again once the
    // debounce passes, at least as fresh as that event.
    store.getState().applyFrames([spanEvent(4, OTHER)]);
    expect(timers.count).toBe(0);
    store.getState().applyFrames([spanEvent(5, TRACE), spanEvent(6, TRACE)]);
    store.getState().applyFrames([spanEvent(7, TRACE)]);
    expect(timers.count).toBe(1); // debounced into one
    timers.fire();
    expect(server.asked[1]).toBe(`/v1/traces/${TRACE}?min_position=7`);
    await server.answer([...run(), span('c1', 'r', 30, 40, { position: 5 })]);
    expect(store.getState().trace.fetched.length).toBe(3);
    expect(store.getState().trace.fetchedAt).toBe(7);
  });

  it('asks once more after the request in flight when spans arrive meanwhile', async () => {
    const { store, server, timers, client } = setup();
    client.open({ taskId: null, traceId: TRACE, agentId: null });
    expect(server.asked).toEqual([`/v1/traces/${TRACE}?min_position=0`]);
    store.getState().applyFrames([spanEvent(1, TRACE)]);
    timers.fire(); // the first request is still in flight
    expect(server.pending).toBe(1);
    await server.answer([]);
    expect(server.asked).toEqual([`/v1/traces/${TRACE}?min_position=0`, `/v1/traces/${TRACE}?min_position=1`]);
    await server.answer([span('a', null, 0, 1)]);
    expect(store.getState().trace.fetched.map((s) => s.span_id)).toEqual(['a']);
  });

  it('drops an answer for a selection no longer shown, and shows errors', async () => {
    const { store, server, client } = setup();
    client.open({ taskId: 'run-r', traceId: null, agentId: null });
    client.open({ taskId: 'run-s', traceId: null, agentId: null });
    await server.answer(run()); // for run-r: stale
    expect(store.getState().trace.fetched).toEqual([]);
    await server.fail(new Error('GET /v1/tasks/run-s/spans: 404 Not Found'));
    expect(store.getState().trace.error).toBe('GET /v1/tasks/run-s/spans: 404 Not Found');
    client.close();
    expect(store.getState().trace.selection).toBeNull();
  });

  it('asks nothing for a task that is not a run, and says why it shows no spans', () => {
    const { store, server, client } = setup();
    client.open({ taskId: 't1', traceId: null, agentId: null });
    expect(server.asked).toEqual([]);
    const t = store.getState().trace;
    expect(t.loading).toBe(false);
    expect(shownSpans(t, { past: null, traceId: null, hasSpans: false, folded: undefined }).note).toMatch(/t1 is not a run/);
  });

  it('asks with min_position = the task row\'s last position, and leaves live spans the store folded to it', async () => {
    const { store, server, timers, client } = setup();
    store.getState().applyFrames([frame(ev(9, 'TaskStarted', { task_id: 'run-r', worker_id: 'w1' }))]);
    client.open({ taskId: 'run-r', traceId: null, agentId: null });
    expect(server.asked).toEqual(['/v1/tasks/run-r/spans?min_position=9']);
    await server.answer(run());
    // A span the store has folded (set here as a store that folds spans would).
    const c1 = span('c1', 'r', 30, 40, { position: 10 });
    store.setState({ spans: { [TRACE]: { c1 } } } as unknown as Partial<DashboardState>);
    store.getState().applyFrames([frame(ev(10, 'SpanRecorded', { ...c1 }, `trace-${TRACE}`))]);
    expect(timers.count).toBe(0);
    client.stop();
  });
});

describe('the trace view in the past', () => {
  // GET /v1/state at `position`, listing `spans` (absent: a state without them).
  const stateAt = (position: number, spans?: SpanRow[]) => ({
    position, time_us: 1, snapshot_position: 0, replayed_events: 2, skipped_events: 0, agents: [], task_count: 0,
    tasks: [], coordination: { pairs: [], messages: [] }, agent_metrics: [], usage: [], ...(spans ? { spans } : {}),
  });

  // Travels to `position`: the state (listing `spans`) and its events are
  // answered; the trace view's own request for it is left to the test.
  async function travelTo(h: ReturnType<typeof setup>, travel: TravelClient, position: number, spans?: SpanRow[]) {
    travel.seek({ position });
    h.timers.fire();
    h.server.answerWith(stateAt(position, spans));
    await tick();
    h.server.answerWith({ events: [] });
    await tick();
  }

  it('asks GET /v1/state for the trace\'s spans at the position shown, the parent not arrived pending', async () => {
    const h = setup();
    const { store, server, client } = h;
    const travel = new TravelClient(store, server);
    client.open({ taskId: 'run-r', traceId: null, agentId: null });
    await server.answer(run());
    await travelTo(h, travel, 2, [span('x', null, 0, 1, { trace_id: OTHER })]); // bounded: not this trace
    expect(server.asked[1]).toBe(`/v1/state?at=2&limit=${PAST_TASK_LIMIT}`);
    expect(server.asked.slice(3)).toEqual([`/v1/state?at=2&trace=${TRACE}&limit=1`]);
    server.answerWith(stateAt(2, [span('t', 'r', 10, 20, { position: 2 })]));
    await tick();
    const s = store.getState();
    const source = { past: 2, traceId: TRACE, hasSpans: true, folded: spansOf(s.travel.view)?.[TRACE] };
    expect(shownSpans(s.trace, source).rows.map((r) => [r.span_id, r.status])).toEqual([['t', 'ok'], ['r', 'pending']]);
    // The same position again asks nothing; going live shows the live rows.
    store.getState().openSpanDetail('t');
    expect(server.asked.length).toBe(4);
    travel.live();
    expect(shownSpans(store.getState().trace, { ...source, past: null, folded: undefined }).rows.map((r) => r.span_id))
      .toEqual(['r', 't']);
  });

  it('says so when the state lists no spans, or the request failed', async () => {
    const h = setup();
    const { store, server, client } = h;
    const travel = new TravelClient(store, server);
    client.open({ taskId: null, traceId: TRACE, agentId: null });
    await server.answer(run());
    await travelTo(h, travel, 2);
    server.answerWith(stateAt(2));
    await tick();
    const source = { past: 2, traceId: TRACE, hasSpans: false, folded: undefined };
    expect(shownSpans(store.getState().trace, source).note).toMatch(/lists no spans/);
    await travelTo(h, travel, 1);
    await server.fail(new Error('GET /v1/state: 503 Service Unavailable'));
    expect(shownSpans(store.getState().trace, { ...source, past: 1 }).note).toBe('GET /v1/state: 503 Service Unavailable');
  });
});

describe('shownSpans', () => {
  const trace = (more: Partial<Trace>): Trace => ({
    selection: { taskId: 'run-r', traceId: null, agentId: null }, seq: 1, traceId: TRACE, fetched: [],
    fetchedAt: 0, loading: false, error: null, openSpan: null, past: null, ...more,
  });

  const live = { past: null, traceId: TRACE, hasSpans: true };

  it('live: the answer merged with the store\'s rows, the run\'s subtree only, the run pending until it arrives', () => {
    const fetched = [span('t', 'r', 10, 20, { position: 2 }), span('elsewhere', null, 0, 1)];
    const folded = { c: span('c', 't', 12, 13, { position: 6 }) };
    const { rows, note } = shownSpans(trace({ fetched }), { ...live, folded });
    expect(note).toBeNull();
    expect(rows.map((s) => [s.span_id, s.status])).toEqual([['t', 'ok'], ['c', 'ok'], ['r', 'pending']]);
    const arrived = { ...folded, r: span('r', null, 0, 100, { position: 7 }) };
    expect(shownSpans(trace({ fetched }), { ...live, folded: arrived }).rows.map((s) => [s.span_id, s.status]))
      .toEqual([['r', 'ok'], ['t', 'ok'], ['c', 'ok']]);
  });

  it('a whole trace: every span, parents not arrived pending', () => {
    const fetched = [span('a', null, 0, 1), span('b', 'm', 2, 3)];
    const { rows } = shownSpans(trace({ selection: { taskId: null, traceId: TRACE, agentId: null }, fetched }),
      { ...live, hasSpans: false, folded: undefined });
    expect(rows.map((s) => [s.span_id, s.status])).toEqual([['a', 'ok'], ['b', 'ok'], ['m', 'pending']]);
  });

  it('in the past: the past view\'s rows when none were asked for that position, not what REST answered since', () => {
    const fetched = [span('r', null, 0, 100), span('late', 'r', 50, 60)];
    const folded = { t: span('t', 'r', 10, 20) };
    const past = { ...live, past: 5 };
    const { rows } = shownSpans(trace({ fetched }), { ...past, folded });
    expect(rows.map((s) => [s.span_id, s.status])).toEqual([['t', 'ok'], ['r', 'pending']]);
    // The rows asked for that position and trace win; others are not used.
    const asked = { position: 5, traceId: TRACE, rows: [span('t2', 'r', 1, 2)], error: null };
    expect(shownSpans(trace({ fetched, past: asked }), { ...past, folded }).rows.map((s) => s.span_id)).toEqual(['t2', 'r']);
    expect(shownSpans(trace({ fetched, past: { ...asked, position: 4 } }), { ...past, folded }).rows.map((s) => s.span_id))
      .toEqual(['t', 'r']);
    // A trace that did not exist yet at that position.
    expect(shownSpans(trace({ fetched }), { ...past, folded: undefined }).rows).toEqual([]);
    // A state without spans (a server without the read model) says so.
    const none = shownSpans(trace({ fetched }), { ...past, hasSpans: false, folded: undefined });
    expect(none.rows).toEqual([]);
    expect(none.note).toMatch(/no spans/);
  });

  it('finds the trace of a run in the model when no answer named it', () => {
    const spans = { [OTHER]: { x: span('x', null, 0, 1) }, [TRACE]: { r: span('r', null, 0, 1) } };
    expect(selectedTraceId(trace({ traceId: null }), spans)).toBe(TRACE);
    expect(selectedTraceId(trace({ traceId: null }), undefined)).toBeNull();
    expect(selectedTraceId(trace({ traceId: OTHER }), spans)).toBe(OTHER);
  });
});
