"""The sync client against a real vigild: expected revisions, every error
type, reads, tokens, rate limits, and arguments refused before sending."""

from __future__ import annotations

import time
import unittest
import uuid

from proxy import Proxy
from vigild import Vigild

from vigil_client import (
    AppendResult, Checkpoint, Client, DeadlineExceeded, EventData, Filter, IdempotencyConflict, InvalidArgument,
    NotFound, PermissionDenied, RateLimited, RetryPolicy, StreamState, TooLarge, Unauthenticated,
    WrongExpectedRevision, domain)


def stream_name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def event(n: int = 0) -> EventData:
    return EventData("Tested", {"n": n})


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Vigild().__enter__()
        cls.client = Client(cls.server.target, deadline=10)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.server.__exit__()

    def test_expected_revision_any(self) -> None:
        stream = stream_name()
        first = self.client.append(stream, [event(0)])
        second = self.client.append(stream, [event(1), event(2)], expected_revision=StreamState.ANY)
        self.assertEqual(first.next_expected_revision, 0)
        self.assertEqual(second.next_expected_revision, 2)
        self.assertEqual(second.last_position - second.first_position, 1)
        self.assertFalse(second.deduplicated)

    def test_expected_revision_no_stream(self) -> None:
        stream = stream_name()
        self.client.append(stream, [event()], expected_revision=StreamState.NO_STREAM)
        with self.assertRaises(WrongExpectedRevision) as caught:
            self.client.append(stream, [event()], expected_revision=StreamState.NO_STREAM)
        self.assertEqual(caught.exception.actual_revision, 0)
        self.assertEqual(caught.exception.stream, stream)

    def test_expected_revision_stream_exists(self) -> None:
        stream = stream_name()
        with self.assertRaises(WrongExpectedRevision) as caught:
            self.client.append(stream, [event()], expected_revision=StreamState.STREAM_EXISTS)
        self.assertIsNone(caught.exception.actual_revision)
        self.client.append(stream, [event()])
        result = self.client.append(stream, [event()], expected_revision=StreamState.STREAM_EXISTS)
        self.assertEqual(result.next_expected_revision, 1)

    def test_expected_revision_exact(self) -> None:
        stream = stream_name()
        self.client.append(stream, [event(0), event(1)])
        result = self.client.append(stream, [event(2)], expected_revision=1)
        self.assertEqual(result.next_expected_revision, 2)
        with self.assertRaises(WrongExpectedRevision) as caught:
            self.client.append(stream, [event(3)], expected_revision=1)
        self.assertEqual(caught.exception.actual_revision, 2)
        self.assertEqual([e.json() for e in self.client.read_stream(stream)],
                         [{"n": 0}, {"n": 1}, {"n": 2}])

    def test_idempotency_key_deduplicates_and_conflicts(self) -> None:
        stream, key = stream_name(), f"key-{uuid.uuid4()}"
        first = self.client.append(stream, [event(1)], idempotency_key=key)
        again = self.client.append(stream, [event(1)], idempotency_key=key)
        self.assertTrue(again.deduplicated)
        self.assertEqual((again.first_position, again.last_position),
                         (first.first_position, first.last_position))
        with self.assertRaises(IdempotencyConflict):
            self.client.append(stream, [event(2)], idempotency_key=key)
        self.assertEqual(self.client.get_stream(stream).event_count, 1)

    def test_not_found_invalid_argument_permission_denied(self) -> None:
        with self.assertRaises(NotFound):
            self.client.read_stream(stream_name())
        with self.assertRaises(NotFound):
            self.client.get_stream(stream_name())
        with self.assertRaises(InvalidArgument) as caught:  # the server's domain check
            self.client.append(stream_name(), [EventData("AgentRegistered", {"agent_id": "a"})])
        self.assertIn("events[0].data.role", caught.exception.message)
        with self.assertRaises(PermissionDenied):  # `$` streams: readable, not appendable
            self._append_reserved()

    def _append_reserved(self) -> None:
        # The client refuses `$` names itself; reach the server through the stub.
        from vigil_client._core import Core
        operation = Core.append("x", [event()], StreamState.ANY, None)
        operation.request.stream = "$reserved"
        self.client._run(operation, 10)

    def test_reads_and_domain_events(self) -> None:
        agent, task = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
        self.client.append(domain.agent_stream(agent), [
            domain.agent_registered(agent, role="worker", name="W", model="m"),
            domain.agent_heartbeat(agent, cpu_pct=1.5, mem_bytes=1024, queue_depth=0),
            domain.llm_call_completed(agent, model="m", input_tokens=3, output_tokens=4,
                                      cost_usd=0.01, latency_ms=20),
            domain.tool_called(agent, tool="grep", duration_ms=3, ok=True),
            domain.agent_stopped(agent, reason="done")])
        result = self.client.append(domain.task_stream(task), [
            domain.task_created(task, manager_id="m", title="T", priority=2),
            domain.task_assigned(task, manager_id="m", worker_id=agent),
            domain.task_started(task, worker_id=agent),
            domain.message_sent(from_agent="m", to_agent=agent, kind="review", task_id=task),
            domain.task_progress(task, worker_id=agent, percent=50, note="half"),
            domain.task_completed(task, worker_id=agent, result={"ok": True}),
            domain.task_failed(task, worker_id=agent, error="late")])
        events = self.client.read_stream(domain.task_stream(task))
        self.assertEqual([e.type for e in events][:3], ["TaskCreated", "TaskAssigned", "TaskStarted"])
        self.assertEqual(events[0].json(), {"task_id": task, "manager_id": "m", "title": "T",
                                            "priority": 2})
        backwards = self.client.read_stream(domain.task_stream(task), from_revision=2**64 - 1,
                                            backwards=True, max_count=2)
        self.assertEqual([e.revision for e in backwards], [6, 5])
        info = self.client.get_stream(domain.task_stream(task))
        self.assertEqual((info.last_revision, info.last_position), (6, result.last_position))
        tail = self.client.read_all(from_position=result.first_position,
                                    filter=Filter(stream_prefixes=(domain.task_stream(task),)))
        self.assertEqual([e.position for e in tail],
                         list(range(result.first_position, result.last_position + 1)))
        state = self.client.state_at(result.last_position, task_id=task)
        self.assertIsInstance(state, dict)
        self.assertIsInstance(self.client.diff(result.first_position, result.last_position), dict)

    def test_subscribe_history_then_caught_up_with_filter(self) -> None:
        stream = stream_name("sub")
        head = self.client.append(stream, [event(i) for i in range(5)])
        with self.client.subscribe(from_position=head.first_position,
                                   filter=Filter(stream_prefixes=(stream,))) as subscription:
            seen = []
            for delivery in subscription:
                if isinstance(delivery, Checkpoint):
                    self.assertTrue(delivery.caught_up)
                    break
                seen.append(delivery.position)
        # Events with position > from_position.
        self.assertEqual(seen, list(range(head.first_position + 1, head.last_position + 1)))

    def test_too_large_is_not_retried(self) -> None:
        started = time.monotonic()
        with self.assertRaises(TooLarge) as caught:  # --max-append-events 1000
            self.client.append(stream_name(), [event(n) for n in range(1001)])
        self.assertIn("limit is 1000", caught.exception.message)
        with self.assertRaises(TooLarge):  # --max-event-bytes 1 MiB
            self.client.append(stream_name(), [EventData("Big", {"pad": "x" * (1 << 20)})])
        self.assertLess(time.monotonic() - started, 1.5, "no backoff: retrying cannot help")

    def test_deadline_is_per_call_and_not_retried(self) -> None:
        with self.assertRaises(DeadlineExceeded):
            self.client.read_all(deadline=1e-6)
        self.assertIsInstance(self.client.read_all(max_count=1, deadline=None), list)

    def test_bad_arguments_raise_before_sending(self) -> None:
        with Proxy(self.server.port) as proxy, Client(proxy.target) as client:
            bad_calls = [
                (ValueError, lambda: client.append("bad stream", [event()])),
                (ValueError, lambda: client.append("$system", [event()])),
                (ValueError, lambda: client.append(stream_name(), [])),
                (TypeError, lambda: client.append(stream_name(), event())),  # type: ignore[arg-type]
                (TypeError, lambda: client.append(stream_name(), [{"n": 1}])),  # type: ignore[list-item]
                (ValueError, lambda: client.append(stream_name(), [EventData("1bad", {})])),
                (ValueError, lambda: client.append(stream_name(), [EventData("T", {}, event_id="x")])),
                (TypeError, lambda: client.append(stream_name(), [EventData("T", [1])])),  # type: ignore[arg-type]
                (ValueError, lambda: client.append(stream_name(), [EventData("T", {"x": float("nan")})])),
                (TypeError, lambda: client.append(stream_name(), [EventData("T", "x", content_type="text/plain")])),  # type: ignore[arg-type]
                (ValueError, lambda: client.append(stream_name(), [event()], expected_revision=-1)),
                (ValueError, lambda: client.append(stream_name(), [event()], expected_revision=2**64)),
                (TypeError, lambda: client.append(stream_name(), [event()], expected_revision="any")),  # type: ignore[arg-type]
                (ValueError, lambda: client.append(stream_name(), [event()], idempotency_key="")),
                (ValueError, lambda: client.append(stream_name(), [event()], idempotency_key="a b")),
                (ValueError, lambda: client.append(stream_name(), [event()], idempotency_key="k" * 256)),
                (ValueError, lambda: client.append(stream_name(), [event()], deadline=0)),
                (ValueError, lambda: client.read_stream("")),
                (ValueError, lambda: client.read_all(from_position=-1)),
                (TypeError, lambda: client.read_all(filter=["x"])),  # type: ignore[arg-type]
                (ValueError, lambda: client.state_at(agent_id="a", task_id="t")),
                (ValueError, lambda: client.state_at(task_limit=10001)),
                (ValueError, lambda: client.subscribe(from_position=-1)),
                (ValueError, lambda: client.append_session(max_in_flight=0)),
                (ValueError, lambda: domain.agent_registered("a", role="boss", name="n")),  # type: ignore[arg-type]
                (ValueError, lambda: RetryPolicy(max_attempts=0)),
            ]
            for error, call in bad_calls:
                with self.subTest(error=error.__name__), self.assertRaises(error):
                    call()
            self.assertEqual(proxy.client_bytes, 0)  # nothing reached the server


