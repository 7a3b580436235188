import { useMemo, useState } from 'react';
import { useDashboard } from '../store';
import { shown } from '../store/store';
import { ms } from '../format';
import type { PairRow } from '../types';
import { agentLabel, agentWithId } from '../names';

const W = 560;
const ROW = 26;

// Green (no failures) to red (half or more failed).
export function failureColour(failed: number, finished: number): string {
  if (finished === 0) return 'hsl(210 15% 60%)';
  const rate = Math.min(1, failed / finished / 0.5);
  return `hsl(${Math.round(130 - 130 * rate)} 70% 45%)`;
}

// Managers (left) → workers (right); edge width ~ tasks assigned, colour =
// failure rate, mean time to complete on hover.
export function DelegationGraph() {
  const pairs = useDashboard((s) => shown(s).pairs);
  const agents = useDashboard((s) => shown(s).agents);
  const liveAgents = useDashboard((s) => s.agents);
  // Names, the id on hover (an SVG <title>: SVG has no title attribute).
  const label = (id: string) => agentLabel(id, agents, liveAgents);
  const pairText = (p: PairRow) =>
    `${agentWithId(p.manager_id, agents, liveAgents)} → ${agentWithId(p.worker_id, agents, liveAgents)}`;
  const [hover, setHover] = useState<PairRow | null>(null);
  const layout = useMemo(() => {
    const list = Object.values(pairs);
    const managers = new Set<string>();
    const workers = new Set<string>();
    for (const a of Object.values(agents)) {
      if (a.role === 'manager') managers.add(a.agent_id);
      else if (a.role === 'worker' && a.status !== 'stopped') workers.add(a.agent_id);
    }
    for (const p of list) { managers.add(p.manager_id); workers.add(p.worker_id); }
    const m = [...managers].sort();
    const w = [...workers].sort();
    const height = Math.max(m.length, w.length, 1) * ROW + 20;
    const y = (i: number, n: number) => 10 + (height - 20) * ((i + 0.5) / n);
    const mY = new Map(m.map((id, i) => [id, y(i, m.length)]));
    const wY = new Map(w.map((id, i) => [id, y(i, w.length)]));
    const maxTasks = Math.max(1, ...list.map((p) => p.tasks_assigned));
    return { list, m, w, mY, wY, height, maxTasks };
  }, [pairs, agents]);
  const x1 = 150;
  const x2 = W - 150;
  return (
    <section className="panel graph">
      <h2>Delegation <small>{layout.list.length} pairs</small></h2>
      <svg viewBox={`0 0 ${W} ${layout.height}`} width="100%" data-testid="delegation-graph">
        {layout.list.map((p) => {
          const ya = layout.mY.get(p.manager_id)!;
          const yb = layout.wY.get(p.worker_id)!;
          const finished = p.tasks_completed + p.tasks_failed;
          const mean = p.complete_time_count > 0 ? p.complete_time_sum_ms / p.complete_time_count : null;
          return (
            <path key={`${p.manager_id}>${p.worker_id}`} data-testid="edge"
              d={`M${x1},${ya} C${(x1 + x2) / 2},${ya} ${(x1 + x2) / 2},${yb} ${x2},${yb}`}
              fill="none" stroke={failureColour(p.tasks_failed, finished)} strokeOpacity={0.75}
              strokeWidth={1 + 9 * Math.sqrt(p.tasks_assigned / layout.maxTasks)}
              onMouseEnter={() => setHover(p)} onMouseLeave={() => setHover(null)}>
              <title>{`${pairText(p)}: ${p.tasks_assigned} assigned, ${p.tasks_completed} completed, ${p.tasks_failed} failed; mean time to complete ${ms(mean)}`}</title>
            </path>
          );
        })}
        {layout.m.map((id) => (
          <g key={id} transform={`translate(${x1},${layout.mY.get(id)})`}>
            <circle r={7} className="node manager" />
            <text x={-12} dy="0.35em" textAnchor="end" data-agent-id={id}><title>{id}</title>{label(id).text}</text>
          </g>
        ))}
        {layout.w.map((id) => (
          <g key={id} transform={`translate(${x2},${layout.wY.get(id)})`}>
            <circle r={6} className={`node worker s-${agents[id]?.status ?? 'idle'}`} />
            <text x={12} dy="0.35em" data-agent-id={id}><title>{id}</title>{label(id).text}</text>
          </g>
        ))}
      </svg>
      <div className="hover">
        {hover
          ? `${pairText(hover)}: ${hover.tasks_assigned} tasks, ${hover.tasks_failed} failed, mean latency ${ms(hover.complete_time_count ? hover.complete_time_sum_ms / hover.complete_time_count : null)}`
          : 'hover an edge for its latency'}
      </div>
    </section>
  );
}
