// The replication chip of the status bar (src/replication.ts) and its
// source, GET /v1/replication through the REST client.
import { describe, expect, it } from 'vitest';
import { RestClient } from '../src/live/rest';
import { REPLICATION_LAG_BAD, replicationChip } from '../src/replication';
import { createDashboardStore } from '../src/store/store';

const mirroring = {
  mode: 'async', state: 'mirroring', stream: 'VIGIL', head_position: 450, mirrored_position: 438,
  lag_positions: 12, lag_seconds: 0.4, last_error: '', stop_reason: '',
};

function fakeFetch(responses: Array<Response | Error>, seen: string[] = []) {
  return (async (url: string) => {
    seen.push(url);
    const r = responses.shift()!;
    if (r instanceof Error) throw r;
    return r;
  }) as unknown as typeof fetch;
}

describe('replicationChip', () => {
  it('shows nothing when replication is off or not answered yet', () => {
    expect(replicationChip(null)).toBeNull();
    expect(replicationChip({ mode: 'off' })).toBeNull();
  });

  it('shows the mode, state and lag of a mirroring mirror', () => {
    expect(replicationChip(mirroring)).toEqual({
      text: 'replication async: mirroring, lag 12 pos / 0.4 s',
      tone: '',
      title: 'stream VIGIL; mirrored 438 of head 450',
    });
  });

  it('warns while connecting, with the last error', () => {
    const chip = replicationChip({ ...mirroring, mode: 'sync', state: 'connecting', last_error: 'no JetStream quorum' });
    expect(chip?.text).toBe('replication sync: connecting, lag 12 pos / 0.4 s');
    expect(chip?.tone).toBe('warn');
    expect(chip?.title).toBe('stream VIGIL; mirrored 438 of head 450; no JetStream quorum');
  });

  it('turns red when stopped (with the reason) or far behind', () => {
    const stopped = replicationChip({ ...mirroring, state: 'stopped', stop_reason: 'position 12 differs from the log\'s' });
    expect(stopped?.tone).toBe('bad');
    expect(stopped?.title).toMatch(/; position 12 differs from the log's$/);
    expect(replicationChip({ ...mirroring, lag_positions: REPLICATION_LAG_BAD })?.tone).toBe('');
    expect(replicationChip({ ...mirroring, lag_positions: REPLICATION_LAG_BAD + 1 })?.tone).toBe('bad');
  });
});

describe('RestClient.replication', () => {
  it('reads GET /v1/replication into the store; a server without the route mirrors nothing', async () => {
    const seen: string[] = [];
    const rest = new RestClient('http://h', () => '', fakeFetch([
      new Response(JSON.stringify(mirroring), { status: 200 }),
      new Response(JSON.stringify({ mode: 'off' }), { status: 200 }),
      new Response(JSON.stringify({ title: 'Not Found', status: 404, detail: 'no such path' }), { status: 404 }),
      new Response(JSON.stringify({ title: 'Forbidden', status: 403, detail: 'role reader needed' }), { status: 403 }),
    ], seen));
    const store = createDashboardStore();
    expect(store.getState().replication).toBeNull();
    store.getState().setReplication(await rest.replication());
    expect(store.getState().replication).toEqual(mirroring);
    expect(seen).toEqual(['http://h/v1/replication']);
    expect(await rest.replication()).toEqual({ mode: 'off' });
    expect(await rest.replication()).toEqual({ mode: 'off' });
    await expect(rest.replication()).rejects.toThrow('GET /v1/replication: 403 role reader needed');
  });
});
