// How one gRPC call is made: the bearer token, the deadline, and the one
// place a grpc-js error becomes a typed VigilError. Shared by the client,
// subscriptions and append sessions.
import * as grpc from '@grpc/grpc-js';

import { Code, errorFromStatus, InvalidArgumentError, VigilError } from './errors.js';
import { EventStoreStub } from './proto.js';
import { CallOptions } from './types.js';

/** The trailer naming the stream's actual last revision on ABORTED. */
export const kActualRevisionTrailer = 'vigil-actual-revision';

/** What every call of one client shares. */
export interface CallContext {
  stub: EventStoreStub;
  token: string | undefined;
  defaultTimeoutMs: number;
}

export function metadata(context: CallContext): grpc.Metadata {
  const result = new grpc.Metadata();
  if (context.token !== undefined) result.set('authorization', `Bearer ${context.token}`);
  return result;
}

/** The call's deadline in epoch ms: `deadline`, else now + `timeoutMs`, else now + the client's default. */
export function deadlineOf(options: CallOptions | undefined, defaultTimeoutMs: number): number {
  if (options?.deadline !== undefined) {
    if (!(options.deadline instanceof Date) || Number.isNaN(options.deadline.getTime())) {
      throw new InvalidArgumentError('deadline: must be a valid Date');
    }
    return options.deadline.getTime();
  }
  const timeout = options?.timeoutMs ?? defaultTimeoutMs;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidArgumentError(`timeoutMs: must be a positive number, not ${timeout}`);
  }
  return Date.now() + timeout;
}

function firstString(metadata: grpc.Metadata | undefined, key: string): string | undefined {
  const value = metadata?.get(key)[0];
  return value === undefined ? undefined : value.toString();
}

/** A grpc-js failure (a ServiceError, or anything thrown around a call) as a VigilError. */
export function errorFromGrpc(error: unknown, stream?: string): VigilError {
  if (error instanceof VigilError) return error;
  const service = error as Partial<grpc.ServiceError>;
  if (typeof service.code !== 'number') {
    return new VigilError(Code.UNKNOWN, error instanceof Error ? error.message : String(error), stream);
  }
  const retryAfter = firstString(service.metadata, 'vigil-retry-after');
  return errorFromStatus({
    code: service.code,
    message: service.details ?? service.message ?? '',
    stream,
    actualRevision: firstString(service.metadata, kActualRevisionTrailer),
    retryAfterMs: retryAfter !== undefined && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined,
  });
}

/** One unary call, its failure typed. */
/** Cancels `call` when `signal` aborts, until the returned function is called. */
export function cancelOnAbort(call: grpc.Call, signal: AbortSignal | undefined): () => void {
  if (signal === undefined) return () => {};
  const cancel = (): void => call.cancel();
  if (signal.aborted) cancel();
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

/** One unary call, its failure typed; `signal` cancels it. */
export function unary<Req, Res>(
  context: CallContext,
  method: string,
  request: Req,
  deadline: number,
  signal: AbortSignal | undefined,
  stream?: string,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const start = context.stub[method] as (
      request: Req, metadata: grpc.Metadata, options: grpc.CallOptions,
      callback: (error: grpc.ServiceError | null, response?: Res) => void) => grpc.Call;
    let done = (): void => {};
    const call = start.call(context.stub, request, metadata(context), { deadline }, (error, response) => {
      done();
      if (error !== null) reject(errorFromGrpc(error, stream));
      else resolve(response as Res);
    });
    done = cancelOnAbort(call, signal);
  });
}

/** One server-streaming call read to its end, its failure typed; `signal` cancels it. */
export async function collect<Req, Res>(
  context: CallContext,
  method: string,
  request: Req,
  deadline: number,
  signal: AbortSignal | undefined,
  stream?: string,
): Promise<Res[]> {
  const start = context.stub[method] as (
    request: Req, metadata: grpc.Metadata, options: grpc.CallOptions) => grpc.ClientReadableStream<Res>;
  const call = start.call(context.stub, request, metadata(context), { deadline });
  const done = cancelOnAbort(call, signal);
  const results: Res[] = [];
  try {
    for await (const message of call) results.push(message as Res);
  } catch (error) {
    throw errorFromGrpc(error, stream);
  } finally {
    done();
  }
  return results;
}
