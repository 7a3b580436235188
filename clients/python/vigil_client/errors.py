"""Typed errors: one class per status the server answers with.

Every error the server sends becomes a `VigilError` subclass carrying the
gRPC code, the server's message and, where known, the stream involved.
Arguments the client can check itself raise `ValueError` / `TypeError`
before anything is sent (see `_requests.py`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import grpc

ACTUAL_REVISION_TRAILER = "vigil-actual-revision"

# vigild's RESOURCE_EXHAUSTED means "not now" (rate limit, queues, readers
# busy) or "never" (a size or count limit; an append larger than the rate
# limit's burst). Over gRPC only its message tells them apart, and carries
# the wait in words (api/rate_limiter.cc "retry after N s", readers busy
# "retry in a second"); REST sends the same as 429 + Retry-After vs 413.
_RETRY_AFTER = re.compile(r"retry (?:after (\d+(?:\.\d+)?) s|in a second)")
_TOO_LARGE = re.compile(r"limit is \d+|exceeds the rate limit's burst")


class VigilError(Exception):
    """An error status from the server (or the transport)."""

    def __init__(self, code: grpc.StatusCode, message: str, stream: str | None = None) -> None:
        where = f" (stream {stream!r})" if stream else ""
        super().__init__(f"{code.name}: {message}{where}")
        self.code = code
        self.message = message
        self.stream = stream


class WrongExpectedRevision(VigilError):
    """ABORTED: the stream's last revision is not what the append expected.

    `actual_revision` is the stream's last revision, or None when the stream
    does not exist (the trailer said `none`).
    """

    def __init__(self, code: grpc.StatusCode, message: str, stream: str | None,
                 actual_revision: int | None) -> None:
        super().__init__(code, message, stream)
        self.actual_revision = actual_revision


class IdempotencyConflict(VigilError):
    """FAILED_PRECONDITION: the idempotency key is bound to a different request."""


class InvalidArgument(VigilError):
    """INVALID_ARGUMENT: the server refused the request's content."""


class NotFound(VigilError):
    """NOT_FOUND: the stream (or agent, task) does not exist."""


class PermissionDenied(VigilError):
    """PERMISSION_DENIED: a reserved `$` stream, or a role that may not do it."""


class Unauthenticated(VigilError):
    """UNAUTHENTICATED: no token, or an unknown one."""


class RateLimited(VigilError):
    """RESOURCE_EXHAUSTED: over a rate or size limit, or the server is busy.

    `retry_after` is the wait in seconds the server asked for, if it did.
    """

    def __init__(self, code: grpc.StatusCode, message: str, stream: str | None,
                 retry_after: float | None) -> None:
        super().__init__(code, message, stream)
        self.retry_after = retry_after


class TooLarge(VigilError):
    """RESOURCE_EXHAUSTED that waiting cannot cure: an event or append over a
    size or count limit, or an append larger than the rate limit's burst."""


class Unavailable(VigilError):
    """UNAVAILABLE: the server is down, shutting down or its disk is full."""


class DeadlineExceeded(VigilError):
    """DEADLINE_EXCEEDED: the call's deadline passed (an append may still land:
    retry it with the same idempotency key to learn its result)."""


class Unimplemented(VigilError):
    """UNIMPLEMENTED: the server does not offer this call (e.g. time travel off)."""


_BY_CODE: dict[grpc.StatusCode, type[VigilError]] = {
    grpc.StatusCode.FAILED_PRECONDITION: IdempotencyConflict,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
}


def _parse_revision(text: str | None) -> int | None:
    if text is None or text == "none":
        return None
    return int(text)


def error_from_status(code: grpc.StatusCode, message: str, stream: str | None = None,
                      trailers: Mapping[str, str] | None = None,
                      actual_revision: str | None = None) -> VigilError:
    """The typed error for a status. `actual_revision` (an AppendError's
    field) or the `vigil-actual-revision` trailer fill WrongExpectedRevision."""
    if code == grpc.StatusCode.ABORTED:
        text = actual_revision or (trailers or {}).get(ACTUAL_REVISION_TRAILER)
        return WrongExpectedRevision(code, message, stream, _parse_revision(text))
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and _TOO_LARGE.search(message):
        return TooLarge(code, message, stream)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        match = _RETRY_AFTER.search(message)
        wait = None if match is None else float(match.group(1) or 1)
        return RateLimited(code, message, stream, wait)
    return _BY_CODE.get(code, VigilError)(code, message, stream)


def _trailers(error: grpc.RpcError) -> dict[str, str]:
    metadata = getattr(error, "trailing_metadata", None)
    pairs = metadata() if callable(metadata) else None
    return {key: value for key, value in (pairs or ()) if isinstance(value, str)}


def from_rpc_error(error: grpc.RpcError, stream: str | None = None) -> VigilError:
    """The typed error for a failed sync or asyncio call."""
    code = error.code()  # type: ignore[attr-defined]
    details = error.details() or ""  # type: ignore[attr-defined]
    return error_from_status(code, details, stream, _trailers(error))
