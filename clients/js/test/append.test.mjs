// Appends, reads and errors against a real vigild: every expected-revision
// mode, each typed error, bad arguments refused before anything is sent.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DeadlineExceededError,
  IdempotencyConflictError,
  InvalidArgumentError,
  TooLargeError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitedError,
  UnauthenticatedError,
  UnavailableError,
  VigilClient,
  WrongExpectedRevisionError,
  agentHeartbeat,
  agentRegistered,
  agentStopped,
  agentStream,
  llmCallCompleted,
  messageSent,
  taskAssigned,
  taskCompleted,
  taskCreated,
  taskFailed,
  taskProgress,
  taskStarted,
  taskStream,
  toolCalled,
} from '../dist/index.js';
import { Proxy, Vigild } from './harness.mjs';

const event = (n) => ({ type: 'Noted', data: { n } });

describe('append and read', () => {
  let server;
  let client;
  before(async () => {
    server = await Vigild.start();
    client = new VigilClient({ address: server.address, retry: { maxAttempts: 1 } });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  it('honours every expected-revision mode', async () => {
    const first = await client.append('modes', [event(0)], { expectedRevision: 'no_stream' });
    assert.equal(first.nextExpectedRevision, 0n);
    await assert.rejects(client.append('modes', [event(1)], { expectedRevision: 'no_stream' }),
      (e) => e instanceof WrongExpectedRevisionError && e.actualRevision === 0n && e.stream === 'modes');
    await client.append('modes', [event(1)], { expectedRevision: 'stream_exists' });
    await assert.rejects(client.append('modes-none', [event(1)], { expectedRevision: 'stream_exists' }),
      (e) => e instanceof WrongExpectedRevisionError && e.actualRevision === null);
    const exact = await client.append('modes', [event(2), event(3)], { expectedRevision: 1n });
    assert.equal(exact.nextExpectedRevision, 3n);
    assert.equal(exact.lastPosition - exact.firstPosition, 1n);
    await client.append('modes', [event(4)], { expectedRevision: 3 });
    await assert.rejects(client.append('modes', [event(5)], { expectedRevision: 2n }),
      (e) => e instanceof WrongExpectedRevisionError && e.actualRevision === 4n && e.code === 10);
    await client.append('modes', [event(5)], { expectedRevision: 'any' });
    await client.append('modes', [event(6)]);
    const events = await client.readStream('modes');
    assert.deepEqual(events.map((e) => e.json().n), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(events.map((e) => e.revision), [0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  });

  it('never retries ABORTED, FAILED_PRECONDITION or INVALID_ARGUMENT', async () => {
    // Any retry would wait at least 500 ms (half of initialBackoffMs, equal jitter).
    const eager = new VigilClient({ address: server.address, retry: { maxAttempts: 10, initialBackoffMs: 1000 } });
    try {
      await eager.append('no-retry', [event(1)], { idempotencyKey: 'no-retry-key' });
      const refusals = [
        [() => eager.append('no-retry', [event(2)], { expectedRevision: 'no_stream' }), WrongExpectedRevisionError],
        [() => eager.append('no-retry', [event(2)], { idempotencyKey: 'no-retry-key' }), IdempotencyConflictError],
        [() => eager.append('agent-y', [{ type: 'AgentStopped', data: {} }]), InvalidArgumentError],
      ];
      for (const [call, type] of refusals) {
        const started = Date.now();
        await assert.rejects(call(), type);
        assert.ok(Date.now() - started < 400, `${type.name} answered without a retry`);
      }
    } finally {
      eager.close();
    }
  });

  it('deduplicates by idempotency key and refuses a key reused for another request', async () => {
    const first = await client.append('keyed', [event(1)], { idempotencyKey: 'key-1' });
    const again = await client.append('keyed', [event(1)], { idempotencyKey: 'key-1' });
    assert.equal(first.deduplicated, false);
    assert.deepEqual(again, { ...first, deduplicated: true });
    await assert.rejects(client.append('keyed', [event(2)], { idempotencyKey: 'key-1' }),
      (e) => e instanceof IdempotencyConflictError && e.codeName === 'FAILED_PRECONDITION');
    assert.equal((await client.getStream('keyed')).eventCount, 1n);
  });

  it('types NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT and size limits', async () => {
    await assert.rejects(client.readStream('missing'), (e) => e instanceof NotFoundError && e.stream === 'missing');
    await assert.rejects(client.getStream('missing'), NotFoundError);
    await assert.rejects(client.append('$system', [event(1)]), PermissionDeniedError);
    // A malformed domain event: the server's check, not the client's.
    await assert.rejects(client.append('agent-x', [{ type: 'AgentRegistered', data: { role: 'worker' } }]),
      (e) => e instanceof InvalidArgumentError && /agent_id/.test(e.message));
    const big = { type: 'Big', data: { blob: 'x'.repeat(1_100_000) } };
    await assert.rejects(client.append('big', [big]), TooLargeError);
  });

  it('refuses bad arguments before anything is sent', async () => {
    // A client whose every byte would pass through the proxy: it must never connect.
    const proxy = await Proxy.start(server.grpcPort);
    const client = new VigilClient({ address: proxy.address });
    const bad = [
      () => client.append('bad stream', [event(1)]),
      () => client.append('', [event(1)]),
      () => client.append('ok', []),
      () => client.append('ok', 'not an array'),
      () => client.append('ok', [{ type: '1bad' }]),
      () => client.append('ok', [{ type: 'T', data: [1, 2] }]),
      () => client.append('ok', [{ type: 'T', eventId: 'not-a-uuid' }]),
      () => client.append('ok', [{ type: 'T', metadata: 'text' }]),
      () => client.append('ok', [event(1)], { expectedRevision: 'maybe' }),
      () => client.append('ok', [event(1)], { expectedRevision: -1 }),
      () => client.append('ok', [event(1)], { expectedRevision: 1.5 }),
      () => client.append('ok', [event(1)], { idempotencyKey: 'é' }),
      () => client.append('ok', [event(1)], { idempotencyKey: 'k'.repeat(256) }),
      () => client.append('ok', [event(1)], { timeoutMs: -1 }),
      () => client.readStream('ok', { maxCount: -5 }),
      () => client.readAll({ filter: { streamPrefixes: [''] } }),
      () => client.stateAt({ agentId: 'a', taskId: 't' }),
      () => client.diff({ from: { nothing: 1 } }),
    ];
    try {
      for (const call of bad) await assert.rejects(call(), InvalidArgumentError);
      assert.throws(() => client.subscribe({ fromPosition: -1 }), InvalidArgumentError);
      assert.throws(() => client.subscribe({ filter: { eventTypes: [7] } }), InvalidArgumentError);
      assert.equal(proxy.connections, 0, 'nothing was sent');
      assert.equal((await client.getStream('modes')).lastRevision, 6n, 'the same client then works');
      assert.equal(proxy.connections, 1);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it('appends every domain event through its helper, accepted by the server check', async () => {
    const t = 'task-js-1';
    await client.append(agentStream('mgr'), [
      agentRegistered({ agentId: 'mgr', role: 'manager', name: 'Manager', model: 'm1' }),
      agentHeartbeat({ agentId: 'mgr', cpuPct: 3.5, memBytes: 1024, queueDepth: 0 }),
      messageSent({ fromAgent: 'mgr', toAgent: 'w1', taskId: t, kind: 'assign' }),
      llmCallCompleted({ agentId: 'mgr', model: 'm1', inputTokens: 10, outputTokens: 5, costUsd: 0.01, latencyMs: 20 }),
      toolCalled({ agentId: 'mgr', tool: 'search', durationMs: 4, ok: true }),
      agentStopped({ agentId: 'mgr', reason: 'done' }),
    ]);
    await client.append(taskStream(t), [
      taskCreated({ taskId: t, managerId: 'mgr', title: 'Write', priority: 2 }),
      taskAssigned({ taskId: t, managerId: 'mgr', workerId: 'w1' }),
      taskStarted({ taskId: t, workerId: 'w1' }),
      taskProgress({ taskId: t, workerId: 'w1', percent: 50 }),
      taskFailed({ taskId: t, workerId: 'w1', error: 'timeout' }),
      taskCompleted({ taskId: t, workerId: 'w1', result: { ok: true } }, { metadata: { trace_id: 'abc' } }),
    ], { expectedRevision: 'no_stream' });
    const events = await client.readStream(taskStream(t));
    assert.deepEqual(events[0].json(), { task_id: t, manager_id: 'mgr', title: 'Write', priority: 2 });
    assert.deepEqual(events[5].metadataJson(), { trace_id: 'abc' });
    assert.equal(events[5].type, 'TaskCompleted');
  });

  it('subscribes after a position or from a time, with caught_up between history and live', async () => {
    const history = await client.readStream('modes');
    const third = history[2];
    const fromPosition = [];
    for await (const item of client.subscribe({ fromPosition: third.position, filter: { streamPrefixes: ['modes'] } })) {
      if (item.kind === 'caughtUp') break;
      fromPosition.push(item.event.revision);
    }
    assert.deepEqual(fromPosition, [3n, 4n, 5n, 6n], 'events after the position');
    const fromTime = [];
    const items = client.subscribe({ fromTimeUs: third.recordedTimeUs, filter: { streamPrefixes: ['modes'] } });
    for await (const item of items) {
      if (item.kind === 'caughtUp') {
        await client.append('modes', [event(7)]);
        continue;
      }
      fromTime.push(item.event.revision);
      if (item.event.revision === 7n) break;
    }
    assert.deepEqual(fromTime.slice(-6), [2n, 3n, 4n, 5n, 6n, 7n], 'from the event recorded at that time, then live');
  });

  it('reads all with a filter, backwards, and answers stateAt and diff', async () => {
    const head = (await client.readAll()).at(-1).position;
    const tasks = await client.readAll({ filter: { streamPrefixes: ['task-'] } });
    assert.ok(tasks.length === 6 && tasks.every((e) => e.stream.startsWith('task-')));
    const last = await client.readStream('modes', { fromRevision: 2n ** 64n - 1n, backwards: true, maxCount: 2 });
    assert.deepEqual(last.map((e) => e.revision), [7n, 6n]);
    const state = await client.stateAt({ agentId: 'mgr' });
    assert.equal(state.position, Number(head));
    const diff = await client.diff({ from: { position: head - 1n } });
    assert.ok(typeof diff === 'object' && diff !== null);
    await assert.rejects(client.stateAt({ at: { position: head + 100n } }), InvalidArgumentError);
  });
});

describe('deadlines', () => {
  it('stops retrying at the deadline and types DEADLINE_EXCEEDED', async () => {
    const server = await Vigild.start();
    const client = new VigilClient({ address: server.address });
    try {
      await client.append('deadline', [event(1)]);
      await assert.rejects(client.readAll({ deadline: new Date(Date.now() + 1) }),
        (e) => e instanceof DeadlineExceededError && e.codeName === 'DEADLINE_EXCEEDED');
      const cancelled = new AbortController();
      const read = client.readAll({ signal: cancelled.signal });
      cancelled.abort();
      await assert.rejects(read, (e) => e.codeName === 'CANCELLED', 'the signal cancels the call, not retried');
      await server.kill('SIGKILL');
      const stopped = new AbortController();
      setTimeout(() => stopped.abort(), 300);
      const waited = Date.now();
      await assert.rejects(client.append('deadline', [event(2)], { signal: stopped.signal }));
      assert.ok(Date.now() - waited < 1500, 'the signal ends the retries');
      const started = Date.now();
      await assert.rejects(client.append('deadline', [event(2)], { timeoutMs: 1500 }), UnavailableError);
      const took = Date.now() - started;
      assert.ok(took >= 500 && took < 2500, `retried until about the deadline (${took} ms)`);
    } finally {
      client.close();
      await server.stop();
    }
  });
});

describe('tokens and rate limits', () => {
  let server;
  before(async () => {
    server = await Vigild.start({ tokens: { 'agent-token-0123456789': 'agent', 'reader-token-0123456789': 'reader' } });
  });
  after(async () => server?.stop());

  it('sends the bearer token and types UNAUTHENTICATED and PERMISSION_DENIED', async () => {
    const agent = new VigilClient({ address: server.address, token: 'agent-token-0123456789' });
    const reader = new VigilClient({ address: server.address, token: 'reader-token-0123456789' });
    const nobody = new VigilClient({ address: server.address, retry: { maxAttempts: 1 } });
    try {
      await agent.append('authed', [event(1)]);
      assert.equal((await reader.getStream('authed')).eventCount, 1n);
      await assert.rejects(reader.append('authed', [event(2)]), PermissionDeniedError);
      await assert.rejects(nobody.getStream('authed'), UnauthenticatedError);
      // A session refused as a whole: every append on it fails with the call's status.
      const session = reader.appendSession();
      await assert.rejects(session.append('authed', [event(3)]), PermissionDeniedError);
      await session.close();
    } finally {
      agent.close();
      reader.close();
      nobody.close();
    }
  });

  it('retries a rate-limited append after the hint, and gives up after maxAttempts', async () => {
    // --append-burst 5 --append-rate 5: the sixth event in a second waits.
    await server.kill('SIGTERM');
    server.args.push('--append-rate', '5', '--append-burst', '5');
    await server.launch();
    const once = new VigilClient({ address: server.address, token: 'agent-token-0123456789', retry: { maxAttempts: 1 } });
    const patient = new VigilClient({ address: server.address, token: 'agent-token-0123456789' });
    try {
      await once.append('limited', [event(1), event(2), event(3), event(4), event(5)]);
      await assert.rejects(once.append('limited', [event(6)]),
        (e) => e instanceof RateLimitedError && e.retryAfterMs >= 1000);
      const started = Date.now();
      const result = await patient.append('limited', [event(6)]);
      assert.ok(Date.now() - started >= 900, 'waited for the hint');
      assert.equal(result.nextExpectedRevision, 5n);
      await assert.rejects(once.append('limited', [...Array(6)].map((_, i) => event(i))), TooLargeError);
    } finally {
      once.close();
      patient.close();
    }
  });
});
