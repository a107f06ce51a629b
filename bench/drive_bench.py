#!/usr/bin/env python3
"""Drive benchmark: plain WsgiDAV (FilesystemProvider on cheroot, default settings) against
Liasse's drive, side by side in the same run, interleaved.

    .venv/bin/python bench/drive_bench.py [--quick] [--markdown PATH] [--rounds N]

Not a test. Everything runs on 127.0.0.1: the reference is this script re-run as a child
process (`--serve-reference`), Liasse is a real `liasse demo --port 0` over a fresh data folder
(the demo world; the client signs in as `secretaire`, who has write habilitations on
Boulangerie Martin / Achats only, so every request goes through the permission function).
Both get the same content; the script removes its temporary folders and stops both servers
when it ends, also on error or Ctrl+C. See bench/README.md for the method.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import io
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
KIB, MIB = 1024, 1024 * 1024
DOC_SIZE = 1024  # bytes of each document of the PROPFIND folders (and of the small GETs)
STARTUP_SECONDS = 90
REQUEST_TIMEOUT = 900
MAX_REQUESTS_PER_CLIENT = 1_000_000  # bound of the concurrency loops (they stop on time)

REF_USER, LIASSE_USER = "bench", "secretaire"
PASSWORD = "bench-Password-2026"
COMPANY, FOLDER = "Boulangerie Martin", "Achats"

ALLPROP = (b'<?xml version="1.0" encoding="utf-8"?>\n'
           b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')
NAMEDPROP = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop>'
             b"<D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:creationdate/>"
             b"<D:displayname/><D:getetag/></D:prop></D:propfind>")


# --- sizes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    folders: tuple[int, int, int]  # PROPFIND folder sizes: small, medium, large
    small_count: int  # PUT/GET of small_count x small_size
    small_size: int
    big_size: int  # one big PUT/GET
    clients: tuple[int, int]
    duration: float  # seconds of each concurrency measurement
    rounds: int  # rounds of the quick figures (PROPFIND small/medium, 200 x 64 KiB)
    heavy_rounds: int  # rounds of the slow ones (large PROPFIND, big file, concurrency)


FULL = Plan(folders=(100, 1000, 10000), small_count=200, small_size=64 * KIB,
            big_size=256 * MIB, clients=(8, 32), duration=5.0, rounds=5, heavy_rounds=3)
QUICK = Plan(folders=(50, 200, 1000), small_count=20, small_size=64 * KIB,
             big_size=16 * MIB, clients=(8, 32), duration=1.0, rounds=3, heavy_rounds=2)


def doc_name(i: int) -> str:
    return f"doc-{i:05d}.pdf"


def doc_body(folder: str, i: int) -> bytes:
    head = f"{folder} document {i:05d}\n".encode()
    return head + b"." * (DOC_SIZE - len(head) - 1) + b"\n"


# --- the reference server (child process) -------------------------------------------------


def serve_reference(root: str) -> None:
    """Plain WsgiDAV with its default settings, as `wsgidav` would serve it on cheroot."""
    from cheroot import wsgi
    from wsgidav.wsgidav_app import WsgiDAVApp

    config = {
        "provider_mapping": {"/": root},  # FilesystemProvider
        "simple_dc": {"user_mapping": {"*": {REF_USER: {"password": PASSWORD}}}},
        "property_manager": True,
        "lock_storage": True,
    }
    app = WsgiDAVApp(config)
    # Same arguments as wsgidav.server.server_cli._run_cheroot (numthreads=50).
    server = wsgi.Server((HOST, 0), app, numthreads=50, server_name="WsgiDAV")
    server.prepare()
    print(f"REFERENCE http://{HOST}:{server.bind_addr[1]}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()



# --- server processes ---------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    prefix: str  # URL path of the folder that holds the bench folders, ending with "/"
    auth: str
    log_path: Path

    @property
    def output(self) -> list[str]:
        """What the server printed (stdout and stderr)."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace").splitlines(
                keepends=True)
        except OSError:
            return []

    @property
    def pid(self) -> int:
        return self.process.pid

    def path(self, *segments: str, folder: bool = False) -> str:
        p = self.prefix + "/".join(quote(s) for s in segments)
        return p + "/" if folder and not p.endswith("/") else p

    def rss_kib(self) -> int:
        return read_rss_kib(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _start(cmd: list[str], marker: str, log_path: Path, env: dict | None = None
           ) -> tuple[subprocess.Popen, str]:
    """Start a server with its output going to `log_path` (a file, not a pipe: nothing in
    the client process has to drain it), wait (bounded) for the line containing `marker`."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   cwd=str(REPO))
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if marker in line:
                return process, line
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"{cmd[0]} did not start:\n"
                       + log_path.read_text(encoding="utf-8", errors="replace"))


def _basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()


def start_reference(root: Path, log_path: Path) -> Server:
    process, line = _start(
        [sys.executable, str(Path(__file__).resolve()), "--serve-reference", str(root)],
        "REFERENCE ", log_path)
    port = int(line.rsplit(":", 1)[1])
    return Server("plain WsgiDAV", process, port, "/", _basic(REF_USER), log_path)


def wait_until_answering(port: int) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        conn = http.client.HTTPConnection(HOST, port, timeout=10)
        try:
            conn.request("OPTIONS", "/dav/")
            conn.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            conn.close()


def liasse_command() -> list[str]:
    exe = Path(sys.executable).parent / "liasse"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]


def start_liasse(data: Path, folder_name: str, log_path: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    try:
        process, line = _start(
            [*liasse_command(), "demo", "--data", str(data), "--host", HOST, "--port", "0",
             "--password", PASSWORD], "Application web", log_path, env)
    except RuntimeError as exc:
        errors = data / "liasse-errors.log"
        if errors.exists():
            raise RuntimeError(f"{exc}\n{errors.read_text(encoding='utf-8')[-4000:]}") from None
        raise
    url = line.split(":", 1)[1].strip().rstrip("/")
    port = int(url.rsplit(":", 1)[1])
    # The banner is printed just before the serve loop starts: wait until it answers, so
    # that no figure includes the server's last start-up steps.
    wait_until_answering(port)
    prefix = "/dav/" + "/".join(quote(s) for s in (folder_name, FOLDER, "bench")) + "/"
    return Server("Liasse", process, port, prefix, _basic(LIASSE_USER), log_path)


def read_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's VmRSS every 50 ms in a thread; growth = peak - baseline."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.baseline = self.peak = self.after = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, read_rss_kib(self.pid))

    def __enter__(self) -> RssSampler:
        self.baseline = self.peak = read_rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.after = read_rss_kib(self.pid)
        self.peak = max(self.peak, self.after)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 1024


# --- HTTP client ----------------------------------------------------------------------------


class BenchError(Exception):
    pass


class Client:
    """One persistent http.client connection with the server's credentials."""

    def __init__(self, server: Server, timeout: float = REQUEST_TIMEOUT) -> None:
        self.server = server
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.server.port, timeout=self.timeout)
        return self.conn

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None, *, retry: bool = True
                ) -> tuple[int, bytes]:
        all_headers = {"Authorization": self.server.auth, **(headers or {})}
        for attempt in (0, 1):
            reused = self.conn is not None
            conn = self._connection()
            try:
                conn.request(method, path, body=body, headers=all_headers)
                response = conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or not retry or not reused:
                    raise
                continue  # an idle keep-alive connection closed by the server: once more
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def check(self, method: str, path: str, expected: tuple[int, ...], **kwargs) -> bytes:
        status, data = self.request(method, path, **kwargs)
        if status not in expected:
            raise BenchError(f"{self.server.name}: {method} {path} -> {status} "
                             f"{data[:300]!r}")
        return data

    def propfind(self, path: str, members: int, body: bytes = ALLPROP) -> None:
        data = self.check("PROPFIND", path, (207,), body=body,
                          headers={"Depth": "1", "Content-Type": "application/xml"})
        found = count_responses(data)
        if found != members + 1:
            raise BenchError(f"{self.server.name}: PROPFIND {path} listed {found - 1} "
                             f"members, expected {members}")


