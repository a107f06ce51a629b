#!/usr/bin/env python3
"""The walk of a document operation through Liasse's own modules: which files a WebDAV PUT
and a web upload enter, in order, and how often they go from one file to another.

    .venv/bin/python bench/put_walk.py

Runs the demo world in-process (SQLite in a temporary folder), warms each path up once
(sign-in, caches), then traces one more request of each kind with `sys.setprofile`: every
call into a function of the project's packages is a step; consecutive steps in one file are
one stay. It prints, per request, the files entered (the rooms) and the number of moves
between files (the back and forth). Not a timing: counts, the same on every machine.
"""

from __future__ import annotations

import base64
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PACKAGES = ("config", "acl", "davserver", "invoicing_web", "feeds", "liasse")
PASSWORD = "mot-de-passe-de-la-marche"


def _world(folder: Path):
    from acl.db import Database, make_engine, upgrade_schema
    from acl.documents.blobs import open_store
    from acl.rights.passwords import PasswordHasher
    from config.settings import load_settings
    from liasse.demo import create_demo

    data = folder / "data"
    data.mkdir()
    (data / "liasse.toml").write_text(
        f'[database]\nurl = "sqlite:///{data / "liasse.db"}"\n'
        "[security]\nargon2_time_cost = 1\nargon2_memory_kib = 64\nargon2_parallelism = 1\n"
        "failure_delay_seconds = 0.0\n[server]\nallow_plain_http = true\n", encoding="utf-8")
    settings = load_settings(data / "liasse.toml")
    engine = make_engine(settings.database.url)
    upgrade_schema(engine)
    db = Database(engine)
    with db.transaction() as session:
        create_demo(session, settings, PasswordHasher(settings.security),
                    open_store(settings), PASSWORD)
    return settings, db


def _call(app, method: str, path: str, body: bytes, headers: dict[str, str]) -> str:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path.encode().decode("latin-1"),
               "SCRIPT_NAME": "", "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.errors": io.StringIO(),
               "REMOTE_ADDR": "127.0.0.1"}
    environ.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    if headers.get("Transfer-Encoding") == "chunked":  # as cheroot hands a chunked body over
        environ["wsgi.input_terminated"] = True
        del environ["CONTENT_LENGTH"]
    if "CONTENT_TYPE" in headers:
        environ["CONTENT_TYPE"] = headers["CONTENT_TYPE"]
    status: list[str] = []
    result = app(environ, lambda s, h, exc_info=None: status.append(s))
    try:
        b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return status[0]


def _trace(run: Callable[[], str]) -> tuple[str, list[str]]:
    files: list[str] = []

    def profile(frame, event, arg):
        if event != "call":
            return
        name = frame.f_code.co_filename
        if not name.startswith(str(ROOT)):
            return
        relative = Path(name).relative_to(ROOT).as_posix()
        if relative.split("/", 1)[0] in PACKAGES and (not files or files[-1] != relative):
            files.append(relative)

    sys.setprofile(profile)
    try:
        status = run()
    finally:
        sys.setprofile(None)
    return status, files


def _report(title: str, status: str, files: list[str]) -> None:
    rooms = list(dict.fromkeys(files))
    print(f"{title}: {status}")
    print(f"  {len(rooms)} files entered, {len(files) - 1} moves between files")
    print("  route: " + " > ".join(files))


def main() -> int:
    from acl.rights.passwords import PasswordHasher
    from davserver.app import build_drive
    from invoicing_web.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings, db = _world(Path(tmp))
        drive = build_drive(settings, db, PasswordHasher(settings.security))
        auth = {"Authorization": "Basic " + base64.b64encode(
            f"martin:{PASSWORD}".encode()).decode()}
        folder = "/Boulangerie Martin/Achats"
        for round_ in ("warm", "traced"):
            body = f"facture {round_}".encode()
            def put(b=body, r=round_):
                return _call(drive, "PUT", f"{folder}/{r}-fast.pdf", b, auth)

            def chunked(b=body, r=round_):  # cheroot hands a chunked body to WsgiDAV's PUT
                return _call(drive, "PUT", f"{folder}/{r}-wsgidav.pdf", b,
                             {**auth, "Transfer-Encoding": "chunked"})

            if round_ == "warm":
                put(), chunked()
                continue
            _report("WebDAV PUT (fast path)", *_trace(put))
            _report("WebDAV PUT (WsgiDAV's path)", *_trace(chunked))
        app = create_app(settings, db, secure_cookies=False)
        client = app.test_client()
        client.post("/connexion", data={"login": "martin", "password": PASSWORD,
                                         "csrf_token": _csrf(client, "/connexion")})
        token = _csrf(client, "/tableau-de-bord")
        folder_id = _folder_id(db)

        def upload(name: str) -> str:
            answer = client.post(f"/dossier/{folder_id}/deposer", data={
                "csrf_token": token, "files": (io.BytesIO(b"releve"), name)},
                content_type="multipart/form-data")
            return answer.status

        upload("warm.pdf")
        _report("web upload", *_trace(lambda: upload("traced.pdf")))
        db.dispose()
    return 0


def _csrf(client, url: str) -> str:
    import re

    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _folder_id(db) -> int:
    from sqlalchemy import select

    from acl.documents.models import Node
    from acl.people.models import Company

    with db.session() as session:
        company = session.scalar(select(Company).where(Company.name == "Boulangerie Martin"))
        return session.scalar(select(Node.id).where(
            Node.company_id == company.id, Node.name == "Achats", Node.is_standard))


if __name__ == "__main__":
    sys.exit(main())
