"""Connections of the cheroot server (liasse/server.py): on a kept-alive connection the
worker that answered a request reads the client's next one itself when it comes at once, and
never at the cost of another client (LingeringConnection); a response's head leaves with the
first piece of its body (LiasseRequest)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from liasse.server import LINGER_SECONDS, HeadHoldingWriter, LiasseServer


def worker_name(environ, start_response):
    """Answers with the name of the worker thread that serves the request."""
    body = threading.current_thread().name.encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture
def serve(monkeypatch) -> Iterator:
    # serve() tunes the garbage collector for a server process: not this test process's
    monkeypatch.setattr("liasse.server.tune_garbage_collector", lambda: None)
    running: list[tuple[LiasseServer, threading.Thread]] = []

    def start(threads: int, app=worker_name) -> int:
        server = LiasseServer(app, "127.0.0.1", 0, threads=threads)
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


def receive(sock: socket.socket, enough) -> bytes:
    """What the server sends, until `enough(received)` or it closes the connection
    (bounded: 30 s)."""
    received = b""
    deadline = time.monotonic() + 30
    while not enough(received) and time.monotonic() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


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
        received = receive(sock, lambda r: r.count(b"HTTP/1.1 200 OK") >= 3)
    assert received.count(b"HTTP/1.1 200 OK") == 3


def shapes(environ, start_response):
    """Answers of every shape: with a body of known length, a HEAD, without a body,
    chunked, and after reading an upload."""
    path = environ["PATH_INFO"]
    if environ["REQUEST_METHOD"] == "HEAD":  # the head of a document, without its body
        start_response("200 OK", [("Content-Type", "application/pdf"),
                                  ("Content-Length", "1000")])
        return []
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/chunked":  # no Content-Length: cheroot sends it chunked
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"premier ", b"second"]
    if path == "/upload":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        answer = f"{len(body)} octets".encode()
        start_response("201 Created", [("Content-Length", str(len(answer)))])
        return [answer]
    body = b"x" * 1000
    start_response("200 OK", [("Content-Type", "application/pdf"),
                              ("Content-Length", str(len(body)))])
    return [body]


def test_a_response_leaves_in_one_write(serve, monkeypatch):
    """Head and body are one write, so one system call and one TCP segment (cheroot alone
    writes the head, then the body); a response without a body is one write too."""
    writes: list[bytes] = []

    class Recording(HeadHoldingWriter):
        def __init__(self, writer) -> None:
            super().__init__(writer)
            real = writer.write
            writer.write = lambda data: (writes.append(bytes(data)), real(data))[1]

    monkeypatch.setattr("liasse.server.HeadHoldingWriter", Recording)
    port = serve(threads=2, app=shapes)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for request, ending in [(b"GET /small", b"x" * 1000), (b"GET /empty", b"\r\n\r\n"),
                                (b"GET /small", b"x" * 1000)]:  # kept alive
            writes.clear()
            sock.sendall(request + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            received = receive(sock, lambda r, ending=ending: r.endswith(ending))
            assert received.startswith(b"HTTP/1.1 2")
            assert writes == [received]


def test_answers_without_a_body_or_in_chunks_are_complete(serve):
    port = serve(threads=2, app=shapes)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for method, path, status, body in [("HEAD", "/small", 200, b""),
                                           ("GET", "/empty", 204, b""),
                                           ("GET", "/chunked", 200, b"premier second"),
                                           ("GET", "/small", 200, b"x" * 1000)]:
            connection.request(method, path)
            answer = connection.getresponse()
            assert (answer.status, answer.read()) == (status, body), (method, path)
    finally:
        connection.close()


def test_an_upload_that_waits_for_100_continue_is_answered(serve):
    """The interim "100 Continue" is sent at once, not held back with the final answer."""
    port = serve(threads=2, app=shapes)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"bonjour"[:5])
        received = receive(sock, lambda r: b"5 octets" in r)
    assert received.startswith(b"HTTP/1.1 201 Created") and received.endswith(b"5 octets")


@pytest.mark.parametrize("framing", [
    b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nbonjour",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nbonjour\r\n0\r\n\r\n",
], ids=["two lengths", "length and chunks"])
def test_a_body_of_ambiguous_length_is_refused(serve, framing):
    """Where a body ends must be certain, for the drive and the web app alike: a proxy in
    front that read it otherwise would take its rest for another request than the server
    does (request smuggling). The answer is a 400, and the connection is closed."""
    port = serve(threads=2, app=shapes)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\n" + framing)
        received = receive(sock, lambda r: False)  # until the server closes
    assert received.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"Requ\xeate invalide" in received  # ISO-8859-1, as cheroot writes it
    assert b"201" not in received
