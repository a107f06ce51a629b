#!/usr/bin/env python3
"""Feeds benchmark (issue 20): requests per second of a 100-item RSS feed and of its `304`
answer, with 32 concurrent readers, side by side in one run with a PROPFIND Depth 1 of a
folder of 100 documents on the same server as the yardstick.

    .venv/bin/python bench/feeds_bench.py [--seconds S] [--readers N] [--rounds R]

Not a test. A real `liasse demo --port 0` over a fresh data folder on 127.0.0.1 (SQLite);
`martin` deposits 100 documents into Boulangerie Martin / Achats over WebDAV (100 deposit
events); the readers use the demo token of `expert` (correspondant: every event is visible,
each passes the permission function). Each reader holds one kept-alive connection. The three
loads are interleaved for R rounds of S seconds each; the table gives the median of the rounds.
The server is stopped and the folder removed at the end, also on error or Ctrl+C.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
PASSWORD = "bench-feeds-2026"
FOLDER = ("Boulangerie Martin", "Achats", "flux")
OUTPUT: list[str] = []
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:">'
                 b"<D:allprop/></D:propfind>")


def basic(login: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{PASSWORD}".encode()).decode()


def start(data: Path) -> tuple[subprocess.Popen, int]:
    exe = Path(sys.executable).parent / "liasse"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    process = subprocess.Popen([*command, "demo", "--data", str(data), "--host", HOST,
                                "--port", "0", "--password", PASSWORD],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    deadline = time.monotonic() + 120
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "Application web" in line:
            threading.Thread(target=lambda: OUTPUT.extend(process.stdout), daemon=True).start()
            return process, int(line.rsplit(":", 1)[1].strip().strip("/"))
    process.kill()
    raise RuntimeError("liasse demo did not start")


def request(connection, method: str, path: str, headers: dict, body: bytes | None = None):
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    return answer.status, answer.getheader("ETag"), data


def prepare(port: int) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    auth = {"Authorization": basic("martin")}
    path = "/dav/" + "/".join(quote(s) for s in FOLDER)
    assert request(connection, "MKCOL", path, auth)[0] == 201
    for i in range(100):
        status, _, _ = request(connection, "PUT", f"{path}/Facture-{i:03d}.pdf", auth,
                               b"%PDF-1.4 facture " + str(i).encode() * 50)
        assert status == 201, status
    connection.close()


def expert_secret(data: Path) -> str:
    from sqlalchemy import select

    from acl.db import Database, make_engine
    from acl.people.models import User
    from acl.rights.models import FeedToken
    from config.settings import load_settings
    settings = load_settings(data / "liasse.toml")
    db = Database(make_engine(settings.database.url))
    with db.session() as s:
        secret = s.scalars(select(FeedToken.demo_secret).join(User).where(
            User.login == "expert")).one()
    db.engine.dispose()
    return secret


def load(port: int, readers: int, seconds: float, method: str, path: str, headers: dict,
         expected: int, body: bytes | None = None) -> tuple[float, float]:
    """(requests per second, median latency in ms) of `readers` kept-alive clients."""
    latencies: list[list[float]] = [[] for _ in range(readers)]
    failures: list[str] = []
    stop = time.monotonic() + seconds

    def run(mine: list[float]) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        try:
            while time.monotonic() < stop:
                began = time.perf_counter()
                status, _, _ = request(connection, method, path, headers, body)
                mine.append(time.perf_counter() - began)
                if status != expected:
                    failures.append(f"{method} {path}: {status}")
                    return
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(latencies[i],)) for i in range(readers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise RuntimeError(failures[0])
    every = [x for mine in latencies for x in mine]
    return len(every) / elapsed, statistics.median(every) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="liasse-feeds-bench-"))
    process = None
    try:
        process, port = start(data / "demo")
        prepare(port)
        secret = expert_secret(data / "demo")
        feed = f"/feeds/{secret}/rss"
        probe = http.client.HTTPConnection(HOST, port, timeout=60)
        status, etag, body = request(probe, "GET", feed, {})
        probe.close()
        items = body.count(b"<item>")
        assert status == 200 and items == 100, (status, items)
        folder = "/dav/" + "/".join(quote(s) for s in FOLDER) + "/"
        loads = {
            "RSS, 100 items (200)": ("GET", feed, {}, 200, None),
            "RSS, If-None-Match (304)": ("GET", feed, {"If-None-Match": etag}, 304, None),
            "PROPFIND Depth 1, 100 documents (yardstick)": (
                "PROPFIND", folder, {"Authorization": basic("expert"), "Depth": "1",
                                     "Content-Type": "application/xml"}, 207, PROPFIND_BODY),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in loads}
        for _ in range(args.rounds):
            for name, (method, path, headers, expected, body) in loads.items():
                results[name].append(load(port, args.readers, args.seconds, method, path,
                                          headers, expected, body))
        print(f"{args.readers} concurrent readers, {args.rounds} rounds of {args.seconds:g} s "
              f"each, median of the rounds (SQLite, one `liasse demo` process)\n")
        print("| load | requests/s | median latency |")
        print("|---|---:|---:|")
        for name, rounds in results.items():
            rate = statistics.median(r for r, _ in rounds)
            latency = statistics.median(lat for _, lat in rounds)
            print(f"| {name} | {rate:.0f} | {latency:.1f} ms |")
        return 0
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.stderr.write("".join(OUTPUT[-40:]) if sys.exc_info()[0] else "")
        errors = data / "demo" / "liasse-errors.log"
        if errors.exists() and errors.stat().st_size:
            print(errors.read_text(encoding="utf-8")[-3000:], file=sys.stderr)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
