"""Append sessions: many appends in flight on one `AppendSession` call.

Each append gets a correlation id and a future; the server answers each one
(in any order) with its AppendResponse or AppendError, and the future is
resolved with an AppendResult or the typed error `append` would have
raised. At most `max_in_flight` appends are unanswered at a time: `append`
waits for a slot, so a fast producer is slowed, never buffered without
bound. If the call breaks with UNAVAILABLE (a server restart), the session
reopens it after the retry policy's backoff and sends every unanswered
append again with its idempotency key, so each lands exactly once; when the
policy gives up, every unanswered future fails with the error.

`_Pending` is the bookkeeping both the sync and the asyncio session use.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, Union

import grpc

from vigil_client import _convert
from vigil_client._core import Core
from vigil_client._proto import event_store_pb2 as pb
from vigil_client._proto import event_store_pb2_grpc as pb_grpc
from vigil_client.errors import VigilError, error_from_status
from vigil_client.models import AppendResult, EventData, ExpectedRevision, StreamState
from vigil_client.retry import wait_or_raise

DEFAULT_MAX_IN_FLIGHT = 1000
MAX_IN_FLIGHT_LIMIT = 100_000

F = TypeVar("F", concurrent.futures.Future, asyncio.Future)  # type: ignore[type-arg]


def _check_max_in_flight(value: int) -> int:
    if not isinstance(value, int) or not 1 <= value <= MAX_IN_FLIGHT_LIMIT:
        raise ValueError(f"max_in_flight must be in [1, {MAX_IN_FLIGHT_LIMIT}], not {value!r}")
    return value


@dataclass
class _Entry(Generic[F]):
    message: pb.AppendSessionRequest
    future: F
    failures: int = 0  # answers UNAVAILABLE / RESOURCE_EXHAUSTED so far


class _Pending(Generic[F]):
    """Unanswered appends by correlation id. Not thread-safe: the sync
    session holds its lock around every call, the asyncio one runs on one
    loop."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._next_id = 1
        self._by_id: dict[int, _Entry[F]] = {}
        self._failures = 0  # consecutive breaks with nothing answered
        self.error: VigilError | None = None  # once set, the session is over

    def add(self, request: pb.AppendRequest, future: F) -> pb.AppendSessionRequest:
        message = pb.AppendSessionRequest(correlation_id=self._next_id, append=request)
        self._by_id[self._next_id] = _Entry(message, future)
        self._next_id += 1
        return message

    def unanswered(self) -> list[pb.AppendSessionRequest]:
        return [entry.message for entry in self._by_id.values()]

    def resolve(self, response: pb.AppendSessionResponse
                ) -> tuple[pb.AppendSessionRequest, float] | None:
        """Settles the future of `response`'s append, or returns the append
        and the wait before sending it again (an error the retry policy
        retries: RESOURCE_EXHAUSTED, UNAVAILABLE)."""
        entry = self._by_id.get(response.correlation_id)
        if entry is None:
            return None  # an append resent after a break, answered twice
        self._failures = 0
        if response.WhichOneof("result") == "ok":
            del self._by_id[response.correlation_id]
            if not entry.future.done():  # a future the caller cancelled stays so
                entry.future.set_result(_convert.append_result(response.ok))
            return None
        failure = response.error
        error = error_from_status(_status_code(failure.code), failure.message,
                                  entry.message.append.stream,
                                  actual_revision=failure.actual_revision or None)
        entry.failures += 1
        wait = self._core.retry.delay(entry.failures, error)
        if wait is not None:
            return entry.message, wait
        del self._by_id[response.correlation_id]
        if not entry.future.done():
            entry.future.set_exception(error)
        return None

    def wait_after(self, rpc_error: grpc.RpcError) -> float | None:
        """The wait before reopening, or None after failing every future."""
        self._failures += 1
        try:
            return wait_or_raise(self._core.retry, self._failures, rpc_error, None)
        except VigilError as error:
            self.fail(error)
            return None

    def fail(self, error: VigilError) -> None:
        self.error = error
        for entry in self._by_id.values():
            if not entry.future.done():
                entry.future.set_exception(error)
        self._by_id.clear()

    def finish(self) -> None:
        """The call ended cleanly: nothing may be left unanswered."""
        if self._by_id:
            self.fail(VigilError(grpc.StatusCode.INTERNAL,
                                 f"the session ended with {len(self._by_id)} appends unanswered"))

    def __len__(self) -> int:
        return len(self._by_id)


def _status_code(code: int) -> grpc.StatusCode:
    """The StatusCode of a google.rpc.Code number."""
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status
    return grpc.StatusCode.UNKNOWN


_END = object()  # closes a request stream
_Item = Union[pb.AppendSessionRequest, object]


