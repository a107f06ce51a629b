"""Feeds against a real `liasse serve` (issue 20): RSS and Atom read by feedparser, the ICS
by icalendar, over HTTP; tokens revoked, rotated, stopped by a disabled account or a changed
password; rights changed between two fetches; the 304 path; hostile input.

The demo gives each account one token (`liasse.demo.give_demo_feed_tokens`): tests read its
secret from the database as the "Flux et agenda" page does.
"""

from __future__ import annotations

import base64
import http.client
from datetime import timedelta
from urllib.parse import quote, urlsplit

import feedparser
import pytest
from icalendar import Calendar
from sqlalchemy import select

from acl.calendar.alerts import paris_today, set_alert
from acl.calendar.rules import load_rules
from acl.events.models import Event
from acl.messaging.models import MessageThread
from acl.people.models import Company, User
from acl.rights import feed_tokens
from acl.rights.models import FeedToken, Habilitation
from acl.rights.principals import load_principal

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"


class Reader:
    """One kept-alive HTTP connection to the server, as a feed reader holds."""

    def __init__(self, server) -> None:
        parts = urlsplit(server.base_url)
        self.server = server
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def get(self, path: str, headers: dict | None = None, method: str = "GET"):
        self.connection.request(method, path, headers=headers or {})
        answer = self.connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def reader():
    opened = []

    def open_on(server) -> Reader:
        opened.append(Reader(server))
        return opened[-1]

    yield open_on
    for one in opened:
        one.close()


def secret_of(db, login: str) -> str:
    with db.session() as s:
        user = s.scalars(select(User).where(User.login == login)).one()
        return s.scalars(select(FeedToken.demo_secret).where(
            FeedToken.user_id == user.id, FeedToken.demo_secret.is_not(None))).first()


def company_id(db, name: str) -> int:
    with db.session() as s:
        return s.scalars(select(Company.id).where(Company.name == name)).one()


def basic(login: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode())
            .decode()}


