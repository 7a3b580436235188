import { describe, expect, it } from 'vitest';
import { emptyFoldState, foldEvents } from '../src/fold';
import { RestClient } from '../src/live/rest';
import { PAST_TASK_LIMIT, TravelClient } from '../src/live/travel';
import { createDashboardStore, shown } from '../src/store/store';
import {
  eventTime, parseDiff, parseTimeInput, pastView, pointQuery, rfc3339,
  type DiffResponse, type StateAtResponse,
} from '../src/travel';
import type { RecordedEvent, RestPair } from '../src/types';
import { frame, story, T0, tick } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };

function loaded() {
  const store = createDashboardStore();
  store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
  return store;
}

// GET /v1/state at the last of `events`, as the server writes it (the
// rows have the REST read models' fields, which the fold port keeps).
function stateAt(events: RecordedEvent[]): StateAtResponse {
  const f = foldEvents(emptyFoldState(), events, noGates);
  const last = events.at(-1);
  const pairs: RestPair[] = Object.values(f.pairs).map((p) => ({
    manager_id: p.manager_id, worker_id: p.worker_id, tasks_assigned: p.tasks_assigned,
    tasks_completed: p.tasks_completed, tasks_failed: p.tasks_failed,
    mean_time_to_complete_ms: p.complete_time_count ? p.complete_time_sum_ms / p.complete_time_count : null,
  }));
  return {
    position: last?.position ?? 0, time_us: last?.recorded_time_us ?? null,
    snapshot_position: 0, replayed_events: events.length, skipped_events: 0,
    agents: Object.values(f.agents), task_count: Object.keys(f.tasks).length,
    tasks: Object.values(f.tasks).sort((a, b) => b.first_position - a.first_position),
    coordination: { pairs, messages: [] }, agent_metrics: [], usage: Object.values(f.usage),
  };
}

function viewAt(position: number) {
  const events = story().slice(0, position);
  return pastView(stateAt(events), events);
}

describe('pastView', () => {
  it('turns a whole-system state into the models the views read', () => {
    const events = story();
    const view = pastView(stateAt(events.slice(0, 9)), events); // events past 9 are cut
    const want = foldEvents(emptyFoldState(), events.slice(0, 9), noGates);
    expect(view.position).toBe(9);
    expect(view.timeUs).toBe(T0 + 9_000_000);
    expect(view.agents).toEqual(want.agents);
    expect(view.tasks).toEqual(want.tasks);
    expect(view.usage).toEqual(want.usage);
    expect(view.pairs).toEqual(want.pairs);
    expect(view.events.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Object.values(view.eventRate).reduce((a, b) => a + b, 0)).toBe(9);
    expect(view.taskCount).toBe(1);
  });

  it('refuses a body that is not a state', () => {
    expect(() => pastView({ detail: 'nope' } as unknown as StateAtResponse, [])).toThrow(/not a state/);
    expect(() => pastView({ ...stateAt(story()), agents: undefined } as unknown as StateAtResponse, []))
      .toThrow(/agents is not a list/);
  });
});

