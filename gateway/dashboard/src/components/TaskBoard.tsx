import { useMemo } from 'react';
import { store, useDashboard } from '../store';
import { shown } from '../store/store';
import { TASK_STATUSES, type TaskRow } from '../types';
import type { TraceClient } from '../live/traces';
import { agentLabel } from '../names';
import { AgentName } from './AgentName';

const PER_COLUMN = 40;

// A card opens its spans in the trace view.
export function TaskBoard({ traces }: { traces: TraceClient }) {
  const tasks = useDashboard((s) => shown(s).tasks);
  const agents = useDashboard((s) => shown(s).agents);
  const liveAgents = useDashboard((s) => s.agents);
  const selected = useDashboard((s) => s.trace.selection?.taskId ?? null);
  // In the past, the state may hold more tasks than it listed (its limit).
  const taskCount = useDashboard((s) => s.travel.view?.taskCount ?? null);
  const filter = useDashboard((s) => s.taskFilter);
  const { managers, workers, columns, counts } = useMemo(() => {
    const managers = new Set<string>();
    const workers = new Set<string>();
    const columns: Record<string, TaskRow[]> = {};
    const counts: Record<string, number> = {};
    for (const s of TASK_STATUSES) { columns[s] = []; counts[s] = 0; }
    for (const t of Object.values(tasks)) {
      if (t.manager_id) managers.add(t.manager_id);
      if (t.worker_id) workers.add(t.worker_id);
      if (filter.manager && t.manager_id !== filter.manager) continue;
      if (filter.worker && t.worker_id !== filter.worker) continue;
      counts[t.status] += 1;
      columns[t.status].push(t);
    }
    for (const s of TASK_STATUSES) {
      columns[s] = columns[s].sort((a, b) => b.last_position - a.last_position).slice(0, PER_COLUMN);
    }
    return { managers: [...managers].sort(), workers: [...workers].sort(), columns, counts };
  }, [tasks, filter]);
  const set = store.getState().setTaskFilter;
  return (
    <section className="panel tasks">
      <h2>
        Tasks
        <select aria-label="manager" value={filter.manager} onChange={(e) => set({ manager: e.target.value })}>
          <option value="">all managers</option>
          {managers.map((m) => <option key={m} value={m} title={m}>{agentLabel(m, agents, liveAgents).text}</option>)}
        </select>
        <select aria-label="worker" value={filter.worker} onChange={(e) => set({ worker: e.target.value })}>
          <option value="">all workers</option>
          {workers.map((w) => <option key={w} value={w} title={w}>{agentLabel(w, agents, liveAgents).text}</option>)}
        </select>
        {taskCount !== null && taskCount > Object.keys(tasks).length &&
          <small>the newest {Object.keys(tasks).length} of {taskCount} tasks</small>}
      </h2>
      <div className="board">
        {TASK_STATUSES.map((status) => (
          <div key={status} className="column" data-testid={`column-${status}`}>
            <h3>{status} <small data-testid={`count-${status}`}>{counts[status]}</small></h3>
            {columns[status].map((t) => (
              <div key={t.task_id} className={`card s-${t.status} ${t.task_id === selected ? 'selected' : ''}`}
                data-testid="task-card" data-task={t.task_id} data-status={t.status}
                onClick={() => traces.open({ taskId: t.task_id, traceId: null, agentId: null })}
                title={`${t.task_id}\nmanager ${t.manager_id ?? '?'} → worker ${t.worker_id ?? '?'}${t.error ? `\n${t.error}` : ''}\n(click for its spans)`}>
                <div className="title">{t.title || t.task_id}</div>
                <div className="sub"><AgentName id={t.manager_id} /> → <AgentName id={t.worker_id} missing="—" />
                  {t.priority !== null ? ` · p${t.priority}` : ''}</div>
                <div className="progress"><div style={{ width: `${Math.min(100, t.progress)}%` }} /></div>
              </div>
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}
