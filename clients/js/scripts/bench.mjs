// Appends per second from Node through @vigil/client against a real vigild
// it starts (--projections off): single 256-byte events, each with its own
// idempotency key, by `concurrency` unary callers, then through one append
// session with the same number in flight. Not a test; for the README's
// figures:
//   npm run build && VIGILD=../../build/tools/vigild node scripts/bench.mjs [appends] [concurrency]
import { VigilClient } from '../dist/index.js';
import { Vigild } from '../test/harness.mjs';

const total = Number(process.argv[2] ?? 20_000);
const concurrency = Number(process.argv[3] ?? 50);
const data = { blob: 'x'.repeat(256 - 11) }; // {"blob":"..."}: 256 bytes

async function run(name, appendOne) {
  const latencies = [];
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all([...Array(concurrency)].map(async () => {
    while (next < total) {
      const n = next++;
      const t0 = process.hrtime.bigint();
      await appendOne(`bench-${n % 1000}`);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e3);
    }
  }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q) => Math.round(latencies[Math.floor(q * (latencies.length - 1))]);
  console.log(JSON.stringify({ mode: name, appends: total, concurrency, per_second: Math.round(total / seconds),
    p50_us: at(0.5), p99_us: at(0.99) }));
}

const server = await Vigild.start();
const client = new VigilClient({ address: server.address });
try {
  const event = [{ type: 'Bench', data }];
  await run('unary', (stream) => client.append(stream, event));
  const session = client.appendSession({ maxInFlight: concurrency });
  await run('session', (stream) => session.append(stream, event));
  await session.close();
} finally {
  client.close();
  await server.stop();
}
