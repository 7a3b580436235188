// The dashboard's one store, built from slices (Zustand's slices pattern):
//  - model:       the folded read models (agents, tasks, pairs, usage), the
//                 last log position applied, and the event timeline
//  - connection:  the state of the live feed (or of the leader tab's)
//  - projections: GET /v1/projections and GET /v1/replication, polled
//  - ui:          token and filters
//  - travel:      time travel: live, or the state at a past position
//                 (GET /v1/state) that every view shows instead
//  - diff:        two marked positions and what changed between them
//  - trace:       the trace view's selection and spans (store/trace.ts)
// It is a vanilla store (zustand/vanilla): the live client, the tab sync and
// the tests use it without React; components read it with useStore.

import { createStore, type StateCreator } from 'zustand/vanilla';
import { emptyFoldState, foldEvents, type FoldGates, type FoldState } from '../fold';
import type { DiffView, PastView, ShownModel, TravelPoint } from '../travel';
import type { LiveFrame, ProjectionStatus, RecordedEvent, ReplicationStatus } from '../types';
import { createTraceSlice, type TraceSlice } from './trace';

// Events kept for the timeline, and seconds of the events/s series.
export const MAX_TIMELINE_EVENTS = 5000;
export const RATE_SECONDS = 180;
// Finished tasks beyond this many are dropped, oldest first.
export const MAX_TASKS = 4000;
// Traces the live spans slice keeps; the ones whose latest span is oldest
// are dropped beyond it (a view reloads a dropped trace over REST).
export const MAX_SPAN_TRACES = 200;

export type ConnectionState =
  | 'idle' // not started
  | 'connecting'
  | 'catching_up' // open, history before caught_up
  | 'live'
  | 'reconnecting'; // waiting for the next attempt

export interface Connection {
  state: ConnectionState;
  // leader: this tab holds the socket; follower: another tab does and
  // broadcasts; solo: no BroadcastChannel or locks, this tab on its own.
  role: 'leader' | 'follower' | 'solo';
  attempt: number;
  retryInMs: number | null;
  lastError: string | null;
  // Reading GET /v1/all every second because /v1/live does not answer.
  polling: boolean;
}

export interface Snapshot extends FoldState {
  gates: FoldGates;
  // Events up to min(gates), newest last, for the timeline.
  recent: RecordedEvent[];
}

export interface ModelSlice extends FoldState {
  gates: FoldGates;
  // The last log position applied (events and checkpoints): the live feed
  // resumes after it, and anything at or below it is a duplicate.
  lastPosition: number;
  snapshotLoaded: boolean;
  caughtUp: boolean;
  duplicatesDropped: number;
  eventsApplied: number;
  events: RecordedEvent[]; // the timeline, oldest first, bounded
  eventRate: Record<number, number>; // unix second -> events recorded in it
  loadSnapshot: (snapshot: Snapshot) => void;
  // Applies frames in order; events at or below lastPosition are dropped.
  applyFrames: (frames: readonly LiveFrame[]) => void;
}

export interface ConnectionSlice {
  connection: Connection;
  setConnection: (patch: Partial<Connection>) => void;
}

export interface ProjectionsSlice {
  projections: ProjectionStatus[];
  projectionsError: string | null;
  setProjections: (projections: ProjectionStatus[], error: string | null) => void;
  // Null until the first answer, and after a failed poll.
  replication: ReplicationStatus | null;
  setReplication: (replication: ReplicationStatus | null) => void;
}

export interface UiSlice {
  token: string;
  taskFilter: { manager: string; worker: string };
  timelineFilter: { stream: string; type: string };
  selectedEvent: RecordedEvent | null;
  setToken: (token: string) => void;
  setTaskFilter: (patch: Partial<UiSlice['taskFilter']>) => void;
  setTimelineFilter: (patch: Partial<UiSlice['timelineFilter']>) => void;
  selectEvent: (event: RecordedEvent | null) => void;
}

export interface Travel {
  mode: 'live' | 'past';
  // The point last asked for; the view shown may still be an older one
  // while it loads.
  target: TravelPoint | null;
  // Bumped by every seek and by going live. An answer for an older seek
  // is still shown while a newer one loads (a drag shows where it passes),
  // unless the view already shows a newer one; stale answers are dropped.
  seq: number;
  view: PastView | null; // what every view shows in the past
  viewSeq: number; // the seek `view` answered (0: none)
  // performance.now() of that seek, for shownTimes.ts.
  viewSeekAt: number;
  loading: boolean; // the newest seek is not answered yet
  error: string | null;
  staleDropped: number;
  // performance.now() of the last seek (0: none).
  seekAt: number;
}

