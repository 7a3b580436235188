// The trace view's requests, outside React. Opening a task (a run) asks
// GET /v1/tasks/{task_id}/spans, opening a trace GET /v1/traces/{trace_id}
// (docs/otlp.md "Reads"). While it is open, SpanRecorded events the live
// feed brings for it are shown: from the store's `spans` when the store
// folded them (store/trace.ts merges), else by asking again, debounced,
// with min_position = the newest such event, one request in flight (a
// span arriving meanwhile asks once more after it). In the past it asks
// GET /v1/state?at=P&trace=T for the trace's spans at the position shown
// (the past view's own spans are bounded and may leave the trace out).

import type { DashboardStore } from '../store/store';
import { selectedTraceId, type TraceSelection } from '../store/trace';
import { isRunTask, spansOf, type TraceResponse } from '../spans';
import type { RecordedEvent, SpanRow } from '../types';
import { Debounce, type TimerOptions } from './debounce';
import { errorText, type Getter } from './travel';

// Quiet time after a span of the open trace arrives before asking again.
export const REFETCH_DEBOUNCE_MS = 250;

export interface TraceClientOptions extends TimerOptions {
  debounceMs?: number;
}

// Is `e` a span of the open selection (its trace; any span while the
// trace of a run is not known yet)?
function concerns(e: RecordedEvent, traceId: string | null): boolean {
  if (e.type !== 'SpanRecorded') return false;
  if (traceId === null) return true;
  return e.stream === `trace-${traceId}` || e.data?.trace_id === traceId;
}

// One per page; the store is the only state it shares with the views.
export class TraceClient {
  private readonly debounce: Debounce;
  private inFlight = false;
  private again = false;
  private wanted = 0; // the min_position the next request asks for
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: DashboardStore,
    private readonly rest: Getter,
    options: TraceClientOptions = {},
  ) {
    this.debounce = new Debounce(options.debounceMs ?? REFETCH_DEBOUNCE_MS, options);
    this.unsubscribe = store.subscribe((s, prev) => {
      if (s.lastPosition > prev.lastPosition) this.applied(prev.lastPosition);
      if (s.travel.view !== prev.travel.view || s.trace.traceId !== prev.trace.traceId) this.travelled();
    });
  }

  // Shows `selection`'s spans; a task with no run is shown as such.
  open(selection: TraceSelection) {
    this.debounce.cancel();
    this.pastKey = '';
    this.store.getState().openTrace(selection);
    const task = selection.taskId === null ? null : this.store.getState().tasks[selection.taskId];
    // At least as fresh as the task row the page shows.
    this.wanted = task?.last_position ?? 0;
    if (selection.taskId !== null && !isRunTask(selection.taskId)) {
      this.store.getState().receiveSpans(this.store.getState().trace.seq, null, [], 0);
      return;
    }
    void this.fetch();
    this.travelled();
  }

  close() {
    this.debounce.cancel();
    this.store.getState().closeTrace();
  }

  stop() {
    this.debounce.cancel();
    this.unsubscribe();
  }

  // Events after `after` were applied: ask again if spans of the open
  // trace came that the store did not fold (a store without spans, a trace
  // its bound dropped, a span not in JSON).
  private applied(after: number) {
    const s = this.store.getState();
    const sel = s.trace.selection;
    if (sel === null || (sel.taskId !== null && !isRunTask(sel.taskId))) return;
    const folded = spansOf(s);
    let newest = 0;
    for (let i = s.events.length - 1; i >= 0 && s.events[i].position > after; i--) {
      const e = s.events[i];
      if (!concerns(e, s.trace.traceId)) continue;
      const traceId = e.data?.trace_id;
      const spanId = e.data?.span_id;
      if (typeof traceId === 'string' && typeof spanId === 'string' && folded?.[traceId]?.[spanId]) continue;
      newest = Math.max(newest, e.position);
    }
    if (newest === 0) return;
    this.wanted = Math.max(this.wanted, newest);
    this.debounce.run(() => {
      if (this.inFlight) this.again = true;
      else void this.fetch(true);
    });
  }

  // In the past with a trace selected: its spans at the position shown,
  // once per position and trace.
  private pastKey = '';
  private travelled() {
    const s = this.store.getState();
    const view = s.travel.view;
    const traceId = view ? selectedTraceId(s.trace, spansOf(view)) : null;
    if (!view || s.trace.selection === null || traceId === null) return;
    const key = `${view.position}:${traceId}`;
    if (key === this.pastKey) return;
    this.pastKey = key;
    const position = view.position;
    void (async () => {
      let past: { rows: SpanRow[] | null; error: string | null };
      try {
        const state = await this.rest.get<{ spans?: SpanRow[] }>(
          `/v1/state?at=${position}&trace=${encodeURIComponent(traceId)}&limit=1`);
        past = { rows: Array.isArray(state?.spans) ? state.spans : null, error: null };
      } catch (e) {
        this.pastKey = ''; // ask again next time
        past = { rows: null, error: errorText(e, 'spans') };
      }
      this.store.getState().receivePastSpans({ position, traceId, ...past });
    })();
  }

  private async fetch(refetch = false) {
    const s = this.store.getState();
    const sel = s.trace.selection;
    if (sel === null) return;
    const seq = refetch ? s.refetchTrace() : s.trace.seq;
    const at = this.wanted;
    const path = s.trace.traceId !== null
      ? `/v1/traces/${encodeURIComponent(s.trace.traceId)}?min_position=${at}`
      : `/v1/tasks/${encodeURIComponent(sel.taskId ?? '')}/spans?min_position=${at}`;
    this.inFlight = true;
    try {
      const body = await this.rest.get<TraceResponse>(path);
      if (!body || !Array.isArray(body.spans)) throw new Error(`unexpected response: ${path} has no spans list`);
      this.store.getState().receiveSpans(seq, body.trace_id ?? null, body.spans as SpanRow[], at);
    } catch (e) {
      this.store.getState().failSpans(seq, errorText(e, 'spans'));
    } finally {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        void this.fetch(true);
      }
    }
  }
}
