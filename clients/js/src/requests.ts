// Arguments checked and turned into wire requests before anything is sent:
// a bad argument throws InvalidArgumentError here, naming the argument,
// and the server never sees the call. The server checks again (it is the
// authority); these are the checks that need no server state.
import { randomUUID } from 'node:crypto';

import { InvalidArgumentError } from './errors.js';
import { WireAppendRequest } from './proto.js';
import { AppendOptions, EventInput, ExpectedRevision, Filter, LogPoint, Uint64 } from './types.js';

const kStreamName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/;
const kEventType = /^[A-Za-z][A-Za-z0-9_.-]{0,99}$/;
const kUuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const kIdempotencyKey = /^[\x20-\x7e]{1,255}$/;
const kMaxUint64 = (1n << 64n) - 1n;

/** A uint64 argument as decimal text. */
export function uint64(name: string, value: Uint64 | undefined, stream?: string): string {
  if (value === undefined) return '0';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(`${name}: must be a non-negative safe integer or a bigint, not ${value}`, stream);
    }
    return String(value);
  }
  if (typeof value !== 'bigint' || value < 0n || value > kMaxUint64) {
    throw new InvalidArgumentError(`${name}: must be a uint64, not ${String(value)}`, stream);
  }
  return value.toString();
}

/** A stream name as the contract allows it (reserved `$` names are the server's to refuse). */
export function checkStream(stream: unknown): string {
  if (typeof stream !== 'string' || !(kStreamName.test(stream) || /^\$[A-Za-z0-9_.:-]{1,199}$/.test(stream))) {
    throw new InvalidArgumentError(
      `stream: must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,199}, not ${JSON.stringify(stream)}`);
  }
  return stream;
}

function expectedRevision(value: ExpectedRevision | undefined, stream: string): Record<string, unknown> {
  switch (value) {
    case undefined:
    case 'any':
      return { any: {} };
    case 'no_stream':
      return { no_stream: {} };
    case 'stream_exists':
      return { stream_exists: {} };
    default:
      if (typeof value === 'string') {
        throw new InvalidArgumentError(
          `expectedRevision: must be 'any', 'no_stream', 'stream_exists' or a revision, not ${JSON.stringify(value)}`,
          stream);
      }
      return { exact: uint64('expectedRevision', value, stream) };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function bytes(where: string, value: Record<string, unknown> | Uint8Array | undefined, stream: string): Uint8Array {
  if (value === undefined) return new Uint8Array();
  if (value instanceof Uint8Array) return value;
  if (!isPlainObject(value)) {
    throw new InvalidArgumentError(`${where}: must be a JSON object or a Uint8Array`, stream);
  }
  try {
    return new TextEncoder().encode(JSON.stringify(value));
  } catch (error) {
    throw new InvalidArgumentError(`${where}: not serializable as JSON (${(error as Error).message})`, stream);
  }
}

/** The wire AppendRequest for `append(stream, events, options)`, with an idempotency key made when none is given. */
export function appendRequest(stream: unknown, events: unknown, options: AppendOptions = {}): WireAppendRequest {
  const name = checkStream(stream);
  if (!Array.isArray(events) || events.length === 0) {
    throw new InvalidArgumentError('events: must be a non-empty array', name);
  }
  const key = options.idempotencyKey ?? randomUUID();
  if (typeof key !== 'string' || !kIdempotencyKey.test(key)) {
    throw new InvalidArgumentError('idempotencyKey: must be 1 to 255 printable ASCII characters', name);
  }
  const wireEvents = (events as unknown[]).map((event, index) => {
    const where = `events[${index}]`;
    if (!isPlainObject(event)) throw new InvalidArgumentError(`${where}: must be an object`, name);
    const input = event as unknown as EventInput;
    if (typeof input.type !== 'string' || !kEventType.test(input.type)) {
      throw new InvalidArgumentError(
        `${where}.type: must match [A-Za-z][A-Za-z0-9_.-]{0,99}, not ${JSON.stringify(input.type)}`, name);
    }
    if (input.eventId !== undefined && (typeof input.eventId !== 'string' || !kUuid.test(input.eventId))) {
      throw new InvalidArgumentError(`${where}.eventId: must be a UUID, not ${JSON.stringify(input.eventId)}`, name);
    }
    if (input.contentType !== undefined && typeof input.contentType !== 'string') {
      throw new InvalidArgumentError(`${where}.contentType: must be a string`, name);
    }
    return {
      event_id: input.eventId ?? '',
      type: input.type,
      data: bytes(`${where}.data`, input.data ?? {}, name),
      content_type: input.contentType ?? '',
      metadata: bytes(`${where}.metadata`, input.metadata, name),
    };
  });
  return {
    stream: name,
    expected_revision: expectedRevision(options.expectedRevision, name),
    idempotency_key: key,
    events: wireEvents,
  };
}

/** A Filter on the wire; each entry a non-empty string. */
export function filter(value: Filter | undefined): { stream_prefixes: string[]; event_types: string[] } {
  const list = (name: string, entries: string[] | undefined): string[] => {
    if (entries === undefined) return [];
    if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== 'string' || entry.length === 0)) {
      throw new InvalidArgumentError(`filter.${name}: must be an array of non-empty strings`);
    }
    return entries;
  };
  return { stream_prefixes: list('streamPrefixes', value?.streamPrefixes), event_types: list('eventTypes', value?.eventTypes) };
}

/** A LogPoint on the wire; undefined: unset (the head, or position 0 as Diff's `from`). */
export function logPoint(name: string, point: LogPoint | undefined): Record<string, string> | null {
  if (point === undefined) return null;
  if ('position' in point) return { position: uint64(`${name}.position`, point.position) };
  if ('timeUs' in point) return { time_us: uint64(`${name}.timeUs`, point.timeUs) };
  if ('time' in point && point.time instanceof Date && !Number.isNaN(point.time.getTime())) {
    return { time_us: String(BigInt(point.time.getTime()) * 1000n) };
  }
  throw new InvalidArgumentError(`${name}: must be {position}, {timeUs} or {time: Date}`);
}