def count_responses(data: bytes) -> int:
    return len(re.findall(rb"</(?:\w+:)?response>", data))  # opening tags may hold xmlns


def put_stream(server: Server, path: str, size: int, chunk: memoryview) -> None:
    """PUT `size` bytes from a repeated chunk on a fresh connection (body never in memory)."""
    conn = http.client.HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.putrequest("PUT", path, skip_accept_encoding=True)
        conn.putheader("Authorization", server.auth)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        sent = 0
        while sent < size:
            n = min(len(chunk), size - sent)
            conn.send(chunk[:n])
            sent += n
        response = conn.getresponse()
        data = response.read()
        if response.status not in (200, 201, 204):
            raise BenchError(f"{server.name}: PUT {path} -> {response.status} {data[:300]!r}")
    finally:
        conn.close()


def get_stream(server: Server, path: str, size: int) -> None:
    conn = http.client.HTTPConnection(HOST, server.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", path, headers={"Authorization": server.auth})
        response = conn.getresponse()
        buffer = bytearray(MIB)
        total = 0
        while n := response.readinto(buffer):
            total += n
        if response.status != 200 or total != size:
            raise BenchError(f"{server.name}: GET {path} -> {response.status}, {total} bytes "
                             f"of {size}")
    finally:
        conn.close()


# --- population -------------------------------------------------------------------------


def put_folder(server: Server, name: str, count: int, workers: int = 4) -> None:
    """MKCOL the folder and PUT `count` documents into it over HTTP (a few connections)."""
    Client(server).check("MKCOL", server.path(name, folder=True), (201,))
    local = threading.local()

    def put(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = Client(server)
        local.client.check("PUT", server.path(name, doc_name(i)), (201, 204),
                           body=doc_body(name, i))

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(put, i) for i in range(count)]:
            future.result()


def write_reference_folder(root: Path, name: str, count: int) -> None:
    folder = root / name
    folder.mkdir()
    for i in range(count):
        (folder / doc_name(i)).write_bytes(doc_body(name, i))


def insert_liasse_folder(data: Path, name: str, count: int) -> str:
    """With the server stopped: create Achats/bench and Achats/bench/<name> holding `count`
    documents, through acl.documents.store / .tree / .blobs (as the demo and imports do).
    Returns the company's drive folder name."""
    from sqlalchemy import select

    from acl.documents import store
    from acl.documents.blobs import open_store
    from acl.documents.store import Location
    from acl.documents.tree import add_document
    from acl.people.models import Company, User
    from config.settings import SETTINGS_FILENAME, load_settings
    from liasse.cli.runtime import open_database

    settings = load_settings(data / SETTINGS_FILENAME)
    db = open_database(settings)
    blobs = open_store(settings)
    try:
        with db.transaction() as s:
            company = s.scalars(select(Company).where(Company.name == COMPANY)).one()
            user = s.scalars(select(User).where(User.login == LIASSE_USER)).one()
            achats = store.resolve(s, company, [FOLDER])
            if achats is None:
                raise BenchError(f"no {FOLDER} folder in {COMPANY}")
            bench = store.create_folder(s, achats, "bench", user.id)
            big = store.create_folder(s, Location(company, (*achats.nodes, bench)), name,
                                          user.id)
            for i in range(count):
                add_document(s, blobs, big, doc_name(i), io.BytesIO(doc_body(name, i)),
                             deposited_by_id=user.id)
            return company.folder_name
    finally:
        db.dispose()


# --- measurements ---------------------------------------------------------------------------


@dataclass
class Samples:
    values: dict[str, list[float]] = field(default_factory=lambda: {"ref": [], "liasse": []})
    errors: dict[str, Counter[str]] = field(
        default_factory=lambda: {"ref": Counter(), "liasse": Counter()})

    def median(self, side: str) -> float | None:
        return statistics.median(self.values[side]) if self.values[side] else None

    def maximum(self, side: str) -> float | None:
        return max(self.values[side]) if self.values[side] else None


def touch(client: Client, path: str, stamp: int) -> None:
    """Change the folder at `path` (a dead property on its first document, untimed): the
    listing that follows is then computed, not Liasse's cached answer for an unchanged
    folder. The reference (which caches nothing) gets the same request."""
    body = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:propertyupdate xmlns:D="DAV:" '
            b'xmlns:B="urn:bench:"><D:set><D:prop><B:stamp>%d</B:stamp></D:prop></D:set>'
            b"</D:propertyupdate>" % stamp)
    client.check("PROPPATCH", path + quote(doc_name(0)), (207,), body=body,
                 headers={"Content-Type": "application/xml"})


