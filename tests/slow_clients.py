"""Slow clients for the server tests: connections that send a request one byte a second."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: slow.test\r\nX-Padding: " + b"x" * 400 + b"\r\n\r\n"


class SlowClients:
    """Connections part-way through sending a request, one byte at a time."""

    def __init__(self, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.sent = 1
        self.stop = threading.Event()
        self.dribbler: threading.Thread | None = None

    def finish(self) -> list[bytes]:
        """Send the rest of each request at once; the status line each got back."""
        self.stop.set()
        if self.dribbler is not None:
            self.dribbler.join(timeout=5)
        lines = []
        for sock in self.sockets:
            sock.sendall(REQUEST[self.sent :])
            lines.append(sock.recv(64).split(b"\r\n", 1)[0])
        return lines


@contextmanager
def slow_connections(host: str, port: int, count: int, interval: float = 1.0) -> Iterator[SlowClients]:
    """`count` connections, each sending one byte of a request every `interval` seconds."""
    clients = SlowClients([])
    stop = clients.stop
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(REQUEST[:1])
        clients.sockets.append(sock)

    def dribble() -> None:
        while not stop.wait(interval) and clients.sent < len(REQUEST) - 1:
            for sock in clients.sockets:
                with suppress(OSError):
                    sock.sendall(REQUEST[clients.sent : clients.sent + 1])
            clients.sent += 1

    thread = clients.dribbler = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        yield clients
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in clients.sockets:
            sock.close()


def latencies(url: str, count: int, timeout: float = 10.0) -> list[float]:
    """Seconds each of `count` sequential GETs took (`timeout` for one that never answered)."""
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
                response.read()
            taken.append(time.perf_counter() - started)
        except (urllib.error.URLError, OSError):
            taken.append(timeout)
    return taken


def median(values: list[float]) -> float:
    return statistics.median(values)
