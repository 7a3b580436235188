// OpenTelemetry's own JS SDK and OTLP exporters (npm, written by the
// OpenTelemetry project, not here) against a real vigild:
//   node otel-e2e.mjs <vigild>
// For each exporter (OTLP/HTTP protobuf, OTLP/HTTP JSON, OTLP/gRPC) the SDK
// records a realistic multi-agent run (docs/otlp.md): a manager agent
// invoking two workers, each with a chat span and a tool span, one worker's
// tool failing and the worker failing with it. A BatchSpanProcessor exports
// the spans as they end, flushed after each worker: children before parents,
// across several exports. The test then
// checks, through vigild's REST reads with a reader token:
//  0. while the manager's span has not ended, its run shows as running;
//  1. the log holds one SpanRecorded per span, on stream trace-<trace id>;
//  2. the agents (with names), the runs (tasks run-<span id>, with manager
//     and worker, completed / failed), the delegation pairs and the LLM
//     usage read models;
//  3. the waterfall's data: GET /v1/traces/{id} and GET /v1/tasks/{run}/spans
//     with parents, durations, tokens and the error;
//  4. the same export sent again answers success and appends nothing;
//  5. a token of role reader may not export (the exporter reports failure)
//     and nothing is appended;
//  6. the README's example (example-agent.mjs), configured only by the
//     OTEL_EXPORTER_OTLP_* environment variables, shows up as an agent run.
// Exits 0 when all hold; non-zero with the first difference.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { context, trace, SpanStatusCode, SpanKind } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import grpc from '@grpc/grpc-js';

