// End-to-end: a real vigild (embedded PostgreSQL, the built dashboard) and
// `vigil simulate`, the page in Debian's Chromium driven by playwright-core.
//   node e2e/e2e.mjs <vigild> <vigil>
// 1. agents and tasks appear, and change, on the page;
// 2. once the simulator stops, the page's folded state equals the server's
//    read models at the same position (the TS fold = the C++ fold);
// 3. the page's timeline has no duplicate and no gap;
// 4. with /v1/live: kill -9 vigild, restart it on the same ports, and the
//    page reconnects and continues from where it was, with no duplicate
//    (skipped, saying so, while the server has no /v1/live: the page polls);
// 5. time travel: dragging the scrubber (mouse, then keys) to earlier
//    positions shows the banner and views equal to GET /v1/state there,
//    also while live events keep coming; the diff view between two marked
//    positions lists what GET /v1/diff does, and a position in it travels
//    there with its event selected; a typed time shows the state after the
//    last event recorded by then; an error (a position past the head)
//    is shown, not a blank page; back to live, the views move again;
// 6. names: task cards show agents by name, the id in the title;
// 7. traces: SpanRecorded events appended natively (docs/otlp.md), children
//    before their parent, make runs; a run's card and an agent's runs open
//    the trace view, whose waterfall equals GET /v1/tasks/{id}/spans (order,
//    depth, kinds, bars, tokens, cost, the error); in the past, after the
//    children only, the parent shows pending, and before them no span;
// and saves gateway/dashboard/screenshot.png (and screenshot-trace.png, the
// trace view of 7).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const dashboard = join(here, '..');
const [vigild, vigil] = process.argv.slice(2);
if (!vigild || !vigil) {
  console.error('usage: node e2e/e2e.mjs <vigild> <vigil>');
  process.exit(64);
}
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function log(...a) { console.log('[e2e]', ...a); }

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) { last = e; }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

const data = mkdtempSync(join(tmpdir(), 'vigil-e2e-'));
chmodSync(data, 0o711); // as root, the embedded PostgreSQL runs as postgres
const grpcPort = await freePort();
const httpPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const children = new Set();

function start(cmd, args, name) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (d) => process.stdout.write(`[${name}] ${d}`));
  child.stderr.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
const exited = (child) => new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));

function startVigild() {
  return start(vigild, ['--data-dir', data, '--grpc-listen', `127.0.0.1:${grpcPort}`,
    '--http-listen', `127.0.0.1:${httpPort}`, '--dashboard-dir', join(dashboard, 'dist')], 'vigild');
}
async function ready() {
  await waitFor('vigild /readyz and /v1/projections', async () =>
    (await fetch(`${base}/readyz`)).ok && (await fetch(`${base}/v1/projections`)).ok, 90_000);
}
const getJson = async (path) => (await fetch(base + path)).json();

function expectEqual(what, page, server) {
  const a = JSON.stringify(page);
  const b = JSON.stringify(server);
  if (a !== b) throw new Error(`${what}: page ${a} != server ${b}`);
}

// The page's time-travel state, from the store.
const travelOf = (page) => page.evaluate(() => {
  const t = window.vigilStore.getState().travel;
  return { mode: t.mode, target: t.target, position: t.view ? t.view.position : null, loading: t.loading,
    error: t.error, staleDropped: t.staleDropped };
});

// Waits until the page shows the past at the position it last asked for.
async function settled(page, what) {
  return waitFor(what, async () => {
    const t = await travelOf(page);
    if (t.error) throw new Error(`${what}: ${t.error}`);
    return t.mode === 'past' && !t.loading && t.position !== null && t.target?.position === t.position ? t : null;
  }, 30_000);
}

