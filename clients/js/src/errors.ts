// Typed errors: one class per way a call can fail that a caller handles
// differently. Each carries the server's google.rpc.Code (`code`, `codeName`)
// and message, and, where one is involved, the stream. Built from a gRPC
// status in exactly one place (errorFromStatus), which Append, reads,
// subscriptions and append sessions all share.

/** google.rpc.Code values the client tells apart. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const codeNames: ReadonlyMap<number, string> = new Map(
  Object.entries(Code).map(([name, value]) => [value, name]),
);

/** Every error this library throws. */
export class VigilError extends Error {
  /** The google.rpc.Code (Code.INVALID_ARGUMENT for a check made before sending). */
  readonly code: number;
  /** The stream the call was about, when it was about one. */
  readonly stream: string | undefined;

  constructor(code: number, message: string, stream?: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.stream = stream;
  }

  /** `ABORTED`, `UNAVAILABLE`, ... */
  get codeName(): string {
    return codeNames.get(this.code) ?? `CODE_${this.code}`;
  }
}

/** A bad argument: found by the client before sending, or by the server. */
export class InvalidArgumentError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.INVALID_ARGUMENT, message, stream);
  }
}

/**
 * The expected revision did not match (ABORTED); nothing was appended.
 * `actualRevision` is the stream's last revision, or null when the stream
 * does not exist (`vigil-actual-revision: none`) or the server sent none.
 */
export class WrongExpectedRevisionError extends VigilError {
  readonly actualRevision: bigint | null;
  constructor(message: string, stream: string | undefined, actualRevision: bigint | null) {
    super(Code.ABORTED, message, stream);
    this.actualRevision = actualRevision;
  }
}

/** The idempotency key is already bound to a different request (FAILED_PRECONDITION). */
export class IdempotencyConflictError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.FAILED_PRECONDITION, message, stream);
  }
}

/** A missing stream (ReadStream, GetStream), agent or task (StateAt). */
export class NotFoundError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.NOT_FOUND, message, stream);
  }
}

/** The token's role may not do this, or the stream is reserved (`$...`). */
export class PermissionDeniedError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.PERMISSION_DENIED, message, stream);
  }
}

/** Tokens are configured and none, or an unknown one, was sent. */
export class UnauthenticatedError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.UNAUTHENTICATED, message, stream);
  }
}

/**
 * RESOURCE_EXHAUSTED that waiting cures: the token's append rate, too many
 * appends queued, readers busy. Retried. `retryAfterMs` is the server's
 * hint when it gave one.
 */
export class RateLimitedError extends VigilError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, stream: string | undefined, retryAfterMs: number | undefined) {
    super(Code.RESOURCE_EXHAUSTED, message, stream);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * RESOURCE_EXHAUSTED that waiting does not cure: an event or append over a
 * size limit, an append larger than the rate limit's burst. Not retried.
 */
export class TooLargeError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.RESOURCE_EXHAUSTED, message, stream);
  }
}

/** The server is unreachable, shutting down, or its storage failed. Retried. */
export class UnavailableError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.UNAVAILABLE, message, stream);
  }
}

/** The call's deadline passed (its last attempt's status, or the client's own timer). */
export class DeadlineExceededError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.DEADLINE_EXCEEDED, message, stream);
  }
}

/** The server runs without this feature (e.g. StateAt without time travel). */
export class UnimplementedError extends VigilError {
  constructor(message: string, stream?: string) {
    super(Code.UNIMPLEMENTED, message, stream);
  }
}

// vigild's size-limit messages ("..., limit is N"; "exceeds the rate
// limit's burst of N") and gRPC's own ("Received message larger than max
// (N vs. M)"): RESOURCE_EXHAUSTED that no wait cures.
const kLimitMessage = /limit is \d+|exceeds the rate limit's burst|larger than max/;
// vigild's rate-limit hints: "retry after 2 s", "retry in a second".
const kRetryAfterMessage = /retry after (\d+(?:\.\d+)?) s/;

/** The wait a RESOURCE_EXHAUSTED message asks for, in ms, if any. */
function retryHintMs(message: string): number | undefined {
  const match = kRetryAfterMessage.exec(message);
  if (match?.[1] !== undefined) return Math.round(Number(match[1]) * 1000);
  if (message.includes('retry in a second')) return 1000;
  return undefined;
}

/** The `vigil-actual-revision` value (a revision or `none`) as a revision. */
function parseActualRevision(text: string | undefined): bigint | null {
  if (text === undefined || !/^\d+$/.test(text)) return null;
  return BigInt(text);
}

/**
 * The typed error for a failed status. `actualRevision` is the
 * `vigil-actual-revision` trailer (or AppendError.actual_revision);
 * `retryAfterMs` the server's hint (vigild's `vigil-retry-after` trailer,
 * in seconds, on a rate-limited call; absent on a size limit); a session's
 * AppendError has no trailers, so there the hint is read from the message.
 */
export function errorFromStatus(status: {
  code: number;
  message: string;
  stream?: string | undefined;
  actualRevision?: string | undefined;
  retryAfterMs?: number | undefined;
}): VigilError {
  const { code, message, stream } = status;
  switch (code) {
    case Code.INVALID_ARGUMENT:
      return new InvalidArgumentError(message, stream);
    case Code.ABORTED:
      return new WrongExpectedRevisionError(message, stream, parseActualRevision(status.actualRevision));
    case Code.FAILED_PRECONDITION:
      return new IdempotencyConflictError(message, stream);
    case Code.NOT_FOUND:
      return new NotFoundError(message, stream);
    case Code.PERMISSION_DENIED:
      return new PermissionDeniedError(message, stream);
    case Code.UNAUTHENTICATED:
      return new UnauthenticatedError(message, stream);
    case Code.RESOURCE_EXHAUSTED:
      if (status.retryAfterMs === undefined && kLimitMessage.test(message)) {
        return new TooLargeError(message, stream);
      }
      return new RateLimitedError(message, stream, status.retryAfterMs ?? retryHintMs(message));
    case Code.UNAVAILABLE:
      return new UnavailableError(message, stream);
    case Code.DEADLINE_EXCEEDED:
      return new DeadlineExceededError(message, stream);
    case Code.UNIMPLEMENTED:
      return new UnimplementedError(message, stream);
    default:
      return new VigilError(code, message, stream);
  }
}
