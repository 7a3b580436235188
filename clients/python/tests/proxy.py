"""A TCP proxy between a client and vigild that can cut a call between the
server's answer and the client: armed with `cut_on_response(action)`, it
watches the HTTP/2 frames vigild sends, and at the first HEADERS or DATA
frame of a call (stream id != 0; the answer is on its way, so the append is
durable) it drops those bytes, runs `action` (kill and restart vigild) and
closes the client's connection. It also counts the bytes clients sent."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from vigild import free_port

_HEADERS, _DATA = 0x1, 0x0


class Proxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.target = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._action: Callable[[], None] | None = None
        self.cuts = 0
        self.client_bytes = 0
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._spawn(self._accept)

    def cut_on_response(self, action: Callable[[], None]) -> None:
        with self._lock:
            self._action = action

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                _shutdown(sock)
        for thread in self._threads:
            thread.join(timeout=10)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self._upstream))
            except OSError:
                client.close()  # vigild is restarting: the client sees UNAVAILABLE
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            self._spawn(self._pump_requests, client, upstream)
            self._spawn(self._pump_answers, upstream, client)

    def _pump_requests(self, client: socket.socket, upstream: socket.socket) -> None:
        try:
            while chunk := client.recv(65536):
                with self._lock:
                    self.client_bytes += len(chunk)
                upstream.sendall(chunk)
        except OSError:
            pass
        _shutdown(upstream)

    def _pump_answers(self, upstream: socket.socket, client: socket.socket) -> None:
        frames = _FrameWatch()
        try:
            while chunk := upstream.recv(65536):
                if frames.feed(chunk) and self._take_action():
                    _shutdown(client)
                    _shutdown(upstream)
                    return
                client.sendall(chunk)
        except OSError:
            pass
        _shutdown(client)

    def _take_action(self) -> bool:
        with self._lock:
            action, self._action = self._action, None
        if action is None:
            return False
        action()
        self.cuts += 1
        return True


class _FrameWatch:
    """Follows the HTTP/2 frames of one server-to-client byte stream."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> bool:
        """True when `chunk` holds a HEADERS or DATA frame of a call."""
        self._buffer += chunk
        seen = False
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            kind = self._buffer[3]
            stream_id = int.from_bytes(self._buffer[5:9], "big") & 0x7FFFFFFF
            if len(self._buffer) < 9 + length:
                break
            seen |= stream_id != 0 and kind in (_HEADERS, _DATA)
            self._buffer = self._buffer[9 + length:]
        return seen


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