// How long the page took to show position P, in its own clock: from the
// seek (the last scrubber move or key) to the first frame painted with P's
// views (src/live/shownTimes.ts). Polled every 10 ms until recorded.
async function shownMs(page, P) {
  const t = await waitFor(`the time position ${P} was shown`, () => page.evaluate((p) =>
    window.vigilShownTimes.filter((s) => s.position === p).at(-1) ?? null, P), 5_000, 10);
  const ms = (a, b) => Math.round((b - a) * 10) / 10;
  const parts = t.askedAt > 0
    ? ` (seek -> asked ${ms(t.seekAt, t.askedAt)}, asked -> state and events answered ${ms(t.askedAt, t.answeredAt)},`
      + ` answered -> painted ${ms(t.answeredAt, t.shownAt)})`
    : '';
  return `${ms(t.seekAt, t.shownAt)} ms${parts}`;
}

// What the page shows (the DOM, not the store) equals GET /v1/state?at=P
// (retried for a few seconds: React renders after the store changes).
async function checkViewsAt(page, P) {
  const st = await getJson(`/v1/state?at=${P}&limit=4000`);
  if (st.position !== P) throw new Error(`GET /v1/state?at=${P} answered position ${st.position}`);
  return waitFor(`the views at ${P} to equal GET /v1/state?at=${P}`, () => compareViews(page, P, st), 10_000);
}

async function compareViews(page, P, st) {
  expectEqual('banner position', Number(await page.locator('[data-testid=past-position]').innerText({ timeout: 2000 })), P);
  const agents = await page.locator('[data-testid=agent-row]').evaluateAll(
    (rows) => rows.map((r) => [r.dataset.agent, r.dataset.status]).sort());
  expectEqual(`agents at ${P}`, agents, st.agents.map((a) => [a.agent_id, a.status]).sort());
  if (st.task_count !== st.tasks.length) throw new Error(`more than 4000 tasks at ${P}`);
  const counts = {};
  const want = {};
  for (const status of ['created', 'assigned', 'running', 'completed', 'failed']) {
    counts[status] = Number(await page.locator(`[data-testid=count-${status}]`).innerText({ timeout: 2000 }));
    want[status] = st.tasks.filter((t) => t.status === status).length;
  }
  expectEqual(`task board at ${P}`, counts, want);
  expectEqual(`delegation edges at ${P}`, await page.locator('[data-testid=edge]').count(), st.coordination.pairs.length);
  expectEqual(`newest event in the timeline at ${P}`,
    Number(await page.locator('[data-testid=event-row] .pos').first().innerText({ timeout: 2000 })), P);
  return { agents: agents.length, tasks: st.tasks.length, counts };
}

