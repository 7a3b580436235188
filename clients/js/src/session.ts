// An append session: many appends in flight on one AppendSession call,
// each answered by correlation id in any order. At most `maxInFlight`
// appends are sent and unanswered; `append` waits for a free slot beyond
// that, so memory is bounded by the caller's own concurrency. Each append
// keeps its idempotency key across retries: an append answered UNAVAILABLE
// or rate limited is sent again after a backoff, and when the call itself
// breaks (server restart, dropped connection) a new call is opened and
// every unanswered append is sent again (the key makes that safe).
import * as grpc from '@grpc/grpc-js';

import { CallContext, deadlineOf, errorFromGrpc, metadata } from './call.js';
import { DeadlineExceededError, errorFromStatus, UnavailableError, VigilError } from './errors.js';
import { appendResultFromWire, WireAppendRequest, WireAppendSessionResponse } from './proto.js';
import { appendRequest } from './requests.js';
import { backoffMs, isRetryable, RetryOptions, sleep } from './retry.js';
import { AppendOptions, AppendResult, EventInput } from './types.js';

export interface AppendSessionOptions {
  /** Appends sent and not yet answered, at most. Default 256; at least 1. */
  maxInFlight?: number;
}

export const kDefaultSessionInFlight = 256;

interface Pending {
  request: WireAppendRequest;
  deadline: number;
  failures: number;
  timer: NodeJS.Timeout;
  resolve: (result: AppendResult) => void;
  reject: (error: VigilError) => void;
}

type BidiCall = grpc.ClientDuplexStream<unknown, WireAppendSessionResponse>;

export class AppendSession {
  private readonly maxInFlight: number;
  // Sent (or waiting to be sent again), not answered; by correlation id.
  private readonly pending = new Map<string, Pending>();
  // Callers of append() waiting for a slot.
  private readonly waiters: Array<() => void> = [];
  private nextCorrelationId = 1n;
  private inFlight = 0;
  private call: BidiCall | undefined;
  private callFailures = 0;
  private reopening = false;
  private closed = false;
  private drained: (() => void) | undefined;

  /** Use VigilClient.appendSession(). */
  constructor(
    private readonly context: CallContext,
    private readonly retry: RetryOptions,
    options: AppendSessionOptions = {},
  ) {
    const max = options.maxInFlight ?? kDefaultSessionInFlight;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new TypeError(`maxInFlight: must be an integer >= 1, not ${max}`);
    }
    this.maxInFlight = max;
  }

  /** Appends currently sent and unanswered. */
  get size(): number {
    return this.inFlight;
  }

  /**
   * As VigilClient.append, on this session: checked before anything is
   * sent, the idempotency key made here when none is given, resolved when
   * its answer comes. Waits for a free slot while maxInFlight are unanswered.
   */
  async append(stream: string, events: EventInput[], options: AppendOptions = {}): Promise<AppendResult> {
    const request = appendRequest(stream, events, options);
    const deadline = deadlineOf(options, this.context.defaultTimeoutMs);
    if (this.closed) throw new VigilError(9, 'the append session is closed', request.stream);
    if (this.inFlight >= this.maxInFlight) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
      if (this.closed) throw new VigilError(9, 'the append session is closed', request.stream);
    }
    if (Date.now() >= deadline) {
      throw new DeadlineExceededError('the deadline passed while waiting for a free slot; nothing was sent',
        request.stream);
    }
    ++this.inFlight;
    return new Promise<AppendResult>((resolve, reject) => {
      const id = (this.nextCorrelationId++).toString();
      const timer = setTimeout(() => {
        this.settle(id, undefined, new DeadlineExceededError(
          `no answer before the deadline (the append may still be written: retry with idempotency key ${request.idempotency_key})`,
          request.stream));
      }, Math.max(0, deadline - Date.now()));
      this.pending.set(id, { request, deadline, failures: 0, timer, resolve, reject });
      this.send(id);
    });
  }

  /** Waits for every append's answer, then ends the call. Later appends are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiters.splice(0)) wake();
    if (this.pending.size > 0) await new Promise<void>((resolve) => { this.drained = resolve; });
    const call = this.call;
    this.call = undefined;
    if (call !== undefined) {
      await new Promise<void>((resolve) => {
        call.once('status', () => resolve());
        call.once('error', () => resolve());
        call.end();
      });
    }
  }

  private ensureCall(): BidiCall {
    if (this.call !== undefined) return this.call;
    const start = this.context.stub.AppendSession as (m: grpc.Metadata) => BidiCall;
    const call = start.call(this.context.stub, metadata(this.context));
    call.on('data', (response: WireAppendSessionResponse) => this.onResponse(response));
    // 'status' comes once, last, with the call's final status; 'error' repeats it.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      this.onCallEnd(call, status.code === grpc.status.OK
        ? new UnavailableError('the append session ended with appends unanswered')
        : errorFromGrpc(status));
    });
    this.call = call;
    return call;
  }

  private send(id: string): void {
    const entry = this.pending.get(id);
    if (entry === undefined || this.reopening) return; // reopening sends every pending append
    try {
      this.ensureCall().write({ correlation_id: id, append: entry.request });
    } catch (error) {
      // No call can be made (the client was closed): nothing pending will be answered.
      const typed = errorFromGrpc(error, entry.request.stream);
      for (const pending of [...this.pending.keys()]) this.settle(pending, undefined, typed);
    }
  }

  private onResponse(response: WireAppendSessionResponse): void {
    this.callFailures = 0;
    const id = response.correlation_id;
    const entry = this.pending.get(id);
    if (entry === undefined) return; // answered after its deadline
    if (response.result === 'ok' && response.ok !== null) {
      this.settle(id, appendResultFromWire(response.ok));
      return;
    }
    const error = errorFromStatus({
      code: response.error?.code ?? 2,
      message: response.error?.message ?? 'an answer with neither ok nor error',
      stream: entry.request.stream,
      actualRevision: response.error?.actual_revision || undefined,
    });
    if (!isRetryable(error) || ++entry.failures >= this.retry.maxAttempts) {
      this.settle(id, undefined, error);
      return;
    }
    const wait = backoffMs(entry.failures - 1, this.retry, error);
    if (Date.now() + wait >= entry.deadline) {
      this.settle(id, undefined, error);
      return;
    }
    // Sent again under a new correlation id, so no late answer can be mistaken for it.
    this.pending.delete(id);
    const retryId = (this.nextCorrelationId++).toString();
    this.pending.set(retryId, entry);
    setTimeout(() => this.send(retryId), wait);
  }

  private onCallEnd(call: BidiCall, error: VigilError): void {
    if (call !== this.call) return;
    this.call = undefined;
    if (this.pending.size === 0) return;
    if (!isRetryable(error) || ++this.callFailures >= this.retry.maxAttempts) {
      for (const id of [...this.pending.keys()]) this.settle(id, undefined, error);
      return;
    }
    this.reopening = true;
    void sleep(backoffMs(this.callFailures - 1, this.retry, error)).then(() => {
      this.reopening = false;
      for (const id of [...this.pending.keys()]) this.send(id);
    });
  }

  private settle(id: string, result: AppendResult | undefined, error?: VigilError): void {
    const entry = this.pending.get(id);
    if (entry === undefined) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    --this.inFlight;
    if (error !== undefined) entry.reject(error);
    else entry.resolve(result as AppendResult);
    this.waiters.shift()?.();
    if (this.pending.size === 0 && this.drained !== undefined) {
      const drained = this.drained;
      this.drained = undefined;
      drained();
    }
  }
}
