"""When and how long to wait before trying a call again.

One policy decides for every call, sync or asyncio, unary or resumed
subscription: only UNAVAILABLE (`Unavailable`) and the RESOURCE_EXHAUSTED
that waiting cures (`RateLimited`, not `TooLarge`) are retried, after an exponential backoff with jitter, never
shorter than the server's retry hint. Everything else (ABORTED,
FAILED_PRECONDITION, INVALID_ARGUMENT, DEADLINE_EXCEEDED, ...) is raised at
once: trying again could not succeed, or the caller set the deadline.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

from vigil_client.errors import RateLimited, Unavailable, VigilError, from_rpc_error

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Defaults: 6 attempts, waits of about 0.1, 0.2, 0.4, 0.8, 1.6 s (each
    between half and all of that, at most `max_backoff`): a server restart of
    a few seconds is ridden out."""

    max_attempts: int = 6  # the first try included; 1 disables retries
    initial_backoff: float = 0.1  # seconds before the first retry
    max_backoff: float = 5.0  # the longest wait (a retry hint may be longer)
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, not {self.max_attempts}")
        if not 0 < self.initial_backoff <= self.max_backoff or self.multiplier < 1:
            raise ValueError("need 0 < initial_backoff <= max_backoff and multiplier >= 1")

    def delay(self, failures: int, error: VigilError) -> float | None:
        """Seconds to wait after the `failures`-th consecutive failure (1 for
        the first), or None: give up and raise `error`."""
        if not isinstance(error, (Unavailable, RateLimited)) or failures >= self.max_attempts:
            return None
        backoff = min(self.max_backoff, self.initial_backoff * self.multiplier ** (failures - 1))
        wait = random.uniform(backoff / 2, backoff)
        hint = error.retry_after if isinstance(error, RateLimited) else None
        return wait if hint is None else max(wait, hint)


def wait_or_raise(policy: RetryPolicy, failures: int, rpc_error: grpc.RpcError,
                  stream: str | None) -> float:
    """The wait before the next attempt, or raises the typed error."""
    error = from_rpc_error(rpc_error, stream)
    wait = policy.delay(failures, error)
    if wait is None:
        raise error from None
    return wait


def call(policy: RetryPolicy, attempt: Callable[[], T], stream: str | None = None) -> T:
    """`attempt()` until it succeeds or the policy gives up (sync)."""
    failures = 0
    while True:
        try:
            return attempt()
        except grpc.RpcError as rpc_error:
            failures += 1
            wait = wait_or_raise(policy, failures, rpc_error, stream)
        time.sleep(wait)


async def call_async(policy: RetryPolicy, attempt: Callable[[], Awaitable[T]],
                     stream: str | None = None) -> T:
    """`await attempt()` until it succeeds or the policy gives up (asyncio)."""
    failures = 0
    while True:
        try:
            return await attempt()
        except grpc.RpcError as rpc_error:
            failures += 1
            wait = wait_or_raise(policy, failures, rpc_error, stream)
        await asyncio.sleep(wait)