describe('store: time travel', () => {
  it('shows the live model, then the past view, then live again with what came meanwhile', () => {
    const store = loaded();
    const events = story();
    store.getState().applyFrames(events.slice(0, 12).map(frame));
    const live = store.getState();
    expect(shown(live)).toBe(live);

    const seq = store.getState().seekPast({ position: 5 });
    expect(store.getState().travel).toMatchObject({ mode: 'past', loading: true, view: null });
    // Before the first answer: the live model (the page dims it).
    expect(shown(store.getState()).agents).toBe(live.agents);

    expect(store.getState().receivePast(seq, viewAt(5))).toBe(true);
    const past = shown(store.getState());
    expect(Object.keys(past.tasks)).toEqual(['t1']);
    expect(past.tasks.t1.status).toBe('assigned');

    // Live events keep folding but do not change what is shown.
    store.getState().applyFrames(events.slice(12).map(frame));
    expect(store.getState().lastPosition).toBe(events.length);
    expect(shown(store.getState())).toBe(past);
    expect(store.getState().tasks.t3.status).toBe('running');

    store.getState().goLive();
    const back = store.getState();
    expect(back.travel).toMatchObject({ mode: 'live', view: null, target: null, loading: false });
    expect(shown(back).tasks.t3.status).toBe('running');
    expect(shown(back).events.length).toBe(events.length);
  });

  it('shows an older seek\'s answer while the newest loads, drops one older than the view, and any once live', () => {
    const store = loaded();
    const first = store.getState().seekPast({ position: 3 });
    const second = store.getState().seekPast({ position: 9 });
    const third = store.getState().seekPast({ position: 7 });
    // A drag passing 9: shown, the newest (7) still loading.
    expect(store.getState().receivePast(second, viewAt(9), 12.5)).toBe(true);
    expect(store.getState().travel).toMatchObject({ viewSeq: second, viewSeekAt: 12.5, loading: true, error: null });
    expect(store.getState().travel.view?.position).toBe(9);
    // Older than the view shown: dropped, as is an older seek's error.
    expect(store.getState().receivePast(first, viewAt(3))).toBe(false);
    expect(store.getState().failPast(first, 'late error')).toBe(false);
    expect(store.getState().travel).toMatchObject({ loading: true, error: null, staleDropped: 2 });
    expect(store.getState().travel.view?.position).toBe(9);
    expect(store.getState().receivePast(third, viewAt(7))).toBe(true);
    expect(store.getState().travel).toMatchObject({ viewSeq: third, loading: false });
    expect(store.getState().travel.view?.position).toBe(7);

    const fourth = store.getState().seekPast({ position: 4 });
    store.getState().goLive();
    expect(store.getState().receivePast(fourth, viewAt(4))).toBe(false);
    expect(store.getState().travel).toMatchObject({ mode: 'live', view: null, staleDropped: 3 });
  });

  it('keeps the view shown when the next point fails, with the error', () => {
    const store = loaded();
    store.getState().receivePast(store.getState().seekPast({ position: 9 }), viewAt(9));
    const seq = store.getState().seekPast({ position: 99 });
    expect(store.getState().failPast(seq, 'GET /v1/state?at=99: 400 position 99 is past the head 19')).toBe(true);
    expect(store.getState().travel).toMatchObject({ mode: 'past', loading: false, error: expect.stringMatching(/400/) });
    expect(store.getState().travel.view?.position).toBe(9);
  });
});

// A scripted server: each GET waits until the test answers it.
class FakeServer {
  calls: Array<{ path: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  get<T>(path: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.calls.push({ path, resolve: resolve as (v: unknown) => void, reject });
    });
  }
  pending() {
    return this.calls.map((c) => c.path);
  }
  async answer(body: unknown) {
    this.calls.shift()!.resolve(body);
    await tick();
  }
  async fail(error: unknown) {
    this.calls.shift()!.reject(error);
    await tick();
  }
}

function travelHarness() {
  const store = loaded();
  const server = new FakeServer();
  const client = new TravelClient(store, server);
  return { store, server, client };
}

const page = (events: RecordedEvent[]) => ({ events });