def put(server, login: str, path: str, body: bytes) -> int:
    parts = urlsplit(server.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("PUT", "/dav/" + quote(path), body=body,
                           headers=basic(login, server.password))
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def parsed(body: bytes):
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def no_traceback(server) -> None:
    assert not any("Traceback" in line for line in server.output), "".join(server.output)


# --- reading --------------------------------------------------------------------------------

def test_rss_and_atom_parse_with_french_titles_links_and_stable_ids(live_server, demo, reader):
    server = live_server
    assert put(server, "martin", f"{BAKERY}/Achats/Facture-12.pdf", b"%PDF-1.4 douze") == 201
    assert put(server, "martin", f"{BAKERY}/Achats/._Facture-12.pdf", b"\0\5\26\7") == 201
    assert put(server, "martin", f"{BAKERY}/Achats/Thumbs.db", b"vignettes") == 201
    client = reader(server)
    secret = secret_of(demo, "expert")
    for fmt in ("rss", "atom"):
        status, headers, body = client.get(f"/feeds/{secret}/{fmt}")
        assert status == 200, body
        assert headers["Cache-Control"].startswith("private")
        assert headers["Content-Type"].startswith(f"application/{fmt}+xml")
        feed = parsed(body)
        titles = [e.title for e in feed.entries]
        assert "Facture-12.pdf déposée dans Achats par martin" in titles
        assert not any("._" in t or "Thumbs.db" in t for t in titles)
        first = feed.entries[0]
        assert first.title == "Facture-12.pdf déposée dans Achats par martin"  # newest first
        assert first.link.startswith(server.base_url + "/document/")
        assert {t.term for t in first.tags} == {BAKERY, "Achats"}
        assert first.id.startswith("urn:liasse:evenement:")
        assert first.published_parsed is not None
        assert secret not in body.decode()  # what the feed says of itself has no secret
        assert len(feed.entries) <= 100
    # The same items keep their ids; the page the link opens exists.
    again = parsed(client.get(f"/feeds/{secret}/rss")[2])
    assert [e.id for e in again.entries] == [e.id for e in parsed(
        client.get(f"/feeds/{secret}/rss")[2]).entries]
    no_traceback(server)


def test_filters_and_one_company(world, reader):
    client = reader(world.server)
    secret = secret_of(world.db, "expert")
    bakery = company_id(world.db, BAKERY)
    everything = parsed(client.get(f"/feeds/{secret}/atom")[2])
    messages = parsed(client.get(f"/feeds/{secret}/atom?types=messages")[2])
    assert messages.entries, "the demo has threads"
    assert all(e.title.startswith("Nouveau message de ") for e in messages.entries)
    assert all(e.link.startswith(world.server.base_url + "/messagerie/")
               for e in messages.entries)
    assert len(messages.entries) < len(everything.entries)
    deposits = parsed(client.get(f"/feeds/{secret}/rss?types=depots,receptions")[2])
    assert deposits.entries and all("déposée" in e.title or "réceptionnée" in e.title
                                    for e in deposits.entries)
    one = parsed(client.get(f"/feeds/{secret}/entreprises/{bakery}/rss")[2])
    assert one.entries and all({t.term for t in e.tags} >= {BAKERY} for e in one.entries)
    assert BAKERY in one.feed.title


def test_ics_parses_with_timezone_refresh_stable_uids_and_alarms(live_server, demo, reader):
    server = live_server
    bakery = company_id(demo, BAKERY)
    rules = load_rules()
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "martin")).one()
        principal = load_principal(tx, user)
        company = tx.get(Company, bakery)
        from acl.calendar.agenda import agenda
        today = paris_today()
        item = next(i for i in agenda(tx, principal, [company], today + timedelta(days=3),
                                      today + timedelta(days=30), rules))
        alert = set_alert(tx, principal, company, item.key, item.on - timedelta(days=1),
                          rules, hour=8)
        alert_id = alert.id
    client = reader(server)
    secret = secret_of(demo, "martin")
    bodies = []
    for _ in range(2):
        status, headers, body = client.get(f"/feeds/{secret}/agenda.ics")
        assert status == 200 and headers["Content-Type"].startswith("text/calendar")
        bodies.append(body)
    cal = Calendar.from_ical(bodies[0])
    assert str(cal["VERSION"]) == "2.0" and cal["PRODID"]
    assert str(cal["REFRESH-INTERVAL"].to_ical().decode()) == "PT1H"
    assert cal["X-PUBLISHED-TTL"].to_ical().decode() == "PT1H"
    zones = [z for z in cal.walk("VTIMEZONE")]
    assert [str(z["TZID"]) for z in zones] == ["Europe/Paris"]
    events = cal.walk("VEVENT")
    assert events
    for event in events:
        for prop in ("UID", "DTSTAMP", "DTSTART", "SUMMARY"):
            assert prop in event, prop
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    assert uids == [str(e["UID"]) for e in Calendar.from_ical(bodies[1]).walk("VEVENT")]
    [ours] = [e for e in events if str(e["UID"]) == f"{bakery}-{item.key}@liasse"]
    [alarm] = ours.walk("VALARM")
    assert alarm["ACTION"] == "DISPLAY" and alarm["TRIGGER"].dt.utcoffset() == timedelta(0)
    assert str(alarm["UID"]) == f"alerte-{alert_id}@liasse"
    # One company; a company one does not reach is not found (not an empty calendar).
    assert client.get(f"/feeds/{secret}/entreprises/{bakery}/agenda.ics")[0] == 200
    garage = company_id(demo, GARAGE)
    status, _, body = client.get(f"/feeds/{secret}/entreprises/{garage}/agenda.ics")
    assert status == 404 and "introuvable" in body.decode()


# --- cheap polling ------------------------------------------------------------------------------

