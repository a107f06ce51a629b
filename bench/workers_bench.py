#!/usr/bin/env python3
"""Worker processes benchmark (issue 22, item 1): one `liasse serve` process against
`liasse serve --workers 2`, side by side in one run, on the drive's concurrent loads.

    .venv/bin/python bench/workers_bench.py [--seconds S] [--rounds R] [--client-processes P]
                                            [--generator python|wrk]

Not a test. A demo world is made once in a fresh data folder (`liasse demo`, SQLite in WAL
mode, stopped at once); `martin` deposits 100 documents of 300 to 600 bytes into
Boulangerie Martin / Autres / bench. Then two servers run at the same time on that folder,
on two loopback ports: `serve --workers 1` and `serve --workers 2`, each with the default
16 threads per process. The loads alternate between them, R rounds of S seconds each:

- 32 clients, PROPFIND Depth 1 of the 100-document folder (as `expert`);
- 32 clients, GET of one 305-byte document;
- 16 clients, PUT of 64 KiB new documents (as `expert`, into Garage Dupont / Autres /
  envois: the listed folder's company stays unchanged).

Each server is warmed first (1 s of each load: sign-ins verified and cached, listing cached
in every process). Each client holds one kept-alive connection; the clients run in P
processes (threads in each), so that the load generator's own interpreter lock is not what
is measured. The table
gives the median of the rounds and the ratio (two workers / one process). Both servers are
stopped and the folder removed at the end, also on error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "bench-workers-2026"
FOLDER = "/dav/" + "/".join(quote(s) for s in ("Boulangerie Martin", "Autres", "bench"))
# Uploads go to another company: its documents do not change the listed folder's company.
UPLOADS = "/dav/" + "/".join(quote(s) for s in ("Garage Dupont", "Autres", "envois"))
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">'
                 b"<D:allprop/></D:propfind>")
UPLOAD = os.urandom(64 * 1024)


def basic(login: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{PASSWORD}".encode()).decode()


def liasse() -> list[str]:
    exe = Path(sys.executable).parent / "liasse"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]


def start(argv: list[str], output: list[str]) -> tuple[subprocess.Popen, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    process = subprocess.Popen([*liasse(), *argv], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    for _ in range(200):  # the banner comes within a few lines
        line = process.stdout.readline()
        if not line:
            break
        output.append(line)
        if "Application web" in line:
            threading.Thread(target=lambda: output.extend(process.stdout), daemon=True).start()
            return process, int(line.rsplit(":", 1)[1].strip().strip("/"))
    process.kill()
    process.wait()
    raise RuntimeError("liasse did not start:\n" + "".join(output))


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(connection, method: str, path: str, headers: dict, body: bytes | None = None):
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    answer.read()
    return answer.status


def prepare(port: int) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    auth = {"Authorization": basic("martin")}
    assert request(connection, "MKCOL", FOLDER, auth) == 201
    for i in range(100):
        assert request(connection, "PUT", f"{FOLDER}/Note-{i:03d}.txt", auth,
                       b"note " + str(i).encode() * 300) == 201
    assert request(connection, "MKCOL", UPLOADS, {"Authorization": basic("expert")}) == 201
    connection.close()


def warm(port: int) -> None:
    """Sign-ins verified once in each process, one connection after another: 32 first
    sign-ins at once each verify the password (argon2) inside a write transaction, and on
    SQLite the last ones wait past the busy timeout (see bench/README.md)."""
    for _ in range(40):
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        for login in ("expert", "martin"):
            assert request(connection, "PROPFIND", FOLDER + "/", {
                "Authorization": basic(login), "Depth": "0"}) == 207
        connection.close()


LOADS = {
    "PROPFIND Depth 1, 100 documents (32 clients)": (32, "propfind"),
    "GET, 305-byte document (32 clients)": (32, "get"),
    "PUT 64 KiB (16 clients)": (16, "put"),
}


def _client_process(port: int, kind: str, clients: int, seconds: float, tag: str,
                    results) -> None:
    """`clients` threads in this process; puts (requests, failure or '') on `results`."""
    counts = [0] * clients
    failures: list[str] = []
    stop_at = time.monotonic() + seconds

    def run(index: int) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=120)
        sent = 0
        try:
            while time.monotonic() < stop_at:
                if kind == "propfind":
                    status = request(connection, "PROPFIND", FOLDER + "/", {
                        "Authorization": basic("expert"), "Depth": "1",
                        "Content-Type": "application/xml"}, PROPFIND_BODY)
                    expected = 207
                elif kind == "get":
                    status = request(connection, "GET", f"{FOLDER}/Note-007.txt",
                                     {"Authorization": basic("expert")})
                    expected = 200
                else:
                    sent += 1
                    status = request(connection, "PUT",
                                     f"{UPLOADS}/envoi-{tag}-{index}-{sent}.bin",
                                     {"Authorization": basic("expert")}, UPLOAD)
                    expected = 201
                if status != expected:
                    failures.append(f"{kind}: {status}")
                    return
                counts[index] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((sum(counts), failures[0] if failures else ""))


def load(port: int, kind: str, clients: int, seconds: float, processes: int,
         tag: str) -> float:
    """Requests per second of `clients` kept-alive clients spread over `processes`."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    shares = [clients // processes + (1 if i < clients % processes else 0)
              for i in range(processes)]
    workers = [context.Process(target=_client_process,
                               args=(port, kind, share, seconds, f"{tag}-{i}", results))
               for i, share in enumerate(shares) if share]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    done = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    failure = next((f for _, f in done if f), "")
    if failure:
        raise RuntimeError(failure)
    return sum(n for n, _ in done) / elapsed


