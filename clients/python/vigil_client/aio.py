"""The asyncio client: Client's surface, with `await` (grpc.aio)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import grpc
import grpc.aio

from vigil_client import retry as _retry
from vigil_client._core import (
    CHANNEL_OPTIONS, DEFAULT, DEFAULT_DEADLINE, DEFAULT_TARGET, Core, Deadline, Operation)
from vigil_client._proto import event_store_pb2_grpc as pb_grpc
from vigil_client.models import (
    AppendResult, EventData, ExpectedRevision, Filter, Json, LogPoint, RecordedEvent, StreamInfo,
    StreamState)
from vigil_client.retry import RetryPolicy
from vigil_client.session import DEFAULT_MAX_IN_FLIGHT, AsyncAppendSession
from vigil_client.subscription import AsyncSubscription, _Cursor

T = TypeVar("T")


class AsyncClient:
    """Client for asyncio code; the same arguments, defaults and errors as
    `Client`. Create it inside a running event loop; `await close()` (or
    `async with`) when done."""

    def __init__(self, target: str = DEFAULT_TARGET, *, token: str | None = None,
                 credentials: grpc.ChannelCredentials | None = None,
                 deadline: float | None = DEFAULT_DEADLINE,
                 retry: RetryPolicy = RetryPolicy()) -> None:
        self._core = Core(token, deadline, retry)
        self._channel = (grpc.aio.secure_channel(target, credentials, CHANNEL_OPTIONS)
                         if credentials is not None
                         else grpc.aio.insecure_channel(target, CHANNEL_OPTIONS))
        self._stub = pb_grpc.EventStoreStub(self._channel)

    async def append(self, stream: str, events: Sequence[EventData], *,
                     expected_revision: ExpectedRevision = StreamState.ANY,
                     idempotency_key: str | None = None,
                     deadline: Deadline = DEFAULT) -> AppendResult:
        """See Client.append."""
        return await self._run(Core.append(stream, events, expected_revision, idempotency_key),
                               deadline)

    async def read_stream(self, stream: str, *, from_revision: int = 0, max_count: int = 0,
                          backwards: bool = False,
                          deadline: Deadline = DEFAULT) -> list[RecordedEvent]:
        return await self._run(Core.read_stream(stream, from_revision, max_count, backwards),
                               deadline)

    async def read_all(self, *, from_position: int = 0, max_count: int = 0,
                       filter: Filter | None = None,
                       deadline: Deadline = DEFAULT) -> list[RecordedEvent]:
        return await self._run(Core.read_all(from_position, max_count, filter), deadline)

    async def get_stream(self, stream: str, *, deadline: Deadline = DEFAULT) -> StreamInfo:
        return await self._run(Core.get_stream(stream), deadline)

    async def state_at(self, at: LogPoint = None, *, agent_id: str | None = None,
                       task_id: str | None = None, task_limit: int = 0,
                       trace_id: str | None = None,
                       deadline: Deadline = DEFAULT) -> Json:
        return await self._run(Core.state_at(at, agent_id, task_id, task_limit, trace_id), deadline)

    async def diff(self, from_point: LogPoint = None, to_point: LogPoint = None, *,
                   deadline: Deadline = DEFAULT) -> Json:
        return await self._run(Core.diff(from_point, to_point), deadline)

    def subscribe(self, *, from_position: int = 0, from_time_us: int | None = None,
                  filter: Filter | None = None) -> AsyncSubscription:
        """See Client.subscribe; iterate with `async for`."""
        cursor = _Cursor(from_position, from_time_us, filter, self._core.retry)
        return AsyncSubscription(
            lambda request: self._stub.Subscribe(request, metadata=self._core.metadata), cursor)

    def append_session(self, *, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
                       ) -> AsyncAppendSession:
        return AsyncAppendSession(self._stub, self._core, max_in_flight)

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, operation: Operation[T], deadline: Deadline) -> T:
        method = getattr(self._stub, operation.method)
        timeout = self._core.timeout(deadline)

        async def attempt() -> T:
            call = method(operation.request, timeout=timeout, metadata=self._core.metadata)
            answer = [message async for message in call] if operation.streaming else await call
            return operation.convert(answer)

        return await _retry.call_async(self._core.retry, attempt, operation.stream)
