// Append sessions against a real vigild: 1,000 appends in flight on one
// call, none lost and none rejected wrongly; the client's in-flight bound;
// appends in flight across a server restart written once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { IdempotencyConflictError, InvalidArgumentError, VigilClient, WrongExpectedRevisionError } from '../dist/index.js';
import { Proxy, Vigild } from './harness.mjs';

const retry = { maxAttempts: 40, initialBackoffMs: 50, maxBackoffMs: 500 };

describe('append sessions', () => {
  let server;
  let client;
  before(async () => {
    server = await Vigild.start();
    client = new VigilClient({ address: server.address, retry });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  it('answers 1,000 appends in flight: none lost, none rejected wrongly', async () => {
    await client.append('s-taken', [{ type: 'First' }]);
    await client.append('s-keyed', [{ type: 'Keyed', data: { v: 1 } }], { idempotencyKey: 'session-key' });
    const session = client.appendSession({ maxInFlight: 1000 });
    const calls = [];
    for (let n = 0; n < 1000; ++n) {
      if (n % 100 === 1) {
        // Rightly refused: the stream exists.
        calls.push(session.append('s-taken', [{ type: 'Again' }], { expectedRevision: 'no_stream' }));
      } else if (n % 100 === 2) {
        // Rightly deduplicated: the same key and request as before.
        calls.push(session.append('s-keyed', [{ type: 'Keyed', data: { v: 1 } }], { idempotencyKey: 'session-key' }));
      } else if (n % 100 === 3) {
        // Rightly refused: the same key, another request.
        calls.push(session.append('s-keyed', [{ type: 'Keyed', data: { v: 2 } }], { idempotencyKey: 'session-key' }));
      } else {
        calls.push(session.append(`s-${n}`, [{ type: 'Numbered', data: { n } }], { expectedRevision: 'no_stream' }));
      }
    }
    assert.ok(session.size <= 1000);
    const results = await Promise.allSettled(calls);
    await session.close();
    const written = new Map();
    results.forEach((result, n) => {
      if (n % 100 === 1) {
        assert.ok(result.reason instanceof WrongExpectedRevisionError && result.reason.actualRevision === 0n, `#${n}`);
      } else if (n % 100 === 2) {
        assert.equal(result.value?.deduplicated, true, `#${n}`);
      } else if (n % 100 === 3) {
        assert.ok(result.reason instanceof IdempotencyConflictError, `#${n}`);
      } else {
        assert.equal(result.status, 'fulfilled', `#${n}: ${result.reason}`);
        assert.equal(result.value.deduplicated, false);
        written.set(result.value.firstPosition, n);
      }
    });
    assert.equal(written.size, 970, 'distinct positions');
    const all = await client.readAll({ filter: { eventTypes: ['Numbered'] } });
    assert.equal(all.length, 970, 'every acknowledged append is in the log, once');
    for (const event of all) assert.equal(written.get(event.position), event.json().n);
  });

  it('keeps at most maxInFlight appends unanswered and refuses bad arguments before sending', async () => {
    const proxy = await Proxy.start(server.grpcPort);
    const viaProxy = new VigilClient({ address: proxy.address });
    const session = viaProxy.appendSession({ maxInFlight: 4 });
    try {
      await assert.rejects(session.append('bad name', [{ type: 'T' }]), InvalidArgumentError);
      await assert.rejects(session.append('ok', [{ type: 'T' }], { expectedRevision: 'nope' }), InvalidArgumentError);
      assert.equal(proxy.connections, 0, 'nothing was sent');
      let most = 0;
      const calls = [...Array(40).keys()].map(async (n) => {
        const pending = session.append('bounded', [{ type: 'T', data: { n } }]);
        most = Math.max(most, session.size);
        return pending;
      });
      await Promise.all(calls);
      assert.ok(most <= 4, `at most 4 in flight, saw ${most}`);
      assert.equal((await viaProxy.getStream('bounded')).eventCount, 40n);
    } finally {
      await session.close();
      viaProxy.close();
      await proxy.stop();
    }
    assert.throws(() => client.appendSession({ maxInFlight: 0 }), TypeError);
  });

  for (const signal of ['SIGKILL', 'SIGTERM']) {
    it(`resends unanswered appends after a restart (${signal}), written once`, async () => {
      const type = `Restarted${signal}`;
      const session = client.appendSession({ maxInFlight: 64 });
      const calls = [];
      for (let n = 0; n < 400; ++n) {
        calls.push(session.append(`r-${n % 7}`, [{ type, data: { n } }]));
        if (n === 200) calls.push(server.restart(signal).then(() => 'restarted'));
      }
      const results = await Promise.all(calls);
      await session.close();
      assert.ok(results.includes('restarted'));
      const all = await client.readAll({ filter: { eventTypes: [type] } });
      assert.deepEqual(all.map((e) => e.json().n).sort((a, b) => a - b), [...Array(400).keys()], 'each once');
    });
  }
});
