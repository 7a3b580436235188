// A Manager and two Workers reporting their whole lifecycle to Vigil, as
// an agent framework would: registration, heartbeats, tasks created and
// assigned, progress with model and tool calls, one task completed and one
// failed, messages, and the agents stopping. Watch it live on the
// dashboard (http://127.0.0.1:7601/). Run (after `npm run build`):
//   VIGIL_ADDRESS=127.0.0.1:7600 [VIGIL_TOKEN=...] node dist/examples/agents.js
import {
  VigilClient,
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
} from '@vigil/client';

const vigil = new VigilClient({ address: process.env.VIGIL_ADDRESS ?? '127.0.0.1:7600', token: process.env.VIGIL_TOKEN });
const run = Date.now().toString(36);
const manager = `manager-${run}`;
const workers = [`worker-${run}-a`, `worker-${run}-b`];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function register(agentId: string, role: 'manager' | 'worker'): Promise<void> {
  await vigil.append(agentStream(agentId), [
    agentRegistered({ agentId, role, name: agentId, model: 'demo-model' }),
    agentHeartbeat({ agentId, cpuPct: 1, memBytes: 64 << 20, queueDepth: 0 }),
  ], { expectedRevision: 'no_stream' });
}

// A worker's task: started, three steps each with a model and a tool call,
// then completed (or failed at `failAt` percent). Each task event names the
// revision it follows, so two writers of one task would be told.
async function work(workerId: string, taskId: string, failAt?: number): Promise<void> {
  const stream = taskStream(taskId);
  let revision = (await vigil.append(stream, [taskStarted({ taskId, workerId })], { expectedRevision: 1n }))
    .nextExpectedRevision;
  for (const percent of [25, 50, 75]) {
    await sleep(50);
    await vigil.append(agentStream(workerId), [
      llmCallCompleted({ agentId: workerId, taskId, model: 'demo-model', inputTokens: 800, outputTokens: 120,
        costUsd: 0.0012, latencyMs: 40 }),
      toolCalled({ agentId: workerId, taskId, tool: 'search', durationMs: 12, ok: percent !== failAt }),
    ]);
    if (percent === failAt) {
      await vigil.append(stream, [taskFailed({ taskId, workerId, error: 'search failed' })], { expectedRevision: revision });
      return;
    }
    revision = (await vigil.append(stream, [taskProgress({ taskId, workerId, percent })], { expectedRevision: revision }))
      .nextExpectedRevision;
  }
  await vigil.append(stream, [taskCompleted({ taskId, workerId, result: { words: 420 } })], { expectedRevision: revision });
}

try {
  await register(manager, 'manager');
  await Promise.all(workers.map((worker) => register(worker, 'worker')));
  const tasks = workers.map((worker, i) => ({ worker, taskId: `${run}-${i + 1}` }));
  for (const { worker, taskId } of tasks) {
    await vigil.append(taskStream(taskId), [
      taskCreated({ taskId, managerId: manager, title: `Draft section ${taskId}`, priority: 1 }),
      taskAssigned({ taskId, managerId: manager, workerId: worker }),
    ], { expectedRevision: 'no_stream' });
    await vigil.append(agentStream(manager), [
      messageSent({ fromAgent: manager, toAgent: worker, taskId, kind: 'assign', summary: 'please draft' }),
    ]);
  }
  await Promise.all(tasks.map(({ worker, taskId }, i) => work(worker, taskId, i === 1 ? 50 : undefined)));
  for (const agentId of [...workers, manager]) {
    await vigil.append(agentStream(agentId), [agentStopped({ agentId, reason: 'run finished' })]);
  }
  console.log(JSON.stringify({ run, manager, workers, tasks: tasks.map((t) => t.taskId) }));
} finally {
  vigil.close();
}
