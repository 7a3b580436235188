"""The values the client takes and returns, as frozen dataclasses."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Union

JSON_CONTENT_TYPE = "application/json"

# A JSON value as json.dumps takes it.
Json = Union[None, bool, int, float, str, list["Json"], dict[str, "Json"]]


class StreamState(enum.Enum):
    """Expected revisions that are not a number (docs/contract.md "Concepts")."""

    ANY = "any"  # no check
    NO_STREAM = "no_stream"  # the stream must not exist
    STREAM_EXISTS = "stream_exists"  # the stream must exist


# An exact revision (the stream's last revision must be it) or a StreamState.
ExpectedRevision = Union[int, StreamState]


@dataclass(frozen=True)
class EventData:
    """An event to append. `data` is a JSON object (dict) for
    `application/json`, bytes for any other content type; `metadata` a JSON
    object or None. `event_id` (a UUID) may be left empty: the server then
    makes a UUIDv7, so the same content sent again with the same idempotency
    key is the same request."""

    type: str
    data: dict[str, Json] | bytes
    metadata: dict[str, Json] | None = None
    content_type: str = JSON_CONTENT_TYPE
    event_id: str = ""


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the log holds it."""

    event_id: str
    stream: str
    revision: int
    position: int
    type: str
    data: bytes
    content_type: str
    metadata: bytes
    recorded_time_us: int
    hash: bytes

    def json(self) -> Json:
        """`data` parsed as JSON (for `application/json` events)."""
        return json.loads(self.data)

    def metadata_json(self) -> Json:
        """`metadata` parsed as JSON; None when empty."""
        return json.loads(self.metadata) if self.metadata else None


@dataclass(frozen=True)
class AppendResult:
    """What an append answered. `deduplicated`: the idempotency key had been
    seen with this same request, nothing was appended and the positions are
    the first append's."""

    first_position: int
    last_position: int
    next_expected_revision: int
    deduplicated: bool


@dataclass(frozen=True)
class StreamInfo:
    stream: str
    last_revision: int
    last_position: int
    event_count: int
    created_time_us: int
    updated_time_us: int


@dataclass(frozen=True)
class Checkpoint:
    """A subscription examined the log up to `position` (a filter skipped the
    rest); `caught_up` is True once, when history ends and live begins."""

    position: int
    caught_up: bool = False


@dataclass(frozen=True)
class Filter:
    """Events whose stream starts with one of `stream_prefixes` and whose
    type is one of `event_types` (an empty list matches everything)."""

    stream_prefixes: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()


# A point of the log for state_at / diff: a position (int) or a time
# (`AtTime`); None is the head (state_at, diff's `to`) or 0 (diff's `from`).
@dataclass(frozen=True)
class AtTime:
    """The last position recorded at or before `time_us` (UTC microseconds)."""

    time_us: int


LogPoint = Union[int, AtTime, None]