async function timeTravel(page, state) {
  const scrubber = page.locator('[data-testid=scrubber]');
  const head0 = (await state()).position;
  // Drag the scrubber with the mouse to about a third of the way.
  const box = await scrubber.boundingBox();
  const y = box.y + box.height / 2;
  const dragStart = await page.evaluate(() => performance.now());
  await page.mouse.move(box.x + box.width * 0.6, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.45, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.33, y, { steps: 5 });
  await page.mouse.up();
  const dragged = await settled(page, 'the state at the dragged-to position');
  const P = dragged.position;
  const dragMs = await shownMs(page, P);
  if (!(P > 1 && P < head0)) throw new Error(`dragged to ${P}, not between 1 and ${head0}`);
  if (!(await page.locator('[data-testid=past-banner]').isVisible())) throw new Error('no past banner');
  log(`scrubber dragged to position ${P} of ${head0}:`, await page.locator('[data-testid=past-banner]').innerText());
  // Reported, not asserted (issue 21: each position shown within 100 ms):
  // every position the page showed during the drag, from the seek that
  // asked for it to the frame that painted it (the page asks at once, one
  // seek's requests in flight, and shows each answer as it comes).
  const passed = await page.evaluate((t0) => window.vigilShownTimes.filter((s) => s.seekAt >= t0)
    .map((s) => [s.position, Math.round((s.shownAt - s.seekAt) * 10) / 10]), dragStart);
  const passedMs = passed.map(([, ms]) => ms).sort((a, b) => a - b);
  log(`timing: the drag showed ${passed.length} positions (10 mouse moves), seek -> painted`,
    `median ${passedMs[Math.floor(passedMs.length / 2)]} ms, max ${passedMs.at(-1)} ms:`,
    passed.map(([p, ms]) => `${p} ${ms} ms`).join(', '));
  const serverMs = [];
  for (let i = 0; i < 5; i++) {
    const start = Date.now();
    await getJson(`/v1/state?at=${P - i}&limit=4000`);
    serverMs.push(Date.now() - start);
  }
  log(`timing: last drag move -> position ${P} painted in ${dragMs} (page clock);`,
    `GET /v1/state?at=P&limit=4000 answered in ${serverMs.join(', ')} ms`);
  const seen = await checkViewsAt(page, P);
  log(`views at ${P} = GET /v1/state?at=${P}:`, seen);

  // Live events keep folding in the background, but what is shown stays.
  await waitFor('live events while in the past', async () => (await state()).position > head0 + 20, 30_000);
  await checkViewsAt(page, P);
  log(`live moved on to ${(await state()).position}; the views still show ${P}`);

  // The keyboard: three steps back (the first asked at once, the last
  // once it is answered).
  await scrubber.focus();
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowLeft');
  const keyed = await settled(page, 'the state three positions back');
  log(`timing: last ArrowLeft -> position ${keyed.position} painted in ${await shownMs(page, keyed.position)}`,
    '(page clock)');
  expectEqual('position after three ArrowLeft', keyed.position, P - 3);
  await checkViewsAt(page, P - 3);
  log(`ArrowLeft ×3: position ${P - 3}, views match (${keyed.staleDropped} stale answers dropped in all)`);

  // Diff: mark A here, go to a later position by typing it, mark B, compare.
  const A = P - 3;
  await page.locator('[data-testid=mark-a]').click();
  const B = Math.min(A + 150, (await state()).position);
  await page.locator('[data-testid=goto-position]').fill(String(B));
  await page.locator('[data-testid=goto-position]').press('Enter');
  await settled(page, `the state at typed position ${B}`);
  await checkViewsAt(page, B);
  await page.locator('[data-testid=mark-b]').click();
  await page.locator('[data-testid=diff-toggle]').click();
  await page.locator('[data-testid=diff-compare]').click();
  await waitFor('the diff', async () => (await page.locator('[data-testid=diff-change]').count()) > 0, 30_000);
  const diff = await getJson(`/v1/diff?from=${A}&to=${B}`);
  expectEqual('diff change count', Number(await page.locator('[data-testid=diff-count]').innerText()), diff.change_count);
  // A task whose status changed between A and B, on the page with its positions.
  const task = diff.changes.find((c) => c.kind === 'task' && c.after && (!c.before || c.before.status !== c.after.status));
  if (!task) throw new Error(`no task changed status between ${A} and ${B}`);
  const row = page.locator(`[data-testid=diff-change][data-kind=task][data-label="${task.key.task_id}"]`);
  const fields = await row.locator('.fields').innerText();
  if (!fields.includes(`status ${task.before ? task.before.status : '—'} → ${task.after.status}`)) {
    throw new Error(`diff row for ${task.key.task_id} says "${fields}", server: ${JSON.stringify(task.before?.status)} → ${task.after.status}`);
  }
  const positions = await row.locator('[data-testid=diff-position]').allInnerTexts();
  expectEqual(`positions that changed ${task.key.task_id}`, positions.map(Number), task.positions.slice(0, positions.length));
  log(`diff ${A}..${B}: ${diff.change_count} changes; task ${task.key.task_id} ${task.before?.status ?? '(new)'} → ${task.after.status} by`, positions.join(' '));
  // Click the last event that changed it: the page travels there and selects it.
  const Q = Number(positions.at(-1));
  await row.locator('[data-testid=diff-position]').last().click();
  await settled(page, `the state at diff position ${Q}`);
  await checkViewsAt(page, Q);
  await waitFor(`event ${Q} selected`, async () =>
    (await page.evaluate(() => window.vigilStore.getState().selectedEvent?.position)) === Q, 10_000);
  const card = page.locator(`[data-testid=task-card][data-task="${task.key.task_id}"]`);
  if ((await card.count()) > 0) expectEqual(`${task.key.task_id} on the board at ${Q}`, await card.getAttribute('data-status'), task.after.status);
  log(`clicked position ${Q}: travelled there, event selected, ${task.key.task_id} is ${task.after.status}`);

  // A time: the state after the last event recorded at or before it.
  const [atEvent] = (await getJson(`/v1/all?from=${A + 10}&limit=1`)).events;
  const us = atEvent.recorded_time_us;
  const rfc3339 = new Date(Math.floor(us / 1000)).toISOString().replace('Z', `${String(us % 1000).padStart(3, '0')}Z`);
  await page.locator('[data-testid=goto-time]').fill(rfc3339);
  await page.locator('[data-testid=goto-time]').press('Enter');
  const byTime = await waitFor(`the state at ${rfc3339}`, async () => {
    const t = await travelOf(page);
    if (t.error) throw new Error(t.error);
    return t.target && 'timeUs' in t.target && !t.loading && t.position !== null ? t : null;
  }, 30_000);
  const [last] = (await getJson(`/v1/all?from=${byTime.position}&limit=2`)).events.slice(0, 1);
  const [next] = (await getJson(`/v1/all?from=${byTime.position + 1}&limit=1`)).events;
  if (byTime.position < atEvent.position || last.recorded_time_us > us || (next && next.recorded_time_us <= us)) {
    throw new Error(`time ${rfc3339} (event ${atEvent.position}) showed position ${byTime.position}`);
  }
  await checkViewsAt(page, byTime.position);
  log(`time ${rfc3339}: position ${byTime.position} (the event at ${atEvent.position} was recorded then)`);

  // An error is shown (400 past the head), and the view stays where it was.
  await page.locator('[data-testid=goto-position]').fill('999999999');
  await page.locator('[data-testid=goto-position]').press('Enter');
  const problem = await waitFor('the error for a position past the head', async () => {
    const el = page.locator('[data-testid=past-error]');
    return (await el.count()) > 0 ? el.innerText() : null;
  }, 20_000);
  if (!/400/.test(problem)) throw new Error(`error shown: ${problem}`);
  expectEqual('position still shown after the error', Number(await page.locator('[data-testid=past-position]').innerText({ timeout: 2000 })), byTime.position);
  log('a position past the head shows:', problem.replace(/\s+/g, ' '));

  // Back to live: the banner goes, the views move again.
  await page.locator('[data-testid=back-to-live]').click();
  await waitFor('the banner to go', async () => (await page.locator('[data-testid=past-banner]').count()) === 0, 5_000);
  await page.locator('[data-testid=diff-toggle]').click(); // close the diff
  const liveAt = (await state()).position;
  await waitFor('live updates on the page again', async () => {
    const newest = Number(await page.locator('[data-testid=event-row] .pos').first().innerText({ timeout: 2000 }));
    const shownAgents = await page.locator('[data-testid=agent-row]').count();
    const s = await state();
    return newest > liveAt && newest > B && shownAgents === (await page.evaluate(() =>
      Object.keys(window.vigilStore.getState().agents).length)) && s.position > liveAt ? newest : null;
  }, 30_000);
  expectEqual('mode after back to live', await page.locator('main').getAttribute('data-mode'), 'live');
  log(`back to live: the timeline moves past ${liveAt}`);
}

