import { describe, expect, it } from 'vitest';
import {
  isRunTask, layoutWaterfall, mergeSpans, runSpanId, runTaskId, spanKind, spansFromState, spansOf, subtree, traceOfSpan,
  withStateSpans,
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

  it('merges two lists of rows, the one that has seen more of the log winning', () => {
    const merged = mergeSpans(
      [pending('run', null, 3), span('a', 'run', 0, 1, { last_position: 3 })],
      [span('run', null, 0, 10, { first_position: 3, last_position: 9 }), span('a', 'run', 0, 1, { name: 'older', last_position: 2 })],
    );
    expect(Object.fromEntries(merged.map((s) => [s.span_id, [s.status, s.name, s.last_position]]))).toEqual({
      run: ['ok', 'span run', 9], a: ['ok', 'span a', 3],
    });
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

  it('reads the spans of a GET /v1/state body, listed or keyed, and nothing else', () => {
    const a = span('a', null, 0, 1);
    const b = { ...span('b', null, 0, 1), trace_id: 'other' };
    expect(spansFromState({ position: 3, spans: [a, b] })).toEqual({ [TRACE]: { a }, other: { b } });
    expect(spansFromState({ spans: { [TRACE]: { a } } })).toEqual({ [TRACE]: { a } });
    expect(spansFromState({ spans: [] })).toEqual({});
    expect(spansFromState({ position: 3 })).toBeUndefined();
    expect(spansFromState({ spans: [{ nope: 1 }] })).toBeUndefined();
    expect(spansFromState({ spans: { [TRACE]: 7 } })).toBeUndefined();
    expect(spansFromState(null)).toBeUndefined();
  });

  it('gives a past view the state\'s spans unless it has some', () => {
    const a = span('a', null, 0, 1);
    expect(withStateSpans({ position: 1 }, { spans: [a] })).toEqual({ position: 1, spans: { [TRACE]: { a } } });
    expect(withStateSpans({ position: 1 }, { position: 1 })).toEqual({ position: 1 });
    const own = { position: 1, spans: { [TRACE]: { a } } };
    expect(withStateSpans(own, { spans: [] })).toBe(own);
  });
});
