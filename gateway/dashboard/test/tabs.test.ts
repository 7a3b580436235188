import { afterEach, describe, expect, it } from 'vitest';
import { Ingest } from '../src/live/ingest';
import { CHANNEL_NAME, TabSync, type ChannelLike } from '../src/live/tabs';
import { createDashboardStore } from '../src/store/store';
import { emptyFoldState } from '../src/fold';
import { FakeLocks, frame, story, tick } from './helpers';

const noGates = { agents: 0, tasks: 0, metrics: 0 };
const events = story();
const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((f) => f()));

// One browser tab: its store, its Ingest (gaps filled from the "server"'s
// events), and its TabSync on a real BroadcastChannel (Node's).
function tab(locks: FakeLocks, name: string) {
  const store = createDashboardStore();
  store.getState().loadSnapshot({ ...emptyFoldState(), gates: noGates, recent: [] });
  const roles: string[] = [];
  let sync: TabSync;
  const ingest = new Ingest(store, {
    schedule: (fn) => setTimeout(fn, 0),
    fetchRange: async (from, to) => events.filter((e) => e.position >= from && e.position <= to),
    onApplied: (frames) => sync.broadcastFrames(frames),
  });
  ingest.setReady();
  sync = new TabSync({
    channel: new BroadcastChannel(CHANNEL_NAME) as unknown as ChannelLike,
    locks,
    onLeader: (role) => roles.push(role),
    onFrames: (frames) => ingest.push(frames),
    onConnection: (c) => store.getState().setConnection(c),
  });
  sync.start();
  cleanups.push(() => sync.stop());
  return { name, store, ingest, sync, roles };
}

const settle = async () => { for (let i = 0; i < 5; i++) await tick(5); };
const view = (s: ReturnType<typeof createDashboardStore>) => {
  const { agents, tasks, pairs, usage, lastPosition, events: timeline } = s.getState();
  return { agents, tasks, pairs, usage, lastPosition, timeline: timeline.map((e) => e.position) };
};

describe('cross-tab: one leader socket, BroadcastChannel to the rest', () => {
  it('elects one leader; followers apply its frames and stay consistent', async () => {
    const locks = new FakeLocks();
    const a = tab(locks, 'a');
    const b = tab(locks, 'b');
    await settle();
    expect(a.sync.role).toBe('leader');
    expect(b.sync.role).toBe('follower');
    // Frames reach the leader's socket only.
    a.ingest.push(events.slice(0, 10).map(frame));
    await settle();
    a.ingest.push(events.slice(10).map(frame));
    await settle();
    expect(view(b.store)).toEqual(view(a.store));
    expect(b.store.getState().lastPosition).toBe(events.length);
    expect(b.store.getState().duplicatesDropped).toBe(0);
  });

  it('a tab that joins late fills what it missed from REST, then follows', async () => {
    const locks = new FakeLocks();
    const a = tab(locks, 'a');
    await settle();
    a.ingest.push(events.slice(0, 12).map(frame));
    await settle();
    const b = tab(locks, 'b'); // its snapshot is at 0; the leader is at 12
    await settle();
    a.ingest.push(events.slice(12).map(frame));
    await settle();
    expect(view(b.store)).toEqual(view(a.store));
  });

  it('shares the connection state, marked as the leader\'s', async () => {
    const locks = new FakeLocks();
    const a = tab(locks, 'a');
    const b = tab(locks, 'b');
    await settle();
    a.store.getState().setConnection({ state: 'live', role: 'leader' });
    a.sync.broadcastConnection(a.store.getState().connection);
    await settle();
    expect(b.store.getState().connection).toMatchObject({ state: 'live', role: 'follower' });
  });

  it('when the leader tab closes, a follower takes over the socket', async () => {
    const locks = new FakeLocks();
    const a = tab(locks, 'a');
    const b = tab(locks, 'b');
    await settle();
    a.ingest.push(events.slice(0, 5).map(frame));
    await settle();
    a.sync.stop();
    await settle();
    expect(b.roles).toEqual(['leader']);
    expect(b.sync.role).toBe('leader');
    // The new leader resumes from its own last position.
    expect(b.store.getState().lastPosition).toBe(5);
    // ... and a newcomer follows it.
    const c = tab(locks, 'c');
    b.ingest.push(events.slice(5).map(frame));
    await settle();
    expect(c.sync.role).toBe('follower');
    expect(view(c.store)).toEqual(view(b.store));
  });

  it('without Web Locks every tab is on its own', () => {
    const roles: string[] = [];
    const sync = new TabSync({ channel: null, locks: null, onLeader: (r) => roles.push(r), onFrames: () => {}, onConnection: () => {} });
    sync.start();
    expect(roles).toEqual(['solo']);
    expect(sync.role).toBe('solo');
  });
});