// 6. Every agent on a task card is shown by its name (GET /v1/agents), with
// its id in the title.
async function namesOnCards(page) {
  const { agents } = await getJson('/v1/agents');
  const names = new Map(agents.map((a) => [a.agent_id, a.name || a.agent_id]));
  const shown = await page.locator('[data-testid=task-card] .sub .agent-name[data-agent-id]').evaluateAll(
    (els) => els.map((e) => [e.getAttribute('title'), e.textContent]));
  const named = shown.filter(([id]) => names.has(id));
  if (named.length < 3) throw new Error(`only ${named.length} agents on the task cards`);
  for (const [id, text] of named) expectEqual(`the name shown for ${id}`, text, names.get(id));
  if (!named.some(([id, text]) => id !== text)) throw new Error('no card shows a name other than the id');
  log(`names on task cards: ${named.length} agents by name, id in the title (e.g. ${named[0][1]} = ${named[0][0]})`);
}

// 7. A traced multi-agent run, appended as SpanRecorded events.
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = { manager: '00f067aa0ba90201', worker: '00f067aa0ba90202', search: '00f067aa0ba90203',
  chat: '00f067aa0ba90204', fetch: '00f067aa0ba90205' };

function spanEvent(t0, spanId, parent, startMs, endMs, fields) {
  const data = {
    trace_id: TRACE_ID, span_id: spanId, kind: 'internal', status: 'ok',
    start_time_us: t0 + startMs * 1000, end_time_us: t0 + endMs * 1000, duration_ms: endMs - startMs,
    attributes: { 'gen_ai.operation.name': fields.operation }, resource: { 'service.name': 'vigil-e2e' }, ...fields,
  };
  if (parent) data.parent_span_id = parent;
  return { type: 'SpanRecorded', data };
}

