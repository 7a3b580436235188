// The EventStore service loaded with @grpc/proto-loader from
// proto/vigil/v1/event_store.proto (copied from the repository's
// schemas/vigil/v1/ at build time), the wire shapes it produces, and their
// conversion to the public types (types.ts).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import { AppendResult, RecordedEvent, StreamInfo } from './types.js';

// Wire shapes: field names as in the proto, uint64/int64 as decimal strings,
// bytes as Buffers, unset scalars as their defaults, `oneof` names set.
export interface WireAppendRequest {
  stream: string;
  expected_revision: Record<string, unknown>;
  idempotency_key: string;
  events: Array<{ event_id: string; type: string; data: Uint8Array; content_type: string; metadata: Uint8Array }>;
}
export interface WireAppendResponse {
  first_position: string;
  last_position: string;
  next_expected_revision: string;
  deduplicated: boolean;
}
export interface WireRecordedEvent {
  event_id: string;
  stream: string;
  revision: string;
  position: string;
  type: string;
  data: Buffer;
  content_type: string;
  metadata: Buffer;
  recorded_time_us: string;
  hash: Buffer;
}
export interface WireStreamInfo {
  stream: string;
  last_revision: string;
  last_position: string;
  event_count: string;
  created_time_us: string;
  updated_time_us: string;
}
export interface WireSubscribeResponse {
  kind: 'event' | 'checkpoint' | 'caught_up';
  event: WireRecordedEvent | null;
  checkpoint: string;
  caught_up: string;
}
export interface WireAppendSessionResponse {
  correlation_id: string;
  result: 'ok' | 'error';
  ok: WireAppendResponse | null;
  error: { code: number; message: string; actual_revision: string } | null;
}

/** The generated service client constructor (grpc-js's dynamic stubs). */
export type EventStoreStub = grpc.Client & Record<string, (...args: unknown[]) => unknown>;
type StubConstructor = new (address: string, credentials: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions) => EventStoreStub;

let stubConstructor: StubConstructor | undefined;

/** The EventStore client constructor, loaded once per process. */
export function eventStoreStub(): StubConstructor {
  if (stubConstructor !== undefined) return stubConstructor;
  const here = dirname(fileURLToPath(import.meta.url));
  const definition = protoLoader.loadSync(join(here, '..', 'proto', 'vigil', 'v1', 'event_store.proto'), {
    keepCase: true,
    longs: String,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    vigil: { v1: { EventStore: StubConstructor } };
  };
  stubConstructor = loaded.vigil.v1.EventStore;
  return stubConstructor;
}

export function appendResultFromWire(wire: WireAppendResponse): AppendResult {
  return {
    firstPosition: BigInt(wire.first_position),
    lastPosition: BigInt(wire.last_position),
    nextExpectedRevision: BigInt(wire.next_expected_revision),
    deduplicated: wire.deduplicated,
  };
}

export function recordedEventFromWire(wire: WireRecordedEvent): RecordedEvent {
  return new RecordedEvent(
    wire.event_id,
    wire.stream,
    BigInt(wire.revision),
    BigInt(wire.position),
    wire.type,
    new Uint8Array(wire.data),
    wire.content_type,
    new Uint8Array(wire.metadata),
    BigInt(wire.recorded_time_us),
    new Uint8Array(wire.hash),
  );
}

export function streamInfoFromWire(wire: WireStreamInfo): StreamInfo {
  return {
    stream: wire.stream,
    lastRevision: BigInt(wire.last_revision),
    lastPosition: BigInt(wire.last_position),
    eventCount: BigInt(wire.event_count),
    createdTimeUs: BigInt(wire.created_time_us),
    updatedTimeUs: BigInt(wire.updated_time_us),
  };
}
