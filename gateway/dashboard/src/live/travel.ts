// Time travel's requests, outside React: the scrubber seeks, this asks
// GET /v1/state (and GET /v1/all for the timeline up to that position) and
// puts the answer in the store; the diff view compares, this asks
// GET /v1/diff. A seek asks at once while fewer than MAX_SEEKS_IN_FLIGHT
// seeks' requests are in flight, else it waits for one of them and then
// only the newest point is asked for. Every answer newer than the view
// shown is shown at once (the store keeps the newest), so a drag shows the
// positions it passes, and the point it rests at is asked for at once
// beside one it passed, not after it (issue 21: each position within
// 100 ms). The live
// feed is not touched: it keeps folding into the live model, so going back
// to live is instant.

import { MAX_TASKS, type DashboardStore } from '../store/store';
import { parseDiff, pastView, pointQuery, type DiffResponse, type StateAtResponse, type TravelPoint } from '../travel';
import type { RecordedEvent } from '../types';
import { HttpError } from './rest';
import { recordRequest } from './shownTimes';

// Seeks whose requests may be in flight at once: the one a drag rests at
// beside one it passed.
export const MAX_SEEKS_IN_FLIGHT = 2;
// Events read for the timeline up to a past position (GET /v1/all's
// default max_read_limit).
export const PAST_TIMELINE_EVENTS = 1000;
// Tasks asked for in a past state (as many as the live model keeps).
export const PAST_TASK_LIMIT = MAX_TASKS;

export interface Getter {
  get<T>(path: string): Promise<T>;
}

export function errorText(e: unknown, what: string): string {
  if (e instanceof HttpError && e.status === 404 && what === 'state') {
    return `${e.message} (does this server have time travel?)`;
  }
  return e instanceof Error ? e.message : String(e);
}

// One per page; the store is the only state it shares with the views.
export class TravelClient {
  private inFlight = 0; // seeks whose requests are in flight
  private asked = 0; // the newest seek asked for
  private again = false; // a seek came while MAX_SEEKS_IN_FLIGHT were
  private select: { seq: number; position: number } | null = null;

  constructor(
    private readonly store: DashboardStore,
    private readonly rest: Getter,
  ) {}

  // Shows the state at `point`. `selectEvent`: then also select that
  // position's event in the timeline.
  seek(point: TravelPoint, selectEvent = false) {
    const seq = this.store.getState().seekPast(point);
    this.select = selectEvent && 'position' in point ? { seq, position: point.position } : null;
    this.fire();
  }

  // Asks again for the point last asked for (after an error).
  retry() {
    const target = this.store.getState().travel.target;
    if (target) this.seek(target);
  }

  live() {
    this.again = false;
    this.select = null;
    this.store.getState().goLive();
  }

  // GET /v1/diff between the two marked positions (in either order).
  async compare(): Promise<void> {
    const { a, b } = this.store.getState().diff;
    const seq = this.store.getState().diffStarted();
    if (a === null || b === null) {
      this.store.getState().failDiff(seq, 'mark two positions (A and B) first');
      return;
    }
    const from = Math.min(a, b);
    const to = Math.max(a, b);
    try {
      const body = await this.rest.get<DiffResponse>(`/v1/diff?from=${from}&to=${to}`);
      this.store.getState().receiveDiff(seq, parseDiff(body));
    } catch (e) {
      this.store.getState().failDiff(seq, errorText(e, 'diff'));
    }
  }

  private fire() {
    if (this.inFlight >= MAX_SEEKS_IN_FLIGHT) {
      this.again = true;
      return;
    }
    const t = this.store.getState().travel;
    if (t.mode !== 'past' || t.target === null || !t.loading || t.seq <= this.asked) return;
    this.asked = t.seq;
    void this.load(t.seq, t.target, t.seekAt);
  }

  // The timeline's events up to `position`.
  private events(position: number): Promise<{ events: RecordedEvent[] }> {
    const from = Math.max(1, position - PAST_TIMELINE_EVENTS + 1);
    return this.rest.get<{ events: RecordedEvent[] }>(`/v1/all?from=${from}&limit=${position - from + 1}`);
  }

  private async load(seq: number, point: TravelPoint, seekAt: number) {
    this.inFlight++;
    // Whether an answer to this seek would still be shown.
    const wanted = () => {
      const t = this.store.getState().travel;
      return t.mode === 'past' && seq > t.viewSeq;
    };
    const askedAt = performance.now();
    const asked = this.rest.get<StateAtResponse>(`/v1/state?${pointQuery('at', point)}&limit=${PAST_TASK_LIMIT}`);
    // A position's events are asked for beside its state, not after it.
    const early = 'position' in point && point.position > 0 ? this.events(point.position) : null;
    early?.catch(() => {}); // read below, or not needed
    try {
      const state = await asked;
      let events: RecordedEvent[] = [];
      let eventsError: string | null = null;
      // Not shown any more: its events are not waited for (the store drops it).
      if (wanted() && typeof state?.position === 'number' && state.position > 0) {
        try {
          const timeline = early !== null && 'position' in point && point.position === state.position
            ? early : this.events(state.position);
          events = (await timeline).events;
        } catch (e) {
          eventsError = errorText(e, 'events');
        }
      }
      const view = pastView(state, events, eventsError);
      recordRequest(view.position, askedAt, performance.now());
      if (this.store.getState().receivePast(seq, view, seekAt) && this.select?.seq === seq) {
        const event = view.events.find((e) => e.position === this.select!.position);
        if (event) this.store.getState().selectEvent(event);
      }
    } catch (e) {
      this.store.getState().failPast(seq, errorText(e, 'state'));
    } finally {
      this.inFlight--;
      if (this.again) {
        this.again = false;
        this.fire();
      }
    }
  }
}
