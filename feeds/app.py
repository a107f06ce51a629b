"""The `/feeds` WSGI application: RSS, Atom and ICS of one person, for readers and calendars.

URLs (under `/feeds`), with a token in the path or HTTP Basic without one:

    /<jeton>/rss   /<jeton>/atom   /<jeton>/agenda.ics          everything the person sees
    /<jeton>/entreprises/<id>/rss ... /agenda.ics                one company
    /rss  /atom  /agenda.ics  /entreprises/<id>/...              the same with HTTP Basic
    ?types=depots,receptions,messages,alertes                    RSS/Atom filter by kind

Readers poll every few minutes: before anything else, one indexed query (`probe_token` or
`probe_user`) gives the token's state, the rights generation and the stream's last event, of
which the ETag is made; a matching `If-None-Match` (or `If-Modified-Since` without it) is
answered `304` from there. Rights are checked again at every full fetch.

Refusals never say whether a login exists: a malformed, unknown or revoked token, or one
whose account was disabled or whose password changed, is the same `404`. Wrong tokens are
counted per address in the sign-in failure table; past the sign-in lockout threshold, the
wrong addresses from there are answered `429` without a write. A token in the query string
(which proxies write to their logs) is refused with `400`, never looked up.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl

from acl.calendar.rules import load_rules
from acl.calendar.subscription import subscription
from acl.db import Database, utcnow
from acl.errors import InvalidInput, NotFound
from acl.events.feed import feed_company, parse_kinds, recent_entries
from acl.people.accounts import attempt_sign_in
from acl.people.basic_auth import CredentialCache, basic_credentials
from acl.people.models import Cabinet, User
from acl.rights import throttle
from acl.rights.feed_tokens import Probe, is_secret_shaped, note_use, probe_token, probe_user
from acl.rights.models import AuthFailure
from acl.rights.passwords import PasswordHasher
from acl.rights.principals import load_principal
from config.dates import PARIS
from config.settings import Settings
from feeds import ics, syndication

log = logging.getLogger("liasse.feeds")

FORMATS = {"rss": "application/rss+xml; charset=utf-8",
           "atom": "application/atom+xml; charset=utf-8",
           "agenda.ics": "text/calendar; charset=utf-8"}
REALM = "Liasse (flux)"
NOT_FOUND = "Flux introuvable : l'adresse est incomplète, ou son jeton a été révoqué ou a " \
            "cessé de fonctionner. Créez ou renouvelez un jeton sur votre page « Mon profil »."
TOKEN_IN_QUERY = ("Le jeton ne se met pas dans les paramètres de l'adresse (après « ? ») : "
                  "les proxys les enregistrent dans leurs journaux. Utilisez l'adresse "
                  "/feeds/<jeton>/rss donnée sur la page « Flux et agenda ».")
TOO_MANY = "Trop d'adresses de flux erronées depuis cette adresse : réessayez plus tard."
SECRET_PARAMETERS = {"token", "jeton", "secret", "key", "cle", "clé", "auth", "password",
                     "access_token", "private_token"}
SAFE_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
MAX_PATH = 300
VERSION = "1"  # part of every ETag: a new rendering invalidates what readers hold


@dataclass(frozen=True)
class Request:
    fmt: str  # "rss", "atom" or "agenda.ics"
    company_id: int | None
    types: str | None


class Answer(Exception):
    """A refusal the app answers itself: its status, French sentence and headers."""

    def __init__(self, status: str, message: str, headers: Iterable[tuple[str, str]] = ()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


def parse_path(path: str) -> tuple[str | None, Request]:
    """(secret or None for Basic, request); `Answer` 404 for anything else."""
    if len(path) > MAX_PATH or any(not c.isprintable() for c in path):
        raise Answer("404 Not Found", NOT_FOUND)
    parts = path.strip("/").split("/")
    secret = None
    if parts and parts[0] not in FORMATS and parts[0] != "entreprises":
        secret, parts = parts[0], parts[1:]
        if not is_secret_shaped(secret):
            raise Answer("404 Not Found", NOT_FOUND)
    if len(parts) == 1 and parts[0] in FORMATS:
        return secret, Request(parts[0], None, None)
    if len(parts) == 3 and parts[0] == "entreprises" and parts[1].isascii() and \
            parts[1].isdigit() and len(parts[1]) < 12 and parts[2] in FORMATS:
        return secret, Request(parts[2], int(parts[1]), None)
    raise Answer("404 Not Found", NOT_FOUND)


def parse_query(query: str, request: Request) -> Request:
    """Only `types` (RSS/Atom); a secret in the query string is refused."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=10)
    except ValueError:
        raise Answer("400 Bad Request", "Paramètres d'adresse invalides.") from None
    types = None
    for name, value in pairs:
        if name.lower() in SECRET_PARAMETERS:
            raise Answer("400 Bad Request", TOKEN_IN_QUERY)
        if name != "types" or request.fmt == "agenda.ics" or types is not None:
            raise Answer("400 Bad Request", "Paramètre inconnu : seul « types » est accepté, "
                         "et pour les flux RSS et Atom seulement.")
        types = value
    if types is not None:
        try:
            parse_kinds(types)
        except InvalidInput as exc:
            raise Answer("400 Bad Request", exc.reason) from None
    return Request(request.fmt, request.company_id, types)


