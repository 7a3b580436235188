// A subscription as an async iterator that survives dropped connections:
// it remembers the last position it delivered (an event's, a checkpoint's
// or caught_up's) and, after a retryable failure (retry.ts), subscribes
// again from there, so the caller sees every matching event once, in
// order. Flow control is the stream's own: the next message is read only
// when the caller asks for the next item (Node's readable buffer, 16
// messages at most, sits in between).
import * as grpc from '@grpc/grpc-js';

import { CallContext, cancelOnAbort, errorFromGrpc, metadata } from './call.js';
import { recordedEventFromWire, WireSubscribeResponse } from './proto.js';
import { filter as wireFilter, uint64 } from './requests.js';
import { backoffMs, isRetryable, RetryOptions, sleep } from './retry.js';
import { SubscribeOptions, SubscriptionItem } from './types.js';

function itemFromWire(wire: WireSubscribeResponse): SubscriptionItem | undefined {
  switch (wire.kind) {
    case 'event':
      if (wire.event === null) return undefined;
      return { kind: 'event', position: BigInt(wire.event.position), event: recordedEventFromWire(wire.event) };
    case 'checkpoint':
      return { kind: 'checkpoint', position: BigInt(wire.checkpoint) };
    case 'caught_up':
      return { kind: 'caughtUp', position: BigInt(wire.caught_up) };
    default:
      return undefined;
  }
}

/**
 * The items of a subscription, resumed after each retryable failure.
 * Throws the failure when it is not retryable, or after
 * `retry.maxAttempts` attempts in a row that delivered nothing. Returns
 * when `options.signal` aborts. Arguments are checked before the first call.
 */
export function subscribe(
  context: CallContext,
  retry: RetryOptions,
  options: SubscribeOptions = {},
): AsyncGenerator<SubscriptionItem, void, undefined> {
  let from = BigInt(uint64('fromPosition', options.fromPosition));
  const fromTimeUs = options.fromTimeUs === undefined ? undefined : uint64('fromTimeUs', options.fromTimeUs);
  const filter = wireFilter(options.filter);
  const signal = options.signal;
  const aborted = (): boolean => signal?.aborted === true;
  return (async function* run() {
    let delivered = false;
    let failures = 0;
    while (!aborted()) {
      const request = {
        from_position: from.toString(),
        // Only until something was delivered: from then on the position is exact.
        from_time_us: delivered || fromTimeUs === undefined ? '0' : fromTimeUs,
        filter,
      };
      const call = (context.stub.Subscribe as (r: unknown, m: grpc.Metadata) => grpc.ClientReadableStream<WireSubscribeResponse>)
        .call(context.stub, request, metadata(context));
      const done = cancelOnAbort(call, signal);
      try {
        for await (const wire of call) {
          const item = itemFromWire(wire as WireSubscribeResponse);
          if (item === undefined) continue;
          failures = 0;
          // The server sends events after `from`; one at or before it was delivered already.
          if (item.kind === 'event' && item.position <= from) continue;
          if (item.position > from) from = item.position;
          delivered = true;
          yield item;
        }
        return; // the server ended the stream without an error: nothing follows
      } catch (error) {
        if (aborted()) return;
        const typed = errorFromGrpc(error);
        if (!isRetryable(typed) || ++failures >= retry.maxAttempts) throw typed;
        try {
          await sleep(backoffMs(failures - 1, retry, typed), signal);
        } catch {
          return; // aborted while waiting
        }
      } finally {
        done();
        call.cancel();
      }
    }
  })();
}
