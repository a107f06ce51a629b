"""A database busy past its timeout (SQLite's one writer under a burst of first sign-ins) or
gone for a moment is answered 503 with Retry-After, which clients retry — on the drive as in
the web app — never a 500 with a traceback."""

from __future__ import annotations

import io

import pytest
from sqlalchemy.exc import OperationalError

from liasse.server import build_application


def locked(*_args, **_kwargs):
    raise OperationalError("UPDATE user_account ...", {}, Exception("database is locked"))


def call(app, method: str, path: str, headers: dict[str, str] | None = None):
    answer: dict = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "",
               "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8443",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
               "REMOTE_ADDR": "127.0.0.1", **{f"HTTP_{k.upper().replace('-', '_')}": v
                                              for k, v in (headers or {}).items()}}
    body = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], body.decode()


@pytest.mark.parametrize("method, path, headers", [
    ("PROPFIND", "/dav/", {"Authorization": "Basic ZXhwZXJ0OnNlY3JldC1tYWlzLWZhdXg=",
                           "Depth": "1"}),
    ("GET", "/connexion", {}),
])
def test_a_busy_database_is_a_503_to_retry(demo, settings, monkeypatch, method, path,
                                           headers):
    app = build_application(settings, demo)
    monkeypatch.setattr("sqlalchemy.orm.Session.execute", locked)
    monkeypatch.setattr("sqlalchemy.orm.Session.scalar", locked)
    monkeypatch.setattr("sqlalchemy.orm.Session.scalars", locked)
    monkeypatch.setattr("sqlalchemy.orm.Session.get", locked)
    status, answer_headers, body = call(app, method, path, headers)
    assert status.startswith("503"), (status, body[:300])
    assert answer_headers["Retry-After"] == "2"
    assert "réessayez dans un instant" in body
    assert "Traceback" not in body
