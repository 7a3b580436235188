// The example (examples/agents.ts, compiled by the build) against a real
// vigild: a Manager and two Workers whose lifecycle lands in the log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, it } from 'node:test';

import { VigilClient, agentStream, taskStream } from '../dist/index.js';
import { Vigild } from './harness.mjs';

const example = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'examples', 'agents.js');
let server;
before(async () => { server = await Vigild.start(); });
after(async () => server?.stop());

it('reports a Manager and two Workers, one task completed and one failed', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [example],
    { env: { ...process.env, VIGIL_ADDRESS: server.address }, timeout: 60_000 });
  const { manager, workers, tasks } = JSON.parse(stdout);
  const client = new VigilClient({ address: server.address });
  try {
    const types = async (stream) => (await client.readStream(stream)).map((e) => e.type);
    assert.deepEqual(await types(taskStream(tasks[0])),
      ['TaskCreated', 'TaskAssigned', 'TaskStarted', 'TaskProgress', 'TaskProgress', 'TaskProgress', 'TaskCompleted']);
    assert.deepEqual(await types(taskStream(tasks[1])),
      ['TaskCreated', 'TaskAssigned', 'TaskStarted', 'TaskProgress', 'TaskFailed']);
    assert.deepEqual(await types(agentStream(manager)),
      ['AgentRegistered', 'AgentHeartbeat', 'MessageSent', 'MessageSent', 'AgentStopped']);
    for (const worker of workers) {
      const events = await types(agentStream(worker));
      assert.equal(events[0], 'AgentRegistered');
      assert.equal(events.at(-1), 'AgentStopped');
      assert.ok(events.includes('LlmCallCompleted') && events.includes('ToolCalled'));
    }
  } finally {
    client.close();
  }
});