describe('TravelClient', () => {
  it('asks at once for two seeks at most, then only for the newest point, showing each answer as it comes', async () => {
    const { store, server, client } = travelHarness();
    client.seek({ position: 12 });
    // The state and the timeline's events of a position, side by side.
    expect(server.pending()).toEqual([`/v1/state?at=12&limit=${PAST_TASK_LIMIT}`, '/v1/all?from=1&limit=12']);
    for (const p of [11, 10, 9, 8]) client.seek({ position: p }); // a drag goes on
    // 11 beside 12; 10 and 9 are never asked for.
    expect(server.pending().slice(2)).toEqual([`/v1/state?at=11&limit=${PAST_TASK_LIMIT}`, '/v1/all?from=1&limit=11']);
    await server.answer(stateAt(story().slice(0, 12)));
    await server.answer(page(story().slice(0, 12)));
    // 12 is shown while 8 loads, and 8 is asked for.
    expect(store.getState().travel).toMatchObject({ loading: true, error: null });
    expect(store.getState().travel.view?.position).toBe(12);
    expect(server.pending()).toEqual([`/v1/state?at=11&limit=${PAST_TASK_LIMIT}`, '/v1/all?from=1&limit=11',
      `/v1/state?at=8&limit=${PAST_TASK_LIMIT}`, '/v1/all?from=1&limit=8']);
    await server.answer(stateAt(story().slice(0, 11)));
    await server.answer(page(story().slice(0, 11)));
    expect(store.getState().travel.view?.position).toBe(11);
    await server.answer(stateAt(story().slice(0, 8)));
    await server.answer(page(story().slice(0, 8)));
    expect(store.getState().travel).toMatchObject({ loading: false, error: null, staleDropped: 0 });
    expect(shown(store.getState()).events.at(-1)?.position).toBe(8);
    expect(server.pending()).toEqual([]);
  });

  it('drops an answer older than the one shown (two in flight, answered out of order)', async () => {
    const { store, server, client } = travelHarness();
    client.seek({ position: 12 });
    client.seek({ position: 9 });
    const [older, olderEvents] = server.calls.splice(0, 2);
    await server.answer(stateAt(story().slice(0, 9)));
    await server.answer(page(story().slice(0, 9)));
    expect(store.getState().travel).toMatchObject({ loading: false, staleDropped: 0 });
    older.resolve(stateAt(story().slice(0, 12)));
    olderEvents.resolve(page(story().slice(0, 12)));
    await tick();
    expect(store.getState().travel.view?.position).toBe(9);
    expect(store.getState().travel.staleDropped).toBe(1);
  });

  it('going live drops what is in flight and asks for nothing more', async () => {
    const { store, server, client } = travelHarness();
    client.seek({ position: 4 });
    client.seek({ position: 5 });
    client.seek({ position: 6 });
    client.live();
    await server.answer(stateAt(story().slice(0, 4)));
    await server.answer(page(story().slice(0, 4)));
    await server.answer(stateAt(story().slice(0, 5)));
    // 6 was never asked for; 5's events were asked, not waited for.
    expect(server.pending()).toEqual(['/v1/all?from=1&limit=5']);
    expect(store.getState().travel).toMatchObject({ mode: 'live', view: null });
  });

  it('asks by time and selects a position\'s event on arrival', async () => {
    const { store, server, client } = travelHarness();
    client.seek({ timeUs: T0 + 6_500_000 });
    // The position is known once the state answers: its events after it.
    expect(server.pending()).toEqual([`/v1/state?at_time=${T0 + 6_500_000}&limit=${PAST_TASK_LIMIT}`]);
    await server.answer(stateAt(story().slice(0, 6)));
    expect(server.pending()).toEqual(['/v1/all?from=1&limit=6']);
    await server.answer(page(story().slice(0, 6)));
    expect(store.getState().travel.view?.position).toBe(6);

    client.seek({ position: 7 }, true);
    await server.answer(stateAt(story().slice(0, 7)));
    await server.answer(page(story().slice(0, 7)));
    expect(store.getState().selectedEvent?.position).toBe(7);
  });

  it('shows errors: the state failing is an error, the events failing only a note', async () => {
    const { store, server, client } = travelHarness();
    client.seek({ position: 5 });
    await server.fail(new Error('GET /v1/state?at=5: 503 shutting down'));
    await server.fail(new Error('GET /v1/all: 503 shutting down')); // not read
    expect(store.getState().travel).toMatchObject({ loading: false, error: 'GET /v1/state?at=5: 503 shutting down' });
    client.retry();
    await server.answer(stateAt(story().slice(0, 5)));
    await server.fail(new Error('GET /v1/all: network error (Failed to fetch)'));
    expect(store.getState().travel).toMatchObject({ error: null, loading: false });
    expect(store.getState().travel.view).toMatchObject({ position: 5, events: [], eventsError: expect.stringMatching(/network/) });
    expect(Object.keys(store.getState().travel.view!.agents)).toEqual(['m1', 'w1', 'w2']);
  });

  it('reads problem+json and network failures through the REST client, with the token', async () => {
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const responses: Array<Response | Error> = [
      new Response(JSON.stringify({ type: 'about:blank', title: 'Bad Request', status: 400,
        detail: 'position 99 is past the head 19' }), { status: 400, headers: { 'Content-Type': 'application/problem+json' } }),
      new TypeError('Failed to fetch'),
      new Response(JSON.stringify({ title: 'Not Found', status: 404, detail: 'no such path' }), { status: 404 }),
    ];
    const fetchImpl = (async (url: string, init?: RequestInit) => {
      // The timeline's events, asked beside each state: none.
      if (url.includes('/v1/all')) return new Response(JSON.stringify({ events: [] }));
      seen.push({ url, auth: (init?.headers as Record<string, string>).Authorization });
      const r = responses.shift()!;
      if (r instanceof Error) throw r;
      return r;
    }) as unknown as typeof fetch;
    const store = loaded();
    store.getState().setToken('s3cret');
    const client = new TravelClient(store, new RestClient('http://h', () => store.getState().token, fetchImpl));
    client.seek({ position: 99 });
    await tick();
    expect(seen[0]).toEqual({ url: `http://h/v1/state?at=99&limit=${PAST_TASK_LIMIT}`, auth: 'Bearer s3cret' });
    expect(store.getState().travel.error).toBe(`GET /v1/state?at=99&limit=${PAST_TASK_LIMIT}: 400 position 99 is past the head 19`);
    client.retry();
    await tick();
    expect(store.getState().travel.error).toMatch(/network error \(Failed to fetch\)/);
    client.retry();
    await tick();
    expect(store.getState().travel.error).toMatch(/404 no such path \(does this server have time travel\?\)/);
  });

  it('compares the two marks in either order, and says when one is missing', async () => {
    const { store, server, client } = travelHarness();
    await client.compare();
    expect(store.getState().diff).toMatchObject({ open: true, loading: false, error: expect.stringMatching(/mark two/) });
    store.getState().setMark('a', 12);
    store.getState().setMark('b', 4);
    const done = client.compare();
    expect(server.pending()).toEqual(['/v1/diff?from=4&to=12']);
    expect(store.getState().diff.loading).toBe(true);
    await server.answer(diffBody());
    await done;
    expect(store.getState().diff).toMatchObject({ loading: false, error: null });
    expect(store.getState().diff.result?.changes.length).toBe(3);
  });

  it('drops a diff answer when a newer compare started', async () => {
    const { store, server, client } = travelHarness();
    store.getState().setMark('a', 1);
    store.getState().setMark('b', 2);
    const first = client.compare();
    store.getState().setMark('b', 12);
    const second = client.compare();
    await server.answer({ ...diffBody(), to: { position: 2, time_us: T0 + 2_000_000 }, changes: [] });
    await first;
    expect(store.getState().diff.loading).toBe(true);
    await server.answer(diffBody());
    await second;
    expect(store.getState().diff.result?.to.position).toBe(12);
  });
});

