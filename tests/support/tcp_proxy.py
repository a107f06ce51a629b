"""A TCP relay on loopback that a test can cut and restore: put between the servers and
PostgreSQL, it makes the database "go away" for a few seconds (issue 22, "Bad input and
faults") without touching the PostgreSQL every other test uses.

While cut, every relayed connection is closed (each side sees the other end hang up, as
when a database restarts) and a new one is accepted and closed at once (a connection
attempt fails quickly instead of hanging). `restore()` relays again.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CHUNK = 65536
ACCEPT_TICK = 0.1  # how often the accepting thread looks whether it must stop


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(ACCEPT_TICK)
        self.port: int = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._accepting.start()

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones until `restore()`."""
        self._cut.set()
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for pair in pairs:
            _close(*pair)

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._closing.set()
        self.cut()
        self._accepting.join()
        self._listener.close()
        for thread in self._threads:
            thread.join()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            if self._cut.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                _close(client)
                continue
            pair = (client, upstream)
            with self._lock:
                self._pairs.add(pair)
            for source, sink in (pair, pair[::-1]):
                thread = threading.Thread(target=self._pump, args=(source, sink, pair),
                                          daemon=True)
                self._threads.append(thread)
                thread.start()
            self._threads = [t for t in self._threads if t.is_alive()]

    def _pump(self, source: socket.socket, sink: socket.socket, pair) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _close(*pair)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv
        except OSError:
            pass
        sock.close()


@contextmanager
def tcp_proxy(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
