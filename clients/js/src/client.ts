// VigilClient: Vigil's gRPC API (vigil.v1.EventStore) with the right
// defaults — an idempotency key per logical append, retries with backoff
// on UNAVAILABLE and rate limits only, typed errors, deadlines, bearer
// tokens, subscriptions that resume, append sessions. One client holds one
// gRPC channel; it may be used by any number of concurrent calls.
import * as grpc from '@grpc/grpc-js';

import { CallContext, collect, deadlineOf, unary } from './call.js';
import { InvalidArgumentError } from './errors.js';
import {
  appendResultFromWire,
  eventStoreStub,
  recordedEventFromWire,
  streamInfoFromWire,
  WireAppendResponse,
  WireRecordedEvent,
  WireStreamInfo,
} from './proto.js';
import { appendRequest, checkStream, filter, logPoint, uint64 } from './requests.js';
import { RetryOptions, retryOptions, withRetries } from './retry.js';
import { AppendSession, AppendSessionOptions } from './session.js';
import { subscribe } from './subscription.js';
import {
  AppendOptions,
  AppendResult,
  CallOptions,
  DiffOptions,
  EventInput,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StateAtOptions,
  StreamInfo,
  SubscribeOptions,
  SubscriptionItem,
} from './types.js';

export interface ClientOptions {
  /** vigild's gRPC address, `host:port` (default port 7600). */
  address: string;
  /** Sent as `authorization: Bearer <token>` on every call. Default: none (anonymous, loopback servers only). */
  token?: string;
  /** Default: plaintext (grpc.credentials.createInsecure()). */
  credentials?: grpc.ChannelCredentials;
  /** A logical call's deadline, retries included, when the call names none. Default 30,000 ms. */
  timeoutMs?: number;
  /** Retry policy (retry.ts); defaults: 6 attempts, 100 ms doubling to 5 s, equal jitter. */
  retry?: Partial<RetryOptions>;
  /**
   * Passed to the grpc-js channel. Defaults: 64 MiB messages each way (an
   * append may be 4 MiB + events); reconnect backoff from the retry
   * policy's initialBackoffMs to its maxBackoffMs.
   */
  channelOptions?: grpc.ChannelOptions;
}

export const kDefaultTimeoutMs = 30_000;

export class VigilClient {
  private readonly context: CallContext;
  private readonly retry: RetryOptions;

