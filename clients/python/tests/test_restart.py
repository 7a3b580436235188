"""Server restarts: a retried append deduplicates, a subscription resumes
with no gap and no duplicate (sync and asyncio)."""

from __future__ import annotations

import asyncio
import signal
import unittest
import uuid

from proxy import Proxy
from vigild import Vigild

from vigil_client import AsyncClient, Checkpoint, Client, EventData, Filter, RetryPolicy

# Enough attempts to ride out a restart on a loaded machine.
PATIENT = RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.5)


class RetriedAppendTest(unittest.TestCase):
    def test_append_cut_after_commit_is_deduplicated_on_retry(self) -> None:
        stream = f"restart-{uuid.uuid4().hex[:8]}"
        with Vigild() as server, Proxy(server.port) as proxy, \
                Client(proxy.target, retry=PATIENT) as client:
            client.append(stream, [EventData("Before", {})])  # connects through the proxy
            proxy.cut_on_response(server.restart)  # SIGKILL after the answer left vigild
            result = client.append(stream, [EventData("Once", {"n": 1})],
                                   expected_revision=0)
            self.assertEqual(proxy.cuts, 1)
            self.assertTrue(result.deduplicated, "the retry must reuse the idempotency key")
            self.assertEqual((result.first_position, result.last_position), (2, 2))
            self.assertEqual([e.type for e in client.read_stream(stream)], ["Before", "Once"])


def _positions(deliveries: list[object]) -> list[int]:
    return [d.position for d in deliveries if not isinstance(d, Checkpoint)]  # type: ignore[attr-defined]


class SubscriptionRestartTest(unittest.TestCase):
    EVENTS = 600  # more than two pages of 256: the cut lands mid-history

    def _fill(self, client: Client, stream: str, first: int, count: int) -> None:
        for start in range(first, first + count, 100):
            client.append(stream, [EventData("Numbered", {"n": n})
                                   for n in range(start, min(start + 100, first + count))])

    def test_sync_subscription_survives_restarts(self) -> None:
        for sig in (signal.SIGKILL, signal.SIGTERM):
            with self.subTest(signal=sig.name), Vigild() as server, \
                    Client(server.target, retry=PATIENT) as client:
                stream = "numbers"
                self._fill(client, stream, 0, self.EVENTS)
                events: list[int] = []
                subscription = client.subscribe(filter=Filter(stream_prefixes=(stream,)))
                for delivery in subscription:
                    if isinstance(delivery, Checkpoint):
                        continue
                    events.append(delivery.json()["n"])  # type: ignore[index]
                    if len(events) == 250:
                        server.restart(sig)  # history half delivered
                    if len(events) == self.EVENTS:
                        self._fill(client, stream, self.EVENTS, 50)  # live after the restart
                    if len(events) == self.EVENTS + 25:
                        server.restart(sig)  # live half delivered
                    if len(events) == self.EVENTS + 50:
                        self._fill(client, stream, self.EVENTS + 50, 10)
                    if len(events) == self.EVENTS + 60:
                        break
                subscription.close()
                self.assertEqual(events, list(range(self.EVENTS + 60)))
                self.assertEqual(subscription.position, self.EVENTS + 60)

    def test_async_subscription_survives_restart(self) -> None:
        asyncio.run(self._async_restart())

    async def _async_restart(self) -> None:
        with Vigild() as server, Client(server.target) as filler:
            self._fill(filler, "numbers", 0, self.EVENTS)
            async with AsyncClient(server.target, retry=PATIENT) as client:
                positions: list[int] = []
                async with client.subscribe(from_position=100) as subscription:
                    async for delivery in subscription:
                        if isinstance(delivery, Checkpoint):
                            continue
                        positions.append(delivery.position)
                        if len(positions) == 200:
                            await asyncio.to_thread(server.restart)
                        if delivery.position == self.EVENTS:
                            break
                self.assertEqual(positions, list(range(101, self.EVENTS + 1)))


if __name__ == "__main__":
    unittest.main()
