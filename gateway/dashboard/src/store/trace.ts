// The trace view's slice: what is selected (a task, usually a run
// `run-<span_id>`, or a whole trace), the spans REST gave for it and for
// the past position shown (live/traces.ts asks), and which span is open.
// `shownSpans` picks the spans the waterfall shows: in the past, the
// trace's spans in GET /v1/state at that position; live, the answer merged
// with the store's `spans`, so spans folded from the live feed show at
// once. Parents that have not arrived are drawn pending.

import type { StateCreator } from 'zustand/vanilla';
import { mergeSpans, runSpanId, subtree, traceOfSpan, withPendingParents, type SpansByTrace } from '../spans';
import type { SpanRow } from '../types';

export interface TraceSelection {
  taskId: string | null; // a task: the spans of its subtree (a run's)
  traceId: string | null; // else a whole trace
  agentId: string | null; // opened from an agent: its runs are offered
}

export interface Trace {
  selection: TraceSelection | null; // null: the view is closed
  // Bumped by every open and close: an answer to an older request is
  // stale and dropped.
  seq: number;
  traceId: string | null; // the selection's trace, once an answer named it
  fetched: SpanRow[]; // the last answer's rows
  fetchedAt: number; // the min_position it was asked with
  loading: boolean;
  error: string | null;
  openSpan: string | null; // the span whose details are shown
  // The trace's spans at a past position (GET /v1/state?at=P&trace=T):
  // rows null when that state lists none (a server without spans).
  past: { position: number; traceId: string; rows: SpanRow[] | null; error: string | null } | null;
}

export interface TraceSlice {
  trace: Trace;
  openTrace: (selection: TraceSelection) => number;
  // A refetch of the same selection (live spans came): returns its seq.
  refetchTrace: () => number;
  // An answer: its trace (null: not known, a task of native events) and rows.
  receiveSpans: (seq: number, traceId: string | null, rows: SpanRow[], at: number) => boolean;
  receivePastSpans: (past: NonNullable<Trace['past']>) => void;
  failSpans: (seq: number, error: string) => boolean;
  openSpanDetail: (spanId: string | null) => void;
  closeTrace: () => void;
}

const closed: Trace = {
  selection: null, seq: 0, traceId: null, fetched: [], fetchedAt: 0, loading: false, error: null, openSpan: null,
  past: null,
};

export const createTraceSlice: StateCreator<TraceSlice, [], [], TraceSlice> = (set, get) => ({
  trace: closed,
  openTrace: (selection) => {
    const seq = get().trace.seq + 1;
    set({ trace: { ...closed, selection, seq, traceId: selection.traceId, loading: true } });
    return seq;
  },
  refetchTrace: () => {
    const seq = get().trace.seq + 1;
    set((s) => ({ trace: { ...s.trace, seq, loading: true } }));
    return seq;
  },
  receiveSpans: (seq, answered, rows, at) => {
    const t = get().trace;
    if (seq !== t.seq || t.selection === null) return false;
    const traceId = t.traceId ?? answered ?? rows[0]?.trace_id ?? null;
    set({ trace: { ...t, traceId, fetched: rows, fetchedAt: at, loading: false, error: null } });
    return true;
  },
  failSpans: (seq, error) => {
    const t = get().trace;
    if (seq !== t.seq || t.selection === null) return false;
    set({ trace: { ...t, loading: false, error } });
    return true;
  },
  receivePastSpans: (past) => set((s) => (s.trace.selection ? { trace: { ...s.trace, past } } : {})),
  openSpanDetail: (openSpan) => set((s) => ({ trace: { ...s.trace, openSpan } })),
  closeTrace: () => set((s) => ({ trace: { ...closed, seq: s.trace.seq + 1 } })),
});

// The trace the selection shows: named by the selection or an answer, else
// the trace holding the run's span in `spans` (the store's or a past
// view's).
export function selectedTraceId(trace: Trace, spans: SpansByTrace | undefined): string | null {
  const root = trace.selection?.taskId ? runSpanId(trace.selection.taskId) : null;
  return trace.traceId ?? (spans && root !== null ? traceOfSpan(spans, root) : null);
}

// Where the spans come from: the past position shown (null: live), the
// trace selected, and the rows of that trace in the model shown (the
// store's, or the past view's).
export interface SpanSource {
  past: number | null;
  traceId: string | null;
  hasSpans: boolean; // the model has spans at all (a server with the read model)
  folded: Record<string, SpanRow> | undefined;
}

export interface ShownSpans {
  rows: SpanRow[];
  // Why there is nothing to show, when that is not simply "no spans yet".
  note: string | null;
}

// The spans the waterfall shows. In the past: the trace's spans at that
// position (asked for it, else the past view's). Live: the REST answer
// merged with the store's rows. A task shows its run's subtree; a parent
// not arrived is added as a pending row.
export function shownSpans(trace: Trace, source: SpanSource): ShownSpans {
  const sel = trace.selection;
  if (!sel) return { rows: [], note: null };
  const root = sel.taskId === null ? null : runSpanId(sel.taskId);
  if (sel.taskId !== null && root === null) {
    return { rows: [], note: `${sel.taskId} is not a run: tasks from traces are named run-<span id>` };
  }
  let rows: SpanRow[];
  if (source.past !== null) {
    const p = trace.past;
    const own = p && p.position === source.past && p.traceId === source.traceId ? p : null;
    if (own?.error) return { rows: [], note: own.error };
    if (own ? own.rows === null : !source.hasSpans) {
      return { rows: [], note: 'the state at this position lists no spans (a server without the spans read model)' };
    }
    rows = own?.rows ?? Object.values(source.folded ?? {});
  } else {
    rows = mergeSpans(trace.fetched, Object.values(source.folded ?? {}));
  }
  return { rows: withPendingParents(subtree(rows, root), root), note: null };
}