function diffBody(): DiffResponse {
  const agent = (status: string, position: number) => ({ agent_id: 'w2', status, cpu_pct: 0.0, last_position: position });
  return {
    from: { position: 4, time_us: T0 + 4_000_000 },
    to: { position: 12, time_us: T0 + 12_000_000 },
    change_count: 3,
    changes: [
      { kind: 'agent', key: { agent_id: 'w2' }, before: agent('idle', 3), after: agent('busy', 12), positions: [12], position_count: 1 },
      { kind: 'task', key: { task_id: 't2' }, before: null,
        after: { task_id: 't2', status: 'running', result: { ok: true } }, positions: [10, 11, 12], position_count: 3 },
      { kind: 'coordination', key: { manager_id: 'm1', worker_id: 'w9' }, before: { tasks_assigned: 1 }, after: null,
        positions: Array.from({ length: 1000 }, (_, i) => i + 1), position_count: 1500 },
    ],
  };
}

describe('parseDiff', () => {
  it('says what changed per entity, field by field, and which events did it', () => {
    const d = parseDiff(diffBody());
    expect(d.from).toEqual({ position: 4, timeUs: T0 + 4_000_000 });
    expect(d.to.position).toBe(12);
    expect(d.byKind).toMatchObject({ agent: 1, task: 1, coordination: 1, llm_usage: 0 });
    const [agent, task, pair] = d.changes;
    expect(agent).toMatchObject({ label: 'w2', what: 'changed', positions: [12], positionCount: 1 });
    expect(agent.fields).toEqual([
      { field: 'status', before: 'idle', after: 'busy' },
      { field: 'last_position', before: 3, after: 12 },
    ]);
    expect(task).toMatchObject({ label: 't2', what: 'added' });
    expect(task.fields.map((f) => [f.field, f.before, f.after])).toEqual([
      ['task_id', undefined, 't2'], ['status', undefined, 'running'], ['result', undefined, { ok: true }],
    ]);
    expect(pair).toMatchObject({ label: 'm1 → w9', what: 'removed', positionCount: 1500 });
    expect(pair.positions.length).toBe(1000);
  });

  it('labels every kind of key', () => {
    const minute = Date.UTC(2026, 0, 31, 10, 7) * 1000;
    const body = (kind: string, key: Record<string, string | number>) => parseDiff({
      from: { position: 0, time_us: null }, to: { position: 1, time_us: 1 }, change_count: 1,
      changes: [{ kind: kind as 'agent', key, before: null, after: {}, positions: [1], position_count: 1 }],
    }).changes[0].label;
    expect(body('agent_messages', { from_agent: 'm1', to_agent: 'w1' })).toBe('m1 → w1');
    expect(body('agent_metrics', { agent_id: 'w1', bucket_time_us: minute })).toBe('w1 @ 10:07');
    expect(body('llm_usage', { model: 'gpt-4o', bucket_time_us: minute })).toBe('gpt-4o @ 10:07');
  });

  it('refuses a body that is not a diff', () => {
    expect(() => parseDiff({ detail: 'x' } as unknown as DiffResponse)).toThrow(/not a diff/);
    expect(() => parseDiff({ ...diffBody(), changes: 'x' } as unknown as DiffResponse)).toThrow(/changes is not a list/);
  });
});

describe('time travel helpers', () => {
  it('writes points as query parameters', () => {
    expect(pointQuery('at', { position: 7 })).toBe('at=7');
    expect(pointQuery('from', { timeUs: 123 })).toBe('from_time=123');
  });

  it('finds an event\'s time by position', () => {
    const events = story().filter((e) => e.position % 2 === 1);
    expect(eventTime(events, 7)).toBe(T0 + 7_000_000);
    expect(eventTime(events, 8)).toBeNull();
    expect(eventTime([], 1)).toBeNull();
  });

  it('reads RFC 3339 times to the microsecond and writes them back', () => {
    const us = Date.UTC(2026, 0, 31, 10, 0, 0) * 1000 + 123_456;
    expect(parseTimeInput('2026-01-31T10:00:00.123456Z')).toBe(us);
    expect(parseTimeInput(' 2026-01-31T11:00:00.123456+01:00 ')).toBe(us);
    expect(parseTimeInput('2026-01-31T10:00:00Z')).toBe(us - 123_456);
    expect(rfc3339(us)).toBe('2026-01-31T10:00:00.123456Z');
    expect(parseTimeInput(rfc3339(us))).toBe(us);
    expect(parseTimeInput('yesterday-ish')).toBeNull();
  });
});
