"""`liasse demo`, `liasse serve` and `liasse cert` as real processes on loopback.

Each server is started on port 0, its banner read line by line (bounded wait), queried with
urllib, then stopped with SIGTERM; whatever happens, no process is left behind.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509

from liasse.cli import main

pytestmark = pytest.mark.e2e

STARTUP_SECONDS = 120  # the demo hashes its passwords with the default (costly) argon2
STOP_SECONDS = 20
DEMO_LOGINS = ["expert", "associe", "assistant", "martin", "secretaire", "dupont"]
PASSWORD = "mot-de-passe-de-démo-42"


def liasse() -> list[str]:
    script = Path(sys.executable).parent / "liasse"
    if script.exists():
        return [str(script)]
    found = shutil.which("liasse")
    return [found] if found else [sys.executable, "-m", "liasse.cli"]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}


class Process:
    """A `liasse` process whose stdout lines are read by a thread as they come."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*liasse(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", env=clean_env())
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.errors: list[str] = []
        self._readers = [threading.Thread(target=self._pump, daemon=True),
                         threading.Thread(target=self._drain, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _drain(self) -> None:
        for line in self.process.stderr:
            self.errors.append(line)

    def wait_for(self, text: str, seconds: float = STARTUP_SECONDS) -> str:
        """The first output line containing `text`; fails if the process ends or is slow."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                line = None
            if line is None:
                pytest.fail(f"« {text} » never came (exit {self.process.poll()}):\n"
                            + "".join(self.output) + "".join(self.errors))
            if text in line:
                return line

    @property
    def text(self) -> str:
        return "".join(self.output)

    def terminate(self) -> int:
        """SIGTERM, then the exit code within a bounded wait."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=STOP_SECONDS)
        self._join()
        return code

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(timeout=STOP_SECONDS)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_SECONDS)
        self._join()
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def start() -> Iterator[Callable[..., Process]]:
    """Start `liasse ARGS...`; every process started is killed and reaped at the end."""
    started: list[Process] = []

    def launch(*args: str) -> Process:
        process = Process(*args)
        started.append(process)
        return process

    yield launch
    for process in started:
        process.close()


def serving_url(process: Process) -> str:
    line = process.wait_for("Application web")
    process.wait_for("Ctrl+C pour arrêter.")  # the whole banner has been printed
    return line.split(":", 1)[1].strip().rstrip("/")


def get(url: str, context: ssl.SSLContext | None = None) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30, context=context) as response:
        return response.status, response.read().decode("utf-8")


def assert_stopped_cleanly(process: Process) -> None:
    assert process.terminate() == 0
    assert process.output[-1] == "Serveur arrêté.\n"
    assert "Traceback" not in "".join(process.errors)


# --- liasse demo ---------------------------------------------------------------------------

def test_demo_serves_the_web_app_and_reuses_its_password(tmp_path, start):
    data = tmp_path / "démo"
    first = start("--data", str(data), "demo", "--port", "0", "--password", PASSWORD)
    url = serving_url(first)
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
    status, page = get(f"{url}/")
    assert status == 200 and "Cabinet Démo" in page

    banner = first.text
    assert "Liasse — Cabinet Démo" in banner
    assert f"Lecteur réseau (WebDAV)  : {url}/dav/" in banner
    assert f"Dossier de données       : {data.resolve()}" in banner
    assert f"Comptes de démonstration (mot de passe : {PASSWORD}) :" in banner
    listed = [line.split()[0] for line in banner.split("\n")
              if line.startswith("  ") and line.split()[0] in DEMO_LOGINS]
    assert listed == DEMO_LOGINS
    assert_stopped_cleanly(first)
    assert (data / "demo-password.txt").stat().st_mode & 0o777 == 0o600

    # Started again on the same folder without --password: the same password is shown.
    second = start("--data", str(data), "demo", "--port", "0")
    url = serving_url(second)
    assert f"(mot de passe : {PASSWORD})" in second.text
    assert "Cabinet Démo" in get(f"{url}/")[1]
    assert_stopped_cleanly(second)


def test_demo_generates_a_password_when_none_is_given(tmp_path, start):
    demo = start("--data", str(tmp_path / "d"), "demo", "--port", "0")
    serving_url(demo)
    line = next(x for x in demo.output if "Comptes de démonstration" in x)
    password = line.split("(mot de passe : ", 1)[1].split(")", 1)[0]
    assert len(password) >= 12
    assert (tmp_path / "d" / "demo-password.txt").read_text().strip() == password
    assert_stopped_cleanly(demo)


