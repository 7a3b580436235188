import { useMemo, useState } from 'react';
import { store, useDashboard } from '../store';
import { time } from '../format';
import type { TravelClient } from '../live/travel';
import { CHANGE_KINDS, type Change, type ChangeKind } from '../travel';
import { AgentName } from './AgentName';

// Fields every change touches: listed last, dimmed.
const BOOKKEEPING = new Set(['updated_time_us', 'last_position', 'last_heartbeat_time_us']);

// Changes listed at first, and added per "more"; positions per change.
const CHANGES_SHOWN = 200;
const POSITIONS_SHOWN = 12;

// A field's value as one short line: times as UTC clock times, absent
// (the entity did not exist) as a dash.
function value(field: string, v: unknown): string {
  if (v === undefined) return '—';
  if (v === null) return 'null';
  if (typeof v === 'number') {
    if (field.endsWith('_time_us')) return time(v).slice(11);
    return Number.isInteger(v) ? String(v) : String(+v.toFixed(4));
  }
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

// The changed entity, its agents by name (the id on hover).
function Entity({ change }: { change: Change }) {
  const k = change.key;
  const id = (field: string) => String(k[field]);
  switch (change.kind) {
    case 'agent': return <AgentName id={id('agent_id')} />;
    case 'coordination': return <><AgentName id={id('manager_id')} /> → <AgentName id={id('worker_id')} /></>;
    case 'agent_messages': return <><AgentName id={id('from_agent')} /> → <AgentName id={id('to_agent')} /></>;
    case 'agent_metrics': return <><AgentName id={id('agent_id')} />{change.label.slice(change.label.lastIndexOf(' @ '))}</>;
    default: return <>{change.label}</>;
  }
}

function ChangeRow({ change, travel }: { change: Change; travel: TravelClient }) {
  return (
    <tr data-testid="diff-change" data-kind={change.kind} data-label={change.label} data-what={change.what}>
      <td>{change.kind}</td>
      <td className="mono"><Entity change={change} /></td>
      <td><span className={`badge d-${change.what}`}>{change.what}</span></td>
      <td className="fields">
        {[...change.fields].sort((x, y) => Number(BOOKKEEPING.has(x.field)) - Number(BOOKKEEPING.has(y.field))).map((f) => (
          <div key={f.field} className={BOOKKEEPING.has(f.field) ? 'bookkeeping' : ''}>
            <span className="sub">{f.field}</span> {value(f.field, f.before)} → <b>{value(f.field, f.after)}</b>
          </div>
        ))}
      </td>
      <td className="positions">
        {change.positions.slice(0, POSITIONS_SHOWN).map((p) => (
          <button type="button" key={p} className="pos-link" data-testid="diff-position"
            title={`show the state after position ${p} and select its event`}
            onClick={() => travel.seek({ position: p }, true)}>{p}</button>
        ))}
        {change.positionCount > POSITIONS_SHOWN &&
          <span className="sub"> +{change.positionCount - Math.min(POSITIONS_SHOWN, change.positions.length)} more</span>}
      </td>
    </tr>
  );
}

// What changed between two marked positions (GET /v1/diff): each entity
// with its fields before → after, and the events that changed it; click a
// position to travel there with its event selected in the timeline.
export function DiffView({ travel }: { travel: TravelClient }) {
  const diff = useDashboard((s) => s.diff);
  const [kind, setKind] = useState<ChangeKind | ''>('');
  const [limit, setLimit] = useState(CHANGES_SHOWN);
  const changes = useMemo(
    () => (diff.result?.changes ?? []).filter((c) => !kind || c.kind === kind),
    [diff.result, kind],
  );
  const s = store.getState();
  const mark = (which: 'a' | 'b', text: string) => {
    const p = Number(text);
    s.setMark(which, text.trim() === '' || !Number.isInteger(p) || p < 0 ? null : p);
  };
  const r = diff.result;
  return (
    <section className="panel diff" data-testid="diff-view" aria-label="diff between two positions">
      <h2>
        Diff
        <label>A <input className="pos-input" inputMode="numeric" aria-label="diff from (A)" data-testid="diff-a"
          value={diff.a ?? ''} onChange={(e) => mark('a', e.target.value)} /></label>
        <label>B <input className="pos-input" inputMode="numeric" aria-label="diff to (B)" data-testid="diff-b"
          value={diff.b ?? ''} onChange={(e) => mark('b', e.target.value)} /></label>
        <button type="button" disabled={diff.a === null || diff.b === null || diff.loading}
          onClick={() => { setLimit(CHANGES_SHOWN); void travel.compare(); }} data-testid="diff-compare">compare</button>
        {r && (
          <select aria-label="kind" value={kind} onChange={(e) => setKind(e.target.value as ChangeKind | '')}>
            <option value="">all kinds ({r.changes.length})</option>
            {CHANGE_KINDS.filter((k) => r.byKind[k] > 0).map((k) => <option key={k} value={k}>{k} ({r.byKind[k]})</option>)}
          </select>
        )}
        <button type="button" className="close" aria-label="close the diff" onClick={() => s.setDiffOpen(false)}>✕</button>
      </h2>
      {diff.loading && <p className="sub">comparing…</p>}
      {diff.error && <p className="bad" role="alert" data-testid="diff-error">{diff.error}</p>}
      {!r && !diff.loading && !diff.error && (
        <p className="sub">Mark two positions (A and B) on the scrubber or type them here, then compare.</p>
      )}
      {r && (
        <>
          <p data-testid="diff-summary">
            From position {r.from.position}{r.from.timeUs ? ` (${time(r.from.timeUs)})` : ''} to
            position {r.to.position}{r.to.timeUs ? ` (${time(r.to.timeUs)})` : ''}:{' '}
            <b data-testid="diff-count">{r.changes.length}</b> entities changed
          </p>
          <div className="scroll diff-scroll">
            <table>
              <thead><tr><th>kind</th><th>entity</th><th></th><th>before → after</th><th>by events at</th></tr></thead>
              <tbody>
                {changes.slice(0, limit).map((c) => (
                  <ChangeRow key={`${c.kind}:${JSON.stringify(c.key)}`} change={c} travel={travel} />
                ))}
              </tbody>
            </table>
          </div>
          {changes.length > limit && (
            <button type="button" onClick={() => setLimit(limit + CHANGES_SHOWN)}>
              show {Math.min(CHANGES_SHOWN, changes.length - limit)} more of {changes.length - limit}
            </button>
          )}
        </>
      )}
    </section>
  );
}