def time_propfind(server: Server, path: str, members: int, reps: int,
                  body: bytes = ALLPROP, *, changed: bool = True) -> float:
    """Median seconds of `reps` sequential PROPFIND Depth 1 on one warm connection; with
    `changed`, each after a change in the folder (untimed)."""
    client = Client(server)
    client.request("OPTIONS", path)  # connect (and sign in) before timing
    times = []
    for rep in range(reps):
        if changed:
            touch(client, path, rep)
        start = time.perf_counter()
        client.propfind(path, members, body)
        times.append(time.perf_counter() - start)
    client.close()
    return statistics.median(times)


def time_requests(server: Server, method: str, folder: str, reps: int) -> float:
    """Median seconds of `reps` sequential requests on the folder's documents."""
    client = Client(server)
    client.request("OPTIONS", server.path(folder, folder=True))
    times = []
    for i in range(reps):
        start = time.perf_counter()
        client.check(method, server.path(folder, doc_name(i)), (200,))
        times.append(time.perf_counter() - start)
    client.close()
    return statistics.median(times)


def put_small_files(server: Server, folder: str, bodies: list[bytes]) -> float:
    """MiB/s of sequential PUTs of new documents on one connection."""
    client = Client(server)
    client.check("MKCOL", server.path(folder, folder=True), (201,))
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        client.check("PUT", server.path(folder, doc_name(i)), (201, 204), body=body,
                     retry=False)
    elapsed = time.perf_counter() - start
    client.close()
    return sum(map(len, bodies)) / MIB / elapsed


