// When and how long to wait before trying again: the one retry policy that
// unary calls, subscriptions and append sessions share.
import { Code, RateLimitedError, UnavailableError, VigilError } from './errors.js';

/** How failed attempts are retried. Every field has a default (below). */
export interface RetryOptions {
  /** Attempts in all, the first included; 1 disables retries. Default 6 (as the Python client). */
  maxAttempts: number;
  /** The wait before the second attempt, before jitter. Default 100 ms. */
  initialBackoffMs: number;
  /** The longest wait between attempts, before jitter. Default 5,000 ms. */
  maxBackoffMs: number;
  /** Each wait is this many times the last. Default 2. */
  multiplier: number;
}

export const kDefaultRetry: Readonly<RetryOptions> = Object.freeze({
  maxAttempts: 6,
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  multiplier: 2,
});

/** Checks a partial policy and fills in the defaults. */
export function retryOptions(partial: Partial<RetryOptions> | undefined): RetryOptions {
  const options = { ...kDefaultRetry, ...partial };
  const positive = (name: keyof RetryOptions, min: number): void => {
    if (!Number.isFinite(options[name]) || options[name] < min) {
      throw new TypeError(`retry.${name}: must be a number >= ${min}, not ${String(options[name])}`);
    }
  };
  positive('maxAttempts', 1);
  positive('initialBackoffMs', 0);
  positive('maxBackoffMs', 0);
  positive('multiplier', 1);
  if (!Number.isInteger(options.maxAttempts)) {
    throw new TypeError(`retry.maxAttempts: must be an integer, not ${options.maxAttempts}`);
  }
  return options;
}

/**
 * Whether a failed attempt may be tried again: UNAVAILABLE, rate limits,
 * and CANCELLED — which callers see only when the client did not cancel
 * (they check their own AbortSignal first): vigild cancels the calls still
 * running when its shutdown grace ends. Never ABORTED,
 * FAILED_PRECONDITION, INVALID_ARGUMENT or any other code: trying again
 * would fail the same way.
 */
export function isRetryable(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof RateLimitedError ||
    (error instanceof VigilError && error.code === Code.CANCELLED);
}

/**
 * The wait before attempt `retry` + 1 (`retry` counts from 0): exponential
 * with "equal jitter" (half the step fixed, half random), so clients that
 * failed together spread out without ever retrying at once. A server hint
 * (RateLimitedError.retryAfterMs) is a floor.
 */
export function backoffMs(
  retry: number,
  options: RetryOptions,
  error?: unknown,
  random: () => number = Math.random,
): number {
  const step = Math.min(options.maxBackoffMs, options.initialBackoffMs * options.multiplier ** retry);
  const jittered = step / 2 + (random() * step) / 2;
  const hint = error instanceof RateLimitedError ? (error.retryAfterMs ?? 0) : 0;
  return Math.max(hint, jittered);
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not
 * retryable, runs out of attempts, or the next wait would end past
 * `deadline` (epoch ms); then throws the last error. `attempt` must turn
 * failures into VigilError (errors.ts).
 */
export async function withRetries<T>(
  attempt: (index: number) => Promise<T>,
  options: RetryOptions,
  deadline: number,
  signal?: AbortSignal,
): Promise<T> {
  for (let index = 0; ; ++index) {
    try {
      return await attempt(index);
    } catch (error) {
      if (signal?.aborted === true || !isRetryable(error) || index + 1 >= options.maxAttempts) throw error;
      const wait = backoffMs(index, options, error);
      if (Date.now() + wait >= deadline) throw error;
      await sleep(wait, signal);
    }
  }
}
