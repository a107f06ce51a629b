"""Kept-alive connections of the cheroot server (davserver/server.py, LingeringConnection):
the worker that answered a request reads the client's next one itself when it comes at once,
and never at the cost of another client."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from davserver.server import LINGER_SECONDS, LiasseServer


def worker_name(environ, start_response):
    """Answers with the name of the worker thread that serves the request."""
    body = threading.current_thread().name.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def serve(monkeypatch) -> Iterator:
    # serve() tunes the garbage collector for a server process: not this test process's
    monkeypatch.setattr("davserver.server.tune_garbage_collector", lambda: None)
    running: list[tuple[LiasseServer, threading.Thread]] = []

    def start(threads: int) -> int:
        server = LiasseServer(worker_name, "127.0.0.1", 0, threads=threads)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        running.append((server, thread))
        return server.endpoint.port

    yield start
    for server, thread in running:
        server.request_stop()
        thread.join(timeout=20)
        assert not thread.is_alive()


def ask(connection: http.client.HTTPConnection) -> str:
    connection.request("GET", "/")
    answer = connection.getresponse()
    assert answer.status == 200
    return answer.read().decode()


def test_back_to_back_requests_stay_with_the_worker_that_answered(serve):
    port = serve(threads=2)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        workers = Counter(ask(connection) for _ in range(20))
    finally:
        connection.close()
    # cheroot alone hands each next request to the worker waiting longest: the two workers
    # would take turns. (A pause of the client longer than the wait, on a busy machine,
    # lets one request go the long way.)
    assert max(workers.values()) >= 16, workers


def test_one_worker_serves_two_kept_alive_connections_in_turn(serve):
    """With a single worker nothing lingers (no other worker would be free): requests on two
    kept-alive connections in turn, and after pauses longer than the wait, are all answered
    (a worker that stayed with a quiet connection would hold the other one's requests until
    that connection timed out and was closed)."""
    port = serve(threads=1)
    first, second = (http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                     for _ in range(2))
    try:
        for _ in range(3):
            assert ask(first) == ask(second)
            time.sleep(LINGER_SECONDS * 4)
    finally:
        first.close()
        second.close()


def test_requests_sent_together_are_all_answered(serve):
    """Pipelined requests (already read into the connection's buffer) are answered in order
    on the same connection."""
    port = serve(threads=2)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        received = b""
        deadline = time.monotonic() + 30
        while received.count(b"HTTP/1.1 200 OK") < 3 and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    assert received.count(b"HTTP/1.1 200 OK") == 3
