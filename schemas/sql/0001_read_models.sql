-- The domain read models (schema vigil) and the projection bookkeeping.
-- Every table here is written only by the projection named in its comment;
-- see projections/README.md. Times are timestamptz (UTC), counts bigint.

CREATE SCHEMA IF NOT EXISTS vigil;

-- One row per projection (and per rebuild in progress, "rebuild:<name>"):
-- the last log position whose effects are in the read models. It changes in
-- the same transaction as those effects, by compare-and-set.
CREATE TABLE vigil.projection_checkpoints (
  name        text PRIMARY KEY,
  position    bigint NOT NULL DEFAULT 0,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Poison events: ones a projection could not apply, with the reason.
CREATE TABLE vigil.parked_events (
  projection  text NOT NULL,
  position    bigint NOT NULL,
  stream      text NOT NULL,
  type        text NOT NULL,
  error       text NOT NULL,
  parked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (projection, position)
);

-- projection "agents"
CREATE TABLE vigil.agents (
  agent_id           text PRIMARY KEY,
  role               text,
  name               text,
  model              text,
  status             text NOT NULL,
  stopped_reason     text,
  current_task_id    text,
  registered_at      timestamptz,
  last_heartbeat_at  timestamptz,
  cpu_pct            double precision NOT NULL DEFAULT 0,
  mem_bytes          bigint NOT NULL DEFAULT 0,
  queue_depth        bigint NOT NULL DEFAULT 0,
  updated_at         timestamptz NOT NULL,
  last_position      bigint NOT NULL
);

-- projection "tasks": tasks, coordination and agent_messages
CREATE TABLE vigil.tasks (
  task_id         text PRIMARY KEY,
  first_position  bigint NOT NULL,
  manager_id      text,
  worker_id       text,
  title           text,
  priority        bigint,
  parent_task_id  text,
  status          text NOT NULL,
  created_at      timestamptz,
  assigned_at     timestamptz,
  started_at      timestamptz,
  finished_at     timestamptz,
  progress        double precision NOT NULL DEFAULT 0,
  progress_note   text,
  result          jsonb,
  error           text,
  updated_at      timestamptz NOT NULL,
  last_position   bigint NOT NULL
);
CREATE UNIQUE INDEX tasks_first_position_idx ON vigil.tasks (first_position);
CREATE INDEX tasks_status_idx ON vigil.tasks (status, first_position);
CREATE INDEX tasks_manager_idx ON vigil.tasks (manager_id, first_position);
CREATE INDEX tasks_worker_idx ON vigil.tasks (worker_id, first_position);

CREATE TABLE vigil.coordination (
  manager_id           text NOT NULL,
  worker_id            text NOT NULL,
  tasks_assigned       bigint NOT NULL DEFAULT 0,
  tasks_completed      bigint NOT NULL DEFAULT 0,
  tasks_failed         bigint NOT NULL DEFAULT 0,
  complete_time_sum_us bigint NOT NULL DEFAULT 0,
  complete_time_count  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (manager_id, worker_id)
);

CREATE TABLE vigil.agent_messages (
  from_agent     text NOT NULL,
  to_agent       text NOT NULL,
  messages       bigint NOT NULL DEFAULT 0,
  last_kind      text,
  last_summary   text,
  last_at        timestamptz,
  last_position  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (from_agent, to_agent)
);

-- projection "metrics": agent_metrics (partitioned by day; the projection
-- creates a day's partition when it first writes to it and drops the ones
-- past the retention) and llm_usage
CREATE TABLE vigil.agent_metrics (
  agent_id         text NOT NULL,
  bucket           timestamptz NOT NULL,
  events           bigint NOT NULL DEFAULT 0,
  heartbeats       bigint NOT NULL DEFAULT 0,
  cpu_pct_sum      double precision NOT NULL DEFAULT 0,
  mem_bytes_sum    double precision NOT NULL DEFAULT 0,
  queue_depth_sum  double precision NOT NULL DEFAULT 0,
  llm_calls        bigint NOT NULL DEFAULT 0,
  input_tokens     bigint NOT NULL DEFAULT 0,
  output_tokens    bigint NOT NULL DEFAULT 0,
  cost_usd         double precision NOT NULL DEFAULT 0,
  tool_calls       bigint NOT NULL DEFAULT 0,
  tool_failures    bigint NOT NULL DEFAULT 0,
  tasks_completed  bigint NOT NULL DEFAULT 0,
  tasks_failed     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (agent_id, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE vigil.llm_usage (
  model           text NOT NULL,
  bucket          timestamptz NOT NULL,
  calls           bigint NOT NULL DEFAULT 0,
  input_tokens    bigint NOT NULL DEFAULT 0,
  output_tokens   bigint NOT NULL DEFAULT 0,
  cost_usd        double precision NOT NULL DEFAULT 0,
  latency_ms_sum  double precision NOT NULL DEFAULT 0,
  PRIMARY KEY (model, bucket)
);
CREATE INDEX llm_usage_bucket_idx ON vigil.llm_usage (bucket);
