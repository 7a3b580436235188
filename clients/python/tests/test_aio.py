"""The asyncio client has the sync client's surface and errors."""

from __future__ import annotations

import asyncio
import unittest
import uuid

from vigild import Vigild

from vigil_client import (
    AsyncClient, EventData, Filter, IdempotencyConflict, NotFound, StreamState,
    WrongExpectedRevision)


class AsyncClientTest(unittest.TestCase):
    def test_surface(self) -> None:
        with Vigild() as server:
            asyncio.run(self._surface(server.target))

    async def _surface(self, target: str) -> None:
        stream, key = f"aio-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4()}"
        async with AsyncClient(target, deadline=10) as client:
            first = await client.append(stream, [EventData("A", {"n": 0})],
                                        expected_revision=StreamState.NO_STREAM,
                                        idempotency_key=key)
            again = await client.append(stream, [EventData("A", {"n": 0})],
                                        expected_revision=StreamState.NO_STREAM,
                                        idempotency_key=key)
            self.assertTrue(again.deduplicated)
            self.assertEqual(again.first_position, first.first_position)
            with self.assertRaises(IdempotencyConflict):
                await client.append(stream, [EventData("A", {"n": 1})], idempotency_key=key)
            with self.assertRaises(WrongExpectedRevision) as caught:
                await client.append(stream, [EventData("A", {})], expected_revision=7)
            self.assertEqual(caught.exception.actual_revision, 0)
            await client.append(stream, [EventData("A", {"n": 1})], expected_revision=0)
            await client.append(stream, [EventData("A", {"n": 2})],
                                expected_revision=StreamState.STREAM_EXISTS)
            events = await client.read_stream(stream)
            self.assertEqual([e.json() for e in events], [{"n": 0}, {"n": 1}, {"n": 2}])
            info = await client.get_stream(stream)
            self.assertEqual(info.event_count, 3)
            tail = await client.read_all(filter=Filter(stream_prefixes=(stream,)))
            self.assertEqual([e.revision for e in tail], [0, 1, 2])
            with self.assertRaises(NotFound):
                await client.get_stream(f"missing-{uuid.uuid4().hex}")
            with self.assertRaises(ValueError):
                await client.append("bad name", [EventData("A", {})])
            state = await client.state_at(info.last_position)
            self.assertEqual(state["position"], info.last_position)  # type: ignore[index]
            self.assertIsInstance(await client.diff(0, info.last_position), dict)


if __name__ == "__main__":
    unittest.main()
