import { useState } from 'react';
import { replicationChip } from '../replication';
import { store, useDashboard } from '../store';

// Connection state, last position, projection lag and (when vigild
// mirrors the log) replication lag: always visible.
export function StatusBar() {
  const connection = useDashboard((s) => s.connection);
  const lastPosition = useDashboard((s) => s.lastPosition);
  const projections = useDashboard((s) => s.projections);
  const projectionsError = useDashboard((s) => s.projectionsError);
  const replication = replicationChip(useDashboard((s) => s.replication));
  const duplicates = useDashboard((s) => s.duplicatesDropped);
  const token = useDashboard((s) => s.token);
  const [draft, setDraft] = useState(token);

  const label = connection.polling && connection.state !== 'live' && connection.state !== 'catching_up'
    ? 'polling /v1/all (no /v1/live)'
    : connection.state.replace('_', ' ');
  return (
    <header className="status">
      <strong className="brand">Vigil</strong>
      <span className={`conn conn-${connection.polling && connection.state !== 'live' ? 'polling' : connection.state}`}
        data-testid="connection" data-state={connection.state} data-polling={String(connection.polling)}
        title={connection.lastError ?? ''}>
        ● {label}
        {connection.state === 'reconnecting' && connection.retryInMs !== null
          ? ` (attempt ${connection.attempt}, in ${(connection.retryInMs / 1000).toFixed(1)} s)` : ''}
        <span className="role"> · {connection.role === 'follower' ? 'via leader tab' : connection.role}</span>
      </span>
      <span>position <b data-testid="last-position">{lastPosition}</b></span>
      {duplicates > 0 && <span title="frames at or below the last position, dropped">dup dropped {duplicates}</span>}
      <span className="lag" data-testid="projection-lag">
        {projectionsError && projections.length === 0
          ? <span className="bad">projections: {projectionsError}</span>
          : projections.map((p) => (
            <span key={p.name} className={`chip ${p.status !== 'running' && p.status !== 'live' ? 'warn' : ''} ${p.lag_events > 1000 ? 'bad' : ''}`}
              title={`${p.status}; checkpoint ${p.checkpoint} of head ${p.head}${p.last_error ? `; ${p.last_error}` : ''}`}>
              {p.name}: lag {p.lag_events} ev / {p.lag_seconds.toFixed(1)} s
            </span>
          ))}
        {replication && (
          <span className={`chip ${replication.tone}`} data-testid="replication-lag" title={replication.title}>
            {replication.text}
          </span>
        )}
      </span>
      <form className="token" onSubmit={(e) => { e.preventDefault(); store.getState().setToken(draft.trim()); }}>
        <input type="password" placeholder="token (secured servers)" value={draft}
          onChange={(e) => setDraft(e.target.value)} aria-label="token" />
        <button type="submit">use</button>
      </form>
    </header>
  );
}
