import { describe, expect, it } from 'vitest';
import {
  isRunTask, layoutWaterfall, mergeSpans, runSpanId, runTaskId, spanKind, spansOf, subtree, traceOfSpan,
  withPendingParents,
} from '../src/spans';
import { pending, span, T0 as T, TRACE } from './helpers';

const MS = 1000; // µs

const shape = (w: ReturnType<typeof layoutWaterfall>) =>
  w.rows.map((r) => [r.span.span_id, r.depth, +r.offset.toFixed(3), +r.width.toFixed(3), r.open]);

describe('layoutWaterfall', () => {
  it('nests spans under their parents and places bars on one time axis', () => {
    // root 0..100 ms; a 10..40 with child a1 20..30; b 50..100.
    const w = layoutWaterfall([
      span('b', 'root', 50, 100), span('a1', 'a', 20, 30), span('root', null, 0, 100), span('a', 'root', 10, 40),
    ]);
    expect(shape(w)).toEqual([
      ['root', 0, 0, 1, false],
      ['a', 1, 0.1, 0.3, false],
      ['a1', 2, 0.2, 0.1, false],
      ['b', 1, 0.5, 0.5, false],
    ]);
    expect(w.startUs).toBe(T);
    expect(w.endUs).toBe(T + 100 * MS);
    expect(w.omitted).toBe(0);
  });

  it('orders siblings by start time, then span id, and roots likewise', () => {
    const w = layoutWaterfall([
      span('c', 'p', 5, 6), span('b', 'p', 1, 2), span('a', 'p', 5, 9), span('p', null, 0, 10),
      span('q', null, -5, 20), // another root, starting first
    ]);
    expect(w.rows.map((r) => r.span.span_id)).toEqual(['q', 'p', 'b', 'a', 'c']);
    // The axis runs from the earliest start (q) to the latest end (q).
    expect(+w.rows[1].offset.toFixed(3)).toBe(0.2);
  });

  it('draws a pending parent as an open bar over its children, and nests them under it', () => {
    // The run's span has not arrived; its children have (children first).
    const w = layoutWaterfall([span('tool', 'run', 30, 40), span('chat', 'run', 10, 20), pending('run')]);
    expect(shape(w)).toEqual([
      ['run', 0, 0, 1, true],
      ['chat', 1, 0, 0.333, false],
      ['tool', 1, 0.667, 0.333, false],
    ]);
    expect(w.rows[0].startUs).toBe(T + 10 * MS);
    expect(w.rows[0].endUs).toBe(T + 40 * MS);
  });

  it('spans a pending parent over pending descendants too, and one with no timed descendant is empty', () => {
    const w = layoutWaterfall([pending('top'), pending('mid', 'top'), span('leaf', 'mid', 5, 15), pending('lonely')]);
    expect(shape(w)).toEqual([
      ['top', 0, 0, 1, true], ['mid', 1, 0, 1, true], ['leaf', 2, 0, 1, false], ['lonely', 0, 0, 0, true],
    ]);
  });

  it('makes a span whose parent is not in the list a root (a run subtree, a parent yet to come)', () => {
    const w = layoutWaterfall([span('child', 'elsewhere', 0, 10), span('grandchild', 'child', 2, 3)]);
    expect(w.rows.map((r) => [r.span.span_id, r.depth])).toEqual([['child', 0], ['grandchild', 1]]);
  });

  it('breaks parent loops in bad data instead of looping or dropping spans', () => {
    const w = layoutWaterfall([span('x', 'y', 0, 10), span('y', 'x', 5, 10), span('self', 'self', 1, 2)]);
    expect(w.rows.map((r) => r.span.span_id).sort()).toEqual(['self', 'x', 'y']);
    expect(w.rows.find((r) => r.span.span_id === 'self')!.depth).toBe(0);
  });

  it('sums tokens, cost and errors, and bounds the rows it lays out', () => {
    const spans = [
      span('root', null, 0, 100),
      span('m', 'root', 0, 50, { operation: 'chat', input_tokens: 100, output_tokens: 20, cached_tokens: 5, cost_usd: 0.25 }),
      span('t', 'root', 50, 60, { operation: 'execute_tool', status: 'error', error: 'timeout' }),
    ];
    const w = layoutWaterfall(spans, 2);
    expect(w.totals).toEqual({ spans: 3, errors: 1, inputTokens: 100, outputTokens: 20, cachedTokens: 5, costUsd: 0.25 });
    expect(w.rows.map((r) => r.span.span_id)).toEqual(['root', 'm']);
    expect(w.omitted).toBe(1);
  });

  it('keeps a zero-length trace on an axis of at least one microsecond', () => {
    const w = layoutWaterfall([span('a', null, 5, 5)]);
    expect(shape(w)).toEqual([['a', 0, 0, 0, false]]);
    expect(layoutWaterfall([]).rows).toEqual([]);
  });

  it('survives a deep trace (no recursion)', () => {
    const spans = Array.from({ length: 20_000 }, (_, i) => span(`s${i}`, i === 0 ? null : `s${i - 1}`, i, 20_000));
    const w = layoutWaterfall(spans);
    expect(w.rows.length).toBe(2000);
    expect(w.rows[1999].depth).toBe(1999);
    expect(w.omitted).toBe(18_000);
  });
});

