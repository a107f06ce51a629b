"""`liasse serve --workers N`: a parent that binds the listening socket once and forks N
server processes, each with its own cheroot server, threads and database connections.

The parent serves nothing and holds no database connection: it supervises. A worker that
dies (a crash, `kill -9`) is started again while the others serve on; SIGTERM or SIGINT stops
every worker (each finishes its requests in flight, as a single process does) and then the
parent; SIGHUP reloads: the settings file is read again and the workers are replaced one by
one, a new one started before an old one is stopped, so that the port never goes unserved.

All workers accept on the one listening socket: a connection waiting in its queue is taken by
whichever worker is free, and a worker's death loses none of the queued ones. What each keeps
in memory is checked against the database at every request (the credentials version, the
rights, locks and tree generations), and the background jobs run in the one worker that
holds the election lock (liasse.worker.Election), so N workers behave as one server.
"""

from __future__ import annotations

import atexit
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("liasse.prefork")

LISTEN_BACKLOG = 128     # as LiasseServer's request_queue_size
TICK_SECONDS = 0.2       # how often the parent looks at its workers
QUICK_DEATH_SECONDS = 2  # a worker dead sooner than this after its start is restarted slowly
RESTART_PAUSE_SECONDS = 1.0
STOP_SECONDS = 60        # a worker still running this long after SIGTERM is killed


def can_fork() -> bool:
    """Whether this system forks (not Windows): without, one process serves."""
    return hasattr(os, "fork")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one. OSError if refused."""
    info = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                              socket.AI_PASSIVE)
    error: OSError | None = None
    for family, kind, proto, _, address in info:
        sock = socket.socket(family, kind, proto)
        try:
            if port != 0:  # as cheroot: never on an ephemeral port (it could steal one)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(LISTEN_BACKLOG)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    raise error or OSError("aucune adresse")


@dataclass
class _Child:
    pid: int
    started: float
    retiring: bool = False


@dataclass
class Supervisor:
    """Keeps `count` children running `run_child()` (which must not return: it ends with
    `child_exit`). `reload()` is called on SIGHUP before the children are replaced; it
    returns False to keep the current ones (settings that do not load)."""

    count: int
    run_child: Callable[[Callable[[], None]], None]  # given `ready`, to call when serving
    reload: Callable[[], bool] = lambda: True
    on_ready: Callable[[], None] = lambda: None  # once every first worker is ready
    _children: dict[int, _Child] = field(default_factory=dict)
    _stop: bool = False
    _reload: bool = False
    _pause_until: float = 0.0
    _ready_pipe: tuple[int, int] = (-1, -1)

    def run(self) -> None:
        previous = {signum: signal.signal(signum, handler) for signum, handler in (
            (signal.SIGTERM, self._on_stop), (signal.SIGINT, self._on_stop),
            (signal.SIGHUP, self._on_reload))}
        self._ready_pipe = os.pipe()
        os.set_blocking(self._ready_pipe[0], False)
        try:
            for _ in range(self.count):
                self._spawn()
            ready = 0
            while ready < self.count and not self._stop:
                self._reap()
                self._top_up()
                select.select([self._ready_pipe[0]], [], [], TICK_SECONDS)
                ready += len(self._drain())
            if not self._stop:
                self.on_ready()
            while not self._stop:
                self._drain()
                self._reap()
                if self._reload:
                    self._reload = False
                    self._replace_all()
                    continue
                self._top_up()
                time.sleep(TICK_SECONDS)
        finally:
            self._stop_all()
            for fd in self._ready_pipe:
                os.close(fd)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _drain(self) -> bytes:
        try:
            return os.read(self._ready_pipe[0], 4096)
        except BlockingIOError:
            return b""

    # --- signals: they only set flags, the loop acts -------------------------------------

    def _on_stop(self, *_) -> None:
        self._stop = True

    def _on_reload(self, *_) -> None:
        self._reload = True

    # --- children ------------------------------------------------------------------------

    def _spawn(self) -> int:
        pid = os.fork()
        if pid == 0:  # the child: never returns into the parent's stack
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(signum, signal.SIG_DFL)
            code = 1
            os.close(self._ready_pipe[0])
            ready_fd = self._ready_pipe[1]
            try:
                self.run_child(lambda: os.write(ready_fd, b"."))
                code = 0
            except SystemExit as exc:  # said what it had to say
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                traceback.print_exc()
            child_exit(code)
        self._children[pid] = _Child(pid, time.monotonic())
        return pid

    def _reap(self) -> list[tuple[_Child, int]]:
        """Forget the children that ended; returns them with their wait status."""
        ended = []
        for _ in range(len(self._children) + 1):
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            child = self._children.pop(pid, None)
            if child is None:
                continue
            ended.append((child, status))
            if not child.retiring and not self._stop:
                log.warning("worker process %d ended (%s): starting another", pid,
                            _describe(status))
                if time.monotonic() - child.started < QUICK_DEATH_SECONDS:
                    # dying at start (a database that refuses): no restart loop at full speed
                    self._pause_until = time.monotonic() + RESTART_PAUSE_SECONDS
        return ended

    def _top_up(self) -> None:
        if time.monotonic() < self._pause_until:
            return
        working = [c for c in self._children.values() if not c.retiring]
        for _ in range(self.count - len(working)):
            if self._stop:
                return
            self._spawn()

    def _replace_all(self) -> None:
        if not self.reload():
            return
        log.warning("reloading: replacing the %d worker processes one by one", self.count)
        for old in list(self._children.values()):
            if self._stop:
                return
            self._spawn()
            old.retiring = True
            _signal(old.pid, signal.SIGTERM)
            self._wait_for(lambda old=old: old.pid not in self._children)

    def _wait_for(self, done: Callable[[], bool]) -> None:
        """Reap until `done()`, restarting dead workers meanwhile, or until a stop."""
        while not done() and not self._stop:
            ended = self._reap()
            if not ended:
                time.sleep(TICK_SECONDS / 4)
            elif any(not c.retiring for c, _ in ended):
                self._top_up()

    def _stop_all(self) -> None:
        """SIGTERM to every child, then wait for each (each finishes its requests, as a
        single process does, within cheroot's shutdown timeout); one still there after
        STOP_SECONDS is killed, so that nothing is left running."""
        self._stop = True
        for child in self._children.values():
            _signal(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while self._children and time.monotonic() < deadline:
            if not self._reap():
                time.sleep(TICK_SECONDS / 4)
        for child in list(self._children.values()):
            log.warning("worker process %d did not stop within %d s: killed", child.pid,
                        STOP_SECONDS)
            _signal(child.pid, signal.SIGKILL)
            try:
                os.waitpid(child.pid, 0)
            except ChildProcessError:
                pass
            self._children.pop(child.pid, None)

    @property
    def pids(self) -> list[int]:
        return sorted(self._children)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def child_exit(code: int) -> None:
    """End a forked worker: its exit handlers (pending download receipts), its output, then
    the process, without unwinding into the parent's code it was forked from."""
    try:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