export interface TravelSlice {
  travel: Travel;
  // Into the past (or to another point in it); returns the request's seq.
  seekPast: (point: TravelPoint) => number;
  // The state for seek `seq`, made at `seekAt` (performance.now()): shown
  // when it is newer than the view shown; false (and dropped) when not,
  // or once live.
  receivePast: (seq: number, view: PastView, seekAt?: number) => boolean;
  failPast: (seq: number, error: string) => boolean;
  // Back to the live views (which were kept folding all along).
  goLive: () => void;
}

export interface Diff {
  open: boolean;
  a: number | null; // the two marked positions, in any order
  b: number | null;
  seq: number;
  loading: boolean;
  error: string | null;
  result: DiffView | null;
}

export interface DiffSlice {
  diff: Diff;
  setDiffOpen: (open: boolean) => void;
  setMark: (which: 'a' | 'b', position: number | null) => void;
  // A GET /v1/diff starts; returns its seq.
  diffStarted: () => number;
  receiveDiff: (seq: number, result: DiffView) => boolean;
  failDiff: (seq: number, error: string) => boolean;
}

export type DashboardState = ModelSlice & ConnectionSlice & ProjectionsSlice & UiSlice & TravelSlice & DiffSlice
  & TraceSlice;
type Slice<T> = StateCreator<DashboardState, [], [], T>;

function minGate(g: FoldGates) {
  return Math.min(g.agents, g.tasks, g.metrics);
}

// The traces of the spans slice: those with the latest spans are kept.
function boundSpans(spans: FoldState['spans']): FoldState['spans'] {
  const ids = Object.keys(spans);
  if (ids.length <= MAX_SPAN_TRACES) return spans;
  const latest = (id: string) => Object.values(spans[id]).reduce((m, s) => Math.max(m, s.position), 0);
  const oldest = ids.map((id) => [id, latest(id)] as const).sort((a, b) => a[1] - b[1]);
  const out = { ...spans };
  for (const [id] of oldest.slice(0, ids.length - MAX_SPAN_TRACES)) delete out[id];
  return out;
}

function boundTasks(tasks: FoldState['tasks']): FoldState['tasks'] {
  const ids = Object.keys(tasks);
  if (ids.length <= MAX_TASKS) return tasks;
  const finished = ids
    .filter((id) => tasks[id].status === 'completed' || tasks[id].status === 'failed')
    .sort((a, b) => tasks[a].first_position - tasks[b].first_position);
  const out = { ...tasks };
  for (const id of finished.slice(0, ids.length - MAX_TASKS)) delete out[id];
  return out;
}

export const createModelSlice: Slice<ModelSlice> = (set, get) => ({
  ...emptyFoldState(),
  gates: { agents: 0, tasks: 0, metrics: 0 },
  lastPosition: 0,
  snapshotLoaded: false,
  caughtUp: false,
  duplicatesDropped: 0,
  eventsApplied: 0,
  events: [],
  eventRate: {},
  loadSnapshot: (s) =>
    set({
      agents: s.agents, tasks: s.tasks, pairs: s.pairs, usage: s.usage, spans: s.spans, gates: s.gates,
      lastPosition: minGate(s.gates), snapshotLoaded: true, caughtUp: false,
      events: s.recent.slice(-MAX_TIMELINE_EVENTS), eventRate: {},
    }),
  applyFrames: (frames) => {
    const state = get();
    let last = state.lastPosition;
    let caughtUp = state.caughtUp;
    let duplicates = 0;
    const fresh: RecordedEvent[] = [];
    for (const frame of frames) {
      if (frame.kind === 'event') {
        if (frame.position <= last) {
          duplicates += 1;
          continue;
        }
        const { kind: _kind, ...event } = frame;
        fresh.push(event);
        last = frame.position;
      } else if (frame.kind === 'checkpoint' || frame.kind === 'caught_up') {
        // Everything up to it has been examined.
        last = Math.max(last, frame.position);
        if (frame.kind === 'caught_up') caughtUp = true;
      }
    }
    const patch: Partial<DashboardState> = { lastPosition: last, caughtUp };
    if (duplicates > 0) patch.duplicatesDropped = state.duplicatesDropped + duplicates;
    if (fresh.length > 0) {
      const folded = foldEvents(state, fresh, state.gates);
      Object.assign(patch, folded);
      patch.tasks = boundTasks(folded.tasks);
      patch.spans = boundSpans(folded.spans);
      patch.eventsApplied = state.eventsApplied + fresh.length;
      const events = state.events.concat(fresh);
      patch.events = events.length > MAX_TIMELINE_EVENTS ? events.slice(-MAX_TIMELINE_EVENTS) : events;
      const rate = { ...state.eventRate };
      let newest = 0;
      for (const e of fresh) {
        const second = Math.floor(e.recorded_time_us / 1e6);
        rate[second] = (rate[second] ?? 0) + 1;
        newest = Math.max(newest, second);
      }
      for (const k of Object.keys(rate)) if (Number(k) < newest - RATE_SECONDS) delete rate[Number(k)];
      patch.eventRate = rate;
    }
    if (
      patch.lastPosition !== state.lastPosition || patch.caughtUp !== state.caughtUp ||
      fresh.length > 0 || duplicates > 0
    ) {
      set(patch);
    }
  },
});