const [vigild] = process.argv.slice(2);
if (!vigild) {
  console.error('usage: node otel-e2e.mjs <vigild>');
  process.exit(64);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log('[otel-e2e]', ...a);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 200) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last?.stack ?? JSON.stringify(last)})`);
}

function check(what, ok, detail) {
  if (!ok) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
}

// ---------------------------------------------------------------- vigild

const data = mkdtempSync(join(tmpdir(), 'vigil-otel-'));
chmodSync(data, 0o711); // as root, the embedded PostgreSQL runs as postgres
const agentToken = 'otel-agent-token-0123456789';
const readerToken = 'otel-reader-token-0123456789';
const tokens = join(data, 'tokens');
writeFileSync(tokens, `${agentToken} agent\n${readerToken} reader\n`);
const grpcPort = await freePort();
const httpPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;

const server = spawn(vigild, ['--data-dir', join(data, 'vigil'), '--tokens-file', tokens,
  '--grpc-listen', `127.0.0.1:${grpcPort}`, '--http-listen', `127.0.0.1:${httpPort}`],
{ stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.on('data', (d) => process.stdout.write(`[vigild] ${d}`));
server.stderr.on('data', (d) => process.stderr.write(`[vigild] ${d}`));
let stopping = false;
server.on('exit', (code, signal) => {
  if (!stopping) {
    console.error(`[otel-e2e] vigild exited early (${code ?? signal})`);
    process.exit(1);
  }
});
async function stop() {
  stopping = true;
  if (server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  rmSync(data, { recursive: true, force: true });
}

async function get(path) {
  const res = await fetch(base + path, { headers: { authorization: `Bearer ${readerToken}` } });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

// The log's last position (every event of this test fits one page).
async function headPosition() {
  const { events } = await get('/v1/all?from=0&limit=1000');
  check('the test log fits one page', events.length < 1000, events.length);
  return events.length === 0 ? 0 : events[events.length - 1].position;
}

// ---------------------------------------------------------------- the run

const hex = (n) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');

// Records one run with `tracer`: manager → (researcher ok, writer failing).
// Returns the ids the checks need. Spans end children first; `flush` is
// called between the workers so the run reaches vigild in several exports.
async function recordRun(tracer, flush, tag) {
  const manager = { id: `planner-${tag}`, name: `Planner ${tag}` };
  const workers = [
    { id: `researcher-${tag}`, name: `Researcher ${tag}`, fail: false },
    { id: `writer-${tag}`, name: `Writer ${tag}`, fail: true },
  ];
  const t0 = Date.now();
  const at = (ms) => new Date(t0 + ms);
  const root = tracer.startSpan(`invoke_agent ${manager.name}`, {
    kind: SpanKind.INTERNAL,
    startTime: at(0),
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.id': manager.id,
      'gen_ai.agent.name': manager.name,
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
    },
  });
  const rootCtx = trace.setSpan(context.active(), root);
  const ids = { trace: root.spanContext().traceId, root: root.spanContext().spanId, workers: [] };
  // The manager's own model call (old attribute names: gen_ai.system,
  // prompt/completion tokens).
  const plan = tracer.startSpan('chat gpt-4o', {
    kind: SpanKind.CLIENT, startTime: at(1),
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai',
      'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.prompt_tokens': 1200,
      'gen_ai.usage.completion_tokens': 80 },
  }, rootCtx);
  plan.end(at(40));
  let offset = 50;
  for (const w of workers) {
    const span = tracer.startSpan(`invoke_agent ${w.name}`, {
      startTime: at(offset),
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.id': w.id,
        'gen_ai.agent.name': w.name, 'gen_ai.request.model': 'gpt-4o-mini' },
    }, rootCtx);
    const ctx = trace.setSpan(rootCtx, span);
    const chat = tracer.startSpan('chat gpt-4o-mini', {
      kind: SpanKind.CLIENT, startTime: at(offset + 1),
      attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.response.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 500, 'gen_ai.usage.output_tokens': 50 },
    }, ctx);
    chat.end(at(offset + 21));
    const tool = tracer.startSpan(`execute_tool web_search`, {
      startTime: at(offset + 22),
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'web_search',
        'gen_ai.tool.call.id': `call-${tag}-${w.id}` },
    }, ctx);
    if (w.fail) {
      tool.setStatus({ code: SpanStatusCode.ERROR, message: 'search backend timed out' });
      tool.recordException(new Error('search backend timed out'));
    }
    tool.end(at(offset + 32));
    if (w.fail) span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool web_search failed' });
    else span.setStatus({ code: SpanStatusCode.OK });
    span.end(at(offset + 40));
    ids.workers.push({ ...w, span: span.spanContext().spanId, tool: tool.spanContext().spanId,
      chat: chat.spanContext().spanId });
    offset += 50;
    await flush();
    if (ids.workers.length === 1) {
      // The manager's span has not ended: its children make its run
      // `running` (docs/otlp.md, children before parents).
      const run = `run-${ids.root}`;
      await waitFor(`${run} running before its span arrives`, async () => {
        const t = await get(`/v1/tasks/${run}`).catch(() => null);
        return t && t.status === 'running';
      });
    }
  }
  root.setStatus({ code: SpanStatusCode.OK });
  root.end(at(offset + 10));
  await flush();
  return { ...ids, manager, plan: plan.spanContext().spanId, spanCount: 8 };
}

// ---------------------------------------------------------------- checks

async function checkRun(run, tag) {
  const tr = await waitFor(`GET /v1/traces/${run.trace} to hold ${run.spanCount} spans`, async () => {
    const t = await get(`/v1/traces/${run.trace}`);
    return t.spans.length === run.spanCount && t.spans.every((s) => s.status !== 'pending') ? t : null;
  });
  const byId = Object.fromEntries(tr.spans.map((s) => [s.span_id, s]));
  const root = byId[run.root];
  check(`${tag}: root span`, root && root.parent_span_id === null && root.operation === 'invoke_agent'
    && root.agent_id === run.manager.id && root.agent_name === run.manager.name, root);
  check(`${tag}: root duration`, Math.abs(root.duration_ms - (160 - 0)) < 1, root.duration_ms);
  const plan = byId[run.plan];
  check(`${tag}: manager's chat (old attribute names)`, plan.parent_span_id === run.root
    && plan.input_tokens === 1200 && plan.output_tokens === 80 && plan.provider === 'openai'
    && Math.abs(plan.cost_usd - (1200 * 2.50 + 80 * 10.00) / 1e6) < 1e-12, plan);
  for (const w of run.workers) {
    const span = byId[w.span];
    check(`${tag}: worker span ${w.id}`, span.parent_span_id === run.root
      && span.agent_id === w.id && span.status === (w.fail ? 'error' : 'ok'), span);
    const tool = byId[w.tool];
    check(`${tag}: tool span of ${w.id}`, tool.parent_span_id === w.span && tool.tool === 'web_search'
      && tool.status === (w.fail ? 'error' : 'unset') && (!w.fail || tool.error === 'search backend timed out')
      && Math.abs(tool.duration_ms - 10) < 1, tool);
    check(`${tag}: the failing tool keeps its exception event`, !w.fail
      || (tool.events ?? []).some((e) => e.name === 'exception'), tool.events);
    const chat = byId[w.chat];
    // The built-in price of gpt-4o-mini (docs/otlp.md): 0.15 and 0.60 USD
    // per million input and output tokens.
    check(`${tag}: chat span of ${w.id}`, chat.input_tokens === 500 && chat.output_tokens === 50
      && chat.model === 'gpt-4o-mini'
      && Math.abs(chat.cost_usd - (500 * 0.15 + 50 * 0.60) / 1e6) < 1e-12, chat);
    const sub = await get(`/v1/tasks/run-${w.span}/spans`);
    const subIds = sub.spans.map((s) => s.span_id).sort();
    check(`${tag}: spans of run-${w.span}`, JSON.stringify(subIds)
      === JSON.stringify([w.span, w.chat, w.tool].sort()), subIds);
  }

  const agents = (await get('/v1/agents')).agents;
  for (const a of [run.manager, ...run.workers]) {
    const row = agents.find((r) => r.agent_id === a.id);
    check(`${tag}: agent ${a.id} registered with its name`, row && row.name === a.name, row);
  }
  check(`${tag}: the manager is a manager`,
    agents.find((r) => r.agent_id === run.manager.id).role === 'manager');
  const tasks = (await get('/v1/tasks?limit=1000')).tasks;
  const rootTask = tasks.find((t) => t.task_id === `run-${run.root}`);
  check(`${tag}: the manager's run`, rootTask && rootTask.status === 'completed'
    && rootTask.worker_id === run.manager.id, rootTask);
  for (const w of run.workers) {
    const t = tasks.find((x) => x.task_id === `run-${w.span}`);
    check(`${tag}: run of ${w.id}`, t && t.manager_id === run.manager.id && t.worker_id === w.id
      && t.status === (w.fail ? 'failed' : 'completed') && (!w.fail || t.error === 'tool web_search failed'), t);
  }
  const pairs = (await get('/v1/coordination')).pairs;
  for (const w of run.workers) {
    const p = pairs.find((x) => x.manager_id === run.manager.id && x.worker_id === w.id);
    check(`${tag}: pair ${run.manager.id} → ${w.id}`, p && p.tasks_assigned === 1
      && p.tasks_completed === (w.fail ? 0 : 1) && p.tasks_failed === (w.fail ? 1 : 0), p);
  }
  return tr;
}

