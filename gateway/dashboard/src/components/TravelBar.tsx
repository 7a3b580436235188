import { useState, type FormEvent } from 'react';
import { store, useDashboard } from '../store';
import { time } from '../format';
import type { TravelClient } from '../live/travel';
import { eventTime, parseTimeInput, rfc3339 } from '../travel';

// The time-travel controls under the status bar: a scrubber over log
// positions 1..head (a native range input: arrows, Page Up/Down, Home and
// End work), the position and time it stands at, a position or a time to
// jump to, the two diff marks and the way back to live.
export function TravelBar({ travel }: { travel: TravelClient }) {
  // The newest position known: the live model's, or a projection's head
  // when that is ahead (while catching up).
  const head = useDashboard((s) => Math.max(s.lastPosition, ...s.projections.map((p) => p.head)));
  const mode = useDashboard((s) => s.travel.mode);
  const target = useDashboard((s) => s.travel.target);
  const viewPosition = useDashboard((s) => s.travel.view?.position ?? null);
  const marks = useDashboard((s) => s.diff);
  const [positionDraft, setPositionDraft] = useState('');
  const [timeDraft, setTimeDraft] = useState('');
  const [inputError, setInputError] = useState<string | null>(null);

  const position = mode === 'live'
    ? head
    : target && 'position' in target ? target.position : viewPosition ?? head;
  // The position's time: from the state shown, or from an event we hold.
  const timeUs = useDashboard((s) =>
    s.travel.view?.position === position
      ? s.travel.view.timeUs
      : eventTime(s.events, position) ?? eventTime(s.travel.view?.events ?? [], position));
  const when = timeUs ? time(timeUs) : null;

  const goToPosition = (e: FormEvent) => {
    e.preventDefault();
    const p = Number(positionDraft.trim());
    if (positionDraft.trim() === '' || !Number.isInteger(p) || p < 0) {
      setInputError('a position is a whole number ≥ 0');
      return;
    }
    setInputError(null);
    setPositionDraft('');
    travel.seek({ position: p });
  };
  const goToTime = (e: FormEvent) => {
    e.preventDefault();
    const us = parseTimeInput(timeDraft);
    if (us === null) {
      setInputError(`"${timeDraft}" is not a time (RFC 3339, e.g. 2026-01-31T10:00:00Z)`);
      return;
    }
    setInputError(null);
    setTimeDraft('');
    travel.seek({ timeUs: us });
  };
  const setMark = store.getState().setMark;
  return (
    <div className={`travel ${mode}`} data-testid="travel-bar">
      <span className="travel-label">time travel</span>
      <input type="range" className="scrubber" min={1} max={Math.max(1, head)} step={1}
        value={Math.min(Math.max(1, position), Math.max(1, head))} disabled={head < 1}
        aria-label="log position" data-testid="scrubber"
        aria-valuetext={`position ${position}${when ? ` at ${when} UTC` : ''}${mode === 'live' ? ' (live)' : ''}`}
        onChange={(e) => travel.seek({ position: Number(e.target.value) })} />
      <span className="travel-at" data-testid="scrubber-at">
        {mode === 'live' ? 'live · ' : ''}position <b>{position}</b>{when ? <> · {when}</> : null}
      </span>
      <form onSubmit={goToPosition}>
        <input className="pos-input" inputMode="numeric" placeholder="position" aria-label="go to position"
          value={positionDraft} onChange={(e) => setPositionDraft(e.target.value)} data-testid="goto-position" />
      </form>
      <form onSubmit={goToTime}>
        <input className="time-input" placeholder={timeUs ? rfc3339(timeUs) : 'time (RFC 3339)'} aria-label="go to time" title="a time to go to: RFC 3339 (without a zone: local time)"
          value={timeDraft} onChange={(e) => setTimeDraft(e.target.value)} data-testid="goto-time" />
      </form>
      <button type="button" onClick={() => setMark('a', position)} data-testid="mark-a"
        title="mark this position as A (diff from)">mark A{marks.a !== null ? ` (${marks.a})` : ''}</button>
      <button type="button" onClick={() => setMark('b', position)} data-testid="mark-b"
        title="mark this position as B (diff to)">mark B{marks.b !== null ? ` (${marks.b})` : ''}</button>
      <button type="button" aria-pressed={marks.open} data-testid="diff-toggle"
        onClick={() => store.getState().setDiffOpen(!marks.open)}>diff</button>
      {mode === 'past' && (
        <button type="button" className="to-live" onClick={() => travel.live()}>live ▶</button>
      )}
      {inputError && <span className="bad" role="alert">{inputError}</span>}
    </div>
  );
}