async function appendSpans(events) {
  const r = await fetch(`${base}/v1/streams/trace-${TRACE_ID}/events`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(events),
  });
  const body = await r.json();
  if (r.status !== 201) throw new Error(`append SpanRecorded: ${r.status} ${JSON.stringify(body)}`);
  return body;
}

// The waterfall's rows as the page shows them.
const waterfallOf = (page) => page.locator('[data-testid=span-row]').evaluateAll((rows) => rows.map((r) => ({
  span: r.dataset.span, depth: Number(r.dataset.depth), kind: r.dataset.kind, status: r.dataset.status,
  open: r.classList.contains('open'), text: r.innerText,
  left: parseFloat(r.querySelector('.wf-bar').style.left), width: parseFloat(r.querySelector('.wf-bar').style.width),
})));

// Waits for the trace view of `taskId` to show `n` spans (a request that
// failed meanwhile is retried by the live feed; its error is reported if
// the wait times out).
async function waterfallFor(page, taskId, n) {
  return waitFor(`the waterfall of ${taskId} with ${n} spans`, async () => {
    if ((await page.locator('[data-testid=trace-view]').getAttribute('data-task')) !== taskId) return null;
    const rows = await waterfallOf(page);
    if (rows.length === n) return rows;
    const error = page.locator('[data-testid=trace-error]');
    throw new Error(`${rows.length} rows${(await error.count()) ? `; ${await error.innerText()}` : ''}`);
  }, 60_000);
}

