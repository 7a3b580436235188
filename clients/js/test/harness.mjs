// A real vigild on loopback for the tests: started on free ports over a
// temporary data directory, restartable on the same directory and ports
// (SIGKILL or SIGTERM), stopped and its directory removed by stop(). And a
// TCP proxy between the client and vigild that can cut a call mid-flight.
// The vigild binary is $VIGILD (tools/js-client-test passes CTest's).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const vigildPath = process.env.VIGILD;
if (!vigildPath) throw new Error('set VIGILD to the vigild binary (tools/js-client-test does)');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export async function waitFor(what, check, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last.message})` : ''}`);
}

// Every vigild started and not yet stopped: killed, and its directory
// removed, if this process ends without stop() (a crash, the test
// runner's timeout), so no process or directory is left behind.
const live = new Set();
function cleanUp() {
  for (const server of live) server.process?.kill('SIGKILL');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const server of live) {
    // A dying vigild may still write for a moment: try again for up to a second.
    for (let attempt = 0; ; ++attempt) {
      try {
        rmSync(server.dir, { recursive: true, force: true });
        break;
      } catch (error) {
        if (attempt >= 100) throw error;
        Atomics.wait(pause, 0, 0, 10);
      }
    }
  }
}
process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanUp();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

/**
 * vigild with `--projections off` (unless `projections`), `tokens`: a
 * {token: role} map written to a tokens file (none: anonymous).
 */
/** Whether a TCP connection to 127.0.0.1:`port` is accepted now. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

export class Vigild {
  static async start({ tokens, projections = false } = {}) {
    const server = new Vigild();
    server.dir = mkdtempSync(join(tmpdir(), 'vigil-js-client-'));
    live.add(server);
    server.grpcPort = await freePort();
    server.httpPort = await freePort();
    server.args = ['--data-dir', join(server.dir, 'data'),
      '--grpc-listen', `127.0.0.1:${server.grpcPort}`, '--http-listen', `127.0.0.1:${server.httpPort}`,
      '--projections', projections ? 'on' : 'off', '--shutdown-grace-ms', '500'];
    if (tokens) {
      const file = join(server.dir, 'tokens');
      writeFileSync(file, Object.entries(tokens).map(([token, role]) => `${token} ${role}\n`).join(''));
      server.args.push('--tokens-file', file);
    }
    await server.launch();
    return server;
  }

  get address() { return `127.0.0.1:${this.grpcPort}`; }
  get httpUrl() { return `http://127.0.0.1:${this.httpPort}`; }

  async launch() {
    this.log = '';
    this.process = spawn(vigildPath, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (data) => { this.log = (this.log + data).slice(-20_000); };
    this.process.stdout.on('data', keep);
    this.process.stderr.on('data', keep);
    this.exited = new Promise((resolve) => this.process.once('exit', resolve));
    await waitFor('vigild to be ready', async () => {
      if (this.process.exitCode !== null) throw new Error(`vigild exited: ${this.log}`);
      const response = await fetch(`${this.httpUrl}/healthz`);
      // HTTP may answer before the gRPC port listens (one run was refused).
      return response.ok && await accepts(this.grpcPort);
    });
  }

  /** Stops vigild (SIGKILL: as a crash; SIGTERM: a clean shutdown). */
  async kill(signal = 'SIGKILL') {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
    await this.exited;
  }

  async restart(signal = 'SIGKILL') {
    await this.kill(signal);
    await this.launch();
  }

  async stop() {
    await this.kill('SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }
}

/** Whether `chunk` holds an HTTP/2 HEADERS frame of a call (not a SETTINGS, PING or WINDOW_UPDATE). */
export function hasCallHeaders(chunk) {
  for (let at = 0; at + 9 <= chunk.length; at += 9 + chunk.readUIntBE(at, 3)) {
    if (chunk[at + 3] === 0x1 && (chunk.readUInt32BE(at + 5) & 0x7fffffff) !== 0) return true;
  }
  return false;
}

/**
 * A TCP proxy on a free port to `target` (a port). `onServerBytes`, when
 * set, is called with each chunk vigild sends, before it is forwarded,
 * until it returns 'forward' or 'drop' (the chunk is then not forwarded,
 * and the hook is cleared); it may cut every connection (cut()).
 */
export class Proxy {
  static async start(targetPort) {
    const proxy = new Proxy();
    proxy.targetPort = targetPort;
    proxy.sockets = new Set();
    proxy.connections = 0;
    proxy.server = createServer((client) => proxy.accept(client));
    proxy.port = await new Promise((resolve) => {
      proxy.server.listen(0, '127.0.0.1', () => resolve(proxy.server.address().port));
    });
    return proxy;
  }

  get address() { return `127.0.0.1:${this.port}`; }

  accept(client) {
    ++this.connections;
    const upstream = connect(this.targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      const hook = this.onServerBytes;
      if (hook) {
        const verdict = hook(chunk);
        if (verdict !== undefined) this.onServerBytes = undefined;
        if (verdict === 'drop') return;
      }
      client.write(chunk);
    });
  }

  /** Destroys every connection through the proxy. */
  cut() {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop() {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