describe('spans helpers', () => {
  it('labels spans by their GenAI operation', () => {
    const kinds = ['invoke_agent', 'create_agent', 'execute_tool', 'chat', 'text_completion', 'generate_content',
      'embeddings', 'invoke_workflow', 'something_else', null]
      .map((operation) => spanKind(span('a', null, 0, 1, { operation })));
    expect(kinds).toEqual(['agent', 'agent', 'tool', 'model', 'model', 'model', 'model', 'workflow', 'other', 'other']);
  });

  it('knows runs by their task id', () => {
    expect(isRunTask('run-00f067aa0ba902b7')).toBe(true);
    expect(runSpanId('run-00f067aa0ba902b7')).toBe('00f067aa0ba902b7');
    expect(runTaskId('00f067aa0ba902b7')).toBe('run-00f067aa0ba902b7');
    expect(isRunTask('task-1')).toBe(false);
    expect(isRunTask('run-')).toBe(false);
    expect(runSpanId('t1')).toBeNull();
  });

  it('merges two lists of rows, one per span', () => {
    const merged = mergeSpans([span('a', null, 0, 1, { position: 3 }), span('b', 'a', 0, 1)], [span('a', null, 0, 1, { position: 3 }), span('c', 'a', 0, 1)]);
    expect(merged.map((s) => s.span_id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('adds a pending row for each parent not arrived, but not for the parent of the root shown', () => {
    const ids = (rows: ReturnType<typeof withPendingParents>) => rows.map((s) => [s.span_id, s.status]);
    // A whole trace: the manager's span has not arrived.
    expect(ids(withPendingParents([span('w', 'm', 0, 1), span('t', 'w', 0, 1)], null)))
      .toEqual([['w', 'ok'], ['t', 'ok'], ['m', 'pending']]);
    // A run's subtree: the run's own parent is outside it.
    expect(ids(withPendingParents([span('w', 'm', 0, 1), span('t', 'w', 0, 1)], 'w'))).toEqual([['w', 'ok'], ['t', 'ok']]);
    // The run itself has not arrived, only what is under it.
    const rows = withPendingParents([span('t1', 'r', 0, 1), span('t2', 'r', 2, 3)], 'r');
    expect(ids(rows)).toEqual([['t1', 'ok'], ['t2', 'ok'], ['r', 'pending']]);
    expect(rows[2]).toMatchObject({ trace_id: TRACE, parent_span_id: null, input_tokens: null, cost_usd: 0 });
    expect(withPendingParents([], 'r')).toEqual([]);
    // Together with the layout: an open bar over the children.
    expect(layoutWaterfall(rows).rows.map((r) => [r.span.span_id, r.depth, r.open])).toEqual([['r', 0, true], ['t1', 1, false], ['t2', 1, false]]);
    expect(layoutWaterfall(rows).totals.spans).toBe(2);
  });

  it('takes a subtree: the root and its descendants, or the children of a root not yet there', () => {
    const spans = [span('r', null, 0, 9), span('a', 'r', 0, 1), span('a1', 'a', 0, 1), span('b', 'r', 1, 2), span('other', null, 0, 1)];
    expect(subtree(spans, 'a').map((s) => s.span_id)).toEqual(['a', 'a1']);
    expect(subtree(spans, 'r').map((s) => s.span_id).sort()).toEqual(['a', 'a1', 'b', 'r']);
    expect(subtree(spans.filter((s) => s.span_id !== 'r'), 'r').map((s) => s.span_id).sort()).toEqual(['a', 'a1', 'b']);
    expect(subtree(spans, null).length).toBe(5);
    expect(subtree(spans, 'nothing')).toEqual([]);
  });

  it('finds spans in a model that has them, and their trace', () => {
    expect(spansOf({ agents: {} })).toBeUndefined();
    expect(spansOf(null)).toBeUndefined();
    const spans = { [TRACE]: { a: span('a', null, 0, 1) } };
    expect(spansOf({ spans })).toBe(spans);
    expect(traceOfSpan(spans, 'a')).toBe(TRACE);
    expect(traceOfSpan(spans, 'b')).toBeNull();
  });
});
