// The JSON shapes the dashboard reads: recorded events (api/event_json.h),
// the read models (projections/read_queries.h), /v1/projections
// (projections/projection_service.cc) and the /v1/live frames (docs/contract.md
// "HTTP").

export interface RecordedEvent {
  event_id: string;
  stream: string;
  revision: number;
  position: number;
  type: string;
  // Inline JSON for application/json (always an object then).
  data?: Record<string, unknown>;
  data_base64?: string;
  content_type?: string;
  metadata: Record<string, unknown>;
  recorded_time_us: number;
  hash: string;
}

export type LiveFrame =
  | ({ kind: 'event' } & RecordedEvent)
  | { kind: 'caught_up'; position: number }
  | { kind: 'checkpoint'; position: number };

// The entity rows as projections/row_columns.h describes them (a column
// added there is a field added here).
export interface AgentRow {
  agent_id: string;
  role: string | null;
  name: string | null;
  model: string | null;
  status: string; // idle | busy | stopped
  stopped_reason: string | null;
  current_task_id: string | null;
  registered_time_us: number | null;
  last_heartbeat_time_us: number | null;
  cpu_pct: number;
  mem_bytes: number;
  queue_depth: number;
  updated_time_us: number;
  last_position: number;
}

export type TaskStatus = 'created' | 'assigned' | 'running' | 'completed' | 'failed';
export const TASK_STATUSES: TaskStatus[] = ['created', 'assigned', 'running', 'completed', 'failed'];

export interface TaskRow {
  task_id: string;
  first_position: number;
  manager_id: string | null;
  worker_id: string | null;
  title: string | null;
  priority: number | null;
  parent_task_id: string | null;
  status: TaskStatus;
  created_time_us: number | null;
  assigned_time_us: number | null;
  started_time_us: number | null;
  finished_time_us: number | null;
  progress: number;
  progress_note: string | null;
  result: unknown;
  error: string | null;
  updated_time_us: number;
  last_position: number;
}

// A manager → worker pair. The REST form has mean_time_to_complete_ms; the
// dashboard keeps the sum and count so live events can update the mean.
export interface PairRow {
  manager_id: string;
  worker_id: string;
  tasks_assigned: number;
  tasks_completed: number;
  tasks_failed: number;
  complete_time_sum_ms: number;
  complete_time_count: number;
}

export interface RestPair {
  manager_id: string;
  worker_id: string;
  tasks_assigned: number;
  tasks_completed: number;
  tasks_failed: number;
  mean_time_to_complete_ms: number | null;
}

export interface UsagePoint {
  bucket_time_us: number;
  model: string;
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  latency_ms_avg: number | null;
}

export interface ProjectionStatus {
  name: string;
  checkpoint: number;
  head: number;
  lag_events: number;
  lag_seconds: number;
  status: string;
  parked: number;
  retries: number;
  events_applied: number;
  last_error: string;
}