def get_small_files(server: Server, folder: str, bodies: list[bytes]) -> float:
    client = Client(server)
    client.request("OPTIONS", server.path(folder, folder=True))
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        data = client.check("GET", server.path(folder, doc_name(i)), (200,))
        if len(data) != len(body):
            raise BenchError(f"{server.name}: GET {folder}/{doc_name(i)}: {len(data)} bytes")
    elapsed = time.perf_counter() - start
    client.close()
    return sum(map(len, bodies)) / MIB / elapsed


def concurrent(server: Server, clients: int, duration: float,
               make_request: Callable[[Client, int], str | None]
               ) -> tuple[float, Counter[str]]:
    """`clients` threads, each with its own persistent connection, issue requests for
    `duration` seconds; returns (requests/s, errors by kind). A request is an error when it
    raises or `make_request` returns what went wrong (the connection is then reopened)."""
    done = [0] * clients
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    ends = [0.0] * clients
    start_at: list[float] = []
    # The clock starts once every client is connected (the barrier's action runs once).
    ready = threading.Barrier(clients + 1, action=lambda: start_at.append(time.monotonic()),
                              timeout=120)

    def worker(k: int) -> None:
        client = Client(server, timeout=120)
        try:
            make_request(client, k)  # connect, untimed
        except Exception:
            client.close()
        ready.wait()
        deadline = start_at[0] + duration
        i = 0
        while i < MAX_REQUESTS_PER_CLIENT and time.monotonic() < deadline:
            try:
                problem = make_request(client, k * 7919 + i)
            except Exception as exc:
                problem = type(exc).__name__
            if problem is None:
                done[k] += 1
            else:
                with lock:
                    errors[problem] += 1
                client.close()
            i += 1
        ends[k] = time.monotonic()
        client.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join(timeout=duration + 300)
    elapsed = max(ends) - start_at[0]
    return sum(done) / elapsed, errors


def small_get(server: Server, folder: str, count: int
              ) -> Callable[[Client, int], str | None]:
    paths = [server.path(folder, doc_name(i)) for i in range(count)]

    def request(client: Client, i: int) -> str | None:
        status, data = client.request("GET", paths[i % count], retry=False)
        if status != 200:
            return f"HTTP {status}"
        return None if len(data) == DOC_SIZE else "short body"

    return request


def propfind_request(server: Server, folder: str, count: int
                     ) -> Callable[[Client, int], str | None]:
    path = server.path(folder, folder=True)
    headers = {"Depth": "1", "Content-Type": "application/xml"}

    def request(client: Client, i: int) -> str | None:
        status, data = client.request("PROPFIND", path, body=ALLPROP, headers=headers,
                                      retry=False)
        if status != 207:
            return f"HTTP {status}"
        return None if count_responses(data) == count + 1 else "incomplete listing"

    return request


