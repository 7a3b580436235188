// The values callers pass and get back. Every uint64 of the API (positions,
// revisions, counts) is a `bigint` in results; arguments accept a bigint or
// a non-negative safe integer `number`. int64 times (µs) are bigints too.

/** `any`, `no_stream` (the stream must not exist), `stream_exists`, or the exact last revision. */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint | number;

/** A uint64 argument: a bigint, or a number that is a non-negative safe integer. */
export type Uint64 = bigint | number;

/** An event to append. */
export interface EventInput {
  /** `[A-Za-z][A-Za-z0-9_.-]{0,99}`; the domain's types are in events.ts. */
  type: string;
  /**
   * A JSON object (serialized here; the default content type is
   * application/json), or the bytes themselves (a Uint8Array).
   */
  data?: Record<string, unknown> | Uint8Array;
  /** Default application/json (the server's default, sent as empty). */
  contentType?: string;
  /** A JSON object (`correlation_id`, `causation_id`, `trace_id`, free keys) or its bytes. */
  metadata?: Record<string, unknown> | Uint8Array;
  /** A UUID; empty: the server makes a UUIDv7. */
  eventId?: string;
}

/** Per-call deadline: `deadline` (absolute) wins over `timeoutMs` (from now). */
export interface CallOptions {
  deadline?: Date;
  timeoutMs?: number;
  /** Aborts waits between retries (the call in flight is cancelled too). */
  signal?: AbortSignal;
}

export interface AppendOptions extends CallOptions {
  /** Default `any`. */
  expectedRevision?: ExpectedRevision;
  /**
   * Up to 255 printable ASCII bytes. Default: a random UUID made for this
   * logical append and sent again on every retry, so a retried append is
   * written once.
   */
  idempotencyKey?: string;
}

export interface AppendResult {
  firstPosition: bigint;
  lastPosition: bigint;
  /** The stream's last revision after the append. */
  nextExpectedRevision: bigint;
  /** True when the idempotency key had been used for this same request: nothing was appended. */
  deduplicated: boolean;
}

/** An event as stored. `data` and `metadata` are the bytes; `json()` parses `data`. */
export class RecordedEvent {
  constructor(
    readonly eventId: string,
    readonly stream: string,
    readonly revision: bigint,
    readonly position: bigint,
    readonly type: string,
    readonly data: Uint8Array,
    readonly contentType: string,
    readonly metadata: Uint8Array,
    readonly recordedTimeUs: bigint,
    readonly hash: Uint8Array,
  ) {}

  /** `data` parsed as JSON (throws a SyntaxError for other content). */
  json<T = unknown>(): T {
    return JSON.parse(new TextDecoder().decode(this.data)) as T;
  }

  /** `metadata` parsed as JSON; `{}` when empty. */
  metadataJson<T = Record<string, unknown>>(): T {
    if (this.metadata.length === 0) return {} as T;
    return JSON.parse(new TextDecoder().decode(this.metadata)) as T;
  }
}

export interface StreamInfo {
  stream: string;
  lastRevision: bigint;
  lastPosition: bigint;
  eventCount: bigint;
  createdTimeUs: bigint;
  updatedTimeUs: bigint;
}

/** Empty lists (the default) match everything. */
export interface Filter {
  streamPrefixes?: string[];
  eventTypes?: string[];
}

export interface ReadStreamOptions extends CallOptions {
  /** Default 0 (forwards) — backwards from a revision past the end starts at the last event. */
  fromRevision?: Uint64;
  /** 0 (default): the server's default, 10,000. */
  maxCount?: Uint64;
  backwards?: boolean;
}

export interface ReadAllOptions extends CallOptions {
  /** Events with position >= this. Default 0. */
  fromPosition?: Uint64;
  /** 0 (default): the server's default, 10,000. */
  maxCount?: Uint64;
  filter?: Filter;
}

/** A point of the log: a position, or a time (the last position recorded at or before it). */
export type LogPoint = { position: Uint64 } | { timeUs: Uint64 } | { time: Date };

export interface StateAtOptions extends CallOptions {
  /** Default: the head. */
  at?: LogPoint;
  agentId?: string;
  taskId?: string;
  /** Tasks a whole-system answer lists (0: 100; at most 10,000). */
  taskLimit?: Uint64;
  /** The spans a whole-system answer lists: this trace's (hex id) only. */
  traceId?: string;
}

export interface DiffOptions extends CallOptions {
  /** Default: position 0. */
  from?: LogPoint;
  /** Default: the head. */
  to?: LogPoint;
}

export interface SubscribeOptions {
  /** Every matching event with position > this. Default 0 (the whole log). */
  fromPosition?: Uint64;
  /** Instead: from the first event recorded at or after this time (µs since the epoch). */
  fromTimeUs?: Uint64;
  filter?: Filter;
  /** Ends the subscription (the iterator returns). */
  signal?: AbortSignal;
}

/** What a subscription delivers, in log order. */
export type SubscriptionItem =
  | { kind: 'event'; position: bigint; event: RecordedEvent }
  /** Every matching event <= position was delivered; a filter skipped the rest. */
  | { kind: 'checkpoint'; position: bigint }
  /** History is exhausted (once per connection): live from here. */
  | { kind: 'caughtUp'; position: bigint };
