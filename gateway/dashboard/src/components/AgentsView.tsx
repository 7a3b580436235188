import { useMemo } from 'react';
import { useDashboard } from '../store';
import { shown } from '../store/store';
import { age, bytes } from '../format';
import { useNow } from './useNow';
import type { TraceClient } from '../live/traces';
import { isRunTask } from '../spans';
import { AgentName } from './AgentName';

// An agent's runs (tasks run-<span id> it worked, from its traces) open
// in the trace view, the newest first.
export function AgentsView({ traces }: { traces: TraceClient }) {
  const agents = useDashboard((s) => shown(s).agents);
  const tasks = useDashboard((s) => shown(s).tasks);
  const clock = useNow(1000);
  // In the past, heartbeat ages are as of the time shown, not now.
  const pastMs = useDashboard((s) => (s.travel.view?.timeUs ? s.travel.view.timeUs / 1000 : null));
  const now = pastMs ?? clock;
  const rows = useMemo(
    () => Object.values(agents).sort((a, b) =>
      (a.role ?? '').localeCompare(b.role ?? '') || a.agent_id.localeCompare(b.agent_id)),
    [agents],
  );
  const runs = useMemo(() => {
    const out = new Map<string, string[]>();
    const newestFirst = Object.values(tasks)
      .filter((t) => t.worker_id && isRunTask(t.task_id))
      .sort((a, b) => b.first_position - a.first_position);
    for (const t of newestFirst) {
      const list = out.get(t.worker_id!);
      if (list) list.push(t.task_id);
      else out.set(t.worker_id!, [t.task_id]);
    }
    return out;
  }, [tasks]);
  return (
    <section className="panel agents">
      <h2>Agents <small>{rows.length}</small></h2>
      <div className="scroll">
        <table>
          <thead>
            <tr><th>agent</th><th>role</th><th>status</th><th>heartbeat</th><th>cpu</th><th>mem</th><th>queue</th><th>current task</th><th>runs</th></tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.agent_id} data-testid="agent-row" data-agent={a.agent_id} data-status={a.status}>
                <td><AgentName id={a.agent_id} /><div className="sub">{a.model ?? ''}</div></td>
                <td>{a.role ?? '?'}</td>
                <td><span className={`badge s-${a.status}`}>{a.status}</span></td>
                <td>{age(a.last_heartbeat_time_us, now)}</td>
                <td>{a.cpu_pct.toFixed(0)}%</td>
                <td>{bytes(a.mem_bytes)}</td>
                <td>{a.queue_depth}</td>
                <td className="mono">{a.current_task_id ?? ''}</td>
                <td>
                  {runs.has(a.agent_id) && (
                    <button type="button" className="pos-link" data-testid="agent-runs"
                      title={`the spans of ${a.agent_id}'s newest run (${runs.get(a.agent_id)![0]})`}
                      onClick={() => traces.open({ taskId: runs.get(a.agent_id)![0], traceId: null, agentId: a.agent_id })}>
                      {runs.get(a.agent_id)!.length} runs
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
