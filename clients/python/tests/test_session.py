"""Append sessions against a real vigild: 1,000 appends in flight, none lost,
none wrongly rejected, also across a server restart (sync and asyncio)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import time
import unittest
import uuid
from collections import Counter

from vigild import Vigild

from vigil_client import (
    AsyncClient, Client, EventData, RetryPolicy, StreamState, WrongExpectedRevision)

IN_FLIGHT = 1000
REJECTED_EVERY = 100  # appends n % 100 == 0 expect no_stream of an existing stream
PATIENT = RetryPolicy(max_attempts=30, initial_backoff=0.05, max_backoff=0.5)


def plan(prefix: str) -> list[tuple[str, EventData, StreamState]]:
    """IN_FLIGHT appends over 20 streams; every REJECTED_EVERY-th must fail."""
    return [(f"{prefix}-{n % 20}", EventData("Numbered", {"n": n}),
             StreamState.NO_STREAM if n % REJECTED_EVERY == 0 else StreamState.ANY)
            for n in range(IN_FLIGHT)]


class SessionTest(unittest.TestCase):
    def check(self, client: Client, prefix: str, outcomes: list[BaseException | None]) -> None:
        rejected = [n for n, error in enumerate(outcomes) if error is not None]
        for n in rejected:
            self.assertIsInstance(outcomes[n], WrongExpectedRevision, f"append {n}")
        self.assertEqual(rejected, list(range(0, IN_FLIGHT, REJECTED_EVERY)))
        written = Counter(event.json()["n"]  # type: ignore[index]
                          for stream in range(20)
                          for event in client.read_stream(f"{prefix}-{stream}", from_revision=1))
        self.assertEqual(set(written), {n for n in range(IN_FLIGHT) if n % REJECTED_EVERY})
        self.assertEqual(max(written.values()), 1, "an append landed twice")

    def run_session(self, restart: bool) -> None:
        prefix = f"sess-{uuid.uuid4().hex[:8]}"
        with Vigild() as server, Client(server.target, retry=PATIENT) as client:
            for stream in range(20):  # so no_stream appends are rejected
                client.append(f"{prefix}-{stream}", [EventData("Seed", {})])
            with client.append_session(max_in_flight=IN_FLIGHT) as session:
                futures = [session.append(stream, [event], expected_revision=expected)
                           for stream, event, expected in plan(prefix)]
                if restart:
                    give_up = time.monotonic() + 60
                    while sum(f.done() for f in futures) < 200 and time.monotonic() < give_up:
                        time.sleep(0.001)
                    server.restart(signal.SIGKILL)
                    unanswered = sum(not f.done() for f in futures)
                    self.assertGreater(unanswered, 0, "the restart came too late to test")
                done, _ = concurrent.futures.wait(futures, timeout=120)
                self.assertEqual(len(done), IN_FLIGHT)
            self.check(client, f"{prefix}", [f.exception() for f in futures])

    def test_thousand_in_flight(self) -> None:
        self.run_session(restart=False)

    def test_thousand_in_flight_across_a_restart(self) -> None:
        self.run_session(restart=True)

    def run_async_session(self, restart: bool) -> None:
        prefix = f"asess-{uuid.uuid4().hex[:8]}"
        with Vigild() as server, Client(server.target) as client:
            for stream in range(20):
                client.append(f"{prefix}-{stream}", [EventData("Seed", {})])

            async def run() -> list[BaseException | None]:
                async with AsyncClient(server.target, retry=PATIENT) as aclient:
                    async with aclient.append_session(max_in_flight=IN_FLIGHT) as session:
                        futures = [await session.append(stream, [event],
                                                        expected_revision=expected)
                                   for stream, event, expected in plan(prefix)]
                        if restart:
                            give_up = time.monotonic() + 60
                            while (sum(f.done() for f in futures) < 200
                                   and time.monotonic() < give_up):
                                await asyncio.sleep(0.001)
                            await asyncio.to_thread(server.restart, signal.SIGKILL)
                            self.assertGreater(sum(not f.done() for f in futures), 0,
                                               "the restart came too late to test")
                        await asyncio.wait(futures, timeout=120)
                    return [f.exception() for f in futures]

            self.check(client, prefix, asyncio.run(run()))

    def test_async_thousand_in_flight(self) -> None:
        self.run_async_session(restart=False)

    def test_async_thousand_in_flight_across_a_restart(self) -> None:
        self.run_async_session(restart=True)


if __name__ == "__main__":
    unittest.main()