class TokensAndLimitsTest(unittest.TestCase):
    AGENT, READER = "agent-token-0123456789", "reader-token-0123456789"

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = Vigild("--append-rate", "1", "--append-burst", "2",
                            tokens={cls.AGENT: "agent", cls.READER: "reader"}).__enter__()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.__exit__()

    def test_unauthenticated_and_permission_denied(self) -> None:
        with Client(self.server.target) as anonymous, self.assertRaises(Unauthenticated):
            anonymous.read_all()
        with Client(self.server.target, token="unknown-token-0123456789") as unknown, \
                self.assertRaises(Unauthenticated):
            unknown.read_all()
        with Client(self.server.target, token=self.READER) as reader:
            reader.read_all()
            with self.assertRaises(PermissionDenied):
                reader.append(stream_name(), [event()])

    def test_tokens_on_subscriptions_and_sessions(self) -> None:
        stream = stream_name()
        with Client(self.server.target, token=self.AGENT) as agent:
            with agent.append_session() as session:
                appended = session.append(stream, [event()])
            self.assertEqual(appended.result().next_expected_revision, 0)
        with Client(self.server.target, token=self.READER) as reader:
            with reader.subscribe(filter=Filter(stream_prefixes=(stream,))) as subscription:
                self.assertEqual(next(iter(subscription)).stream, stream)  # type: ignore[union-attr]
            with reader.append_session() as session:
                refused = session.append(stream, [event()])
            self.assertIsInstance(refused.exception(), PermissionDenied)
        with Client(self.server.target) as anonymous:
            with self.assertRaises(Unauthenticated):
                next(iter(anonymous.subscribe()))

    def test_rate_limited_raises_with_hint_or_waits_it_out(self) -> None:
        stream = stream_name()
        with Client(self.server.target, token=self.AGENT,
                    retry=RetryPolicy(max_attempts=1)) as impatient:
            impatient.append(stream, [event(), event()])  # the burst
            with self.assertRaises(RateLimited) as caught:
                impatient.append(stream, [event()])
            with self.assertRaises(TooLarge):  # more than the burst: never passes
                impatient.append(stream, [event(), event(), event()])
            hint = caught.exception.retry_after
            self.assertIsNotNone(hint, caught.exception.message)
            self.assertGreaterEqual(hint, 1)  # type: ignore[arg-type]
            self.assertGreaterEqual(RetryPolicy().delay(1, caught.exception), hint)
        with Client(self.server.target, token=self.AGENT) as patient:
            started = time.monotonic()
            result: AppendResult = patient.append(stream, [event()])  # retried after the hint
            self.assertGreaterEqual(time.monotonic() - started, 0.5)
            self.assertFalse(result.deduplicated)


if __name__ == "__main__":
    unittest.main()
