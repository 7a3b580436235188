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

// A span (docs/otlp.md "Reads"): the fields of its SpanRecorded event, then
// the position and recorded time of the event that recorded it. The rows of
// GET /v1/traces/{trace_id}, GET /v1/tasks/{task_id}/spans and the `spans`
// of GET /v1/state (projections/row_columns.h: a column there is a field
// here). Times are µs since the epoch.
export interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: string; // unspecified | internal | server | client | producer | consumer
  start_time_us: number;
  end_time_us: number;
  duration_ms: number;
  status: string; // unset | ok | error
  error: string | null;
  operation: string | null; // invoke_agent, execute_tool, chat, ...
  agent_id: string | null;
  agent_name: string | null;
  caller_agent_id: string | null;
  tool: string | null;
  tool_call_id: string | null;
  provider: string | null;
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cached_tokens: number | null;
  cost_usd: number;
  attributes: unknown; // inline JSON: an object
  events: unknown; // [{name, time_us, attributes}] or null
  links: unknown; // [{trace_id, span_id, attributes}] or null
  resource: unknown; // an object
  scope: unknown; // {name, version} or null
  position: number;
  recorded_time_us: number;
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

// GET /v1/replication (docs/replication.md "Status"): {"mode":"off"} when
// vigild runs without --replication; the other fields come with a mode.
export interface ReplicationStatus {
  mode: string; // off, async, sync
  state?: string; // connecting, mirroring, stopped
  stream?: string;
  head_position?: number;
  mirrored_position?: number;
  lag_positions?: number;
  lag_seconds?: number;
  last_error?: string;
  stop_reason?: string;
}
