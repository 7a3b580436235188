"""Python client for the Vigil event store.

    from vigil_client import Client, StreamState, domain
    with Client("127.0.0.1:7600", token="...") as vigil:
        vigil.append(domain.agent_stream("w1"),
                     [domain.agent_registered("w1", role="worker", name="Worker 1")],
                     expected_revision=StreamState.NO_STREAM)

See clients/python/README.md.
"""

from vigil_client import domain
from vigil_client.aio import AsyncClient
from vigil_client.client import Client
from vigil_client.errors import (
    DeadlineExceeded, IdempotencyConflict, InvalidArgument, NotFound, PermissionDenied,
    RateLimited, TooLarge, Unauthenticated, Unavailable, Unimplemented, VigilError,
    WrongExpectedRevision)
from vigil_client.models import (
    AppendResult, AtTime, Checkpoint, EventData, ExpectedRevision, Filter, Json, LogPoint,
    RecordedEvent, StreamInfo, StreamState)
from vigil_client.retry import RetryPolicy
from vigil_client.session import AppendSession, AsyncAppendSession
from vigil_client.subscription import AsyncSubscription, Delivery, Subscription

__all__ = [
    "AppendResult", "AppendSession", "AsyncAppendSession", "AsyncClient", "AsyncSubscription",
    "AtTime", "Checkpoint", "Client", "DeadlineExceeded", "Delivery", "EventData",
    "ExpectedRevision", "Filter", "IdempotencyConflict", "InvalidArgument", "Json", "LogPoint",
    "NotFound", "PermissionDenied", "RateLimited", "RecordedEvent", "RetryPolicy", "StreamInfo",
    "StreamState", "Subscription", "TooLarge", "Unauthenticated", "Unavailable", "Unimplemented",
    "VigilError", "WrongExpectedRevision", "domain",
]
