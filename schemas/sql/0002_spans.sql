-- Spans (issue 17, docs/otlp.md): one row per (trace_id, span_id).

-- projection "tasks": the spans read model, and the trace state the tasks
-- projection derives runs, placeholders and pairs from
CREATE TABLE vigil.spans (
  trace_id         text NOT NULL,
  span_id          text NOT NULL,
  parent_span_id   text,
  name             text NOT NULL,
  kind             text NOT NULL,
  start_at         timestamptz,
  end_at           timestamptz,
  duration_ms      double precision NOT NULL DEFAULT 0,
  status           text NOT NULL,
  error            text,
  operation        text,
  agent_id         text,
  agent_name       text,
  caller_agent_id  text,
  tool             text,
  tool_call_id     text,
  provider         text,
  model            text,
  input_tokens     bigint,
  output_tokens    bigint,
  cached_tokens    bigint,
  cost_usd         double precision NOT NULL DEFAULT 0,
  attributes       jsonb,
  events           jsonb,
  links            jsonb,
  resource         jsonb,
  scope            jsonb,
  position         bigint NOT NULL,
  recorded_at      timestamptz,
  PRIMARY KEY (trace_id, span_id)
);
-- /v1/tasks/{run-<span_id>}/spans finds its span by id.
CREATE INDEX spans_span_idx ON vigil.spans (span_id);
CREATE INDEX spans_parent_idx ON vigil.spans (parent_span_id);

-- projections "agents" and "metrics": each its own copy of the trace state
-- (the same rows without the JSON columns), at its own checkpoint
CREATE TABLE vigil.agents_spans (LIKE vigil.spans INCLUDING ALL);
CREATE TABLE vigil.metrics_spans (LIKE vigil.spans INCLUDING ALL);

-- One span can make two tasks in one event (its run, and the placeholder
-- of the run above it that has not arrived): first_position is no longer
-- unique; tasks list by (first_position, task_id).
DROP INDEX vigil.tasks_first_position_idx;
CREATE INDEX tasks_first_position_idx ON vigil.tasks (first_position, task_id);
