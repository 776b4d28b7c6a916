"""The production server (the README's command): slow clients stall nobody, and a body over
the limit is a 413 however it is framed (issue 18, items 4 and 5)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest

from tests.databases import upgrade
from tests.servers import production_server
from tests.slow_clients import latencies, median, slow_connections

SLOW_CLIENTS = 50
SAMPLES = 20
STALLED = 5.0  # a request that takes this long has stalled (the client gives up)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    url = f"sqlite:///{tmp / 'server.db'}"
    upgrade(url)
    env = {
        "AUTHZ_DATABASE_URL": url,
        "AUTHZ_KEY_DIR": str(tmp / "keys"),
        "AUTHZ_ISSUER": "https://server.test",
    }
    with production_server(env, tmp / "server.log") as base:
        yield base


def test_fifty_slow_clients_leave_everyone_else_served_as_usual(server):
    host, port = urlsplit(server).hostname, urlsplit(server).port
    probe = f"{server}/readyz"  # a route that reads the database
    usual_before = median(latencies(probe, SAMPLES))

    with slow_connections(host, port, SLOW_CLIENTS) as slow:
        during = latencies(probe, SAMPLES, timeout=STALLED)
        usual_after = median(latencies(probe, SAMPLES))  # measured side by side, interleaved
        finished = slow.finish()

    usual = max(usual_before, usual_after)
    assert max(during) < STALLED, during  # nobody stalled
    assert median(during) <= 5 * usual, (median(during), usual)
    # The slow clients were held, not refused: each is served once it has sent its request.
    assert finished == [b"HTTP/1.1 200 OK"] * SLOW_CLIENTS


def raw_post(server: str, path: str, head: str, body_chunks: list[bytes]) -> bytes:
    """Send a request by hand (chunked framing is not something urllib does); the status line."""
    parts = urlsplit(server)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{head}\r\n".encode()
        )
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: fine
        return sock.recv(4096).split(b"\r\n", 1)[0]


def chunked(body: bytes, size: int = 16 * 1024) -> list[bytes]:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]


def padded_login(size: int) -> bytes:
    prefix = b'{"tenant": "acme", "username": "bob", "password": "'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


@pytest.mark.parametrize("size", [70_000, 10 * 1024 * 1024], ids=["70 KB", "10 MB"])
def test_a_chunked_body_over_the_limit_is_a_413(server, size):
    status = raw_post(server, "/auth/login", "Transfer-Encoding: chunked\r\n", chunked(padded_login(size)))

    assert status.startswith(b"HTTP/1.1 413 ")


def test_the_same_body_with_content_length_is_a_413_too(server):
    body = padded_login(70_000)

    assert raw_post(server, "/auth/login", f"Content-Length: {len(body)}\r\n", [body]).startswith(
        b"HTTP/1.1 413"
    )


def test_a_chunked_body_under_the_limit_is_read_whole(server):
    body = b'{"tenant": "acme", "username": "bob", "password": "' + b"y" * 40 + b'"}'

    status = raw_post(server, "/auth/login", "Transfer-Encoding: chunked\r\n", chunked(body, size=7))

    assert status.startswith(b"HTTP/1.1 401 ")  # parsed whole: the credentials were checked


def test_a_decision_batch_has_its_larger_limit_however_it_is_framed(server):
    """The decision API takes bodies up to AUTHZ_DECISION_MAX_BODY_BYTES (1 MiB), chunked or not:
    a 100 KB batch is read whole either way (here: on to the token check), 1.1 MB is a 413."""
    path = "/access/v1/evaluations"
    batch = b'{"evaluations": [' + b",".join([b'{"action": {"name": "read"}}'] * 4000) + b"]}"
    assert 65_536 < len(batch) < 1_048_576

    with_length = raw_post(server, path, f"Content-Length: {len(batch)}\r\n", [batch])
    streamed = raw_post(server, path, "Transfer-Encoding: chunked\r\n", chunked(batch))
    too_large = raw_post(server, path, "Transfer-Encoding: chunked\r\n", chunked(b" " * 1_100_000 + batch))

    assert with_length.startswith(b"HTTP/1.1 401 ")
    assert streamed.startswith(b"HTTP/1.1 401 ")
    assert too_large.startswith(b"HTTP/1.1 413 ")
