// @vigil/client: Vigil's TypeScript client (README.md).
export { VigilClient, kDefaultTimeoutMs } from './client.js';
export type { ClientOptions } from './client.js';
export { AppendSession, kDefaultSessionInFlight } from './session.js';
export type { AppendSessionOptions } from './session.js';
export * from './errors.js';
export { kDefaultRetry, isRetryable } from './retry.js';
export type { RetryOptions } from './retry.js';
export * from './types.js';
export * from './events.js';
export { openLiveFeed, kDefaultLiveBuffer } from './live.js';
export type { LiveFeed, LiveFrame, LiveOptions, LiveSocket, LiveSocketConstructor } from './live.js';
