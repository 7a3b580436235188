"""A real vigild for the tests: loopback ports, a temporary data dir,
start / kill / restart on the same port and data. The binary is $VIGILD."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class Vigild:
    """`with Vigild(*flags) as server:` runs it; `server.target` to dial."""

    def __init__(self, *flags: str, tokens: dict[str, str] | None = None) -> None:
        self._binary = os.environ["VIGILD"]
        self._dir = tempfile.TemporaryDirectory(prefix="vigil-py-")
        self.port = free_port()
        self.target = f"127.0.0.1:{self.port}"
        self._flags = ["--data-dir", os.path.join(self._dir.name, "data"), "--projections", "off",
                       "--webhooks", "off", "--grpc-listen", self.target,
                       "--http-listen", f"127.0.0.1:{free_port()}", *flags]
        if tokens:
            path = os.path.join(self._dir.name, "tokens")
            with open(path, "w") as out:
                out.writelines(f"{token} {role}\n" for token, role in tokens.items())
            self._flags += ["--tokens-file", path]
        self._log = open(os.path.join(self._dir.name, "vigild.log"), "ab")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = subprocess.Popen([self._binary, *self._flags], stdout=self._log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        atexit.register(self.kill)  # even when a test fails half-way
        wait_for_port(self.port)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self._process is not None:
            self._process.send_signal(sig)
            self._process.wait(timeout=30)
            self._process = None

    def restart(self, sig: int = signal.SIGKILL) -> None:
        self.kill(sig)
        self.start()

    def log(self) -> str:
        with open(os.path.join(self._dir.name, "vigild.log"), errors="replace") as log:
            return log.read()

    def __enter__(self) -> Vigild:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill(signal.SIGTERM)
        self._log.close()
        self._dir.cleanup()
