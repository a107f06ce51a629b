"""A real `liasse serve` process on a free loopback port (port 0), started and stopped by the
end-to-end tests (tests/e2e/conftest.py) and the test modules that need one of their own."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

STARTUP_SECONDS = 60


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def liasse_command() -> list[str]:
    exe = Path(sys.executable).parent / "liasse"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "liasse.cli"]


@dataclass
class LiveServer:
    process: subprocess.Popen
    base_url: str
    output: list[str] = field(default_factory=list)
    password: str = ""

    @property
    def dav_url(self) -> str:
        return f"{self.base_url}/dav/"

    def dav(self, *segments: str) -> str:
        """The URL of a path on the drive, each segment percent-encoded."""
        return self.dav_url + "/".join(quote(s) for s in segments)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


def start_server(settings_path: Path, password: str = "",
                 extra: list[str] | None = None,
                 environment: dict[str, str] | None = None) -> LiveServer:
    """Start `liasse serve --port 0` and wait (bounded) for the line giving its URL;
    `environment` is added to the process's (the ambient LIASSE_ variables are not)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    env.update(environment or {})
    process = subprocess.Popen(
        [*liasse_command(), "--config", str(settings_path), "serve", "--port", "0",
         *(extra or [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        if "Application web" in line:
            url = line.split(":", 1)[1].strip().rstrip("/")
            return LiveServer(process, url, output, password)
    process.kill()
    process.wait(timeout=10)
    if process.stdout:
        process.stdout.close()
    raise RuntimeError("liasse serve did not start:\n" + "".join(output))