# --- the run --------------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    unit: str  # "ms", "MiB/s", "req/s", "MiB"
    better: str  # "lower" (time, memory) or "higher" (throughput)
    target: float | None  # minimum ratio, or for memory the Liasse ceiling in MiB
    samples: Samples = field(default_factory=Samples)
    aggregate: str = "median"  # or "max" (memory: the worst round)
    errors_matter: bool = False  # target also requires no error

    def value(self, side: str) -> float | None:
        return self.samples.maximum(side) if self.aggregate == "max" \
            else self.samples.median(side)


def fmt_count(n: int) -> str:
    return f"{n:,}"


def fmt_size(n: int) -> str:
    return f"{n // MIB} MiB" if n >= MIB else f"{n // KIB} KiB"


class Bench:
    def __init__(self, plan: Plan, tmp: Path, log: Callable[[str], None]) -> None:
        self.plan = plan
        self.tmp = tmp
        self.log = log
        self.servers: dict[str, Server] = {}
        s, m, large = plan.folders
        self.folder_names = {n: f"p{n}" for n in plan.folders}
        small = f"{plan.small_count} × {fmt_size(plan.small_size)}"
        big = fmt_size(plan.big_size)
        c1, c2 = plan.clients
        self.figures = [
            Figure("pf_s", f"PROPFIND Depth 1, {fmt_count(s)} documents", "ms", "lower", 1.0),
            Figure("pf_m", f"PROPFIND Depth 1, {fmt_count(m)} documents", "ms", "lower", 1.0),
            Figure("pf_l", f"PROPFIND Depth 1, {fmt_count(large)} documents", "ms", "lower",
                   4.0),
            Figure("put_s", f"PUT {small}", "MiB/s", "higher", 1.0),
            Figure("get_s", f"GET {small}", "MiB/s", "higher", 1.0),
            Figure("put_b", f"PUT one {big} file", "MiB/s", "higher", 1.0),
            Figure("get_b", f"GET one {big} file", "MiB/s", "higher", 2.0),
            Figure(f"cg_{c1}", f"{c1} clients, small GETs", "req/s", "higher", 1.0),
            Figure(f"cg_{c2}", f"{c2} clients, small GETs", "req/s", "higher", 1.0),
            Figure(f"cp_{c1}", f"{c1} clients, PROPFIND of {fmt_count(s)} documents", "req/s",
                   "higher", 1.0),
            Figure(f"cp_{c2}", f"{c2} clients, PROPFIND of {fmt_count(s)} documents", "req/s",
                   "higher", 10.0, errors_matter=True),
            Figure("mem_pf", f"Memory growth, PROPFIND of {fmt_count(large)} documents",
                   "MiB", "lower", 50.0, aggregate="max"),
            Figure("mem_put", f"Memory growth, PUT of {big}", "MiB", "lower", 100.0,
                   aggregate="max"),
            # Information only (no target).
            Figure("pf_s_same", f"PROPFIND Depth 1, {fmt_count(s)} documents, folder "
                   "unchanged since the last listing", "ms", "lower", None),
            Figure("pf_l_named", f"PROPFIND Depth 1, {fmt_count(large)} documents, 6 named "
                   "properties", "ms", "lower", None),
            Figure("us_member", f"PROPFIND {fmt_count(large)}: time per member", "µs",
                   "lower", None),
            Figure("mem_kept", f"RSS kept after the {fmt_count(large)}-document PROPFINDs",
                   "MiB", "lower", None, aggregate="max"),
            Figure("mem_get", f"Memory growth, GET of {big}", "MiB", "lower", None,
                   aggregate="max"),
            Figure("lat_options", "Latency, OPTIONS on a document (sign-in, no storage)",
                   "ms", "lower", None),
            Figure("lat_head", "Latency, HEAD of a 1 KiB document", "ms", "lower", None),
            Figure("lat_get", "Latency, GET of a 1 KiB document", "ms", "lower", None),
        ]
        self.by_key = {f.key: f for f in self.figures}

    def record(self, key: str, side: str, value: float,
               errors: Counter[str] | None = None) -> None:
        self.by_key[key].samples.values[side].append(value)
        self.by_key[key].samples.errors[side].update(errors or {})

    # -- setup --

    def setup(self) -> None:
        plan = self.plan
        small_n, mid_n, large_n = plan.folders
        ref_root = self.tmp / "reference"
        ref_root.mkdir()
        data = self.tmp / "liasse-data"

        t = time.monotonic()
        write_reference_folder(ref_root, self.folder_names[large_n], large_n)
        self.log(f"reference: {large_n} documents written to its folder "
                 f"({time.monotonic() - t:.1f} s)")
        self.servers["ref"] = start_reference(ref_root, self.tmp / "reference.log")

        t = time.monotonic()
        first = start_liasse(data, "", self.tmp / "liasse-first.log")  # creates the demo
        first.stop()
        folder_name = insert_liasse_folder(data, self.folder_names[large_n], large_n)
        self.log(f"Liasse: demo world created, {large_n} documents inserted through "
                 f"acl.documents.store/.tree/.blobs ({time.monotonic() - t:.1f} s)")
        self.servers["liasse"] = start_liasse(data, folder_name, self.tmp / "liasse.log")
        self.log(f"servers: plain WsgiDAV pid {self.servers['ref'].pid} port "
                 f"{self.servers['ref'].port}; Liasse pid {self.servers['liasse'].pid} port "
                 f"{self.servers['liasse'].port} (as {LIASSE_USER!r})")

        for server in self.servers.values():
            t = time.monotonic()
            for n in (small_n, mid_n):
                put_folder(server, self.folder_names[n], n)
            self.log(f"{server.name}: {small_n + mid_n} documents PUT over HTTP "
                     f"({time.monotonic() - t:.1f} s)")
            for n in plan.folders:  # the listings are complete (raises otherwise)
                Client(server).propfind(server.path(self.folder_names[n], folder=True), n)

    # -- rounds --

    def order(self, r: int) -> list[str]:
        return ["ref", "liasse"] if r % 2 == 0 else ["liasse", "ref"]

    def warm_up(self, chunk: memoryview) -> None:
        """One untimed pass: the big file, then each folder. Memory is sampled here too:
        a fresh server's first big upload and first large listing are the ones that grow it
        most (later ones reuse what the process kept), and the upload goes first so that
        the memory kept by the listing does not hide its growth."""
        for side in self.order(0):
            self._big_file(side, -1, chunk, record_time=False)
        for side in self.order(0):
            server = self.servers[side]
            for n in self.plan.folders[:2]:
                Client(server).propfind(server.path(self.folder_names[n], folder=True), n)
            self._large_propfind(side, record_time=False)

    def _large_propfind(self, side: str, *, record_time: bool = True) -> None:
        large_n = self.plan.folders[2]
        server = self.servers[side]
        path = server.path(self.folder_names[large_n], folder=True)
        client = Client(server)
        client.request("OPTIONS", path)
        touch(client, path, time.monotonic_ns())
        before = server.rss_kib()
        with RssSampler(server.pid) as rss:
            start = time.perf_counter()
            client.propfind(path, large_n)
            elapsed = time.perf_counter() - start
        client.close()
        self.record("mem_pf", side, rss.growth_mib)
        self.large_baseline.setdefault(side, before)
        self.record("mem_kept", side, (server.rss_kib() - self.large_baseline[side]) / 1024)
        if record_time:
            self.record("pf_l", side, elapsed * 1000)
            self.record("us_member", side, elapsed * 1e6 / large_n)

    def run(self) -> None:
        from acl.documents.blobs import (
            SYNC_DELAY,  # here: the reference's process imports nothing of Liasse
        )

        plan = self.plan
        settle = 2 * SYNC_DELAY  # the pause after each server's small PUTs (see where used)
        self.large_baseline: dict[str, int] = {}
        chunk = memoryview(os.urandom(MIB))
        self.warm_up(chunk)
        self.log("warm-up done")
        small_n, mid_n, large_n = plan.folders
        for r in range(max(plan.rounds, plan.heavy_rounds)):
            t = time.monotonic()
            light, heavy = r < plan.rounds, r < plan.heavy_rounds
            order = self.order(r)
            if light:
                for n, key, reps in ((small_n, "pf_s", 20), (mid_n, "pf_m", 5)):
                    for side in order:
                        server = self.servers[side]
                        self.record(key, side, 1000 * time_propfind(
                            server, server.path(self.folder_names[n], folder=True), n, reps))
                for side in order:
                    server = self.servers[side]
                    self.record("pf_s_same", side, 1000 * time_propfind(
                        server, server.path(self.folder_names[small_n], folder=True), small_n,
                        20, changed=False))
                noise = os.urandom(plan.small_size)
                heads = [f"round {r} file {i}\n".encode() for i in range(plan.small_count)]
                bodies = [h + noise[len(h):] for h in heads]  # distinct bodies, same size
                for method, key in (("OPTIONS", "lat_options"), ("HEAD", "lat_head"),
                                    ("GET", "lat_get")):
                    for side in order:
                        self.record(key, side, 1000 * time_requests(
                            self.servers[side], method, self.folder_names[small_n], 30))
                for side in order:
                    self.record("put_s", side, put_small_files(
                        self.servers[side], f"small-r{r}", bodies))
                    # Liasse makes the last bodies durable SYNC_DELAY seconds after them, in
                    # the background: that work is kept out of the next figure, whichever
                    # server it measures, by the same pause after either server's PUTs.
                    time.sleep(settle)
                for side in order:
                    self.record("get_s", side, get_small_files(
                        self.servers[side], f"small-r{r}", bodies))
            if heavy:
                for side in order:
                    self._large_propfind(side)
                for side in order:
                    server = self.servers[side]
                    path = server.path(self.folder_names[large_n], folder=True)
                    self.record("pf_l_named", side, 1000 * time_propfind(
                        server, path, large_n, 1, NAMEDPROP))
                for side in order:
                    self._big_file(side, r, chunk)
                for clients in plan.clients:
                    for side in order:
                        server = self.servers[side]
                        rps, errors = concurrent(server, clients, plan.duration, small_get(
                            server, self.folder_names[small_n], small_n))
                        self.record(f"cg_{clients}", side, rps, errors)
                    for side in order:
                        server = self.servers[side]
                        rps, errors = concurrent(server, clients, plan.duration,
                                                 propfind_request(
                                                     server, self.folder_names[small_n],
                                                     small_n))
                        self.record(f"cp_{clients}", side, rps, errors)
            self.log(f"round {r + 1} done ({time.monotonic() - t:.1f} s)")

    def _big_file(self, side: str, r: int, chunk: memoryview, *,
                  record_time: bool = True) -> None:
        server = self.servers[side]
        size = self.plan.big_size
        path = server.path(f"big-r{r}.bin" if r >= 0 else "big-warm-up.bin")
        with RssSampler(server.pid) as rss:
            start = time.perf_counter()
            put_stream(server, path, size, chunk)
            elapsed = time.perf_counter() - start
        if record_time:
            self.record("put_b", side, size / MIB / elapsed)
        self.record("mem_put", side, rss.growth_mib)
        with RssSampler(server.pid) as rss:
            start = time.perf_counter()
            get_stream(server, path, size)
            elapsed = time.perf_counter() - start
        if record_time:
            self.record("get_b", side, size / MIB / elapsed)
        self.record("mem_get", side, rss.growth_mib)
        Client(server).check("DELETE", path, (200, 204))  # untimed; keeps the disk small

    # -- report --

    def rows(self) -> list[list[str]]:
        rows = []
        for f in self.figures:
            ref, lia = f.value("ref"), f.value("liasse")
            ref_err = sum(f.samples.errors["ref"].values())
            lia_err = sum(f.samples.errors["liasse"].values())
            ratio = None
            if ref is not None and lia is not None:
                if f.better == "lower":
                    ratio = ref / lia if lia > 0 else None
                else:
                    ratio = lia / ref if ref > 0 else None
                if f.unit == "MiB" and min(ref, lia) < 1:
                    ratio = None  # growths under 1 MiB: a ratio would be noise
            if f.target is None:
                target, met = "(info)", ""
            elif f.unit == "MiB":
                target = f"< {f.target:g} MiB"
                met = "—" if lia is None else ("yes" if lia < f.target else
                                               f"NO ({lia / f.target:.1f}× the limit)")
            else:
                target = f"≥ {f.target:g}×" + (", no error" if f.errors_matter else "")
                if ratio is None:
                    met = "—"
                elif ratio >= f.target and not (f.errors_matter and lia_err):
                    met = "yes" if not lia_err else f"yes, but {lia_err} errors"
                elif ratio < f.target:
                    met = f"NO (reaches {100 * ratio / f.target:.0f}% of target)"
                else:
                    met = f"NO ({lia_err} errors)"
            rows.append([f.label, fmt_value(ref, f.unit, ref_err),
                         fmt_value(lia, f.unit, lia_err),
                         "—" if ratio is None else f"{ratio:.2f}×", target, met])
        return rows

    def error_notes(self) -> list[str]:
        notes = []
        for f in self.figures:
            parts = []
            for side, name in (("ref", "plain WsgiDAV"), ("liasse", "Liasse")):
                kinds = f.samples.errors[side]
                if kinds:
                    parts.append(f"{name} " + ", ".join(
                        f"{n} × {kind}" for kind, n in kinds.most_common()))
            if parts:
                notes.append(f"Errors, {f.label}: " + "; ".join(parts) + ".")
        return notes


