import { useDashboard } from '../store';
import { type Webhook, webhookHealth } from '../webhooks';
import { useAdminPoll } from './useAdminPoll';

// Each webhook endpoint's health, polled every 5 s. Listing webhooks needs
// the admin role on a secured server; without it the panel says so.
export function WebhooksView() {
  const past = useDashboard((s) => s.travel.mode === 'past');
  const polled = useAdminPoll<{ webhooks: Webhook[] }>(
    '/v1/webhooks', 'webhook health needs an admin token', 'webhooks are off on this server');
  const hooks = polled.body?.webhooks ?? [];
  const note = polled.note || (polled.body && hooks.length === 0
    ? 'no endpoints registered (POST /v1/webhooks)' : '');

  return (
    <section className="panel webhooks" data-testid="webhooks">
      <h2>Webhooks <small>{hooks.length}</small>{past && <small>(live: not part of time travel)</small>}</h2>
      {note && <p className="sub">{note}</p>}
      {hooks.length > 0 && (
        <table>
          <thead>
            <tr><th>endpoint</th><th>health</th><th>behind</th><th>delivered</th><th>failed</th><th>dead letters</th><th>last</th></tr>
          </thead>
          <tbody>
            {hooks.map((w) => {
              const health = webhookHealth(w);
              const d = w.delivery;
              return (
                <tr key={w.id} data-testid="webhook-row" data-health={health}>
                  <td title={w.id} className="mono">{w.url}</td>
                  <td><span className={`badge wh-${health.replace(' ', '-')}`}
                    title={w.disabled_reason ?? d?.last_error ?? ''}>{health}</span></td>
                  <td>{d ? d.head_position - d.checkpoint : ''}</td>
                  <td>{d?.delivered ?? ''}</td>
                  <td>{d?.failed ?? ''}</td>
                  <td>{w.dead_letters}{w.pending_redeliveries > 0 ? ` (+${w.pending_redeliveries} queued)` : ''}</td>
                  <td>{d && d.last_status > 0 ? d.last_status : ''}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
