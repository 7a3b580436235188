// Spans (docs/otlp.md): the REST answers that list them (GET
// /v1/traces/{trace_id}, GET /v1/tasks/{task_id}/spans), pending parents,
// and the trace view's waterfall layout. Pure functions, no React, no
// store. The rows are types.ts's SpanRow.

import type { SpanRow } from './types';

// trace id -> span id -> row (the store's `spans`, when it has one).
export type SpansByTrace = Record<string, Record<string, SpanRow>>;

// The REST answers (a task's also has task_id; its trace_id is null for a
// task of native events).
export interface TraceResponse {
  trace_id: string | null;
  spans: SpanRow[];
}

// The status of a pending parent: a span seen only through its children
// (exporters send spans as they end, children first). The read model has
// no row for it; the trace view draws one, without times, over them.
export const PENDING = 'pending';

function pendingSpan(traceId: string, spanId: string): SpanRow {
  return {
    trace_id: traceId, span_id: spanId, parent_span_id: null, name: '', kind: 'unspecified', start_time_us: 0,
    end_time_us: 0, duration_ms: 0, status: PENDING, error: null, operation: null, agent_id: null, agent_name: null,
    caller_agent_id: null, tool: null, tool_call_id: null, provider: null, model: null, input_tokens: null,
    output_tokens: null, cached_tokens: null, cost_usd: 0, attributes: {}, events: null, links: null, resource: {},
    scope: null, position: 0, recorded_time_us: 0,
  };
}

// `rows` with a pending row for each parent they name that is not among
// them, except `root`'s parent (outside the subtree shown); and for `root`
// itself when it has not arrived (a run whose children came first).
export function withPendingParents(rows: readonly SpanRow[], root: string | null): SpanRow[] {
  const ids = new Set(rows.map((s) => s.span_id));
  const out = [...rows];
  const add = (traceId: string, id: string) => {
    if (ids.has(id)) return;
    ids.add(id);
    out.push(pendingSpan(traceId, id));
  };
  for (const s of rows) {
    if (s.parent_span_id !== null && s.span_id !== root) add(s.trace_id, s.parent_span_id);
  }
  if (root !== null && rows.length > 0) add(rows[0].trace_id, root);
  return out;
}

// Spans laid out at most; a bigger trace shows its first rows (in tree
// order) and says how many it left out.
export const MAX_WATERFALL_ROWS = 2000;

// A run is the task `run-<span_id>` of its invoke_agent (or
// invoke_workflow) span.
const RUN_PREFIX = 'run-';
export const isRunTask = (taskId: string) => taskId.startsWith(RUN_PREFIX) && taskId.length > RUN_PREFIX.length;
export const runSpanId = (taskId: string): string | null => (isRunTask(taskId) ? taskId.slice(RUN_PREFIX.length) : null);
export const runTaskId = (spanId: string) => RUN_PREFIX + spanId;

// The store's (or a past view's) spans, when the model has them: the
// dashboard works with servers and builds without the spans read model.
export function spansOf(model: object | null | undefined): SpansByTrace | undefined {
  if (!model || !('spans' in model)) return undefined;
  const spans = (model as { spans: unknown }).spans;
  return spans && typeof spans === 'object' ? (spans as SpansByTrace) : undefined;
}

// The trace holding span `spanId`, searched in `spans`.
export function traceOfSpan(spans: SpansByTrace, spanId: string): string | null {
  for (const [traceId, rows] of Object.entries(spans)) if (rows[spanId]) return traceId;
  return null;
}

// Rows of both lists, one per span id (a span is recorded once: the rows
// of one span are the same, whichever list has it).
export function mergeSpans(a: readonly SpanRow[], b: readonly SpanRow[]): SpanRow[] {
  const out = new Map<string, SpanRow>();
  for (const row of a) out.set(row.span_id, row);
  for (const row of b) out.set(row.span_id, row);
  return [...out.values()];
}

// `rootSpanId` and its descendants, parents first (all of `spans` when it
// is null; its children's subtrees when the root itself is not there).
export function subtree(spans: readonly SpanRow[], rootSpanId: string | null): SpanRow[] {
  if (rootSpanId === null) return [...spans];
  const children = childrenOf(spans);
  const root = spans.find((s) => s.span_id === rootSpanId);
  return treeWalk(root ? [root] : children.get(rootSpanId) ?? [], children).map((p) => p.s);
}

function childrenOf(spans: readonly SpanRow[]): Map<string, SpanRow[]> {
  const children = new Map<string, SpanRow[]>();
  for (const s of spans) {
    if (s.parent_span_id === null || s.parent_span_id === s.span_id) continue;
    const list = children.get(s.parent_span_id);
    if (list) list.push(s);
    else children.set(s.parent_span_id, [s]);
  }
  return children;
}

// What a span is, for its label and colour (docs/otlp.md "operation").
export type SpanKind = 'agent' | 'tool' | 'model' | 'workflow' | 'other';
const MODEL_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);

export function spanKind(s: SpanRow): SpanKind {
  const op = s.operation ?? '';
  if (op === 'invoke_agent' || op === 'create_agent') return 'agent';
  if (op === 'execute_tool') return 'tool';
  if (MODEL_OPERATIONS.has(op)) return 'model';
  if (op === 'invoke_workflow') return 'workflow';
  return 'other';
}

