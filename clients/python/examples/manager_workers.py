#!/usr/bin/env python3
"""A Manager and two Workers reporting their whole lifecycle to Vigil.

    /usr/bin/python3 examples/manager_workers.py --target 127.0.0.1:7600 [--token T]

The manager registers, creates four tasks and hands them out; each worker
registers, starts its tasks, reports progress, model and tool calls, and
completes them (one fails); heartbeats throughout; all three stop at the
end. Watch it live on the dashboard (http://127.0.0.1:7601). `--pace 0`
runs it without pauses.
"""

from __future__ import annotations

import argparse
import queue
import random
import threading
import time
import uuid

from vigil_client import Client, EventData, StreamState, domain


class Agent:
    """One agent: its id, its stream, and the revision it expects next."""

    def __init__(self, vigil: Client, role: domain.Role, name: str, pace: float) -> None:
        self.vigil, self.pace = vigil, pace
        self.id = f"{name.lower().replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
        self.stream = domain.agent_stream(self.id)
        result = vigil.append(self.stream, [domain.agent_registered(
            self.id, role=role, name=name, model="gpt-4o-mini")],
            expected_revision=StreamState.NO_STREAM)  # a fresh agent: its stream is new
        self.revision = result.next_expected_revision

    def report(self, *events: EventData) -> None:
        """Appends to the agent's own stream; only this agent writes it."""
        self.revision = self.vigil.append(self.stream, list(events),
                                          expected_revision=self.revision).next_expected_revision

    def heartbeat(self, queue_depth: int) -> None:
        self.report(domain.agent_heartbeat(self.id, cpu_pct=random.uniform(5, 60),
                                           mem_bytes=random.randint(100, 400) << 20,
                                           queue_depth=queue_depth))

    def pause(self) -> None:
        time.sleep(self.pace * random.uniform(0.5, 1.5))


def work(worker: Agent, manager: Agent, inbox: queue.Queue[str | None]) -> None:
    while (task := inbox.get()) is not None:
        stream = domain.task_stream(task)
        worker.heartbeat(inbox.qsize())
        worker.vigil.append(stream, [domain.task_started(task, worker_id=worker.id)])
        for percent in (25, 50, 75):
            worker.pause()
            worker.report(domain.llm_call_completed(
                worker.id, task_id=task, model="gpt-4o-mini", input_tokens=800,
                output_tokens=200, cost_usd=0.0004, latency_ms=int(900 * worker.pace)))
            worker.report(domain.tool_called(worker.id, task_id=task, tool="web_search",
                                             duration_ms=int(300 * worker.pace), ok=True))
            worker.vigil.append(stream, [domain.task_progress(task, worker_id=worker.id,
                                                              percent=percent)])
        worker.vigil.append(stream, [domain.message_sent(
            from_agent=worker.id, to_agent=manager.id, task_id=task, kind="report",
            summary="done")])
        if task.endswith("-3"):
            worker.vigil.append(stream, [domain.task_failed(task, worker_id=worker.id,
                                                            error="source unavailable")])
        else:
            worker.vigil.append(stream, [domain.task_completed(task, worker_id=worker.id,
                                                               result={"pages": 3})])
    worker.report(domain.agent_stopped(worker.id, reason="no more work"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:7600")
    parser.add_argument("--token")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds per step (0: none)")
    args = parser.parse_args()
    with Client(args.target, token=args.token) as vigil:
        manager = Agent(vigil, "manager", "Manager", args.pace)
        workers = [Agent(vigil, "worker", f"Worker {n}", args.pace) for n in (1, 2)]
        inboxes: list[queue.Queue[str | None]] = [queue.Queue(), queue.Queue()]
        threads = [threading.Thread(target=work, args=(w, manager, box))
                   for w, box in zip(workers, inboxes)]
        for thread in threads:
            thread.start()
        run = uuid.uuid4().hex[:6]
        for n in range(4):
            task, worker = f"research-{run}-{n}", workers[n % 2]
            manager.report(domain.llm_call_completed(manager.id, model="gpt-4o-mini",
                                                     input_tokens=400, output_tokens=100,
                                                     cost_usd=0.0002, latency_ms=500))
            vigil.append(domain.task_stream(task), [
                domain.task_created(task, manager_id=manager.id, title=f"Research topic {n}",
                                    priority=n),
                domain.task_assigned(task, manager_id=manager.id, worker_id=worker.id),
                domain.message_sent(from_agent=manager.id, to_agent=worker.id, task_id=task,
                                    kind="instruction", summary=f"Please research topic {n}"),
            ], expected_revision=StreamState.NO_STREAM)
            inboxes[n % 2].put(task)
            manager.heartbeat(n)
            manager.pause()
        for box in inboxes:
            box.put(None)
        for thread in threads:
            thread.join()
        manager.report(domain.agent_stopped(manager.id, reason="all tasks settled"))
        print(f"manager {manager.id}, workers {workers[0].id} and {workers[1].id}: done")


if __name__ == "__main__":
    main()