// ---------------------------------------------------------------- main

const exporters = {
  'OTLP/HTTP protobuf': () => new ProtoExporter({ url: `${base}/v1/traces`,
    headers: { Authorization: `Bearer ${agentToken}` } }),
  'OTLP/HTTP JSON': () => new JsonExporter({ url: `${base}/v1/traces`,
    headers: { Authorization: `Bearer ${agentToken}` } }),
  'OTLP/gRPC': () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${agentToken}`);
    return new GrpcExporter({ url: `http://127.0.0.1:${grpcPort}`, metadata,
      credentials: grpc.credentials.createInsecure() });
  },
};

const exportOnce = (exporter, spans) => new Promise((resolve) => exporter.export(spans, resolve));

let failed = false;
try {
  await waitFor('vigild /readyz', async () => (await fetch(`${base}/readyz`)).ok, 90_000);
  let usageBefore = 0;
  for (const [name, make] of Object.entries(exporters)) {
    log(`${name}: recording a run`);
    const exporter = make();
    const memory = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'otel-e2e' }),
      spanProcessors: [new BatchSpanProcessor({ exporter }), new SimpleSpanProcessor({ exporter: memory })],
    });
    const tracer = provider.getTracer('vigil-otel-e2e', '1.0.0');
    const tag = name.replace(/[^A-Za-z]/g, '').toLowerCase();
    const run = await recordRun(tracer, () => provider.forceFlush(), tag);
    await provider.forceFlush();
    await checkRun(run, name);
    log(`${name}: read models, delegation and waterfall OK`);

    // 4. The same spans again: success, nothing appended.
    const spans = memory.getFinishedSpans();
    check(`${name}: spans kept for the re-send`, spans.length === run.spanCount, spans.length);
    const before = (await get(`/v1/streams/trace-${run.trace}`)).events.length;
    const headBefore = await headPosition();
    const again = await exportOnce(make(), spans);
    check(`${name}: re-sent export answered success`, again.code === ExportResultCode.SUCCESS, again);
    const after = (await get(`/v1/streams/trace-${run.trace}`)).events.length;
    const headAfter = await headPosition();
    check(`${name}: one SpanRecorded per span`, before === run.spanCount, before);
    check(`${name}: a re-sent export appends nothing`, after === before && headAfter === headBefore,
      { before, after, headBefore, headAfter });

    // LLM usage: this run's chat calls are counted once.
    const usage = await waitFor('usage', async () => {
      const u = await get('/v1/usage');
      const total = u.points.reduce((n, m) => n + m.input_tokens, 0);
      return total >= usageBefore + 2200 ? total : null;
    });
    check(`${name}: LLM usage counts the run's tokens once`, usage === usageBefore + 2200,
      { usage, usageBefore });
    usageBefore = usage;
    await provider.shutdown();
  }

  // 5. A reader may not export.
  const reader = new ProtoExporter({ url: `${base}/v1/traces`,
    headers: { Authorization: `Bearer ${readerToken}` } });
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  const s = provider.getTracer('t').startSpan('not allowed');
  s.end();
  const headBefore = await headPosition();
  const denied = await exportOnce(reader, memory.getFinishedSpans());
  check('a reader token cannot export', denied.code === ExportResultCode.FAILED, denied);
  const headAfter = await headPosition();
  check('a refused export appends nothing', headAfter === headBefore, { headBefore, headAfter });
  log('a reader token cannot export: OK');

  // 6. The README's example, configured by the environment only.
  const here = dirname(fileURLToPath(import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [join(here, 'example-agent.mjs')], {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: base,
      OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${agentToken}` },
  });
  const runId = /run (run-[0-9a-f]{16})/.exec(stdout)?.[1];
  check('the example prints its run', runId, stdout);
  await waitFor(`the example's ${runId} completed by agent helper`, async () => {
    const t = await get(`/v1/tasks/${runId}`).catch(() => null);
    return t && t.status === 'completed' && t.worker_id === 'helper';
  });
  log('README example OK; all checks passed');
} catch (e) {
  failed = true;
  console.error('[otel-e2e] FAILED:', e.stack ?? e);
} finally {
  await stop();
}
process.exit(failed ? 1 : 0);
