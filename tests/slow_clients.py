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


@contextmanager
def slow_connections(
    host: str, port: int, count: int, interval: float = 1.0
) -> Iterator[list[socket.socket]]:
    """`count` connections, each sending one byte of a request every `interval` seconds."""
    stop = threading.Event()
    sockets = []
    for _ in range(count):
        sock = socket.create_connection((host, port), timeout=5)
        sock.sendall(REQUEST[:1])
        sockets.append(sock)

    def dribble() -> None:
        position = 1
        while not stop.wait(interval) and position < len(REQUEST):
            for sock in sockets:
                with suppress(OSError):
                    sock.sendall(REQUEST[position : position + 1])
            position += 1

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        yield sockets
    finally:
        stop.set()
        thread.join(timeout=5)
        for sock in sockets:
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