async function traces(page) {
  const t0 = Date.now() * 1000 - 60_000_000;
  const agent = { operation: 'invoke_agent' };
  // Children first (an exporter sends spans as they end), then the manager.
  const first = await appendSpans([
    spanEvent(t0, SPAN.search, SPAN.worker, 150, 300, { name: 'execute_tool web_search', operation: 'execute_tool', tool: 'web_search' }),
    spanEvent(t0, SPAN.chat, SPAN.worker, 320, 700, { name: 'chat gpt-4o', operation: 'chat', provider: 'openai', model: 'gpt-4o',
      input_tokens: 1200, output_tokens: 300, cached_tokens: 200, cost_usd: 0.0105 }),
    spanEvent(t0, SPAN.fetch, SPAN.worker, 710, 790, { name: 'execute_tool fetch_page', operation: 'execute_tool', tool: 'fetch_page',
      status: 'error', error: 'timeout after 80 ms' }),
    spanEvent(t0, SPAN.worker, SPAN.manager, 100, 800, { ...agent, name: 'invoke_agent Researcher',
      agent_id: 'researcher-e2e', agent_name: 'Researcher' }),
  ]);
  const second = await appendSpans([
    spanEvent(t0, SPAN.manager, null, 0, 900, { ...agent, name: 'invoke_agent Planner', agent_id: 'planner-e2e', agent_name: 'Planner' }),
  ]);
  log(`appended the trace's spans at ${first.first_position}..${first.last_position} (children) and ${second.last_position} (the manager)`);
  const runW = `run-${SPAN.worker}`;
  const runM = `run-${SPAN.manager}`;

  // The worker's run on the task board, by the names of its manager and worker.
  await waitFor(`the task ${runW} (SpanRecorded folded into a run: docs/otlp.md)`, async () => {
    if ((await page.locator('select[aria-label=worker] option[value="researcher-e2e"]').count()) === 0) {
      throw new Error('no task with worker researcher-e2e on the board');
    }
    await page.locator('select[aria-label=worker]').selectOption('researcher-e2e');
    return (await page.locator(`[data-testid=task-card][data-task="${runW}"]`).count()) === 1;
  }, 60_000);
  const card = page.locator(`[data-testid=task-card][data-task="${runW}"]`);
  const people = await card.locator('.sub .agent-name').evaluateAll((els) => els.map((e) => [e.textContent, e.getAttribute('title')]));
  expectEqual(`the agents on ${runW}'s card`, people, [['Planner', 'planner-e2e'], ['Researcher', 'researcher-e2e']]);
  log(`task card ${runW}: ${people.map(([n, id]) => `${n} (title ${id})`).join(' → ')}`);

  // Its card opens its run's spans: the worker, then its calls by start time.
  await card.click();
  let rows = await waterfallFor(page, runW, 4);
  const rest = (await getJson(`/v1/tasks/${runW}/spans`)).spans;
  expectEqual(`the spans of ${runW}`, rows.map((r) => r.span).sort(), rest.map((s) => s.span_id).sort());
  expectEqual(`the waterfall of ${runW}`, rows.map((r) => [r.span, r.depth, r.kind, r.status, r.open]), [
    [SPAN.worker, 0, 'agent', 'ok', false], [SPAN.search, 1, 'tool', 'ok', false],
    [SPAN.chat, 1, 'model', 'ok', false], [SPAN.fetch, 1, 'tool', 'error', false],
  ]);
  // Bars on one axis: the run 100..800 ms, search at 150..300 ms of it.
  const near = (a, b) => Math.abs(a - b) < 0.2;
  if (!near(rows[0].left, 0) || !near(rows[0].width, 100) || !near(rows[1].left, 50 / 7) || !near(rows[1].width, 150 / 7)) {
    throw new Error(`bars: ${JSON.stringify(rows.map((r) => [r.left, r.width]))}`);
  }
  for (const [row, want] of [[rows[0], /Researcher/], [rows[1], /web_search/], [rows[2], /gpt-4o[\s\S]*1200→300 tok \(200 cached\)[\s\S]*\$0\.0105/],
    [rows[3], /fetch_page[\s\S]*timeout after 80 ms/]]) {
    if (!want.test(row.text)) throw new Error(`row ${row.span} says "${row.text}", not ${want}`);
  }
  log(`waterfall of ${runW}: ${rows.map((r) => `${'  '.repeat(r.depth)}${r.kind} ${r.status}`).join(', ')}`);
  await page.locator('select[aria-label=worker]').selectOption('');

  // The manager's agent row links to its run: the whole tree under it.
  const agentRow = page.locator('[data-testid=agent-row][data-agent="planner-e2e"]');
  expectEqual('the manager agent row', await agentRow.locator('.agent-name').evaluate((e) => [e.textContent, e.title]), ['Planner', 'planner-e2e']);
  await agentRow.locator('[data-testid=agent-runs]').click();
  rows = await waterfallFor(page, runM, 5);
  expectEqual(`the waterfall of ${runM}`, rows.map((r) => [r.span, r.depth]), [
    [SPAN.manager, 0], [SPAN.worker, 1], [SPAN.search, 2], [SPAN.chat, 2], [SPAN.fetch, 2],
  ]);
  expectEqual(`the spans of ${runM}`, rows.map((r) => r.span).sort(),
    (await getJson(`/v1/tasks/${runM}/spans`)).spans.map((s) => s.span_id).sort());
  const summary = await page.locator('[data-testid=trace-summary]').innerText();
  if (!/5 spans/.test(summary) || !/1 failed/.test(summary)) throw new Error(`trace summary: ${summary}`);
  log(`agent planner-e2e's runs → ${runM}: ${summary}`);
  await page.locator('[data-testid=trace-view]').screenshot({ path: join(dashboard, 'screenshot-trace.png') });

  // In the past: after the children only, the manager is pending (an open
  // bar over them); before them, no span.
  const travelTo = async (P) => {
    await page.locator('[data-testid=goto-position]').fill(String(P));
    await page.locator('[data-testid=goto-position]').press('Enter');
    await settled(page, `the state at ${P}`);
  };
  await travelTo(first.last_position);
  rows = await waitFor(`the waterfall at ${first.last_position}`, async () => {
    const r = await waterfallOf(page);
    return r.length === 5 && r[0].status === 'pending' ? r : null;
  }, 30_000);
  expectEqual(`the waterfall at ${first.last_position}`, rows.map((r) => [r.span, r.depth, r.status, r.open]), [
    [SPAN.manager, 0, 'pending', true], [SPAN.worker, 1, 'ok', false], [SPAN.search, 2, 'ok', false],
    [SPAN.chat, 2, 'ok', false], [SPAN.fetch, 2, 'error', false],
  ]);
  log(`at position ${first.last_position}: the manager's span pending, an open bar over its children`);
  await travelTo(first.first_position - 1);
  await waitFor(`no spans at ${first.first_position - 1}`, async () => (await waterfallOf(page)).length === 0, 30_000);
  log(`at position ${first.first_position - 1}: no span yet`);
  await page.locator('[data-testid=back-to-live]').click();
  await waitFor('the live waterfall again', async () => {
    const r = await waterfallOf(page);
    return r.length === 5 && r[0].status === 'ok' ? r : null;
  }, 30_000);
  log('back to live: the manager\'s span recorded');
  await page.locator('[data-testid=trace-view] button.close').click();
}

