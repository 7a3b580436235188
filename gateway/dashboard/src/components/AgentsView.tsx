import { useMemo } from 'react';
import { useDashboard } from '../store';
import { shown } from '../store/store';
import { age, bytes } from '../format';
import { useNow } from './useNow';

export function AgentsView() {
  const agents = useDashboard((s) => shown(s).agents);
  const clock = useNow(1000);
  // In the past, heartbeat ages are as of the time shown, not now.
  const pastMs = useDashboard((s) => (s.travel.view?.timeUs ? s.travel.view.timeUs / 1000 : null));
  const now = pastMs ?? clock;
  const rows = useMemo(
    () => Object.values(agents).sort((a, b) =>
      (a.role ?? '').localeCompare(b.role ?? '') || a.agent_id.localeCompare(b.agent_id)),
    [agents],
  );
  return (
    <section className="panel agents">
      <h2>Agents <small>{rows.length}</small></h2>
      <div className="scroll">
        <table>
          <thead>
            <tr><th>agent</th><th>role</th><th>status</th><th>heartbeat</th><th>cpu</th><th>mem</th><th>queue</th><th>current task</th></tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.agent_id} data-testid="agent-row" data-agent={a.agent_id} data-status={a.status}>
                <td title={a.agent_id}>{a.name || a.agent_id}<div className="sub">{a.model ?? ''}</div></td>
                <td>{a.role ?? '?'}</td>
                <td><span className={`badge s-${a.status}`}>{a.status}</span></td>
                <td>{age(a.last_heartbeat_time_us, now)}</td>
                <td>{a.cpu_pct.toFixed(0)}%</td>
                <td>{bytes(a.mem_bytes)}</td>
                <td>{a.queue_depth}</td>
                <td className="mono">{a.current_task_id ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
