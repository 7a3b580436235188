"""Checks arguments and converts between the dataclasses and the protos.

Everything the client can check itself is checked here, before a request
exists: bad arguments raise ValueError or TypeError and nothing is sent. The
rules are docs/contract.md "Concepts"; sizes and counts are left to the
server, whose limits are configurable.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence

from google.protobuf import empty_pb2

from vigil_client._proto import event_store_pb2 as pb
from vigil_client.models import (
    JSON_CONTENT_TYPE, AppendResult, AtTime, EventData, ExpectedRevision, Filter, LogPoint,
    RecordedEvent, StreamInfo, StreamState)

_STREAM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}")
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,99}")
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no space
_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1


def check_uint64(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"{name} must be in [0, 2**64), not {value}")
    return value


def check_stream(stream: object, *, for_append: bool = False) -> str:
    if not isinstance(stream, str):
        raise TypeError(f"stream must be a str, not {type(stream).__name__}")
    # `$` streams are the system's: readable, never appendable.
    name = stream[1:] if stream.startswith("$") and not for_append else stream
    if not _STREAM.fullmatch(name):
        raise ValueError(f"bad stream name {stream!r}: [A-Za-z0-9][A-Za-z0-9_.:-]{{0,199}}")
    return stream


def check_idempotency_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"idempotency_key must be a str, not {type(key).__name__}")
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValueError(f"bad idempotency key {key!r}: 1-255 printable ASCII bytes, no space")
    return key


def _expected_revision(expected: ExpectedRevision) -> pb.ExpectedRevision:
    if isinstance(expected, StreamState):
        return pb.ExpectedRevision(**{expected.value: empty_pb2.Empty()})
    return pb.ExpectedRevision(exact=check_uint64("expected_revision", expected))


def _json_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a dict (a JSON object), not {type(value).__name__}")
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} is not JSON: {error}") from None


def _event(index: int, event: object) -> pb.EventData:
    where = f"events[{index}]"
    if not isinstance(event, EventData):
        raise TypeError(f"{where} must be an EventData, not {type(event).__name__}")
    if not isinstance(event.type, str) or not _TYPE.fullmatch(event.type):
        raise ValueError(f"{where}.type {event.type!r}: [A-Za-z][A-Za-z0-9_.-]{{0,99}}")
    if event.event_id:
        try:
            uuid.UUID(event.event_id)
        except (TypeError, ValueError, AttributeError):
            raise ValueError(f"{where}.event_id {event.event_id!r} is not a UUID") from None
    if event.content_type == JSON_CONTENT_TYPE:
        data = _json_bytes(f"{where}.data", event.data)
    elif isinstance(event.data, bytes):
        data = event.data
    else:
        raise TypeError(f"{where}.data must be bytes for content type {event.content_type!r}")
    metadata = b"" if event.metadata is None else _json_bytes(f"{where}.metadata", event.metadata)
    return pb.EventData(event_id=event.event_id, type=event.type, data=data,
                        content_type=event.content_type, metadata=metadata)


def append_request(stream: str, events: Sequence[EventData], expected_revision: ExpectedRevision,
                   idempotency_key: str) -> pb.AppendRequest:
    """The request of one logical append; raises on a bad argument."""
    check_stream(stream, for_append=True)
    if isinstance(events, (EventData, str, bytes)) or not isinstance(events, Iterable):
        raise TypeError("events must be a list of EventData")
    protos = [_event(i, event) for i, event in enumerate(events)]
    if not protos:
        raise ValueError(f"an append to {stream!r} needs at least one event")
    return pb.AppendRequest(stream=stream, expected_revision=_expected_revision(expected_revision),
                            idempotency_key=check_idempotency_key(idempotency_key), events=protos)


def filter_proto(filter: Filter | None) -> pb.Filter | None:
    if filter is None:
        return None
    if not isinstance(filter, Filter):
        raise TypeError(f"filter must be a Filter, not {type(filter).__name__}")
    for name in (*filter.stream_prefixes, *filter.event_types):
        if not isinstance(name, str) or not name:
            raise ValueError(f"filter entries must be non-empty strings, not {name!r}")
    return pb.Filter(stream_prefixes=list(filter.stream_prefixes),
                     event_types=list(filter.event_types))


def log_point(name: str, point: LogPoint) -> pb.LogPoint | None:
    if point is None:
        return None
    if isinstance(point, AtTime):
        if not isinstance(point.time_us, int) or not 0 <= point.time_us <= _INT64_MAX:
            raise ValueError(f"{name}.time_us must be an int in [0, 2**63)")
        return pb.LogPoint(time_us=point.time_us)
    return pb.LogPoint(position=check_uint64(name, point))


def append_result(response: pb.AppendResponse) -> AppendResult:
    return AppendResult(first_position=response.first_position,
                        last_position=response.last_position,
                        next_expected_revision=response.next_expected_revision,
                        deduplicated=response.deduplicated)


def recorded_event(event: pb.RecordedEvent) -> RecordedEvent:
    return RecordedEvent(event_id=event.event_id, stream=event.stream, revision=event.revision,
                         position=event.position, type=event.type, data=event.data,
                         content_type=event.content_type, metadata=event.metadata,
                         recorded_time_us=event.recorded_time_us, hash=event.hash)


def stream_info(info: pb.StreamInfo) -> StreamInfo:
    return StreamInfo(stream=info.stream, last_revision=info.last_revision,
                      last_position=info.last_position, event_count=info.event_count,
                      created_time_us=info.created_time_us, updated_time_us=info.updated_time_us)
