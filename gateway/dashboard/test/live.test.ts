import { describe, expect, it } from 'vitest';
import { backoffDelay, LiveClient, liveUrl, type WebSocketLike } from '../src/live/client';
import { Ingest } from '../src/live/ingest';
import { createDashboardStore, type Connection } from '../src/store/store';
import { emptyFoldState, foldEvents } from '../src/fold';
import type { LiveFrame } from '../src/types';
import { ev, frame, story } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };

class FakeSocket implements WebSocketLike {
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  closed = false;
  constructor(readonly url: string) {}
  open() { this.onopen?.({}); }
  send(f: LiveFrame) { this.onmessage?.({ data: JSON.stringify(f) }); }
  drop(code = 1006, reason = '') { this.onclose?.({ code, reason }); }
  close() { this.closed = true; }
}

// A LiveClient wired to a store through Ingest, with fake sockets and timers.
function harness(random = () => 0.5) {
  const store = createDashboardStore();
  store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
  const ingest = new Ingest(store, { schedule: (fn) => fn() });
  ingest.setReady();
  const sockets: FakeSocket[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const states: Partial<Connection>[] = [];
  const unavailable: boolean[] = [];
  const client = new LiveClient({
    baseUrl: 'ws://h:7601',
    token: () => 'secret token',
    from: () => store.getState().lastPosition,
    onFrame: (f) => ingest.push([f]),
    onState: (p) => { states.push(p); store.getState().setConnection(p); },
    onUnavailable: (u) => unavailable.push(u),
    createSocket: (url) => { const s = new FakeSocket(url); sockets.push(s); return s; },
    random,
    setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimer: () => {},
  });
  const fire = () => timers.shift()!.fn();
  return { store, client, sockets, timers, states, unavailable, fire };
}

describe('LiveClient', () => {
  it('builds the docs/contract.md URL with from, filters and token', () => {
    expect(liveUrl('ws://h:1', 7, 't k', ['agent-', 'task-'], ['TaskCreated'])).toBe(
      'ws://h:1/v1/live?from=7&streams=agent-%2Ctask-&types=TaskCreated&token=t+k');
    expect(liveUrl('ws://h:1', 0, '')).toBe('ws://h:1/v1/live?from=0');
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect(backoffDelay(0, 500, 15000, () => 0.999)).toBe(499);
    expect(backoffDelay(3, 500, 15000, () => 0.5)).toBe(2000);
    expect(backoffDelay(10, 500, 15000, () => 0.999)).toBe(14985);
    expect(backoffDelay(4, 500, 15000, () => 0)).toBe(50);
  });

  it('resumes from the last position after a drop, applying nothing twice', () => {
    const h = harness();
    const events = story();
    h.client.start();
    expect(h.sockets[0].url).toBe('ws://h:7601/v1/live?from=0&token=secret+token');
    h.sockets[0].open();
    for (const e of events.slice(0, 8)) h.sockets[0].send(frame(e));
    h.sockets[0].send({ kind: 'caught_up', position: 8 });
    expect(h.store.getState().connection.state).toBe('live');
    h.sockets[0].drop(1006);
    expect(h.store.getState().connection).toMatchObject({ state: 'reconnecting', attempt: 1 });
    h.fire();
    expect(h.sockets[1].url).toContain('from=8');
    h.sockets[1].open();
    // A server that resends some of what it already sent is harmless.
    for (const e of events.slice(5)) h.sockets[1].send(frame(e));
    const s = h.store.getState();
    expect(s.lastPosition).toBe(events.length);
    expect(s.duplicatesDropped).toBe(3);
    expect(s.events.map((e) => e.position)).toEqual(events.map((e) => e.position));
    expect(s.tasks).toEqual(foldEvents(emptyFoldState(), events, noGates).tasks);
  });

  it('grows the delay while attempts fail and resets it once caught up', () => {
    const h = harness(() => 0.999);
    h.client.start();
    for (let i = 0; i < 4; i++) {
      h.sockets[i].drop(1006);
      h.fire();
    }
    const delays = h.states.filter((s) => s.retryInMs != null).map((s) => s.retryInMs!);
    expect(delays).toEqual([499, 999, 1998, 3996]);
    expect(h.unavailable).toEqual([true]); // never opened: the server has no /v1/live yet
    h.sockets[4].open();
    h.sockets[4].send({ kind: 'caught_up', position: 0 });
    expect(h.unavailable).toEqual([true, false]);
    h.sockets[4].drop(1001);
    expect(h.states.at(-1)).toMatchObject({ retryInMs: 499, attempt: 1 });
  });

  it('a 4008 slow-consumer close resumes at once from the last position', () => {
    const h = harness(() => 0.999);
    h.client.start();
    h.sockets[0].open();
    h.sockets[0].send(frame(ev(1, 'AgentRegistered', { agent_id: 'a', role: 'worker', name: 'A' })));
    h.sockets[0].send({ kind: 'checkpoint', position: 30 });
    h.sockets[0].drop(4008, 'slow consumer');
    expect(h.timers[0].ms).toBe(499);
    expect(h.store.getState().connection.lastError).toContain('4008');
    h.fire();
    expect(h.sockets[1].url).toContain('from=30');
  });

  it('ignores frames that are not docs/contract.md\'s event, caught_up or checkpoint', () => {
    const h = harness();
    h.client.start();
    h.sockets[0].open();
    h.sockets[0].onmessage?.({ data: '{"kind":"pong"}' });
    h.sockets[0].onmessage?.({ data: '{"kind":"error","message":"x"}' });
    h.sockets[0].onmessage?.({ data: 'not json' });
    h.sockets[0].onmessage?.({ data: '{"kind":"checkpoint"}' });
    h.sockets[0].send(frame(ev(1, 'AgentRegistered', { agent_id: 'a', role: 'worker', name: 'A' })));
    expect(h.store.getState().lastPosition).toBe(1);
    expect(h.store.getState().agents.a).toBeDefined();
  });

  it('stop closes the socket and schedules nothing', () => {
    const h = harness();
    h.client.start();
    h.sockets[0].open();
    h.client.stop();
    expect(h.sockets[0].closed).toBe(true);
    expect(h.timers).toHaveLength(0);
    expect(h.store.getState().connection.state).toBe('idle');
  });
});

describe('Ingest', () => {
  it('applies everything pushed before a frame in one store update', () => {
    const store = createDashboardStore();
    store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
    const scheduled: Array<() => void> = [];
    const ingest = new Ingest(store, { schedule: (fn) => scheduled.push(fn) });
    let updates = 0;
    store.subscribe(() => updates++);
    for (const e of story()) ingest.push([frame(e)]);
    expect(scheduled).toHaveLength(0); // held until the snapshot is in
    ingest.setReady();
    expect(scheduled).toHaveLength(1);
    scheduled[0]();
    expect(updates).toBe(1);
    expect(store.getState().lastPosition).toBe(story().length);
  });

  it('fills a gap from REST before applying what follows it', async () => {
    const events = story();
    const store = createDashboardStore();
    store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
    const asked: Array<[number, number]> = [];
    const forwarded: number[] = [];
    const ingest = new Ingest(store, {
      schedule: () => {},
      fetchRange: async (from, to) => {
        asked.push([from, to]);
        return events.filter((e) => e.position >= from && e.position <= to + 5); // more than asked
      },
      onApplied: (frames) => forwarded.push(...frames.map((f) => f.position)),
    });
    ingest.setReady();
    ingest.push(events.slice(0, 3).map(frame));
    ingest.push(events.slice(10).map(frame)); // 4..10 never arrived
    await ingest.flush();
    expect(asked).toEqual([[4, 10]]);
    expect(store.getState().events.map((e) => e.position)).toEqual(events.map((e) => e.position));
    expect(forwarded).toEqual(events.map((e) => e.position));
    expect(store.getState().tasks).toEqual(foldEvents(emptyFoldState(), events, noGates).tasks);
  });

  it('keeps the frames and retries when the gap cannot be filled yet', async () => {
    const events = story();
    const store = createDashboardStore();
    store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
    let fail = true;
    const ingest = new Ingest(store, {
      schedule: () => {},
      retryMs: 1,
      fetchRange: async (from, to) => {
        if (fail) throw new Error('down');
        return events.filter((e) => e.position >= from && e.position <= to);
      },
    });
    ingest.setReady();
    ingest.push(events.slice(5).map(frame));
    await ingest.flush();
    expect(store.getState().lastPosition).toBe(0);
    fail = false;
    await ingest.flush();
    expect(store.getState().lastPosition).toBe(events.length);
  });
});