def test_304_until_something_visible_happens(live_server, demo, reader):
    server = live_server
    client = reader(server)
    secret = secret_of(demo, "expert")
    status, headers, _ = client.get(f"/feeds/{secret}/rss")
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, again, body = client.get(f"/feeds/{secret}/rss", {"If-None-Match": etag})
    assert status == 304 and body == b"" and again["ETag"] == etag
    assert client.get(f"/feeds/{secret}/rss", {"If-Modified-Since": modified})[0] == 304
    # The ETag of another feed does not match this one.
    other = client.get(f"/feeds/{secret}/atom")[1]["ETag"]
    assert other != etag
    assert client.get(f"/feeds/{secret}/rss", {"If-None-Match": other})[0] == 200
    ics_tag = client.get(f"/feeds/{secret}/agenda.ics")[1]["ETag"]
    assert client.get(f"/feeds/{secret}/agenda.ics", {"If-None-Match": ics_tag})[0] == 304
    assert put(server, "martin", f"{BAKERY}/Ventes/Nouvelle.pdf", b"%PDF neuve") == 201
    status, _, body = client.get(f"/feeds/{secret}/rss", {"If-None-Match": etag})
    assert status == 200
    assert parsed(body).entries[0].title == "Nouvelle.pdf déposée dans Ventes par martin"


# --- tokens ---------------------------------------------------------------------------------

def test_revoked_rotated_disabled_and_password_changed_tokens_stop_at_once(
        live_server, demo, reader, ctx_of, hasher):
    client = reader(live_server)
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "assistant")).one()
        token, first = feed_tokens.issue(tx, ctx_of("assistant", tx), user, "Thunderbird bureau")
        token_id = token.id
    assert client.get(f"/feeds/{first}/rss")[0] == 200
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "assistant")).one()
        _, second = feed_tokens.rotate(tx, ctx_of("assistant", tx), user, token_id)
    unknown = client.get(f"/feeds/{first}/rss")
    assert unknown[0] == 404
    assert client.get(f"/feeds/{second}/rss")[0] == 200
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "assistant")).one()
        feed_tokens.revoke(tx, ctx_of("assistant", tx), user, token_id)
    revoked = client.get(f"/feeds/{second}/rss")
    assert revoked[0] == 404 and revoked[2] == unknown[2]  # nothing tells them apart
    # The demo token of secretaire: its account disabled, then its password changed.
    secret = secret_of(demo, "secretaire")
    assert client.get(f"/feeds/{secret}/atom")[0] == 200
    from acl.people import accounts
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "secretaire")).one()
        accounts.set_active(tx, ctx_of("martin", tx), user, False)
    assert client.get(f"/feeds/{secret}/atom")[0] == 404
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "secretaire")).one()
        accounts.set_active(tx, ctx_of("martin", tx), user, True)
    assert client.get(f"/feeds/{secret}/atom")[0] == 404, "stays stopped once re-enabled"
    secret = secret_of(demo, "dupont")
    assert client.get(f"/feeds/{secret}/atom")[0] == 200
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "dupont")).one()
        accounts.change_own_password(tx, ctx_of("dupont", tx), hasher, user,
                                     live_server.password, "Un autre mot de passe 2026 !")
        [token] = feed_tokens.tokens_of(tx, user)
        assert "mot de passe a changé" in feed_tokens.state(token, user)
    assert client.get(f"/feeds/{secret}/atom")[0] == 404
    # The last use is recorded.
    with demo.session() as s:
        row = s.scalars(select(FeedToken).where(FeedToken.demo_secret == secret_of(
            demo, "expert"))).one()
        assert row.last_used_at is None
    client.get(f"/feeds/{secret_of(demo, 'expert')}/rss")
    with demo.session() as s:
        row = s.get(FeedToken, row.id)
        assert row.last_used_at is not None and row.last_used_from == "127.0.0.1"
    no_traceback(live_server)


def test_rights_are_checked_at_every_fetch(live_server, demo, reader, ctx_of):
    server = live_server
    assert put(server, "martin", f"{BAKERY}/Banque/Releve-mars.pdf", b"%PDF banque") == 201
    client = reader(server)
    secret = secret_of(demo, "secretaire")
    title = "Releve-mars.pdf déposée dans Banque par martin"
    assert title in [e.title for e in parsed(client.get(f"/feeds/{secret}/rss")[2]).entries]
    from acl.people import accounts
    from acl.rights.models import Level
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "secretaire")).one()
        company = tx.scalars(select(Company).where(Company.name == BAKERY)).one()
        accounts.grant(tx, ctx_of("martin", tx), user, company, "Banque", Level.NONE)
        assert tx.get(Habilitation, (user.id, company.id, "Banque")).level == 0
    titles = [e.title for e in parsed(client.get(f"/feeds/{secret}/rss")[2]).entries]
    assert title not in titles


