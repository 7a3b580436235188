"""examples/manager_workers.py runs to the end and records every lifecycle."""

from __future__ import annotations

import os
import subprocess
import sys
import unittest
from collections import Counter

from vigild import Vigild

from vigil_client import Client

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "manager_workers.py")


class ExampleTest(unittest.TestCase):
    def test_manager_and_two_workers(self) -> None:
        with Vigild() as server:
            subprocess.run([sys.executable, EXAMPLE, "--target", server.target, "--pace", "0"],
                           check=True, timeout=120, capture_output=True)
            with Client(server.target) as client:
                types = Counter(event.type for event in client.read_all())
        self.assertEqual(types["AgentRegistered"], 3)
        self.assertEqual(types["AgentStopped"], 3)
        self.assertEqual(types["TaskCreated"], 4)
        self.assertEqual((types["TaskCompleted"], types["TaskFailed"]), (3, 1))
        self.assertEqual(types["TaskProgress"], 12)
        self.assertGreater(types["AgentHeartbeat"], 0)


if __name__ == "__main__":
    unittest.main()