  constructor(options: ClientOptions) {
    if (typeof options?.address !== 'string' || options.address.length === 0) {
      throw new TypeError('address: must be "host:port"');
    }
    if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length === 0)) {
      throw new TypeError('token: must be a non-empty string');
    }
    const timeout = options.timeoutMs ?? kDefaultTimeoutMs;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new TypeError(`timeoutMs: must be positive, not ${timeout}`);
    this.retry = retryOptions(options.retry);
    const Stub = eventStoreStub();
    const stub = new Stub(options.address, options.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.max_send_message_length': 64 << 20,
      // The channel's own reconnect backoff (grpc-js: 1 s growing to 120 s)
      // would let retries fail fast against a channel that does not try to
      // connect; keep it within the retry policy's.
      'grpc.initial_reconnect_backoff_ms': Math.max(1, this.retry.initialBackoffMs),
      'grpc.max_reconnect_backoff_ms': Math.max(1, this.retry.maxBackoffMs),
      ...options.channelOptions,
    });
    this.context = { stub, token: options.token, defaultTimeoutMs: timeout };
  }

  /** Closes the channel; calls in flight fail with CANCELLED or UNAVAILABLE. */
  close(): void {
    this.context.stub.close();
  }

  /**
   * Appends `events` to `stream` atomically. The idempotency key (made here
   * when not given) is the same on every retry, so a retried append is
   * written once; a retry answered from the first attempt has
   * `deduplicated: true` and the first attempt's positions. Throws
   * InvalidArgumentError before sending for a bad argument,
   * WrongExpectedRevisionError, IdempotencyConflictError,
   * PermissionDeniedError, ... (errors.ts).
   */
  async append(stream: string, events: EventInput[], options: AppendOptions = {}): Promise<AppendResult> {
    const request = appendRequest(stream, events, options);
    const deadline = deadlineOf(options, this.context.defaultTimeoutMs);
    const wire = await withRetries(
      () => unary<unknown, WireAppendResponse>(this.context, 'Append', request, deadline, options.signal, request.stream),
      this.retry, deadline, options.signal);
    return appendResultFromWire(wire);
  }

  /** Events of `stream` (at most maxCount; 0: the server's 10,000). NotFoundError for a missing stream. */
  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const name = checkStream(stream);
    const request = {
      stream: name,
      from_revision: uint64('fromRevision', options.fromRevision, name),
      max_count: uint64('maxCount', options.maxCount, name),
      backwards: options.backwards === true,
    };
    return this.read('ReadStream', request, options, name);
  }

  /** Events of every stream with position >= fromPosition, up to the head at the time of the call. */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const request = {
      from_position: uint64('fromPosition', options.fromPosition),
      max_count: uint64('maxCount', options.maxCount),
      filter: filter(options.filter),
    };
    return this.read('ReadAll', request, options);
  }

  /** The stream's last revision and position, its size and times. NotFoundError for a missing stream. */
  async getStream(stream: string, options: CallOptions = {}): Promise<StreamInfo> {
    const name = checkStream(stream);
    const deadline = deadlineOf(options, this.context.defaultTimeoutMs);
    const wire = await withRetries(
      () => unary<unknown, WireStreamInfo>(this.context, 'GetStream', { stream: name }, deadline, options.signal, name),
      this.retry, deadline, options.signal);
    return streamInfoFromWire(wire);
  }

  /**
   * Time travel: the read models at a point of the log, as the JSON
   * GET /v1/state answers (parsed). UnimplementedError when the server
   * runs without time travel.
   */
  async stateAt(options: StateAtOptions = {}): Promise<unknown> {
    if (options.agentId !== undefined && options.taskId !== undefined) {
      throw new InvalidArgumentError('stateAt: at most one of agentId and taskId');
    }
    const request = {
      at: logPoint('at', options.at),
      agent_id: options.agentId ?? '',
      task_id: options.taskId ?? '',
      task_limit: uint64('taskLimit', options.taskLimit),
      trace_id: options.traceId ?? '',
    };
    return this.json('StateAt', request, options);
  }

  /** The entities that changed between two points, as the JSON GET /v1/diff answers (parsed). */
  async diff(options: DiffOptions = {}): Promise<unknown> {
    const request = { from: logPoint('from', options.from), to: logPoint('to', options.to) };
    return this.json('Diff', request, options);
  }

  /**
   * Every matching event after fromPosition, history then live, with
   * checkpoints and caught_up, as an async iterator that resumes from the
   * last position it delivered after a dropped connection or a server
   * restart: no gap, no duplicate. Break out of the loop (or abort
   * `signal`) to end it.
   */
  subscribe(options: SubscribeOptions = {}): AsyncGenerator<SubscriptionItem, void, undefined> {
    return subscribe(this.context, this.retry, options);
  }

  /** A session of many appends in flight on one call (session.ts). Close it when done. */
  appendSession(options: AppendSessionOptions = {}): AppendSession {
    return new AppendSession(this.context, this.retry, options);
  }

  private async read(method: string, request: unknown, options: CallOptions, stream?: string): Promise<RecordedEvent[]> {
    const deadline = deadlineOf(options, this.context.defaultTimeoutMs);
    const wire = await withRetries(
      () => collect<unknown, WireRecordedEvent>(this.context, method, request, deadline, options.signal, stream),
      this.retry, deadline, options.signal);
    return wire.map(recordedEventFromWire);
  }

  private async json(method: string, request: unknown, options: CallOptions): Promise<unknown> {
    const deadline = deadlineOf(options, this.context.defaultTimeoutMs);
    const wire = await withRetries(
      () => unary<unknown, { json: string }>(this.context, method, request, deadline, options.signal),
      this.retry, deadline, options.signal);
    return JSON.parse(wire.json);
  }
}