class AppendSession:
    """Sync append session (`Client.append_session()`); use it in a `with`
    block or call `close()`. `append` may be called from any thread; the
    futures' callbacks run on the session's reader thread and must not block."""

    def __init__(self, stub: pb_grpc.EventStoreStub, core: Core, max_in_flight: int) -> None:
        self._stub = stub
        self._core = core
        self._slots = threading.BoundedSemaphore(_check_max_in_flight(max_in_flight))
        self._lock = threading.RLock()  # an append from a future's callback is fine
        self._settled = threading.Condition(self._lock)  # notified when nothing is pending
        self._pending: _Pending[concurrent.futures.Future[AppendResult]] = _Pending(core)
        self._requests: queue.Queue[_Item] = queue.Queue()
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="vigil-append-session",
                                        daemon=True)
        self._reader.start()

    def append(self, stream: str, events: Sequence[EventData], *,
               expected_revision: ExpectedRevision = StreamState.ANY,
               idempotency_key: str | None = None) -> concurrent.futures.Future[AppendResult]:
        """Sends one append; its future resolves to the AppendResult or
        raises the typed error. Blocks while `max_in_flight` are unanswered."""
        request = Core.append(stream, events, expected_revision, idempotency_key).request
        self._slots.acquire()
        future: concurrent.futures.Future[AppendResult] = concurrent.futures.Future()
        future.add_done_callback(lambda _: self._slots.release())
        with self._lock:
            if self._closing or self._pending.error is not None:
                future.set_exception(self._pending.error or RuntimeError("session closed"))
            else:
                self._requests.put(self._pending.add(request, future))
        return future

    def close(self) -> None:
        """Waits until every append is answered (or failed), then ends the
        session."""
        with self._lock:
            self._closing = True
            self._settled.wait_for(lambda: not self._pending)
            self._requests.put(_END)
        self._reader.join()

    def __enter__(self) -> AppendSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        while True:
            requests = self._requests
            call = self._stub.AppendSession(_drain(requests), metadata=self._core.metadata)
            try:
                for response in call:
                    with self._lock:
                        resend = self._pending.resolve(response)
                        self._settled.notify_all()
                    if resend is not None:
                        threading.Timer(resend[1], self._send, resend[:1]).start()
                with self._lock:
                    self._pending.finish()  # the server ended the call after our END
                return
            except grpc.RpcError as rpc_error:
                with self._lock:
                    wait = self._pending.wait_after(rpc_error)
                    self._settled.notify_all()
                    requests.put(_END)
                    if wait is None:
                        return
            time.sleep(wait)
            with self._lock:
                self._requests = queue.Queue()
                for message in self._pending.unanswered():
                    self._requests.put(message)

    def _send(self, message: pb.AppendSessionRequest) -> None:
        with self._lock:
            self._requests.put(message)


def _drain(requests: queue.Queue[_Item]) -> Iterator[pb.AppendSessionRequest]:
    while (item := requests.get()) is not _END:
        yield item  # type: ignore[misc]


class AsyncAppendSession:
    """The asyncio twin of AppendSession (`AsyncClient.append_session()`):
    `async with`; `await session.append(...)` returns an asyncio.Future."""

    def __init__(self, stub: pb_grpc.EventStoreStub, core: Core, max_in_flight: int) -> None:
        self._stub = stub
        self._core = core
        self._slots = asyncio.BoundedSemaphore(_check_max_in_flight(max_in_flight))
        self._pending: _Pending[asyncio.Future[AppendResult]] = _Pending(core)
        self._settled = asyncio.Event()  # set when nothing is pending
        self._settled.set()
        self._requests: asyncio.Queue[_Item] = asyncio.Queue()
        self._closing = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def append(self, stream: str, events: Sequence[EventData], *,
                     expected_revision: ExpectedRevision = StreamState.ANY,
                     idempotency_key: str | None = None) -> asyncio.Future[AppendResult]:
        """Sends one append (waiting for a slot while `max_in_flight` are
        unanswered); await the returned future for its AppendResult."""
        request = Core.append(stream, events, expected_revision, idempotency_key).request
        await self._slots.acquire()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        future.add_done_callback(lambda _: self._slots.release())
        if self._closing or self._pending.error is not None:
            future.set_exception(self._pending.error or RuntimeError("session closed"))
        else:
            self._settled.clear()
            self._requests.put_nowait(self._pending.add(request, future))
        return future

    async def close(self) -> None:
        """Waits until every append is answered (or failed), then ends the
        session."""
        self._closing = True
        await self._settled.wait()
        self._requests.put_nowait(_END)
        await self._reader

    async def __aenter__(self) -> AsyncAppendSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _note_settled(self) -> None:
        if not self._pending:
            self._settled.set()

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            requests = self._requests
            call = self._stub.AppendSession(_drain_async(requests), metadata=self._core.metadata)
            try:
                async for response in call:
                    if (resend := self._pending.resolve(response)) is not None:
                        loop.call_later(resend[1], self._send, resend[0])
                    self._note_settled()
                self._pending.finish()
                return
            except grpc.RpcError as rpc_error:
                wait = self._pending.wait_after(rpc_error)
                self._note_settled()
                requests.put_nowait(_END)
                if wait is None:
                    return
            await asyncio.sleep(wait)
            self._requests = asyncio.Queue()
            for message in self._pending.unanswered():
                self._requests.put_nowait(message)

    def _send(self, message: pb.AppendSessionRequest) -> None:
        self._requests.put_nowait(message)


async def _drain_async(requests: asyncio.Queue[_Item]) -> AsyncIterator[pb.AppendSessionRequest]:
    while (item := await requests.get()) is not _END:
        yield item  # type: ignore[misc]
