// LiveClient: the /v1/live WebSocket (docs/contract.md "HTTP"), outside React.
// Opens with from=<last position applied>, hands every frame to `onFrame`, and
// on any close (4008 slow consumer, a server restart, a network error)
// reconnects after an exponential backoff with full jitter, again from the
// last position applied, so nothing is lost; the store drops anything at or
// below that position, so nothing is applied twice.

import type { LiveFrame } from '../types';
import type { Connection } from '../store/store';

export interface WebSocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

export interface LiveClientOptions {
  // ws(s)://host:port — the path and query are added here.
  baseUrl: string;
  token: () => string;
  // Where to resume: the store's lastPosition (0 = from the beginning).
  from: () => number;
  onFrame: (frame: LiveFrame) => void;
  onState: (patch: Partial<Connection>) => void;
  // Called after `unavailableAfter` attempts in a row that never opened:
  // the server has no /v1/live (or is down); the caller may poll meanwhile.
  // Called with false once a socket opens again.
  onUnavailable?: (unavailable: boolean) => void;
  streams?: string[];
  types?: string[];
  baseDelayMs?: number; // 500
  maxDelayMs?: number; // 15000
  unavailableAfter?: number; // 2
  createSocket?: (url: string) => WebSocketLike;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
}

// Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
// uniform in [0, min(max, base * 2^attempt)], at least 50 ms.
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.max(50, Math.floor(random() * ceiling));
}

export function liveUrl(base: string, from: number, token: string, streams?: string[], types?: string[]) {
  const q = new URLSearchParams();
  q.set('from', String(from));
  if (streams && streams.length) q.set('streams', streams.join(','));
  if (types && types.length) q.set('types', types.join(','));
  if (token) q.set('token', token);
  return `${base}/v1/live?${q.toString()}`;
}

export function isLiveFrame(f: unknown): f is LiveFrame {
  if (typeof f !== 'object' || f === null) return false;
  const { kind, position } = f as { kind?: unknown; position?: unknown };
  return (kind === 'event' || kind === 'caught_up' || kind === 'checkpoint') &&
    typeof position === 'number' && Number.isFinite(position);
}

export class LiveClient {
  private socket: WebSocketLike | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private failedOpens = 0;
  private stopped = true;
  private readonly o: Required<Omit<LiveClientOptions, 'streams' | 'types' | 'onUnavailable'>> &
    LiveClientOptions;

  constructor(options: LiveClientOptions) {
    this.o = {
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      unavailableAfter: 2,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      random: Math.random,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
      ...options,
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) this.o.clearTimer(this.timer);
    this.timer = null;
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = null;
      s.close(1000, 'stopped');
    }
    this.o.onState({ state: 'idle', retryInMs: null });
  }

  // Drops the socket and reconnects now (a new token, say).
  restart() {
    this.stop();
    this.attempt = 0;
    this.start();
  }

  private connect() {
    this.timer = null;
    const url = liveUrl(this.o.baseUrl, this.o.from(), this.o.token(), this.o.streams, this.o.types);
    this.o.onState({ state: 'connecting', attempt: this.attempt, retryInMs: null });
    let opened = false;
    const socket = this.o.createSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      this.failedOpens = 0;
      this.o.onUnavailable?.(false);
      this.o.onState({ state: 'catching_up', lastError: null });
    };
    socket.onmessage = (ev) => {
      if (typeof ev.data !== 'string') return;
      let frame: LiveFrame;
      try {
        frame = JSON.parse(ev.data) as LiveFrame;
      } catch {
        return; // not JSON: ignore rather than guess
      }
      // The three kinds of docs/contract.md "HTTP"; others (a server's pong,
      // error or filter answers to messages this client never sends) are not
      // for the store.
      if (!isLiveFrame(frame)) return;
      if (frame.kind === 'caught_up') {
        this.attempt = 0; // a healthy connection resets the backoff
        this.o.onState({ state: 'live', attempt: 0 });
      }
      this.o.onFrame(frame);
    };
    socket.onerror = () => {
      // onclose follows and does the work.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (!opened) {
        this.failedOpens += 1;
        if (this.failedOpens === this.o.unavailableAfter) this.o.onUnavailable?.(true);
      }
      const reason =
        ev.code === 4008 ? 'closed: slow consumer (4008), resuming' : `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`;
      // A slow-consumer close asks for an immediate resume, not a penalty.
      const attempt = ev.code === 4008 ? 0 : this.attempt;
      const delay = backoffDelay(attempt, this.o.baseDelayMs, this.o.maxDelayMs, this.o.random);
      this.attempt = attempt + 1;
      this.o.onState({ state: 'reconnecting', attempt: this.attempt, retryInMs: delay, lastError: reason });
      this.timer = this.o.setTimer(() => this.connect(), delay);
    };
  }
}
