import { memo, useMemo, useState } from 'react';
import { store, useDashboard } from '../store';
import { shown } from '../store/store';
import { selectedTraceId, shownSpans } from '../store/trace';
import { ms, time } from '../format';
import type { TraceClient } from '../live/traces';
import { isRunTask, layoutWaterfall, runTaskId, spansOf, type SpanKind, type WaterfallRow } from '../spans';
import { AgentName } from './AgentName';

const KIND_LABEL: Record<SpanKind, string> = { agent: 'agent', tool: 'tool', model: 'model', workflow: 'flow', other: 'span' };
const INDENT_PX = 14;

export function tokens(input: number, output: number, cached: number): string {
  if (input === 0 && output === 0 && cached === 0) return '';
  return `${input}→${output} tok${cached > 0 ? ` (${cached} cached)` : ''}`;
}

export function usd(cost: number): string {
  return cost > 0 ? `$${cost >= 1 ? cost.toFixed(2) : cost.toFixed(4)}` : '';
}

function SpanLabel({ row, traces }: { row: WaterfallRow; traces: TraceClient }) {
  const s = row.span;
  if (row.open) return <span className="wf-name sub">pending span {s.span_id}</span>;
  switch (row.kind) {
    case 'agent':
      return (
        <>
          <span className="wf-name">{s.agent_id ? <AgentName id={s.agent_id} alias={s.agent_name} /> : s.agent_name ?? s.name}</span>
          <button type="button" className="pos-link" data-testid="span-run-link" title={`open the run ${runTaskId(s.span_id)}`}
            onClick={(e) => { e.stopPropagation(); traces.open({ taskId: runTaskId(s.span_id), traceId: null, agentId: s.agent_id }); }}>
            run
          </button>
        </>
      );
    case 'tool':
      return <span className="wf-name">{s.tool ?? s.name}</span>;
    case 'model':
      return <span className="wf-name">{s.model ?? s.name}{s.provider ? <span className="sub"> {s.provider}</span> : null}</span>;
    default:
      return <span className="wf-name">{s.name}</span>;
  }
}

// A row re-renders only when its span, its place or its selection changes.
const Line = memo(function Line({ row, traces, selected }: { row: WaterfallRow; traces: TraceClient; selected: boolean }) {
  const s = row.span;
  const duration = s.duration_ms ?? (row.startUs !== null && row.endUs !== null ? (row.endUs - row.startUs) / 1000 : null);
  const when = row.startUs !== null ? time(row.startUs).slice(11) : '?';
  return (
    <div className={`wf-row k-${row.kind} st-${s.status} ${row.open ? 'open' : ''} ${selected ? 'selected' : ''}`}
      data-testid="span-row" data-span={s.span_id} data-depth={row.depth} data-kind={row.kind} data-status={s.status}
      onClick={() => store.getState().openSpanDetail(selected ? null : s.span_id)}>
      <div className="wf-label" style={{ paddingLeft: row.depth * INDENT_PX }} title={s.name ?? s.span_id}>
        <span className={`wf-kind k-${row.kind}`}>{KIND_LABEL[row.kind]}</span>
        <SpanLabel row={row} traces={traces} />
      </div>
      <div className="wf-track">
        <div className="wf-bar" style={{ left: `${row.offset * 100}%`, width: `${row.width * 100}%` }}
          title={`${s.name ?? 'pending'}: ${when}, ${ms(duration)}${s.error ? ` — ${s.error}` : ''}`} />
      </div>
      <div className="wf-meta">
        <span className="wf-duration">{row.open ? '…' : ms(duration)}</span>
        <span>{tokens(s.input_tokens ?? 0, s.output_tokens ?? 0, s.cached_tokens ?? 0)}</span>
        <span>{usd(s.cost_usd)}</span>
        {s.status === 'error' && <span className="bad wf-error">{s.error ?? 'error'}</span>}
      </div>
    </div>
  );
});

