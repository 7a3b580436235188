// REST reads (projections/read_queries.h, GET /v1/all, GET /v1/projections,
// GET /v1/replication)
// with the token as `Authorization: Bearer`.

import { pairFromRest, pairKey, usageKey } from '../fold';
import type { Snapshot } from '../store/store';
import type {
  AgentRow, ProjectionStatus, RecordedEvent, ReplicationStatus, RestPair, TaskRow, UsagePoint,
} from '../types';

export type Fetch = typeof fetch;

// status: the HTTP status, or 0 when the request got no answer.
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class RestClient {
  constructor(
    private readonly base: string,
    private readonly token: () => string,
    private readonly fetchImpl: Fetch = (...a) => fetch(...a),
  ) {}

  async get<T>(path: string): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await this.fetchImpl(this.base + path, { headers });
    } catch (e) {
      // fetch rejects only when no answer came (network, CORS, abort).
      throw new HttpError(0, `GET ${path}: network error (${e instanceof Error ? e.message : String(e)})`);
    }
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = ((await response.json()) as { detail?: string }).detail ?? detail;
      } catch {
        // not problem+json
      }
      throw new HttpError(response.status, `GET ${path}: ${response.status} ${detail}`);
    }
    return (await response.json()) as T;
  }

  projections(): Promise<{ projections: ProjectionStatus[] }> {
    return this.get('/v1/projections');
  }

  // GET /v1/replication; a server without the route (404) mirrors nothing.
  async replication(): Promise<ReplicationStatus> {
    try {
      return await this.get<ReplicationStatus>('/v1/replication');
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return { mode: 'off' };
      throw e;
    }
  }

  // Events with position >= from (GET /v1/all pages of at most 1000).
  async events(from: number, limit: number): Promise<RecordedEvent[]> {
    const page = await this.get<{ events: RecordedEvent[] }>(`/v1/all?from=${from}&limit=${limit}`);
    return page.events;
  }

  // The read models, each read with min_position = its projection's
  // checkpoint (so it is at least that fresh), and the events just before
  // the live feed will start, for the timeline. Without a read side (404:
  // vigild --projections off) the snapshot is empty and the live feed
  // folds the whole log from position 1.
  async snapshot(nowUs: number = Date.now() * 1000): Promise<Snapshot> {
    let gates = { agents: 0, tasks: 0, metrics: 0 };
    try {
      const { projections } = await this.projections();
      const at = (name: string) => projections.find((p) => p.name === name)?.checkpoint ?? 0;
      gates = { agents: at('agents'), tasks: at('tasks'), metrics: at('metrics') };
    } catch (e) {
      if (!(e instanceof HttpError && e.status === 404)) throw e;
      return { agents: {}, tasks: {}, pairs: {}, usage: {}, spans: {}, gates, recent: [] };
    }
    const from = Math.min(gates.agents, gates.tasks, gates.metrics);
    const hourAgo = nowUs - 3_600_000_000;
    const [agents, tasks, coordination, usage, recent] = await Promise.all([
      this.get<{ agents: AgentRow[] }>(`/v1/agents?min_position=${gates.agents}`),
      this.get<{ tasks: TaskRow[] }>(`/v1/tasks?limit=1000&min_position=${gates.tasks}`),
      this.get<{ pairs: RestPair[] }>(`/v1/coordination?min_position=${gates.tasks}`),
      this.get<{ points: UsagePoint[] }>(`/v1/usage?from=${hourAgo}&bucket=1m&min_position=${gates.metrics}`),
      from > 0 ? this.events(Math.max(1, from - 199), 200) : Promise.resolve([]),
    ]);
    const snapshot: Snapshot = { agents: {}, tasks: {}, pairs: {}, usage: {}, spans: {}, gates, recent: [] };
    for (const a of agents.agents) snapshot.agents[a.agent_id] = a;
    for (const t of tasks.tasks) snapshot.tasks[t.task_id] = t;
    for (const p of coordination.pairs) snapshot.pairs[pairKey(p.manager_id, p.worker_id)] = pairFromRest(p);
    for (const u of usage.points) snapshot.usage[usageKey(u.model, u.bucket_time_us)] = u;
    snapshot.recent = recent.filter((e) => e.position <= from);
    return snapshot;
  }
}