class FeedsApp:
    def __init__(self, settings: Settings, db: Database, hasher: PasswordHasher) -> None:
        self.settings, self.db, self.hasher = settings, db, hasher
        self.logins = CredentialCache(settings.drive.auth_cache_seconds)
        self._blocked: dict[str, float] = {}  # address -> monotonic end of its lockout
        self._blocked_lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            return self._answer(environ, start_response)
        except Answer as answer:
            return self._plain(start_response, answer.status, answer.message, answer.headers)
        except Exception:
            log.exception("feed request failed")
            return self._plain(start_response, "500 Internal Server Error",
                               "Erreur interne : le flux n'a pas pu être produit.")

    # --- the steps of a fetch -------------------------------------------------------------

    def _answer(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            raise Answer("405 Method Not Allowed", "Un flux se lit seulement (GET).",
                         [("Allow", "GET, HEAD")])
        address = throttle.client_address(environ.get("REMOTE_ADDR", ""),
                                          environ.get("HTTP_X_FORWARDED_FOR", ""),
                                          self.settings.server.trusted_proxies)
        query = environ.get("QUERY_STRING", "")
        if any(name.lower() in SECRET_PARAMETERS
               for name, _ in parse_qsl(query, keep_blank_values=True, max_num_fields=10)):
            raise Answer("400 Bad Request", TOKEN_IN_QUERY)  # before the path is looked at
        try:
            secret, request = parse_path(environ.get("PATH_INFO", ""))
        except Answer:
            self._failed(address)
            raise
        request = parse_query(query, request)
        probe = self._probe(environ, secret, address)
        today = datetime.now(PARIS).date()
        etag = self._etag(probe, request, today)
        last_modified = self._last_modified(probe, request, today)
        headers = [("Cache-Control", "private, no-cache"), ("ETag", etag),
                   ("Last-Modified", format_datetime(last_modified, usegmt=True)),
                   ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                   ("Vary", "Authorization")]
        if probe.token_id is not None:
            with self.db.transaction() as tx:
                note_use(tx, probe, address)
        if self._not_modified(environ, etag, last_modified):
            start_response("304 Not Modified", headers)
            return [b""]
        body = self._render(environ, probe, request)
        headers += [("Content-Type", FORMATS[request.fmt]), ("Content-Length", str(len(body)))]
        if request.fmt == "agenda.ics":
            headers.append(("Content-Disposition", 'inline; filename="liasse.ics"'))
        start_response("200 OK", headers)
        return [body]

    def _probe(self, environ: dict, secret: str | None, address: str) -> Probe:
        if secret is not None:
            with self.db.session() as session:
                probe = probe_token(session, secret)
            if probe is None or not probe.working:
                self._failed(address)
                raise Answer("404 Not Found", NOT_FOUND)
            return probe
        credentials = basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        challenge = [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')]
        if credentials is None:
            raise Answer("401 Unauthorized", "Identifiant et mot de passe Liasse requis (ou "
                         "une adresse avec jeton).", challenge)
        login, password = credentials
        cached = self.logins.get(login, password)
        if cached is not None:
            with self.db.session() as session:
                probe = probe_user(session, *cached)
            if probe is not None and probe.working:
                return probe
        outcome = attempt_sign_in(self.db, self.hasher, login, password, address)
        user = outcome.user
        found = (user.id, user.credentials_version, user.must_change_password) \
            if user else None
        if found is None:
            if outcome.throttled:
                wait = max(1, int((outcome.locked_until - utcnow()).total_seconds()))
                raise Answer("429 Too Many Requests", outcome.reason,
                             [("Retry-After", str(wait))])
            raise Answer("401 Unauthorized", outcome.reason, challenge)
        if found[2]:
            raise Answer("403 Forbidden", "Mot de passe provisoire : choisissez le vôtre dans "
                         "l'application web, puis reprenez le flux.")
        self.logins.put(login, password, found[0], found[1])
        with self.db.session() as session:
            probe = probe_user(session, found[0], found[1])
        if probe is None or not probe.working:
            raise Answer("401 Unauthorized", outcome.reason, challenge)
        return probe

    def _etag(self, probe: Probe, request: Request, today) -> str:
        state = "|".join(str(part) for part in (
            VERSION, probe.user_id, probe.token_id, probe.rights_generation,
            probe.last_event_id, request.fmt, request.company_id, request.types,
            self.settings.feeds.max_items, today if request.fmt == "agenda.ics" else ""))
        return f'W/"{hashlib.blake2b(state.encode(), digest_size=12).hexdigest()}"'

    @staticmethod
    def _last_modified(probe: Probe, request: Request, today) -> datetime:
        moment = probe.last_event_at or datetime(2020, 1, 1, tzinfo=UTC)
        if request.fmt == "agenda.ics":  # the window of the calendar moves with the day
            midnight = datetime.combine(today, datetime.min.time(), tzinfo=PARIS)
            moment = max(moment, midnight.astimezone(UTC))
        return moment.replace(microsecond=0)

    @staticmethod
    def _not_modified(environ: dict, etag: str, last_modified: datetime) -> bool:
        """RFC 9110 §13.1.2 (weak comparison) and §13.1.3 (ignored with If-None-Match)."""
        none_match = environ.get("HTTP_IF_NONE_MATCH")
        if none_match is not None:
            tags = {t.strip().removeprefix("W/") for t in none_match.split(",")}
            return "*" in tags or etag.removeprefix("W/") in tags
        since = environ.get("HTTP_IF_MODIFIED_SINCE")
        if since:
            try:
                moment = parsedate_to_datetime(since)
            except (TypeError, ValueError, IndexError):
                return False
            if moment.tzinfo is None:
                return False
            return last_modified <= moment
        return False

    def _render(self, environ: dict, probe: Probe, request: Request) -> bytes:
        base = self._base_url(environ)
        with self.db.session() as session:
            user = session.get(User, probe.user_id)
            principal = load_principal(session, user)
            cabinet = session.get(Cabinet, 1)
            firm = cabinet.name if cabinet else "Liasse"
            try:
                company = feed_company(session, principal, request.company_id) \
                    if request.company_id is not None else None
            except NotFound as exc:
                raise Answer("404 Not Found", exc.reason) from None
            scope = f" — {company.name}" if company else ""
            if request.fmt == "agenda.ics":
                rules = load_rules(self.settings.calendar.rules_file or None)
                held = subscription(session, principal, request.company_id, rules,
                                    datetime.now(PARIS).date())
                return ics.render(held, name=f"{firm} — Calendrier fiscal{scope}",
                                  base_url=base, now=utcnow(),
                                  refresh_minutes=self.settings.feeds.refresh_minutes,
                                  one_company=company is not None)
            entries = recent_entries(session, principal, company=company,
                                     kinds=parse_kinds(request.types),
                                     limit=self.settings.feeds.max_items)
            site = f"{base}/documents" if company is None else \
                f"{base}/messagerie/{company.id}"
            channel = syndication.Channel(
                title=f"{firm} — {user.display_name}{scope}",
                description=f"Dépôts, réceptions, messages et rappels de Liasse{scope}",
                site_url=site, self_url=self._self_url(base, request),
                feed_id=f"urn:liasse:flux:{user.id}:{request.company_id or 'tout'}:"
                        f"{request.types or 'tout'}",
                updated=entries[0].at if entries else (probe.last_event_at or utcnow()))
            return syndication.render(channel, entries, base, request.fmt)

    @staticmethod
    def _self_url(base: str, request: Request) -> str:
        """The feed's URL without its secret (what it says of itself is public)."""
        path = f"/entreprises/{request.company_id}" if request.company_id else ""
        query = f"?types={request.types}" if request.types else ""
        return f"{base}/feeds{path}/{request.fmt}{query}"

    def _base_url(self, environ: dict) -> str:
        public = self.settings.server.public_url.rstrip("/")
        if public:
            return public
        host = environ.get("HTTP_HOST", "")
        if not SAFE_HOST.match(host):
            host = environ.get("SERVER_NAME", "localhost")
        return f"{environ.get('wsgi.url_scheme', 'https')}://{host}"

    # --- wrong tokens, counted like failed sign-ins ---------------------------------------

    def _failed(self, address: str) -> None:
        """A wrong feed address from `address`: counted; from an address already past the
        threshold, `429` without counting. A working token from that address is still
        served: behind a firm's proxy every reader shares one address, and a stranger's
        wrong guesses must not stop them (as the sign-in never locks an address)."""
        with self._blocked_lock:
            until = self._blocked.get(address)
        if until is not None and until > time.monotonic():
            raise Answer("429 Too Many Requests", TOO_MANY,
                         [("Retry-After", str(max(1, int(until - time.monotonic()))))])
        self._count_failure(address)

    def _count_failure(self, address: str) -> None:
        """One more wrong feed address from `address`, in the table the sign-in uses (every
        process sees it); past the lockout threshold the address's wrong addresses are
        answered `429` for the lockout time, by this process without a write."""
        policy = self.settings.security
        key = "feed:" + throttle.address_key(address)
        now = utcnow()
        with self.db.transaction() as tx:
            row = tx.get(AuthFailure, key)
            counter = throttle.after_failure(
                throttle.Counter(row.failures, row.last_failure_at, row.locked_until)
                if row else None, now, policy)
            if row is None:
                row = AuthFailure(key=key)
                tx.add(row)
            row.failures, row.last_failure_at = counter.failures, counter.last_failure_at
            row.locked_until = counter.locked_until
        if counter.locked_until is not None:
            seconds = (counter.locked_until - now).total_seconds()
            with self._blocked_lock:
                if len(self._blocked) > 10_000:
                    self._blocked.clear()
                self._blocked[address] = time.monotonic() + max(1.0, seconds)

    @staticmethod
    def _plain(start_response: Callable, status: str, message: str,
               headers: Iterable[tuple[str, str]] = ()) -> list[bytes]:
        body = (message + "\n").encode()
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body))),
                                ("Cache-Control", "no-store"),
                                ("X-Content-Type-Options", "nosniff"), *headers])
        return [body]


def build_feeds(settings: Settings, db: Database, hasher: PasswordHasher) -> FeedsApp:
    return FeedsApp(settings, db, hasher)

