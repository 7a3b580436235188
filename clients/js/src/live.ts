// The browser's live feed, GET /v1/live (docs/live-feed.md), as an async
// iterator that reconnects after a drop (server restart, 4008 slow
// consumer, network) with `from=` the largest position it has received
// (an event's, a checkpoint's or caught_up's): nothing lost, nothing
// twice. No Node or gRPC import: the WebSocket is the browser's, or one
// passed in (e.g. the `ws` package in Node 20).
//
// Bound: at most `maxBuffered` frames wait for the caller; past it the
// socket is closed and reopened from the last buffered position once the
// caller has read half of them, so a slow caller costs memory, not frames.

/**
 * The subset of the WHATWG WebSocket this helper uses; the browser's
 * WebSocket and the `ws` package's both fit. Listeners take `object`, read
 * as `{data}` (message) here.
 */
export interface LiveSocket {
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: object) => void): void;
  close(code?: number, reason?: string): void;
}
export type LiveSocketConstructor = new (url: string) => LiveSocket;

export interface LiveOptions {
  /** The HTTP base, e.g. `http://127.0.0.1:7601` (or `ws://`, `https://`, `wss://`). */
  url: string;
  /** Sent as `?token=` (browsers cannot set headers on a WebSocket). */
  token?: string;
  /** Every event after this position. Default: from now (the first frame is caught_up). */
  from?: bigint | number;
  /** Only streams starting with one of these prefixes. */
  streams?: string[];
  /** Only these event types. */
  types?: string[];
  /** Default: globalThis.WebSocket. */
  WebSocket?: LiveSocketConstructor;
  /** Frames waiting for the caller, at most. Default 10,000. */
  maxBuffered?: number;
  /** Reconnect backoff: doubles from this (default 100 ms) ... */
  initialBackoffMs?: number;
  /** ... to this (default 5,000 ms), with jitter; reconnects forever until close(). */
  maxBackoffMs?: number;
}

/** A frame of the feed. `position` is exact up to 2^53 (JSON numbers). */
export type LiveFrame =
  | { kind: 'event'; position: bigint; event: Record<string, unknown> }
  | { kind: 'caught_up'; position: bigint }
  | { kind: 'checkpoint'; position: bigint };

export interface LiveFeed extends AsyncIterable<LiveFrame> {
  /** The largest position received (undefined before the first frame). */
  readonly position: bigint | undefined;
  /** Reconnections so far. */
  readonly reconnects: number;
  /** Closes the socket; the iterator ends. */
  close(): void;
}

export const kDefaultLiveBuffer = 10_000;

function liveUrl(options: LiveOptions, from: bigint | undefined): string {
  const base = options.url.replace(/^http/, 'ws').replace(/\/+$/, '');
  const query: string[] = [];
  if (from !== undefined) query.push(`from=${from}`);
  if (options.streams?.length) query.push(`streams=${options.streams.map(encodeURIComponent).join(',')}`);
  if (options.types?.length) query.push(`types=${options.types.map(encodeURIComponent).join(',')}`);
  if (options.token !== undefined) query.push(`token=${encodeURIComponent(options.token)}`);
  return `${base}/v1/live${query.length ? `?${query.join('&')}` : ''}`;
}

function frameFromJson(text: string): LiveFrame | undefined {
  const frame = JSON.parse(text) as Record<string, unknown>;
  if (typeof frame.position !== 'number') return undefined;
  const position = BigInt(frame.position);
  if (frame.kind === 'event') {
    const { kind: _kind, ...event } = frame;
    return { kind: 'event', position, event };
  }
  if (frame.kind === 'caught_up' || frame.kind === 'checkpoint') return { kind: frame.kind, position };
  return undefined; // filter, pong, error: not part of the feed
}

/** Opens the live feed. Iterate it with `for await`; `close()` (or breaking out of the loop) ends it. */
export function openLiveFeed(options: LiveOptions): LiveFeed {
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: LiveSocketConstructor }).WebSocket;
  if (Socket === undefined) throw new TypeError('no WebSocket: pass options.WebSocket (e.g. the ws package)');
  if (typeof options.url !== 'string' || !/^(https?|wss?):\/\//.test(options.url)) {
    throw new TypeError(`url: must start with http://, https://, ws:// or wss://, not ${String(options.url)}`);
  }
  const maxBuffered = options.maxBuffered ?? kDefaultLiveBuffer;
  const initialBackoff = options.initialBackoffMs ?? 100;
  const maxBackoff = options.maxBackoffMs ?? 5000;
  if (!Number.isSafeInteger(maxBuffered) || maxBuffered < 2) throw new TypeError('maxBuffered: must be an integer >= 2');

  const buffer: LiveFrame[] = [];
  let position = options.from === undefined ? undefined : BigInt(options.from);
  let socket: LiveSocket | undefined;
  let closed = false;
  let paused = false; // closed by us because the buffer is full
  let failures = 0;
  let reconnects = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const connect = (): void => {
    const current = new Socket(liveUrl(options, position));
    socket = current;
    current.addEventListener('message', (message) => {
      const data = (message as { data?: unknown }).data;
      if (current !== socket || typeof data !== 'string') return;
      const frame = frameFromJson(data);
      if (frame === undefined) return;
      failures = 0;
      // A resumed feed starts after `position`; an event at or before it was buffered already.
      if (frame.kind === 'event' && position !== undefined && frame.position <= position) return;
      if (position === undefined || frame.position > position) position = frame.position;
      buffer.push(frame);
      if (buffer.length >= maxBuffered && !paused) {
        paused = true;
        socket = undefined;
        current.close(1000);
      }
      notify();
    });
    // A failed connection or a broken one: 'close' follows, which reconnects.
    current.addEventListener('error', () => {});
    current.addEventListener('close', () => {
      if (current !== socket) return; // replaced or paused on purpose
      socket = undefined;
      if (closed) return;
      const step = Math.min(maxBackoff, initialBackoff * 2 ** failures++);
      timer = setTimeout(() => {
        timer = undefined;
        if (closed || paused) return;
        ++reconnects;
        connect();
      }, step / 2 + (Math.random() * step) / 2);
    });
  };

  const close = (): void => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    const current = socket;
    socket = undefined;
    current?.close(1000);
    notify();
  };

  connect();
  return {
    get position() { return position; },
    get reconnects() { return reconnects; },
    close,
    async *[Symbol.asyncIterator]() {
      try {
        while (!closed) {
          const frame = buffer.shift();
          if (frame === undefined) {
            await new Promise<void>((resolve) => { wake = resolve; });
            continue;
          }
          if (paused && buffer.length <= maxBuffered / 2) {
            paused = false;
            ++reconnects;
            connect();
          }
          yield frame;
        }
      } finally {
        close();
      }
    },
  };
}
