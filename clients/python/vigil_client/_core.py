"""What the sync and the asyncio client share: options, metadata, and each
operation as data (the stub method, the checked request, the conversion of
its answer). The clients only run operations, each in its own way."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from vigil_client import _convert
from vigil_client._proto import event_store_pb2 as pb
from vigil_client.models import (
    AppendResult, EventData, ExpectedRevision, Filter, Json, LogPoint, RecordedEvent, StreamInfo)
from vigil_client.retry import RetryPolicy

T = TypeVar("T")

DEFAULT_TARGET = "127.0.0.1:7600"
DEFAULT_DEADLINE = 30.0  # seconds, per attempt of a unary call or read
MAX_RECEIVE_BYTES = 64 * 1024 * 1024  # a StateAt answer of a big system, a page of big events

# Reconnect quickly after a server restart, so retries find it (gRPC's
# default reconnect backoff starts at 1 s and grows to 120 s).
CHANNEL_OPTIONS: list[tuple[str, int]] = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", MAX_RECEIVE_BYTES),
]


class _Default:
    """The client's default deadline (a per-call `deadline=None` means none)."""


DEFAULT = _Default()
Deadline = float | None | _Default


@dataclass(frozen=True)
class Operation(Generic[T]):
    method: str  # the stub's attribute
    request: Any  # a protobuf message
    convert: Callable[[Any], T]  # of the answer (a list of messages when streaming)
    streaming: bool = False
    stream: str | None = None  # named in errors


def _json(text: str) -> Json:
    return json.loads(text)


class Core:
    """Options and operations; immutable, safe from any thread."""

    def __init__(self, token: str | None, deadline: float | None, retry: RetryPolicy) -> None:
        if token is not None and (not isinstance(token, str) or not token.isprintable()
                                  or not token):
            raise ValueError("token must be a non-empty printable str")
        if deadline is not None and deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds or None, not {deadline}")
        self.metadata = () if token is None else (("authorization", f"Bearer {token}"),)
        self.retry = retry
        self._deadline = deadline

    def timeout(self, deadline: Deadline) -> float | None:
        if isinstance(deadline, _Default):
            return self._deadline
        if deadline is not None and deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds or None, not {deadline}")
        return deadline

    @staticmethod
    def append(stream: str, events: Sequence[EventData], expected_revision: ExpectedRevision,
               idempotency_key: str | None) -> Operation[AppendResult]:
        # One key per logical append, made here once: every retry sends it.
        key = str(uuid.uuid4()) if idempotency_key is None else idempotency_key
        request = _convert.append_request(stream, events, expected_revision, key)
        return Operation("Append", request, _convert.append_result, stream=stream)

    @staticmethod
    def read_stream(stream: str, from_revision: int, max_count: int,
                    backwards: bool) -> Operation[list[RecordedEvent]]:
        request = pb.ReadStreamRequest(
            stream=_convert.check_stream(stream),
            from_revision=_convert.check_uint64("from_revision", from_revision),
            max_count=_convert.check_uint64("max_count", max_count), backwards=bool(backwards))
        return Operation("ReadStream", request, _recorded_events, streaming=True, stream=stream)

    @staticmethod
    def read_all(from_position: int, max_count: int,
                 filter: Filter | None) -> Operation[list[RecordedEvent]]:
        request = pb.ReadAllRequest(
            from_position=_convert.check_uint64("from_position", from_position),
            max_count=_convert.check_uint64("max_count", max_count),
            filter=_convert.filter_proto(filter))
        return Operation("ReadAll", request, _recorded_events, streaming=True)

    @staticmethod
    def get_stream(stream: str) -> Operation[StreamInfo]:
        request = pb.GetStreamRequest(stream=_convert.check_stream(stream))
        return Operation("GetStream", request, _convert.stream_info, stream=stream)

    @staticmethod
    def state_at(at: LogPoint, agent_id: str | None, task_id: str | None,
                 task_limit: int, trace_id: str | None = None) -> Operation[Json]:
        if agent_id is not None and task_id is not None:
            raise ValueError("state_at takes agent_id or task_id, not both")
        for name, value in (("agent_id", agent_id), ("task_id", task_id),
                            ("trace_id", trace_id)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"{name} must be a non-empty str")
        if not 0 <= _convert.check_uint64("task_limit", task_limit) <= 10000:
            raise ValueError(f"task_limit must be at most 10000, not {task_limit}")
        request = pb.StateAtRequest(at=_convert.log_point("at", at), agent_id=agent_id or "",
                                    task_id=task_id or "", task_limit=task_limit,
                                    trace_id=trace_id or "")
        return Operation("StateAt", request, lambda answer: _json(answer.json))

    @staticmethod
    def diff(from_point: LogPoint, to_point: LogPoint) -> Operation[Json]:
        request = pb.DiffRequest(**{"from": _convert.log_point("from_point", from_point)},
                                 to=_convert.log_point("to_point", to_point))
        return Operation("Diff", request, lambda answer: _json(answer.json))


def _recorded_events(messages: list[pb.RecordedEvent]) -> list[RecordedEvent]:
    return [_convert.recorded_event(message) for message in messages]
