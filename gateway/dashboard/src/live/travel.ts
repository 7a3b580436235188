// Time travel's requests, outside React: the scrubber seeks, this asks
// GET /v1/state (then GET /v1/all for the timeline up to that position) and
// puts the answer in the store; the diff view compares, this asks
// GET /v1/diff. While dragging, seeks are debounced, at most one request is
// in flight (a seek made meanwhile waits for it and then asks for the
// newest point only), and an answer for anything but the newest seek is
// dropped by the store (its seq is stale). The live feed is not touched:
// it keeps folding into the live model, so going back to live is instant.

import { MAX_TASKS, type DashboardStore } from '../store/store';
import { parseDiff, pastView, pointQuery, type DiffResponse, type StateAtResponse, type TravelPoint } from '../travel';
import type { RecordedEvent } from '../types';
import { Debounce, type TimerOptions } from './debounce';
import { HttpError } from './rest';
import { recordRequest } from './shownTimes';

// Quiet time after the last scrubber move before asking. Short: at most one
// request is in flight and only the newest seek is asked for, so a drag
// costs the server one request per answer, not one per move (issue 21:
// each position shown within 100 ms).
export const SEEK_DEBOUNCE_MS = 30;
// Events read for the timeline up to a past position (GET /v1/all's
// default max_read_limit).
export const PAST_TIMELINE_EVENTS = 1000;
// Tasks asked for in a past state (as many as the live model keeps).
export const PAST_TASK_LIMIT = MAX_TASKS;

export interface Getter {
  get<T>(path: string): Promise<T>;
}

export interface TravelClientOptions extends TimerOptions {
  debounceMs?: number;
}

export function errorText(e: unknown, what: string): string {
  if (e instanceof HttpError && e.status === 404 && what === 'state') {
    return `${e.message} (does this server have time travel?)`;
  }
  return e instanceof Error ? e.message : String(e);
}

// One per page; the store is the only state it shares with the views.
export class TravelClient {
  private readonly debounce: Debounce;
  private inFlight = false;
  private again = false; // a seek came while a request was in flight
  private select: { seq: number; position: number } | null = null;

  constructor(
    private readonly store: DashboardStore,
    private readonly rest: Getter,
    options: TravelClientOptions = {},
  ) {
    this.debounce = new Debounce(options.debounceMs ?? SEEK_DEBOUNCE_MS, options);
  }

  // Shows the state at `point` once the scrubber rests. `selectEvent`: then
  // also select that position's event in the timeline.
  seek(point: TravelPoint, selectEvent = false) {
    const seq = this.store.getState().seekPast(point);
    this.select = selectEvent && 'position' in point ? { seq, position: point.position } : null;
    this.debounce.run(() => this.fire());
  }

  // Asks again for the point last asked for (after an error).
  retry() {
    const target = this.store.getState().travel.target;
    if (target) this.seek(target);
  }

  live() {
    this.debounce.cancel();
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
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const t = this.store.getState().travel;
    if (t.mode !== 'past' || t.target === null || !t.loading) return;
    void this.load(t.seq, t.target);
  }

  private async load(seq: number, point: TravelPoint) {
    this.inFlight = true;
    const current = () => this.store.getState().travel.seq === seq;
    const askedAt = performance.now();
    try {
      const state = await this.rest.get<StateAtResponse>(
        `/v1/state?${pointQuery('at', point)}&limit=${PAST_TASK_LIMIT}`);
      let events: RecordedEvent[] = [];
      let eventsError: string | null = null;
      // Already stale: do not ask for its events (the store drops it).
      if (current() && typeof state?.position === 'number' && state.position > 0) {
        const from = Math.max(1, state.position - PAST_TIMELINE_EVENTS + 1);
        try {
          const page = await this.rest.get<{ events: RecordedEvent[] }>(
            `/v1/all?from=${from}&limit=${state.position - from + 1}`);
          events = page.events;
        } catch (e) {
          eventsError = errorText(e, 'events');
        }
      }
      const view = pastView(state, events, eventsError);
      recordRequest(view.position, askedAt, performance.now());
      if (this.store.getState().receivePast(seq, view) && this.select?.seq === seq) {
        const event = view.events.find((e) => e.position === this.select!.position);
        if (event) this.store.getState().selectEvent(event);
      }
    } catch (e) {
      this.store.getState().failPast(seq, errorText(e, 'state'));
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.fire();
      }
    }
  }
}