// The spans of a task (a run: its subtree) or of a whole trace as a
// waterfall: a row per span under its parent, a bar per span on one time
// axis, tool, model and agent calls labelled, with duration, tokens, cost
// and errors; pending parents (seen only through their children) as open
// bars. Live as spans arrive; in the past, as of the position shown.
export function TraceView({ traces }: { traces: TraceClient }) {
  const trace = useDashboard((s) => s.trace);
  const past = useDashboard((s) => s.travel.view?.position ?? null);
  const hasSpans = useDashboard((s) => spansOf(s.travel.view ?? s) !== undefined);
  const traceId = useDashboard((s) => selectedTraceId(s.trace, spansOf(s.travel.view ?? s)));
  const folded = useDashboard((s) => (traceId === null ? undefined : spansOf(s.travel.view ?? s)?.[traceId]));
  const sel = trace.selection;
  // The task shown (its title, its worker), and the tasks only while the
  // agent's runs are offered: the task map changes with every event.
  const task = useDashboard((s) => (sel?.taskId ? shown(s).tasks[sel.taskId] ?? s.tasks[sel.taskId] : undefined));
  const tasks = useDashboard((s) => (sel?.agentId ? shown(s).tasks : null));
  const [draft, setDraft] = useState('');

  // Not on `trace` itself: opening a span's details changes it.
  const { rows, note } = useMemo(
    () => shownSpans(trace, { past, traceId, hasSpans, folded }),
    [trace.selection, trace.fetched, trace.past, past, traceId, hasSpans, folded]);
  const waterfall = useMemo(() => layoutWaterfall(rows), [rows]);
  // The runs of the agent it was opened from, newest first.
  const runs = useMemo(() => {
    if (!sel?.agentId || !tasks) return [];
    return Object.values(tasks)
      .filter((t) => t.worker_id === sel.agentId && isRunTask(t.task_id))
      .sort((a, b) => b.first_position - a.first_position);
  }, [sel?.agentId, tasks]);

  const openTraceId = (e: React.FormEvent) => {
    e.preventDefault();
    const id = draft.trim().toLowerCase();
    if (id) traces.open({ taskId: null, traceId: id, agentId: null });
  };
  const detail = trace.openSpan ? rows.find((r) => r.span_id === trace.openSpan) : undefined;
  const { totals } = waterfall;
  const total = waterfall.startUs !== null && waterfall.endUs !== null ? (waterfall.endUs - waterfall.startUs) / 1000 : null;

  return (
    <section className="panel trace" data-testid="trace-view" data-open={String(sel !== null)}
      data-trace={traceId ?? ''} data-task={sel?.taskId ?? ''} data-loading={String(trace.loading)}>
      <h2>
        Trace
        {sel === null && <small>click a task or an agent's runs to see its spans</small>}
        {sel?.taskId && (
          <small data-testid="trace-what">
            {task?.title ? `${task.title} · ` : ''}<span className="mono">{sel.taskId}</span>
            {task?.worker_id ? <> · <AgentName id={task.worker_id} /></> : null}
          </small>
        )}
        {sel && !sel.taskId && <small className="mono" data-testid="trace-what">trace {sel.traceId}</small>}
        {runs.length > 0 && (
          <select aria-label="runs of the agent" data-testid="trace-runs" value={sel?.taskId ?? ''}
            onChange={(e) => traces.open({ taskId: e.target.value, traceId: null, agentId: sel!.agentId })}>
            {runs.map((t) => <option key={t.task_id} value={t.task_id}>{`${t.title || t.task_id} (${t.status})`}</option>)}
          </select>
        )}
        {sel?.taskId && traceId && (
          <button type="button" onClick={() => traces.open({ taskId: null, traceId, agentId: null })}
            title={`every span of trace ${traceId}`}>whole trace</button>
        )}
        {past !== null && sel && <small>as of position {past}</small>}
        {trace.loading && <small>loading…</small>}
        {trace.error && sel && (
          <small className="bad" role="alert" data-testid="trace-error">
            {trace.error} <button type="button" onClick={() => traces.open(sel)}>retry</button>
          </small>
        )}
        <form onSubmit={openTraceId} className="trace-open">
          <input placeholder="trace id" aria-label="trace id" value={draft} onChange={(e) => setDraft(e.target.value)}
            data-testid="trace-id-input" />
        </form>
        {sel && <button type="button" className="close" aria-label="close the trace" onClick={() => traces.close()}>✕</button>}
      </h2>
      {sel && (
        <>
          <p className="sub" data-testid="trace-summary">
            <span data-testid="trace-span-count">{totals.spans}</span> spans
            {total !== null ? ` · ${ms(total)} from ${time(waterfall.startUs!).slice(11)} UTC` : ''}
            {totals.inputTokens + totals.outputTokens > 0 ? ` · ${tokens(totals.inputTokens, totals.outputTokens, totals.cachedTokens)}` : ''}
            {totals.costUsd > 0 ? ` · ${usd(totals.costUsd)}` : ''}
            {totals.errors > 0 ? <span className="bad"> · {totals.errors} failed</span> : ''}
            {waterfall.omitted > 0 ? ` · the first ${waterfall.rows.length} shown, ${waterfall.omitted} more` : ''}
          </p>
          {note && <p className="sub" data-testid="trace-note">{note}</p>}
          <div className="waterfall" data-testid="waterfall">
            {waterfall.rows.map((r) => (
              <Line key={r.span.span_id} row={r} traces={traces} selected={r.span.span_id === trace.openSpan} />
            ))}
          </div>
          {detail && (
            <pre className="span-detail" data-testid="span-detail">{JSON.stringify(detail, null, 2)}</pre>
          )}
        </>
      )}
    </section>
  );
}