let browser;
let failed = false;
try {
  let server = startVigild();
  await ready();
  log('vigild ready on', base);
  const simulator = start(vigil, ['simulate', '--server', `127.0.0.1:${grpcPort}`, '--managers', '2',
    '--workers', '6', '--rate', '40', '--duration', '600', '--seed', '7'], 'simulate');

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1500, height: 1700 } });
  page.on('pageerror', (e) => { console.error('[page error]', e); failed = true; });
  await page.goto(base + '/');
  await page.waitForSelector('header.status');

  // 1. Agents and tasks appear, and change.
  await waitFor('agents on the page', async () => (await page.locator('[data-testid=agent-row]').count()) >= 8);
  await waitFor('tasks on the page', async () => (await page.locator('[data-testid=task-card]').count()) >= 3);
  // The webhooks panel read GET /v1/webhooks (anonymous = admin here).
  await waitFor('the webhooks panel', async () =>
    /no endpoints registered/.test(await page.locator('[data-testid=webhooks]').innerText()));
  const state = () => page.evaluate(() => {
    const s = window.vigilStore.getState();
    const tasks = Object.values(s.tasks);
    return {
      position: s.lastPosition,
      connection: s.connection.state,
      polling: s.connection.polling,
      completed: tasks.filter((t) => t.status === 'completed').length,
      statuses: Object.fromEntries(tasks.map((t) => [t.task_id, t.status])),
      busy: Object.values(s.agents).filter((a) => a.status === 'busy').length,
      timeline: s.events.map((e) => e.position),
      duplicates: s.duplicatesDropped,
    };
  });
  const first = await state();
  log('first look:', { position: first.position, completed: first.completed, connection: first.connection, polling: first.polling });
  const changed = await waitFor('tasks to change status', async () => {
    const now = await state();
    const moved = Object.entries(first.statuses).filter(([id, st]) => now.statuses[id] && now.statuses[id] !== st);
    return now.position > first.position && moved.length > 0 && now.completed > first.completed ? now : null;
  });
  log('then:', { position: changed.position, completed: changed.completed, busy: changed.busy });
  // Rows move under load (newest first), which Playwright's click waits
  // out forever; a row selects on mousedown, so press it directly.
  await page.locator('[data-testid=event-row]').first().dispatchEvent('mousedown');
  await waitFor('the event detail', async () => /[0-9a-f]{64}/.test(await page.locator('[data-testid=event-detail]').innerText()));
  await sleep(1500); // let the charts draw a few frames
  await page.screenshot({ path: join(dashboard, 'screenshot.png'), fullPage: false });
  log('saved', join(dashboard, 'screenshot.png'));

  await timeTravel(page, state);
  await namesOnCards(page);
  await traces(page);

  // 4. Kill and restart vigild: the page reconnects and continues.
  const live = (await state()).connection === 'live' ||
    (await waitFor('/v1/live', async () => (await state()).connection === 'live', 10_000).catch(() => false));
  if (live) {
    const before = await state();
    server.kill('SIGKILL');
    await exited(server);
    await waitFor('the page to notice', async () => (await state()).connection === 'reconnecting', 20_000);
    log('vigild killed at position', before.position, '; restarting');
    server = startVigild();
    await ready();
    await waitFor('the page to be live again', async () => (await state()).connection === 'live', 60_000);
    await waitFor('new events after the restart', async () => (await state()).position > before.position + 20, 60_000);
    log('reconnected and continuing:', (await state()).position);
  } else {
    log('SKIP kill/restart reconnect: this vigild has no /v1/live (the page is polling GET /v1/all)');
  }

  // 2 and 3. Stop the simulator; the page's fold must equal the read models.
  simulator.kill('SIGINT');
  await exited(simulator);
  const head = await waitFor('the projections to reach the head', async () => {
    const { projections } = await getJson('/v1/projections');
    return projections.every((p) => p.lag_events === 0) ? projections[0].head : null;
  });
  await waitFor('the page to reach the head', async () => (await state()).position >= head);
  const page_ = await page.evaluate(() => {
    const s = window.vigilStore.getState();
    return { agents: s.agents, tasks: s.tasks, events: s.events.map((e) => e.position) };
  });
  const { agents } = await getJson(`/v1/agents?min_position=${head}`);
  const pick = (a) => ({ status: a.status, current_task_id: a.current_task_id, last_position: a.last_position,
    cpu_pct: a.cpu_pct, role: a.role });
  for (const a of agents) {
    const mine = page_.agents[a.agent_id];
    if (!mine || JSON.stringify(pick(mine)) !== JSON.stringify(pick(a))) {
      throw new Error(`agent ${a.agent_id}: page ${JSON.stringify(mine && pick(mine))} != server ${JSON.stringify(pick(a))}`);
    }
  }
  const { tasks } = await getJson(`/v1/tasks?limit=200&min_position=${head}`);
  for (const t of tasks) {
    const mine = page_.tasks[t.task_id];
    const k = (x) => ({ status: x.status, worker_id: x.worker_id, progress: x.progress, last_position: x.last_position });
    if (!mine || JSON.stringify(k(mine)) !== JSON.stringify(k(t))) {
      throw new Error(`task ${t.task_id}: page ${JSON.stringify(mine && k(mine))} != server ${JSON.stringify(k(t))}`);
    }
  }
  log(`page state = read models for ${agents.length} agents and ${tasks.length} tasks at position ${head}`);
  const ev = page_.events;
  for (let i = 1; i < ev.length; i++) {
    if (ev[i] !== ev[i - 1] + 1) throw new Error(`timeline: ${ev[i - 1]} then ${ev[i]} (a duplicate or a gap)`);
  }
  log(`timeline: ${ev.length} events, ${ev[0]}..${ev.at(-1)}, no duplicate, no gap`);

  server.kill('SIGTERM');
  await exited(server);
} catch (e) {
  console.error('[e2e] FAILED:', e);
  failed = true;
} finally {
  await browser?.close();
  // Politely first: vigild stops its embedded PostgreSQL on SIGTERM.
  for (const c of children) c.kill('SIGTERM');
  await Promise.race([Promise.all([...children].map(exited)), sleep(15_000)]);
  for (const c of children) c.kill('SIGKILL');
  await sleep(200);
  rmSync(data, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
