"""The firm's sync tool seen from the tests: `liasse sync` run as a real process against a
real `liasse serve`, and a fault-injecting HTTP relay put between them (5xx answers, slow
answers), for tests/e2e/test_sync*.py."""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from support.server import liasse_command
from support.world import render_toml

ROOT = Path(__file__).parents[2]
# Files the tests write are settled at once; retries do not wait long.
FAST = {"settle_seconds": 0, "retries": 2, "backoff_seconds": 0.05, "timeout_seconds": 60}


@dataclass
class SyncResult:
    code: int
    stdout: str
    stderr: str
    report: str


def sync_env(password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    if password is not None:
        env["LIASSE_SYNC_PASSWORD"] = password
    env["PYTHONPATH"] = str(ROOT)  # the `sync` package from this checkout
    return env


def sync_command(url: str, local: Path, login: str, settings: Path, *extra: str) -> list[str]:
    return [*liasse_command(), "sync", "--server", url, "--user", login, "--local", str(local),
            "--settings", str(settings), *extra]


def write_sync_settings(folder: Path, **keys) -> Path:
    path = folder / "liasse-sync.toml"
    path.write_text(render_toml({"sync": {**FAST, **keys}}), encoding="utf-8")
    return path


def run_sync(url: str, local: Path, *extra: str, login: str = "expert",
             password: str | None, settings: Path | None = None, **kwargs) -> SyncResult:
    """One run of `liasse sync` (bounded: 10 minutes at most)."""
    settings = settings or write_sync_settings(local.parent)
    done = subprocess.run(sync_command(url, local, login, settings, *extra),
                          capture_output=True, text=True, env=sync_env(password), timeout=600,
                          **kwargs)
    last = local / ".liasse-sync" / "dernier-rapport.txt"
    return SyncResult(done.returncode, done.stdout, done.stderr,
                      last.read_text(encoding="utf-8") if last.exists() else "")


def tree_of(local: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) below `local`, the tool's own folder aside."""
    found: dict[str, bytes | None] = {}
    for path in sorted(local.rglob("*")):
        relative = path.relative_to(local).as_posix()
        if relative.startswith(".liasse-sync"):
            continue
        found[relative] = None if path.is_dir() else path.read_bytes()
    return found


@dataclass
class Relay:
    """An HTTP relay to a real server on a free loopback port: the first `fail_first`
    requests (or every one with `always_fail`) are answered 503 without reaching it; each
    relayed GET waits `delay` seconds first; `before(method, path)`, if given, is called
    (in the relay's thread for that request) before a request is relayed."""

    target: str
    fail_first: int = 0
    always_fail: bool = False
    delay: float = 0.0
    before: Callable[[str, str], None] | None = None
    seen: list[tuple[str, int]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Relay:
        relay = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                failing = relay.always_fail or len(relay.seen) < relay.fail_first
                if failing:
                    relay.seen.append((self.command, 503))
                    text = b"Service indisponible (relais de test)\n"
                    self.send_response(503)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                if relay.before is not None:
                    relay.before(self.command, unquote(urlsplit(self.path).path))
                if relay.delay and self.command == "GET":
                    threading.Event().wait(relay.delay)
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() not in ("host", "connection")}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                    relay.seen.append((self.command, answer.status))
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in ("connection", "transfer-encoding",
                                               "content-length"):
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_PROPFIND = do_REPORT = do_MKCOL = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()
