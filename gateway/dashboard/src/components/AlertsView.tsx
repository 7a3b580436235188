import { useMemo } from 'react';
import { useDashboard } from '../store';
import { type OpenAlert, causeLink, openCritical, sortAlerts, subjectLink } from '../alerts';
import { useAdminPoll } from './useAdminPoll';

// The alerts open now, polled every 5 s, critical first, each linking to
// its subject and its causing events; a banner while any critical one is
// open. Listing alerts needs the admin role on a secured server.
export function AlertsView() {
  const past = useDashboard((s) => s.travel.mode === 'past');
  const polled = useAdminPoll<{ alerts: OpenAlert[] }>(
    '/v1/alerts', 'alerts need an admin token', 'alerts are off on this server');
  const alerts = useMemo(() => sortAlerts(polled.body?.alerts ?? []), [polled.body]);
  const note = polled.note || (polled.body && alerts.length === 0 ? 'no alert open' : '');

  const critical = openCritical(alerts);
  return (
    <section className="panel alerts" data-testid="alerts">
      {critical > 0 && (
        <p className="alert-banner" role="alert" data-testid="alert-banner">
          {critical} critical alert{critical === 1 ? '' : 's'} open
        </p>
      )}
      <h2>Alerts <small>{alerts.length} open</small>{past && <small>(live: not part of time travel)</small>}</h2>
      {note && <p className="sub">{note}</p>}
      {alerts.length > 0 && (
        <table>
          <thead>
            <tr><th>severity</th><th>rule</th><th>subject</th><th>raised at</th><th>caused by</th></tr>
          </thead>
          <tbody>
            {alerts.map((a) => {
              const subject = subjectLink(a);
              const label = `${a.subject.kind} ${a.subject.id}${a.level_pct ? ` (${a.level_pct} %)` : ''}`;
              return (
                <tr key={a.alert_id} data-testid="alert-row" data-severity={a.severity}>
                  <td><span className={`badge sev-${a.severity}`}>{a.severity}</span></td>
                  <td title={a.rule_id}>{a.rule_name}</td>
                  <td>{subject ? <a href={subject}>{label}</a> : label}</td>
                  <td className="mono">{a.raised_position}</td>
                  <td className="mono">
                    {a.cause_positions.map((p) => (
                      <a key={p} href={causeLink(p)}>{p} </a>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
