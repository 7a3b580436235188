// The trace view's slice: what is selected (a task, usually a run
// `run-<span_id>`, or a whole trace), the spans REST gave for it
// (live/traces.ts asks), and which span is open. `shownSpans` picks the
// spans the waterfall shows: in the past, the past view's spans (GET
// /v1/state); live, the answer merged with the store's `spans` when it has
// one (newer rows win), so spans folded from the live feed show at once.

import type { StateCreator } from 'zustand/vanilla';
import { mergeSpans, runSpanId, subtree, traceOfSpan, type SpanRow, type SpansByTrace } from '../spans';

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
}

export interface TraceSlice {
  trace: Trace;
  openTrace: (selection: TraceSelection) => number;
  // A refetch of the same selection (live spans came): returns its seq.
  refetchTrace: () => number;
  receiveSpans: (seq: number, rows: SpanRow[], at: number) => boolean;
  failSpans: (seq: number, error: string) => boolean;
  openSpanDetail: (spanId: string | null) => void;
  closeTrace: () => void;
}

const closed: Trace = {
  selection: null, seq: 0, traceId: null, fetched: [], fetchedAt: 0, loading: false, error: null, openSpan: null,
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
  receiveSpans: (seq, rows, at) => {
    const t = get().trace;
    if (seq !== t.seq || t.selection === null) return false;
    const traceId = t.traceId ?? rows[0]?.trace_id ?? null;
    set({ trace: { ...t, traceId, fetched: rows, fetchedAt: at, loading: false, error: null } });
    return true;
  },
  failSpans: (seq, error) => {
    const t = get().trace;
    if (seq !== t.seq || t.selection === null) return false;
    set({ trace: { ...t, loading: false, error } });
    return true;
  },
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

// Where the spans come from: the past view while there is one, else the
// live store; `folded` is that model's rows of the selected trace.
export interface SpanSource {
  past: boolean;
  hasSpans: boolean; // the model has spans at all (a server with the read model)
  folded: Record<string, SpanRow> | undefined;
}

export interface ShownSpans {
  rows: SpanRow[];
  // Why there is nothing to show, when that is not simply "no spans yet".
  note: string | null;
}

// The spans the waterfall shows: in the past only the past view's; live,
// the REST answer merged with the store's rows (newer rows win). A task
// shows its run's subtree.
export function shownSpans(trace: Trace, source: SpanSource): ShownSpans {
  const sel = trace.selection;
  if (!sel) return { rows: [], note: null };
  const root = sel.taskId === null ? null : runSpanId(sel.taskId);
  if (sel.taskId !== null && root === null) {
    return { rows: [], note: `${sel.taskId} is not a run: tasks from traces are named run-<span id>` };
  }
  if (source.past && !source.hasSpans) {
    return { rows: [], note: 'the state at this position has no spans (a server without the spans read model)' };
  }
  const folded = Object.values(source.folded ?? {});
  const rows = source.past ? folded : mergeSpans(trace.fetched, folded);
  return { rows: subtree(rows, root), note: null };
}
