// The /v1/live helper against a real vigild, with the `ws` package as the
// WebSocket (Node 20 has none): resumes after vigild restarts with no gap
// and no duplicate, filters, and sends the token.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { VigilClient } from '../dist/index.js';
import { openLiveFeed } from '../dist/live.js';
import { Vigild } from './harness.mjs';

const retry = { maxAttempts: 40, initialBackoffMs: 50, maxBackoffMs: 500 };

describe('live feed helper', () => {
  let server;
  let client;
  before(async () => {
    server = await Vigild.start({ tokens: { 'live-admin-token-0123456789': 'admin' } });
    client = new VigilClient({ address: server.address, token: 'live-admin-token-0123456789', retry });
  });
  after(async () => {
    client?.close();
    await server?.stop();
  });

  it('resumes after vigild restarts with no gap and no duplicate', async () => {
    await client.append('other', [{ type: 'Before' }]);
    const feed = openLiveFeed({
      url: server.httpUrl, token: 'live-admin-token-0123456789', from: 0, streams: ['live-'],
      WebSocket, initialBackoffMs: 50, maxBackoffMs: 500,
    });
    const total = 150;
    const seen = [];
    const guard = setTimeout(() => feed.close(), 60_000);
    const consumed = (async () => {
      for await (const frame of feed) {
        if (frame.kind !== 'event') continue;
        assert.equal(frame.event.stream.startsWith('live-'), true);
        assert.equal(BigInt(frame.event.position), frame.position);
        seen.push(frame.event.data.n);
        if (seen.length === total) break;
      }
    })();
    try {
      for (let n = 0; n < total; ++n) {
        await client.append(`live-${n % 2}`, [{ type: 'Live', data: { n } }]);
        if (n === 50) await server.restart('SIGKILL');
        if (n === 100) await server.restart('SIGTERM');
      }
      await consumed;
      assert.deepEqual(seen, [...Array(total).keys()], 'every event once, in order');
      assert.ok(feed.reconnects >= 2, `reconnected after each restart (${feed.reconnects})`);
    } finally {
      clearTimeout(guard);
      feed.close();
    }
  });

  it('bounds its buffer: a slow reader pauses the socket and resumes from the last buffered frame', async () => {
    for (let n = 0; n < 60; n += 20) {
      await client.append('slow-0', [...Array(20).keys()].map((i) => ({ type: 'Slow', data: { n: n + i } })));
    }
    const feed = openLiveFeed({
      url: server.httpUrl, token: 'live-admin-token-0123456789', from: 0, types: ['Slow'], WebSocket, maxBuffered: 4,
    });
    const seen = [];
    for await (const frame of feed) {
      if (frame.kind !== 'event') continue;
      seen.push(frame.event.data.n);
      if (seen.length === 60) break;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.deepEqual(seen, [...Array(60).keys()]);
    assert.ok(feed.reconnects >= 1, 'the socket was paused at least once');
  });

  it('starts from now without `from`, and refuses a missing WebSocket or a bad url', async () => {
    const feed = openLiveFeed({ url: server.httpUrl, token: 'live-admin-token-0123456789', WebSocket });
    const iterator = feed[Symbol.asyncIterator]();
    const first = (await iterator.next()).value;
    assert.equal(first.kind, 'caught_up');
    const { lastPosition } = await client.append('live-now', [{ type: 'Now' }]);
    const next = (await iterator.next()).value;
    assert.equal(next.kind, 'event');
    assert.equal(next.position, lastPosition);
    await iterator.return();
    assert.throws(() => openLiveFeed({ url: server.httpUrl }), TypeError);
    assert.throws(() => openLiveFeed({ url: 'ftp://x', WebSocket }), TypeError);
  });
});
