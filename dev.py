#!/usr/bin/env python3
"""The two commands of the README, for a fresh machine with only python3 and git.

    python3 dev.py demo [liasse demo options]   set up .venv, run the demo platform
    python3 dev.py test [pytest options]        set up .venv + test tools, run the whole suite
    python3 dev.py screenshots [DIR]            PNGs of the main pages (desktop and phone)

`test` also installs the Debian packages the end-to-end tests drive (when run as root, with
apt-get, idempotently) and, when a PostgreSQL server answers on 127.0.0.1:5432 (CI starts it
if stopped), creates a throwaway database so that every database test runs on SQLite and on
PostgreSQL, then drops it. It runs one pytest worker per core (pytest-xdist; `-n 0` for a
single process). `.ci/run` runs exactly `python3 dev.py test`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")

# Debian packages the test suite drives (real clients, real browser, the load balancer).
APT_PACKAGES = ["litmus", "rclone", "cadaver", "davfs2", "chromium", "haproxy"]
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def run(*cmd: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=check, **kwargs)


def ensure_venv(extras: str) -> None:
    """Create .venv and install Liasse (editable) once per change of pyproject.toml."""
    if not PYTHON.exists():
        print("Création de l'environnement virtuel .venv ...", flush=True)
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode())
    stamp = VENV / f".installed-{extras or 'base'}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    print("Installation des dépendances ...", flush=True)
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    target = f".[{extras}]" if extras else "."
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", target, cwd=ROOT)
    stamp.write_text(digest.hexdigest())


def ensure_apt_packages() -> None:
    missing = [p for p in APT_PACKAGES
               if run("dpkg", "-s", p, check=False, capture_output=True).returncode != 0]
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print(f"Paquets Debian absents (tests correspondants ignorés) : {' '.join(missing)}")
        return
    print(f"Installation des paquets Debian : {' '.join(missing)}", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "update", "-qq", env=env)
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


PG_SCRIPT = """
import sys, psycopg
admin, action, name = sys.argv[1:4]
try:
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
except psycopg.OperationalError as exc:
    print(exc, file=sys.stderr)
    sys.exit(3)
"""


def _pg(action: str, name: str) -> bool:
    result = run(PYTHON, "-c", PG_SCRIPT, PG_ADMIN_URL, action, name, check=False,
                 capture_output=True, text=True)
    return result.returncode == 0


def start_postgresql() -> None:
    """CI machines have PostgreSQL installed; start the cluster if it is stopped."""
    versions = sorted(Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() \
        else []
    if versions and shutil.which("pg_ctlcluster"):
        run("pg_ctlcluster", "--skip-systemctl-redirect", versions[-1].name, "main", "start",
            check=False, capture_output=True)


def throwaway_database() -> str | None:
    name = f"liasse_test_{uuid.uuid4().hex[:10]}"
    if _pg("create", name):
        return name
    if os.environ.get("CI"):
        start_postgresql()
        if _pg("create", name):
            return name
        raise SystemExit("PostgreSQL injoignable sur 127.0.0.1:5432 : la suite doit aussi "
                         "tourner sur PostgreSQL en CI.")
    print("PostgreSQL injoignable sur 127.0.0.1:5432 : la suite tourne sur SQLite seulement.")
    return None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test(args: list[str]) -> int:
    ensure_venv("test")
    ensure_apt_packages()
    env = dict(os.environ)
    created = None
    if not env.get("LIASSE_TEST_DATABASE_URL"):
        created = throwaway_database()
        if created:
            env["LIASSE_TEST_DATABASE_URL"] = f"postgresql://postgres@127.0.0.1:5432/{created}"
    try:
        lint = run(BIN / "ruff", "check", ".", cwd=ROOT, check=False)
        # One pytest worker per core (pytest-xdist), a test file per worker at a time: the
        # module-wide servers and worlds of the end-to-end tests stay within one worker.
        parallel = [] if any(a.startswith(("-n", "--numprocesses")) for a in args) else \
            ["-n", "auto", "--dist", "loadfile"]
        tests = run(PYTHON, "-m", "pytest", *parallel, *args, cwd=ROOT, env=env, check=False)
        return tests.returncode or lint.returncode
    finally:
        if created:
            _pg("drop", created)


def demo(args: list[str]) -> int:
    ensure_venv("")
    return run(BIN / "liasse", "demo", *args, cwd=ROOT, check=False).returncode


def screenshots(args: list[str]) -> int:
    ensure_venv("test")
    ensure_apt_packages()
    return run(PYTHON, ROOT / "scripts" / "screenshots.py", *args, cwd=ROOT,
               check=False).returncode


def main() -> int:
    commands = {"demo": demo, "test": test, "screenshots": screenshots}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        print(__doc__)
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    try:
        return commands[command](rest)
    except KeyboardInterrupt:
        return 130
    except subprocess.CalledProcessError as exc:
        print(f"Échec de : {' '.join(map(str, exc.cmd))} (code {exc.returncode})")
        return 1


if __name__ == "__main__":
    sys.exit(main())