export const createConnectionSlice: Slice<ConnectionSlice> = (set) => ({
  connection: { state: 'idle', role: 'solo', attempt: 0, retryInMs: null, lastError: null, polling: false },
  setConnection: (patch) => set((s) => ({ connection: { ...s.connection, ...patch } })),
});

export const createProjectionsSlice: Slice<ProjectionsSlice> = (set) => ({
  projections: [],
  projectionsError: null,
  setProjections: (projections, error) => set({ projections, projectionsError: error }),
  replication: null,
  setReplication: (replication) => set({ replication }),
});

export const createUiSlice: Slice<UiSlice> = (set) => ({
  token: '',
  taskFilter: { manager: '', worker: '' },
  timelineFilter: { stream: '', type: '' },
  selectedEvent: null,
  setToken: (token) => set({ token }),
  setTaskFilter: (patch) => set((s) => ({ taskFilter: { ...s.taskFilter, ...patch } })),
  setTimelineFilter: (patch) => set((s) => ({ timelineFilter: { ...s.timelineFilter, ...patch } })),
  selectEvent: (selectedEvent) => set({ selectedEvent }),
});

export const createTravelSlice: Slice<TravelSlice> = (set, get) => {
  const drop = (t: Travel) => {
    set({ travel: { ...t, staleDropped: t.staleDropped + 1 } });
    return false;
  };
  return {
    travel: {
      mode: 'live', target: null, seq: 0, view: null, viewSeq: 0, viewSeekAt: 0, loading: false, error: null,
      staleDropped: 0, seekAt: 0,
    },
    seekPast: (target) => {
      const seq = get().travel.seq + 1;
      const seekAt = performance.now();
      set((s) => ({ travel: { ...s.travel, mode: 'past', target, seq, loading: true, error: null, seekAt } }));
      return seq;
    },
    receivePast: (seq, view, seekAt) => {
      const t = get().travel;
      if (t.mode !== 'past' || seq <= t.viewSeq || seq > t.seq) return drop(t);
      const newest = seq === t.seq;
      set({
        travel: {
          ...t, view, viewSeq: seq, viewSeekAt: seekAt ?? (newest ? t.seekAt : 0),
          loading: !newest, error: newest ? null : t.error,
        },
      });
      return true;
    },
    // Only the newest seek's error is shown: an older one's is stale.
    failPast: (seq, error) => {
      const t = get().travel;
      if (t.mode !== 'past' || seq !== t.seq) return drop(t);
      set({ travel: { ...t, error, loading: false } });
      return true;
    },
    goLive: () =>
      set((s) => ({
        travel: {
          ...s.travel, mode: 'live', target: null, seq: s.travel.seq + 1, view: null, viewSeq: 0, viewSeekAt: 0,
          loading: false, error: null,
        },
      })),
  };
};

export const createDiffSlice: Slice<DiffSlice> = (set, get) => ({
  diff: { open: false, a: null, b: null, seq: 0, loading: false, error: null, result: null },
  setDiffOpen: (open) => set((s) => ({ diff: { ...s.diff, open } })),
  setMark: (which, position) => set((s) => ({ diff: { ...s.diff, [which]: position } })),
  diffStarted: () => {
    const seq = get().diff.seq + 1;
    set((s) => ({ diff: { ...s.diff, open: true, seq, loading: true, error: null } }));
    return seq;
  },
  receiveDiff: (seq, result) => {
    if (seq !== get().diff.seq) return false;
    set((s) => ({ diff: { ...s.diff, loading: false, error: null, result } }));
    return true;
  },
  failDiff: (seq, error) => {
    if (seq !== get().diff.seq) return false;
    set((s) => ({ diff: { ...s.diff, loading: false, error, result: null } }));
    return true;
  },
});

// What the views show: the past view while there is one, else the live
// model. (In the past before the first answer, the live model, dimmed.)
export function shown(s: DashboardState): ShownModel {
  return s.travel.view ?? s;
}

export function createDashboardStore() {
  return createStore<DashboardState>()((...a) => ({
    ...createModelSlice(...a),
    ...createConnectionSlice(...a),
    ...createProjectionsSlice(...a),
    ...createUiSlice(...a),
    ...createTravelSlice(...a),
    ...createDiffSlice(...a),
    ...createTraceSlice(...a),
  }));
}

export type DashboardStore = ReturnType<typeof createDashboardStore>;