export interface WaterfallRow {
  span: SpanRow;
  depth: number; // 0 for a root
  kind: SpanKind;
  // The span's own times, or for a pending parent the extent of its
  // descendants (null when none of them has times either).
  startUs: number | null;
  endUs: number | null;
  // The bar on the shared time axis, as fractions of its length.
  offset: number;
  width: number;
  // No times of its own (a pending parent): drawn as an open bar.
  open: boolean;
}

export interface WaterfallTotals {
  spans: number;
  errors: number;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  costUsd: number;
}

export interface Waterfall {
  rows: WaterfallRow[]; // tree order, at most MAX_WATERFALL_ROWS
  omitted: number; // spans past MAX_WATERFALL_ROWS
  startUs: number | null; // the time axis (null: no span has times)
  endUs: number | null;
  totals: WaterfallTotals; // over all spans (pending ones are none), omitted ones too
}

const hasTimes = (s: SpanRow) => s.status !== PENDING;

// Every span once, each parent before its children, with its depth: roots
// (spans whose parent is absent from the list) in the order given, each
// followed by its subtree depth first, siblings sorted by `order` when
// given. A span no root reaches (a parent loop in bad data) becomes a root.
function treeWalk(
  spans: readonly SpanRow[], children: Map<string, SpanRow[]>, order?: (a: SpanRow, b: SpanRow) => number,
): Array<{ s: SpanRow; depth: number }> {
  const ids = new Set(spans.map((s) => s.span_id));
  const out: Array<{ s: SpanRow; depth: number }> = [];
  const visited = new Set<string>();
  const walk = (root: SpanRow) => {
    const stack = [{ s: root, depth: 0 }];
    while (stack.length > 0) {
      const { s, depth } = stack.pop()!;
      if (visited.has(s.span_id)) continue;
      visited.add(s.span_id);
      out.push({ s, depth });
      const kids = children.get(s.span_id) ?? [];
      const sorted = order ? [...kids].sort(order) : kids;
      for (let i = sorted.length - 1; i >= 0; i--) stack.push({ s: sorted[i], depth: depth + 1 });
    }
  };
  for (const s of spans) {
    const parent = s.parent_span_id;
    if (parent === null || parent === s.span_id || !ids.has(parent)) walk(s);
  }
  for (const s of spans) if (!visited.has(s.span_id)) walk(s);
  return out;
}

// The waterfall of `spans`: each span under its parent, siblings (and
// roots) by start time, then span id, spans without times last; a bar per
// span on one time axis from the earliest start to the latest end. A
// pending parent spans its descendants, as an open bar.
export function layoutWaterfall(spans: readonly SpanRow[], maxRows = MAX_WATERFALL_ROWS): Waterfall {
  const children = childrenOf(spans);

  // Extents bottom-up: in reverse of a parents-first walk, children come
  // before their parent.
  const extent = new Map<string, { start: number | null; end: number | null }>();
  const unordered = treeWalk(spans, children);
  for (let i = unordered.length - 1; i >= 0; i--) {
    const s = unordered[i].s;
    let start: number | null = null;
    let end: number | null = null;
    if (hasTimes(s)) {
      start = s.start_time_us;
      end = Math.max(s.start_time_us, s.end_time_us);
    } else {
      for (const c of children.get(s.span_id) ?? []) {
        const e = extent.get(c.span_id);
        if (e?.start != null) start = start === null ? e.start : Math.min(start, e.start);
        if (e?.end != null) end = end === null ? e.end : Math.max(end, e.end);
      }
    }
    extent.set(s.span_id, { start, end });
  }

  const order = (a: SpanRow, b: SpanRow) => {
    const sa = extent.get(a.span_id)!.start;
    const sb = extent.get(b.span_id)!.start;
    if (sa !== sb) return sa === null ? 1 : sb === null ? -1 : sa - sb;
    return a.span_id < b.span_id ? -1 : a.span_id > b.span_id ? 1 : 0;
  };
  const placed = treeWalk([...spans].sort(order), children, order);

  let startUs: number | null = null;
  let endUs: number | null = null;
  for (const e of extent.values()) {
    if (e.start !== null) startUs = startUs === null ? e.start : Math.min(startUs, e.start);
    if (e.end !== null) endUs = endUs === null ? e.end : Math.max(endUs, e.end);
  }
  const length = startUs !== null && endUs !== null ? Math.max(1, endUs - startUs) : 1;

  const totals: WaterfallTotals = { spans: 0, errors: 0, inputTokens: 0, outputTokens: 0, cachedTokens: 0, costUsd: 0 };
  for (const s of spans) {
    if (s.status === PENDING) continue;
    totals.spans += 1;
    if (s.status === 'error') totals.errors += 1;
    totals.inputTokens += s.input_tokens ?? 0;
    totals.outputTokens += s.output_tokens ?? 0;
    totals.cachedTokens += s.cached_tokens ?? 0;
    totals.costUsd += s.cost_usd;
  }

  const rows = placed.slice(0, maxRows).map(({ s, depth }): WaterfallRow => {
    const e = extent.get(s.span_id)!;
    const offset = e.start !== null && startUs !== null ? (e.start - startUs) / length : 0;
    const width = e.start !== null && e.end !== null ? Math.max(0, e.end - e.start) / length : 0;
    return { span: s, depth, kind: spanKind(s), startUs: e.start, endUs: e.end, offset, width, open: !hasTimes(s) };
  });
  return { rows, omitted: placed.length - rows.length, startUs, endUs, totals };
}
