"""Subscriptions that resume after a dropped connection.

The server sends every matching event with position > from_position, then
`caught_up`, then live events, with checkpoints while a filter skips events
(docs/grpc-api.md "Subscriptions"). `_Cursor` remembers the last position
delivered to the caller (an event's or a checkpoint's) and reconnects from
exactly there, so the caller sees no gap and no duplicate. The sync and the
asyncio iterator share it; only the waiting differs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Union

import grpc

from vigil_client import _convert
from vigil_client._proto import event_store_pb2 as pb
from vigil_client.models import Checkpoint, Filter, RecordedEvent
from vigil_client.retry import RetryPolicy, wait_or_raise

# What a subscription yields.
Delivery = Union[RecordedEvent, Checkpoint]


class _Cursor:
    """Where to (re)subscribe from, and how long to wait after a failure."""

    def __init__(self, from_position: int, from_time_us: int | None, filter: Filter | None,
                 policy: RetryPolicy) -> None:
        self.position = _convert.check_uint64("from_position", from_position)
        if from_time_us is not None and (not isinstance(from_time_us, int) or from_time_us < 0):
            raise ValueError(f"from_time_us must be an int >= 0, not {from_time_us!r}")
        self._from_time_us = from_time_us  # only until something is delivered
        self._filter = _convert.filter_proto(filter)
        self._policy = policy
        self._failures = 0

    def request(self) -> pb.SubscribeRequest:
        return pb.SubscribeRequest(from_position=self.position,
                                   from_time_us=self._from_time_us or 0, filter=self._filter)

    def deliver(self, response: pb.SubscribeResponse) -> Delivery:
        self._failures = 0
        self._from_time_us = None
        kind = response.WhichOneof("kind")
        if kind == "event":
            self.position = response.event.position
            return _convert.recorded_event(response.event)
        # Never backwards: a resume starts after everything delivered.
        self.position = max(self.position,
                            response.checkpoint if kind == "checkpoint" else response.caught_up)
        return Checkpoint(position=self.position, caught_up=kind == "caught_up")

    def wait_after(self, rpc_error: grpc.RpcError) -> float:
        """The wait before resubscribing; raises when the policy gives up
        (after max_attempts failures in a row with nothing delivered)."""
        self._failures += 1
        return wait_or_raise(self._policy, self._failures, rpc_error, None)


class Subscription:
    """A sync iterator of RecordedEvent and Checkpoint; `close()` (or leaving
    a `with` block) cancels it from any thread."""

    def __init__(self, open_call: Callable[[pb.SubscribeRequest], Iterator[pb.SubscribeResponse]],
                 cursor: _Cursor) -> None:
        self._open = open_call
        self._cursor = cursor
        self._call: Iterator[pb.SubscribeResponse] | None = None
        self._closed = threading.Event()
        self._lock = threading.Lock()

    @property
    def position(self) -> int:
        """The last position delivered (where a resume starts)."""
        return self._cursor.position

    def __iter__(self) -> Iterator[Delivery]:
        """Iterate once; leaving the loop (break, an exception) closes it."""
        try:
            while not self._closed.is_set():
                with self._lock:
                    self._call = self._open(self._cursor.request())
                try:
                    for response in self._call:
                        yield self._cursor.deliver(response)
                    return  # the server ended the call: only at shutdown, with a status
                except grpc.RpcError as rpc_error:
                    if self._closed.is_set():
                        return
                    wait = self._cursor.wait_after(rpc_error)
                self._closed.wait(wait)
        finally:
            self.close()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            if self._call is not None:
                self._call.cancel()  # type: ignore[attr-defined]

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncSubscription:
    """The asyncio twin of Subscription: `async for`, `close()`."""

    def __init__(self, open_call: Callable[[pb.SubscribeRequest], grpc.aio.UnaryStreamCall],
                 cursor: _Cursor) -> None:
        self._open = open_call
        self._cursor = cursor
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._closed = False

    @property
    def position(self) -> int:
        return self._cursor.position

    async def __aiter__(self) -> AsyncIterator[Delivery]:
        """Iterate once; leaving the loop (break, cancellation) closes it."""
        try:
            while not self._closed:
                self._call = self._open(self._cursor.request())
                try:
                    async for response in self._call:
                        yield self._cursor.deliver(response)
                    return
                except grpc.RpcError as rpc_error:
                    if self._closed:
                        return
                    wait = self._cursor.wait_after(rpc_error)
                await asyncio.sleep(wait)
        finally:
            self.close()

    def close(self) -> None:
        self._closed = True
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