@pytest.mark.parametrize("argv, reason", [
    (["--host", "0.0.0.0"], "--tls"),
    (["--host", "192.0.2.10"], "--tls"),
    (["--port", "70000"], "entre 0 et 65535"),
    (["--password", "  "], "ne peut pas être vide"),
], ids=["any-address", "lan-address", "bad-port", "empty-password"])
def test_demo_refuses_before_binding(argv, reason, tmp_path, capsys, monkeypatch):
    bound = []

    def no_binding(*args, **kwargs):
        bound.append(args)
        raise RuntimeError("the demo must refuse before binding")

    monkeypatch.setattr("liasse.cli.setup.LiasseServer", no_binding)
    for name in ("LIASSE_DATA", "LIASSE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "d"
    assert main(["--data", str(data), "demo", "--port", "0", *argv]) == 1
    assert bound == []
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("liasse : ")
    assert reason in captured.err
    if "--host" in argv:  # refused before anything is written
        assert not data.exists()


def test_demo_over_tls(tmp_path, start):
    data = tmp_path / "d"
    demo = start("--data", str(data), "demo", "--tls", "--port", "0", "--password", PASSWORD)
    url = serving_url(demo)
    assert url.startswith("https://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(data / "tls" / "liasse.crt"))
    status, page = get(f"{url}/", trusted)
    assert status == 200 and "Cabinet Démo" in page
    with pytest.raises(urllib.error.URLError) as refused:  # an unknown certificate is refused
        get(f"{url}/", ssl.create_default_context())
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)
    assert_stopped_cleanly(demo)


# --- liasse cert and liasse serve ------------------------------------------------------------

def test_cert_writes_a_certificate_and_its_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LIASSE_DATA", raising=False)
    data = tmp_path / "données"
    assert main(["--data", str(data), "cert", "127.0.0.1", "localhost"]) == 0
    out = capsys.readouterr().out
    cert, key = data / "tls" / "liasse.crt", data / "tls" / "liasse.key"
    assert f'tls_certificate = "{cert.resolve()}"' in out
    assert f'tls_private_key = "{key.resolve()}"' in out
    assert "certutil" in out  # how to make the workstations trust it
    assert key.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE KEY" in key.read_text()
    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]

    # Never overwritten.
    before = cert.read_bytes()
    assert main(["--data", str(data), "cert", "127.0.0.1"]) == 1
    assert "existe déjà" in capsys.readouterr().err
    assert cert.read_bytes() == before


def test_serve_over_tls_with_the_certificate_from_liasse_cert(tmp_path, settings_file, start,
                                                              capsys):
    out = tmp_path / "tls"
    assert main(["cert", "127.0.0.1", "--out", str(out)]) == 0
    path = settings_file(server={"tls_certificate": str(out / "liasse.crt"),
                                 "tls_private_key": str(out / "liasse.key"),
                                 "allow_plain_http": False})
    assert main(["--config", str(path), "init", "--cabinet", "Cabinet Sécurisé"]) == 0
    server = start("--config", str(path), "serve", "--port", "0")
    url = serving_url(server)
    assert url.startswith("https://127.0.0.1:")
    assert "Liasse — Cabinet Sécurisé" in server.text
    status, page = get(f"{url}/", ssl.create_default_context(cafile=str(out / "liasse.crt")))
    assert status == 200 and "Cabinet Sécurisé" in page
    assert_stopped_cleanly(server)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_serve_stops_cleanly_even_right_after_its_banner(stop, settings_file, start, capsys):
    """A service manager may stop the server the moment it has said where it listens."""
    path = settings_file()
    assert main(["--config", str(path), "init", "--cabinet", "Cabinet"]) == 0
    capsys.readouterr()
    for _ in range(3):
        server = start("--config", str(path), "serve", "--port", "0")
        serving_url(server)
        server.process.send_signal(stop)
        assert server.process.wait(timeout=STOP_SECONDS) == 0
        server.close()
        assert server.output[-1] == "Serveur arrêté.\n"
        assert "Traceback" not in "".join(server.errors)


def test_serve_refuses_plain_http_unless_allowed(settings_file, capsys):
    path = settings_file(server={"allow_plain_http": False})
    assert main(["--config", str(path), "init", "--cabinet", "Cabinet"]) == 0
    capsys.readouterr()
    result = subprocess.run([*liasse(), "--config", str(path), "serve", "--port", "0"],
                            capture_output=True, text=True, env=clean_env(), timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    for text in (str(path), "section [server]", "tls_certificate", "allow_plain_http",
                 "liasse cert"):
        assert text in result.stderr
