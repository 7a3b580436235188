// The client across server restarts: a retried append whose first answer
// was lost deduplicates; a subscription resumes with no gap and no
// duplicate; appends during a restart are written once.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { VigilClient } from '../dist/index.js';
import { hasCallHeaders, Proxy, Vigild } from './harness.mjs';

// Enough patience for a restart: about 10 s of backoff in all.
const retry = { maxAttempts: 40, initialBackoffMs: 50, maxBackoffMs: 500 };

describe('server restarts', () => {
  let server;
  before(async () => { server = await Vigild.start(); });
  after(async () => server?.stop());

  it('deduplicates an append retried after vigild was killed between its write and its answer', async () => {
    const proxy = await Proxy.start(server.grpcPort);
    const client = new VigilClient({ address: proxy.address, retry });
    try {
      const warm = await client.append('dedup-warm', [{ type: 'Warm' }]);
      let restarted;
      proxy.onServerBytes = (chunk) => {
        if (!hasCallHeaders(chunk)) return undefined; // SETTINGS, PING, WINDOW_UPDATE: not the answer
        // The answer is on its way: the append is durable. Crash vigild,
        // drop the answer and the connection, start vigild again.
        server.process.kill('SIGKILL');
        proxy.cut();
        restarted = server.exited.then(() => server.launch());
        return 'drop';
      };
      const result = await client.append('dedup', [{ type: 'Once', data: { n: 1 } }]);
      assert.ok(restarted !== undefined, 'vigild was killed mid-call');
      await restarted;
      assert.equal(result.deduplicated, true, 'the retry was answered from the first attempt');
      assert.equal(result.firstPosition, warm.lastPosition + 1n);
      assert.equal(result.lastPosition, warm.lastPosition + 1n);
      const events = await client.readStream('dedup');
      assert.equal(events.length, 1, 'the stream holds the event once');
      assert.equal(events[0].position, result.firstPosition);
    } finally {
      client.close();
      await proxy.stop();
    }
  });

  it('resumes a subscription across a crash and a clean restart with no gap and no duplicate', async () => {
    const writer = new VigilClient({ address: server.address, retry });
    const reader = new VigilClient({ address: server.address, retry });
    const total = 300;
    const seen = [];
    const controller = new AbortController();
    const guard = setTimeout(() => controller.abort(), 60_000);
    const consumed = (async () => {
      for await (const item of reader.subscribe({ filter: { streamPrefixes: ['sub-'] }, signal: controller.signal })) {
        if (item.kind !== 'event') continue;
        seen.push(item.event.json().n);
        if (seen.length === total) break;
      }
    })();
    try {
      for (let n = 0; n < total; ++n) {
        await writer.append(`sub-${n % 3}`, [{ type: 'Counted', data: { n } }]);
        if (n === 100) await server.restart('SIGKILL');
        if (n === 200) await server.restart('SIGTERM');
        if (n % 10 === 0) await new Promise((r) => setImmediate(r));
      }
      await consumed;
      assert.deepEqual(seen, [...Array(total).keys()], 'every event once, in order');
      const all = await writer.readAll({ filter: { streamPrefixes: ['sub-'] } });
      assert.equal(all.length, total, 'appends retried across restarts were written once');
    } finally {
      clearTimeout(guard);
      writer.close();
      reader.close();
    }
  });
});
