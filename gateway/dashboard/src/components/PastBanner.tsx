import { useLayoutEffect } from 'react';
import { useDashboard } from '../store';
import { time } from '../format';
import { recordShown } from '../live/shownTimes';
import type { TravelClient } from '../live/travel';

// While not live, unmissable: which position and time every view shows,
// what is loading or failed, and the way back to live.
export function PastBanner({ travel }: { travel: TravelClient }) {
  const t = useDashboard((s) => s.travel);
  const head = useDashboard((s) => s.lastPosition);
  // Every view renders the new past state in the same commit as this
  // (also a drag's passing positions, shown while the newest loads).
  useLayoutEffect(() => {
    if (t.mode === 'past' && t.view) recordShown(t.view.position, t.viewSeekAt);
  }, [t.mode, t.view, t.viewSeekAt]);
  if (t.mode !== 'past') return null;
  const asked = t.target === null ? ''
    : 'position' in t.target ? `position ${t.target.position}` : `time ${time(t.target.timeUs)} UTC`;
  const view = t.view;
  return (
    <div className="past-banner" role="status" aria-live="polite" data-testid="past-banner"
      data-position={view?.position ?? ''} data-loading={String(t.loading)}>
      <span className="past-tag" aria-hidden>PAST</span>
      {view ? (
        <span>
          <strong>Viewing the past</strong> — position <b data-testid="past-position">{view.position}</b>
          {' at '}<b>{view.timeUs ? `${time(view.timeUs)} UTC` : 'the start (empty log)'}</b>
          <span className="sub"> · {Math.max(0, head - view.position)} events behind live
            {view.snapshotPosition > 0 ? ` · from the snapshot at ${view.snapshotPosition} + ${view.replayedEvents} events` : ''}</span>
        </span>
      ) : (
        <span><strong>Viewing the past</strong> — {t.error ? 'could not load' : 'loading'} {asked}…
          <span className="sub"> (the views below are live until it arrives)</span></span>
      )}
      {view && t.loading && <span className="sub"> · loading {asked}…</span>}
      {t.error && (
        <span className="past-error" role="alert" data-testid="past-error">
          {view ? `${asked}: ` : ''}{t.error}
          <button type="button" onClick={() => travel.retry()}>retry</button>
        </span>
      )}
      <button type="button" className="back-to-live" onClick={() => travel.live()} data-testid="back-to-live">
        Back to live
      </button>
    </div>
  );
}