def test_basic_authentication(world, reader):
    client = reader(world.server)
    status, headers, _ = client.get("/feeds/rss")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    status, _, body = client.get("/feeds/atom", basic("associe", world.server.password))
    assert status == 200 and parsed(body).entries
    garage = company_id(world.db, GARAGE)
    assert client.get(f"/feeds/entreprises/{garage}/agenda.ics",
                      basic("associe", world.server.password))[0] == 200
    assert client.get(f"/feeds/entreprises/{garage}/rss",
                      basic("assistant", world.server.password))[0] == 404


# --- hostile input ---------------------------------------------------------------------------

def test_bad_input_is_answered_in_french_without_a_trace(world, reader):
    client = reader(world.server)
    secret = secret_of(world.db, "expert")
    cases = {
        "/feeds/": 404,
        "/feeds/court/rss": 404,
        "/feeds/" + "A" * 32 + "/rss": 404,
        f"/feeds/{secret}/rss/../../dav/": 404,
        f"/feeds/{secret}/%00/rss": 404,
        f"/feeds/{secret}/entreprises/999999/rss": 404,
        f"/feeds/{secret}/entreprises/1e3/rss": 404,
        f"/feeds/{secret}/json": 404,
        f"/feeds/{secret}/rss?types=factures": 400,
        f"/feeds/{secret}/rss?types=depots,depots,depots,depots,depots": 400,
        f"/feeds/{secret}/agenda.ics?types=depots": 400,
        f"/feeds/{secret}/rss?autre=1": 400,
        f"/feeds/rss?token={secret}": 400,
        f"/feeds/rss?jeton={secret}": 400,
    }
    for path, expected in cases.items():
        status, headers, body = client.get(path)
        assert status == expected, (path, status, body)
        assert headers["Content-Type"].startswith("text/plain")
        text = body.decode()
        assert text.strip() and "Traceback" not in text
    assert "proxys" in client.get(f"/feeds/rss?token={secret}")[2].decode()
    assert client.get(f"/feeds/{secret}/rss", method="POST")[0] == 405
    no_traceback(world.server)


def test_markup_and_line_breaks_stay_text(live_server, demo, reader, ctx_of):
    from acl.messaging.threads import Draft, start_thread
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "martin")).one()
        company = tx.scalars(select(Company).where(Company.name == BAKERY)).one()
        start_thread(tx, load_principal(tx, user), company,
                     "<b>Urgent</b> & <script>alert(1)</script>", Draft(body="Bonjour"))
    client = reader(live_server)
    status, headers, body = client.get(f"/feeds/{secret_of(demo, 'expert')}/rss?types=messages")
    assert status == 200
    title = parsed(body).entries[0].title
    assert "Urgent" in title and "<script>" not in body.decode()
    assert all("\n" not in v and "\r" not in v for v in headers.values())
    with demo.session() as s:
        assert s.scalars(select(MessageThread)).first() is not None


def test_ten_thousand_wrong_tokens_are_rate_limited(live_server, demo, reader):
    client = reader(live_server)
    statuses = {}
    for n in range(10_000):
        status = client.get(f"/feeds/{n:032d}/rss")[0]
        statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) == {404, 429}
    assert statuses[404] <= 10  # the sign-in lockout threshold (failures_before_lockout)
    # A working token from the same address is still served (a firm behind one proxy).
    assert client.get(f"/feeds/{secret_of(demo, 'expert')}/rss")[0] == 200
    with demo.session() as s:
        assert s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    no_traceback(live_server)


def test_token_names_are_checked(demo, ctx_of):
    with demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "associe")).one()
        token, secret = feed_tokens.issue(tx, ctx_of("associe", tx), user,
                                          "  Thunderbird\n<b>bureau</b>\t ")
        assert token.name == "Thunderbird <b>bureau</b>"
        assert token.secret_hash == feed_tokens.hash_secret(secret) and token.demo_secret is None
        assert feed_tokens.is_secret_shaped(secret)
    with pytest.raises(Exception, match="nom"), demo.transaction() as tx:
        user = tx.scalars(select(User).where(User.login == "associe")).one()
        feed_tokens.issue(tx, ctx_of("associe", tx), user, " \n ")
