import { describe, expect, it } from 'vitest';
import { createDashboardStore, MAX_TIMELINE_EVENTS } from '../src/store/store';
import { emptyFoldState, foldEvents } from '../src/fold';
import { ev, frame, story } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };

function loaded() {
  const store = createDashboardStore();
  store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
  return store;
}

describe('store: applying frames', () => {
  it('applies live events with the fold and keeps the timeline', () => {
    const store = loaded();
    const events = story();
    store.getState().applyFrames(events.map(frame));
    const s = store.getState();
    expect(s.lastPosition).toBe(events.length);
    expect(s.agents).toEqual(foldEvents(emptyFoldState(), events, noGates).agents);
    expect(s.tasks.t1.status).toBe('completed');
    expect(s.events.map((e) => e.position)).toEqual(events.map((e) => e.position));
    expect(s.events[0]).not.toHaveProperty('kind');
    expect(s.eventsApplied).toBe(events.length);
    expect(Object.values(s.eventRate).reduce((a, b) => a + b, 0)).toBe(events.length);
  });

  it('drops events at or below the last position (de-duplication)', () => {
    const store = loaded();
    const events = story();
    store.getState().applyFrames(events.slice(0, 10).map(frame));
    const after10 = store.getState();
    // A reconnect that resends 5..12, and the same batch twice.
    store.getState().applyFrames(events.slice(4, 12).map(frame));
    store.getState().applyFrames(events.slice(4, 12).map(frame));
    const s = store.getState();
    expect(s.lastPosition).toBe(12);
    expect(s.duplicatesDropped).toBe(6 + 8);
    expect(s.events.map((e) => e.position)).toEqual([...Array(12).keys()].map((i) => i + 1));
    expect(s.pairs).toEqual(foldEvents(emptyFoldState(), events.slice(0, 12), noGates).pairs);
    expect(after10.tasks.t2).toBeDefined();
  });

  it('a checkpoint or caught_up moves the resume position without events', () => {
    const store = loaded();
    store.getState().applyFrames([{ kind: 'checkpoint', position: 40 }]);
    expect(store.getState().lastPosition).toBe(40);
    expect(store.getState().caughtUp).toBe(false);
    store.getState().applyFrames([frame(ev(39, 'AgentHeartbeat', { agent_id: 'a' }))]);
    expect(store.getState().agents.a).toBeUndefined(); // behind the checkpoint: a duplicate
    store.getState().applyFrames([{ kind: 'caught_up', position: 41 }, frame(ev(42, 'AgentRegistered', { agent_id: 'a', role: 'worker', name: 'A' }))]);
    expect(store.getState()).toMatchObject({ lastPosition: 42, caughtUp: true });
    expect(store.getState().agents.a.name).toBe('A');
  });

  it('starts from a REST snapshot and folds only what is newer', () => {
    const events = story();
    const snap = foldEvents(emptyFoldState(), events.slice(0, 9), noGates);
    const store = createDashboardStore();
    // The projections' checkpoints: agents at 9, tasks at 9, metrics at 8.
    store.getState().loadSnapshot({ ...snap, gates: { agents: 9, tasks: 9, metrics: 8 }, recent: events.slice(0, 8) });
    expect(store.getState().lastPosition).toBe(8); // the live feed resumes after min(gates)
    store.getState().applyFrames(events.slice(8).map(frame)); // 9.. (9 is in the snapshot for tasks)
    const want = foldEvents(emptyFoldState(), events, noGates);
    const s = store.getState();
    expect(s.agents).toEqual(want.agents);
    expect(s.tasks).toEqual(want.tasks);
    expect(s.pairs).toEqual(want.pairs);
    expect(s.usage).toEqual(want.usage);
    expect(s.events.map((e) => e.position)).toEqual(events.map((e) => e.position));
  });

  it('keeps the timeline bounded', () => {
    const store = loaded();
    const many = Array.from({ length: MAX_TIMELINE_EVENTS + 100 }, (_, i) => frame(ev(i + 1, 'Noise', { n: i })));
    store.getState().applyFrames(many);
    const s = store.getState();
    expect(s.events.length).toBe(MAX_TIMELINE_EVENTS);
    expect(s.events[0].position).toBe(101);
  });

  it('does not notify subscribers when a batch changes nothing', () => {
    const store = loaded();
    store.getState().applyFrames(story().map(frame));
    let calls = 0;
    const unsubscribe = store.subscribe(() => calls++);
    store.getState().applyFrames([]);
    expect(calls).toBe(0);
    unsubscribe();
  });
});
