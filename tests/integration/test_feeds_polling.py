"""The feeds app in-process (issue 20): a `304` costs one indexed query, the table of URL
parts it accepts and refuses, French titles of every kind of item."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from acl.events.feed import FeedEntry, parse_kinds
from acl.people.models import User
from acl.rights.models import FeedToken
from feeds.app import Answer, FeedsApp, parse_path, parse_query
from feeds.syndication import title_of


def call(app, path: str, headers: dict | None = None) -> tuple[str, dict, bytes]:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "HTTP_HOST": "x:1",
               "wsgi.input": io.BytesIO()}
    if "?" in path:
        environ["PATH_INFO"], environ["QUERY_STRING"] = path.split("?", 1)
    environ.update({"HTTP_" + k.upper().replace("-", "_"): v for k, v in (headers or {}).items()})
    seen = {}

    def start(status, head, exc_info=None):
        seen["status"], seen["headers"] = status, dict(head)

    body = b"".join(app(environ, start))
    return seen["status"], seen["headers"], body


def test_a_304_costs_one_indexed_query(settings, demo, hasher):
    app = FeedsApp(settings, demo, hasher)
    with demo.session() as s:
        secret = s.scalars(select(FeedToken.demo_secret).join(User).where(
            User.login == "expert")).one()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(" ", 1)[0].upper() in ("SELECT", "UPDATE", "INSERT",
                                                           "DELETE", "WITH"):
            statements.append(statement)

    for path in (f"/{secret}/rss", f"/{secret}/agenda.ics"):
        status, headers, _ = call(app, path)
        assert status == "200 OK"
        statements.clear()
        event.listen(demo.engine, "before_cursor_execute", count)
        try:
            status, _, body = call(app, path, {"If-None-Match": headers["ETag"]})
        finally:
            event.remove(demo.engine, "before_cursor_execute", count)
        assert status == "304 Not Modified" and body == b""
        assert len(statements) == 1, statements


@pytest.mark.parametrize(("path", "expected"), [
    ("/rss", (None, "rss", None)),
    ("/agenda.ics", (None, "agenda.ics", None)),
    ("/entreprises/12/atom", (None, "atom", 12)),
    ("/" + "a" * 32 + "/rss", ("a" * 32, "rss", None)),
    ("/" + "a" * 32 + "/entreprises/3/agenda.ics", ("a" * 32, "agenda.ics", 3)),
])
def test_paths_accepted(path, expected):
    secret, request = parse_path(path)
    assert (secret, request.fmt, request.company_id) == expected


@pytest.mark.parametrize("path", [
    "/", "", "/xml", "/" + "a" * 31 + "/rss", "/" + "a" * 33 + "/rss", "/" + "é" * 32 + "/rss",
    "/entreprises/x/rss", "/entreprises/١٢/rss", "/entreprises/" + "9" * 12 + "/rss",
    "/rss/x", "/a\x00b/rss", "/" + "a" * 400,
])
def test_paths_refused(path):
    with pytest.raises(Answer) as refused:
        parse_path(path)
    assert refused.value.status.startswith("404")


@pytest.mark.parametrize(("query", "status"), [
    ("types=depots", None), ("types=depots,messages,alertes,receptions", None), ("", None),
    ("types=factures", "400"), ("types=depots&types=messages", "400"), ("x=1", "400"),
    ("token=abc", "400"), ("Jeton=abc", "400"),
])
def test_queries(query, status):
    _, request = parse_path("/rss")
    if status is None:
        assert parse_query(query, request).fmt == "rss"
    else:
        with pytest.raises(Answer) as refused:
            parse_query(query, request)
        assert refused.value.status.startswith(status)


def test_every_kind_filter_is_known():
    assert set(parse_kinds("")) == {"deposited", "received", "message:posted",
                                    "calendar:alert_mailed"}


def entry(kind: str, **detail) -> FeedEntry:
    return FeedEntry(1, datetime(2026, 5, 4, tzinfo=UTC), kind, 1, "Boulangerie Martin",
                     "Achats", "Boulangerie Martin/Achats/2026/Facture-12.pdf", "martin",
                     "Jean Martin", 5, detail)


@pytest.mark.parametrize(("item", "title"), [
    (entry("deposited"), "Facture-12.pdf déposée dans Achats par martin"),
    (entry("deposited", replaced=True),
     "Nouvelle version de Facture-12.pdf déposée dans Achats par martin"),
    (entry("received"), "Facture-12.pdf réceptionnée par martin (Achats)"),
    (FeedEntry(2, datetime(2026, 5, 4, tzinfo=UTC), "message:posted", 1, "B", "",
               "Bilan\n2025", "expert", "E", None, {"thread": 3}),
     "Nouveau message de expert : Bilan 2025"),
    (FeedEntry(3, datetime(2026, 5, 4, tzinfo=UTC), "calendar:alert_mailed", 1, "B", "",
               "TVA", "", "", None, {"on": "2026-05-19"}), "Rappel : TVA le 19/05/2026"),
])
def test_titles(item, title):
    assert title_of(item) == title
