// Wires the store to the server: the REST snapshot, then the live feed on
// top (this tab's socket, or the leader tab's frames), polling GET /v1/all
// while the server has no /v1/live, and GET /v1/projections and
// GET /v1/replication every 2 s; time
// travel's and the trace view's requests go through the same REST client.
// No React here: components only read the store (and call the travel and
// trace clients' actions).

import type { Connection, DashboardStore } from '../store/store';
import type { LiveFrame } from '../types';
import { backoffDelay, LiveClient } from './client';
import { Ingest } from './ingest';
import { RestClient } from './rest';
import { CHANNEL_NAME, TabSync, type ChannelLike, type LocksLike } from './tabs';
import { TraceClient } from './traces';
import { TravelClient } from './travel';

const PROJECTIONS_EVERY_MS = 2000;
const POLL_EVERY_MS = 1000;
const POLL_PAGE = 1000;
export const TOKEN_KEY = 'vigil.token';

export interface Dashboard {
  // The scrubber's and the diff view's requests (GET /v1/state, /v1/diff).
  travel: TravelClient;
  // The trace view's requests (GET /v1/tasks/{id}/spans, /v1/traces/{id}).
  traces: TraceClient;
  stop(): void;
}

export function startDashboard(store: DashboardStore, origin: string = location.origin): Dashboard {
  const token = () => store.getState().token;
  const rest = new RestClient(origin, token);
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (fn: () => void, ms: number) => {
    const id = setTimeout(() => {
      timers.delete(id);
      if (!stopped) fn();
    }, ms);
    timers.add(id);
  };

  const setConnection = (patch: Partial<Connection>) => {
    store.getState().setConnection(patch);
    tabs.broadcastConnection(store.getState().connection);
  };

  const ingest = new Ingest(store, {
    fetchRange: (from, to) => rest.events(from, to - from + 1),
    onApplied: (frames) => tabs.broadcastFrames(frames),
  });

  // Polling stands in for the socket while /v1/live is not there.
  let polling = false;
  const poll = async () => {
    if (!polling || stopped) return;
    try {
      const events = await rest.events(store.getState().lastPosition + 1, POLL_PAGE);
      ingest.push(events.map((e) => ({ kind: 'event', ...e }) as LiveFrame));
      later(poll, events.length === POLL_PAGE ? 0 : POLL_EVERY_MS);
    } catch (e) {
      setConnection({ lastError: String(e) });
      later(poll, POLL_EVERY_MS * 2);
    }
  };

  const wsBase = origin.replace(/^http/, 'ws');
  const live = new LiveClient({
    baseUrl: wsBase,
    token,
    from: () => store.getState().lastPosition,
    onFrame: (frame) => ingest.push([frame]),
    onState: (patch) => setConnection(patch),
    onUnavailable: (unavailable) => {
      const was = polling;
      polling = unavailable;
      setConnection({ polling: unavailable });
      if (unavailable && !was) void poll();
    },
  });

  const channel: ChannelLike | null =
    typeof BroadcastChannel === 'function' ? (new BroadcastChannel(CHANNEL_NAME) as unknown as ChannelLike) : null;
  const locks: LocksLike | null =
    typeof navigator !== 'undefined' && navigator.locks ? (navigator.locks as unknown as LocksLike) : null;

  let snapshotLoaded: Promise<void>;
  const tabs = new TabSync({
    channel,
    locks,
    onLeader: (role) => {
      store.getState().setConnection({ role });
      void snapshotLoaded.then(() => {
        if (!stopped) live.start();
      });
    },
    onFrames: (frames) => ingest.push(frames),
    onConnection: (connection) => store.getState().setConnection(connection),
  });

  // The snapshot, retried with backoff until the server answers.
  snapshotLoaded = (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        store.getState().loadSnapshot(await rest.snapshot());
        ingest.setReady();
        return;
      } catch (e) {
        store.getState().setConnection({ lastError: `snapshot: ${String(e)}` });
        await new Promise((r) => later(() => r(undefined), backoffDelay(attempt, 500, 10_000, Math.random)));
      }
    }
  })();
  store.getState().setConnection({ role: 'follower' });
  tabs.start();

  const pollProjections = async () => {
    try {
      const { projections } = await rest.projections();
      store.getState().setProjections(projections, null);
    } catch (e) {
      store.getState().setProjections(store.getState().projections, String(e));
    }
    try {
      store.getState().setReplication(await rest.replication());
    } catch {
      store.getState().setReplication(null);
    }
    later(pollProjections, PROJECTIONS_EVERY_MS);
  };
  void pollProjections();

  // A new token: reconnect with it.
  const unsubscribe = store.subscribe((s, prev) => {
    if (s.token === prev.token) return;
    try {
      localStorage.setItem(TOKEN_KEY, s.token);
    } catch {
      // storage refused (private mode): the token lives for this page only
    }
    if (tabs.role !== 'follower') live.restart();
  });

  const traces = new TraceClient(store, rest);
  return {
    travel: new TravelClient(store, rest),
    traces,
    stop() {
      traces.stop();
      stopped = true;
      polling = false;
      unsubscribe();
      live.stop();
      tabs.stop();
      for (const id of timers) clearTimeout(id);
    },
  };
}
