"""The sync client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import grpc

from vigil_client import retry as _retry
from vigil_client._core import (
    CHANNEL_OPTIONS, DEFAULT, DEFAULT_DEADLINE, DEFAULT_TARGET, Core, Deadline, Operation)
from vigil_client._proto import event_store_pb2_grpc as pb_grpc
from vigil_client.models import (
    AppendResult, EventData, ExpectedRevision, Filter, Json, LogPoint, RecordedEvent, StreamInfo,
    StreamState)
from vigil_client.retry import RetryPolicy
from vigil_client.session import DEFAULT_MAX_IN_FLIGHT, AppendSession
from vigil_client.subscription import Subscription, _Cursor

T = TypeVar("T")


class Client:
    """A connection to vigild's gRPC API. Safe to share between threads;
    `close()` it (or use `with`) when done.

    `target` is `host:port`; `credentials` makes a TLS channel (default:
    plaintext, as on loopback); `token` is sent as `authorization: Bearer`
    on every call; `deadline` is the default per attempt of a unary call or
    read (seconds, None: no deadline), overridable per call; `retry` says
    how UNAVAILABLE and RESOURCE_EXHAUSTED are retried.
    """

    def __init__(self, target: str = DEFAULT_TARGET, *, token: str | None = None,
                 credentials: grpc.ChannelCredentials | None = None,
                 deadline: float | None = DEFAULT_DEADLINE,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._core = Core(token, deadline, retry)
        self._channel = (grpc.secure_channel(target, credentials, CHANNEL_OPTIONS)
                         if credentials is not None
                         else grpc.insecure_channel(target, CHANNEL_OPTIONS))
        self._stub = pb_grpc.EventStoreStub(self._channel)

    def append(self, stream: str, events: Sequence[EventData], *,
               expected_revision: ExpectedRevision = StreamState.ANY,
               idempotency_key: str | None = None, deadline: Deadline = DEFAULT) -> AppendResult:
        """Appends `events` to `stream` atomically. Without `idempotency_key`
        one is made for this call; every retry sends the same one, so an
        append whose answer was lost is answered `deduplicated`, never
        written twice. Raises WrongExpectedRevision, IdempotencyConflict, ..."""
        return self._run(Core.append(stream, events, expected_revision, idempotency_key), deadline)

    def read_stream(self, stream: str, *, from_revision: int = 0, max_count: int = 0,
                    backwards: bool = False, deadline: Deadline = DEFAULT) -> list[RecordedEvent]:
        """Events of `stream` from `from_revision` (max_count 0: the server's
        default, 10,000). Raises NotFound for a missing stream."""
        return self._run(Core.read_stream(stream, from_revision, max_count, backwards), deadline)

    def read_all(self, *, from_position: int = 0, max_count: int = 0,
                 filter: Filter | None = None, deadline: Deadline = DEFAULT) -> list[RecordedEvent]:
        """Events of all streams with position >= from_position."""
        return self._run(Core.read_all(from_position, max_count, filter), deadline)

    def get_stream(self, stream: str, *, deadline: Deadline = DEFAULT) -> StreamInfo:
        return self._run(Core.get_stream(stream), deadline)

    def state_at(self, at: LogPoint = None, *, agent_id: str | None = None,
                 task_id: str | None = None, task_limit: int = 0,
                 trace_id: str | None = None,
                 deadline: Deadline = DEFAULT) -> Json:
        """The read models after log position `at` (or AtTime); the JSON of
        GET /v1/state. Needs a server with read models (docs/time-travel.md).
        `trace_id` (hex) lists only that trace's spans."""
        return self._run(Core.state_at(at, agent_id, task_id, task_limit, trace_id), deadline)

    def diff(self, from_point: LogPoint = None, to_point: LogPoint = None, *,
             deadline: Deadline = DEFAULT) -> Json:
        """What changed between two points; the JSON of GET /v1/diff."""
        return self._run(Core.diff(from_point, to_point), deadline)

    def subscribe(self, *, from_position: int = 0, from_time_us: int | None = None,
                  filter: Filter | None = None) -> Subscription:
        """Every matching event with position > from_position (history, then
        live), with Checkpoints; resumes after a dropped connection from the
        last position it delivered."""
        cursor = _Cursor(from_position, from_time_us, filter, self._core.retry)
        return Subscription(
            lambda request: self._stub.Subscribe(request, metadata=self._core.metadata), cursor)

    def append_session(self, *, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
                       ) -> AppendSession:
        """Many appends in flight on one AppendSession call (see session.py)."""
        return AppendSession(self._stub, self._core, max_in_flight)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, operation: Operation[T], deadline: Deadline) -> T:
        method = getattr(self._stub, operation.method)
        timeout = self._core.timeout(deadline)

        def attempt() -> T:
            answer = method(operation.request, timeout=timeout, metadata=self._core.metadata)
            return operation.convert(list(answer) if operation.streaming else answer)

        return _retry.call(self._core.retry, attempt, operation.stream)