def server_error_summary(name: str, output: list[str]) -> str | None:
    """The exception lines a server printed, counted (its tracebacks' last lines)."""
    kinds = Counter(line.strip() for line in output
                    if not line.startswith((" ", "Traceback", "During handling"))
                    and ("Error" in line or "Exception" in line))
    if not kinds:
        return None
    return (f"{name} printed: " + "; ".join(f"{n} × {kind[:120]}"
                                                   for kind, n in kinds.most_common(5)) + ".")


def fmt_value(value: float | None, unit: str, errors: int) -> str:
    if value is None:
        return "—"
    digits = 0 if unit in ("µs",) or value >= 100 else 1 if value >= 10 else 2
    text = f"{value:,.{digits}f} {unit}"
    return text + (f" ({errors} err)" if errors else "")


HEADER = ["Figure", "plain WsgiDAV", "Liasse", "ratio", "target", "met"]


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()  # noqa: E731
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, rows)])


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(
        ["---", "---:", "---:", "---:", "---", "---"]) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def versions() -> str:
    from importlib.metadata import version

    parts = [f"Python {platform.python_version()}"]
    for package in ("wsgidav", "cheroot", "SQLAlchemy"):
        try:
            parts.append(f"{package} {version(package)}")
        except Exception:
            pass
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table there")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--server-logs", metavar="DIR",
                        help="write both servers' console output there (ref.log, liasse.log)")
    parser.add_argument("--serve-reference", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_reference:
        serve_reference(args.serve_reference)
        return 0

    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = Plan(**{**plan.__dict__, "rounds": max(1, args.rounds),
                       "heavy_rounds": max(1, args.rounds)})
    started = time.monotonic()
    load_before = os.getloadavg()[0]

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="liasse-bench-"))
    bench = Bench(plan, tmp, log)
    try:
        bench.setup()
        bench.run()
    finally:
        outputs: dict[str, tuple[str, list[str]]] = {}
        for side, server in bench.servers.items():
            server.stop()
            outputs[side] = (server.name, server.output)
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started

    rows = bench.rows()
    print()
    print(text_table(rows))
    cpus = os.cpu_count()
    notes = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M')}, {'--quick' if args.quick else 'full'}, "
        f"{plan.rounds} rounds ({plan.heavy_rounds} for the large PROPFIND, the big file and "
        f"the concurrency figures, {plan.duration:g} s each), {elapsed / 60:.1f} min; "
        f"{cpus} CPUs, {versions()}; load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end.",
        "Ratios: better is higher (reference time / Liasse time; Liasse throughput / "
        "reference throughput; memory: reference growth / Liasse growth).",
    ]
    notes += bench.error_notes()
    notes += [s for s in (server_error_summary(*o) for o in outputs.values()) if s]
    for line in notes:
        print(line)
    if args.server_logs:
        folder = Path(args.server_logs)
        folder.mkdir(parents=True, exist_ok=True)
        for side, (_, lines) in outputs.items():
            (folder / f"{side}.log").write_text("".join(lines), encoding="utf-8")
        print(f"Server outputs written to {folder}/")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows) + "\n\n" + "\n".join(
            f"- {line}" for line in notes) + "\n", encoding="utf-8")
        print(f"Markdown table written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