WRK_SCRIPT = """
local kind, auth, folder, uploads = "%s", "%s", "%s", "%s"
local body = %s
local sent, id = 0, 0
function setup(thread) thread:set("id", tostring(math.random(1, 1e9))) end
function init(args) id = wrk.thread:get("id") or "0" end
function request()
  if kind == "propfind" then
    return wrk.format("PROPFIND", folder .. "/", {Authorization = auth, Depth = "1",
      ["Content-Type"] = "application/xml"}, body)
  elseif kind == "get" then
    return wrk.format("GET", folder .. "/Note-007.txt", {Authorization = auth})
  end
  sent = sent + 1
  return wrk.format("PUT", uploads .. "/wrk-" .. id .. "-" .. sent .. ".bin",
    {Authorization = auth}, body)
end
"""


def load_wrk(port: int, kind: str, clients: int, seconds: float, folder: Path) -> float:
    """Requests per second of `clients` kept-alive connections driven by wrk (C, two
    threads: a fraction of the CPU Python clients take from the server on these 2 cores)."""
    payload = {"propfind": PROPFIND_BODY, "get": b"", "put": b"0123456789abcdef" * 4096}[kind]
    body = "nil" if not payload else "[==[" + payload.decode("latin-1") + "]==]"
    script = folder / f"wrk-{kind}.lua"
    script.write_bytes((WRK_SCRIPT % (kind, basic("expert"), FOLDER, UPLOADS, body))
                       .encode("latin-1"))
    done = subprocess.run(["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:g}s",
                           "-s", str(script), f"http://{HOST}:{port}/"],
                          capture_output=True, text=True, timeout=seconds + 120, check=True)
    if "Non-2xx" in done.stdout or "Socket errors" in done.stdout:
        raise RuntimeError(f"wrk {kind}:\n{done.stdout}")
    line = next(li for li in done.stdout.splitlines() if li.startswith("Requests/sec:"))
    return float(line.split()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--generator", choices=("python", "wrk"), default="python",
                        help="the load generator: Python clients in processes (default), or "
                             "wrk (Debian package), which takes far less of the 2 cores")
    args = parser.parse_args()
    if args.generator == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk)")
    data = Path(tempfile.mkdtemp(prefix="liasse-workers-bench-")) / "demo"
    output: list[str] = []
    running: list[subprocess.Popen] = []
    try:
        demo, port = start(["demo", "--data", str(data), "--host", HOST, "--port", "0",
                            "--password", PASSWORD], output)
        running.append(demo)
        prepare(port)
        stop(demo)
        def measure(port: int, kind: str, clients: int, seconds: float, tag: str) -> float:
            if args.generator == "wrk":
                return load_wrk(port, kind, clients, seconds, data.parent)
            return load(port, kind, clients, seconds, args.client_processes, tag)

        servers = {}
        for workers in (1, 2):
            process, port = start(["--data", str(data), "serve", "--port", "0",
                                   "--workers", str(workers)], output)
            running.append(process)
            servers[workers] = port
        for workers, port in servers.items():
            warm(port)
            for clients, kind in LOADS.values():
                measure(port, kind, clients, 1.0, f"{workers}warm")
        results: dict[str, dict[int, list[float]]] = {
            name: {1: [], 2: []} for name in LOADS}
        for round_number in range(args.rounds):
            for name, (clients, kind) in LOADS.items():
                for workers, port in servers.items():
                    results[name][workers].append(measure(
                        port, kind, clients, args.seconds, f"{workers}w{round_number}"))
        print(f"{os.cpu_count()} cores; {args.rounds} rounds of {args.seconds:g} s per load "
              "and server, median of the rounds; "
              + ("load from wrk (2 threads)" if args.generator == "wrk" else
                 f"clients in {args.client_processes} processes")
              + "; SQLite (WAL), one data folder\n")
        print("| load | 1 process, req/s | --workers 2, req/s | ratio |")
        print("|---|---:|---:|---:|")
        for name, by_workers in results.items():
            one = statistics.median(by_workers[1])
            two = statistics.median(by_workers[2])
            print(f"| {name} | {one:.0f} | {two:.0f} | {two / one:.2f}× |")
        return 0
    finally:
        for process in running:
            stop(process)
        if sys.exc_info()[0]:
            sys.stderr.write("".join(output[-40:]))
            errors = data / "liasse-errors.log"
            if errors.exists():
                shutil.copy(errors, Path(tempfile.gettempdir()) / "workers-bench-errors.log")
        shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
