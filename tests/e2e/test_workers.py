"""`liasse serve --workers 2` (issue 22, item 1): one port, two server processes under a
supervising parent, on SQLite (WAL) and on PostgreSQL.

Each answer names its worker process (X-Liasse-Worker, asked for by the environment variable
the tests set): a kept-alive connection stays with the worker that accepted it, so a test
holds a connection on each worker and checks that what one worker did is seen through the
other at the next request.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from support.channels import Browser
from support.dav import Dav, basic, responses
from support.server import LiveServer, liasse_command, start_server

from acl.people.models import Company, User
from tests.e2e.test_mail_alerts import (
    FAST_ALERTS,
    STAFF,
    Sink,
    smtp,  # noqa: F401 (the fixture, used by its name)
    smtp_settings,
    wait_for_mails,
)
from tests.e2e.test_upload_integrity import assert_fsck_clean

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
BAKERY_URL = "/dav/Boulangerie%20Martin/"
HEADER = "X-Liasse-Worker"
LOCK_BODY = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:"><D:lockscope>'
             b"<D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
             b"<D:owner>test</D:owner></D:lockinfo>")
ATTEMPTS = 200  # connections opened at most to find one on each worker


@pytest.fixture
def workers(settings_file, demo, demo_password) -> Iterator[Callable[..., LiveServer]]:
    """`workers(**sections)`: `liasse serve --workers 2` on the demo world."""
    started: list[LiveServer] = []

    def start(**sections) -> LiveServer:
        path = settings_file(**sections) if sections else settings_file()
        server = start_server(path, demo_password, ["--workers", "2"],
                              {"LIASSE_WORKER_HEADER": "1"})
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        assert not _alive(server.process.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def children(server: LiveServer) -> set[int]:
    """The worker processes of the server, as the system lists them."""
    pid = server.process.pid
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def started_workers(server: LiveServer) -> set[int]:
    """The two worker processes, once the parent has started both (it prints its address
    first: the port is listening, and queues connections, before they run)."""
    return wait_for(lambda: (lambda now: now if len(now) == 2 else None)(children(server)),
                    "two worker processes")


def wait_for(condition: Callable[[], object], what: str, tries: int = 600):
    for _ in range(tries):  # 600 × 0.05 s
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never: {what}")


def pinned(server: LiveServer, user: str) -> dict[int, Dav]:
    """A kept-alive connection as `user` on each worker: worker pid -> connection."""
    found: dict[int, Dav] = {}
    for _ in range(ATTEMPTS):
        dav = Dav(server.base_url, user, server.password)
        reply = dav("PROPFIND", BAKERY_URL, headers={"Depth": "0"})
        assert reply.status == 207, reply.text
        pid = int(reply.headers[HEADER])
        if pid in found:
            dav.close()
        else:
            found[pid] = dav
        if len(found) == 2:
            return found
    raise AssertionError(f"no connection reached a second worker in {ATTEMPTS} tries")


def worker_of(dav: Dav) -> int:
    return int(dav("OPTIONS", "/dav/").headers[HEADER])


def test_two_workers_share_the_port_and_both_serve(workers):
    server = workers()
    pids = started_workers(server)
    assert server.process.pid not in pids
    assert "Processus serveurs       : 2" in "".join(server.output)
    seen: set[int] = set()
    lock = threading.Lock()

    def fetch() -> None:  # a new connection each time, as many clients at once would
        for _ in range(20):
            parts = urlsplit(server.base_url)
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            try:
                connection.request("GET", "/connexion")
                response = connection.getresponse()
                response.read()
                assert response.status == 200
                with lock:
                    seen.add(int(response.getheader(HEADER)))
            finally:
                connection.close()

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == pids
    # The web session opened through one worker is valid through the other: every request
    # of this browser is a new connection, to either worker.
    browser = Browser(server.base_url, "expert", server.password)
    served = set()
    for _ in range(ATTEMPTS):
        status, page = browser.get("/tableau-de-bord")
        assert status == 200 and "Se déconnecter (expert)" in page
        served.add(int(browser.headers[HEADER]))
        if served == pids:
            break
    assert served == pids


def _company_id(db, name: str) -> int:
    with db.session() as s:
        return s.scalar(select(Company.id).where(Company.name == name))


def _user_id(db, login: str) -> int:
    with db.session() as s:
        return s.scalar(select(User.id).where(User.login == login))


def _on_other_worker(browser: Browser, dav: dict[int, Dav]) -> Dav:
    """The connection on the worker that did not answer the browser's last request."""
    return next(d for pid, d in dav.items() if pid != int(browser.headers[HEADER]))


def test_a_new_document_a_revoked_right_and_a_reset_password_are_seen_by_the_other_worker(
        workers, demo):
    server = workers()
    secretaire = pinned(server, "secretaire")
    folder = BAKERY_URL + "Achats/"
    names = {pid: set(responses(dav("PROPFIND", folder, headers={"Depth": "1"})))
             for pid, dav in secretaire.items()}  # each worker has listed (and cached) it
    first, second = secretaire
    assert names[first] == names[second]

    # A document written through one worker is listed and read through the other.
    assert secretaire[first]("PUT", folder + "Ticket%20multi.pdf", b"%PDF-1.4 ticket") \
        .status == 201
    listed = set(responses(secretaire[second]("PROPFIND", folder, headers={"Depth": "1"})))
    assert listed - names[second] == {f"/dav/{BAKERY}/Achats/Ticket multi.pdf"}
    assert secretaire[second]("GET", folder + "Ticket%20multi.pdf").body == b"%PDF-1.4 ticket"

    # A lock taken through one worker refuses a write through the other, until unlocked.
    document = folder + "Ticket%20multi.pdf"
    locked = secretaire[first]("LOCK", document, LOCK_BODY, {"Timeout": "Second-600"})
    assert locked.status == 200
    assert secretaire[second]("PUT", document, b"%PDF-1.4 autre").status == 423
    assert secretaire[first]("UNLOCK", document,
                             headers={"Lock-Token": locked.headers["Lock-Token"]}).status == 204
    assert secretaire[second]("PUT", document, b"%PDF-1.4 autre").status == 204

    # A right taken away through one worker (the web app) is refused through the other.
    martin = Browser(server.base_url, "martin", server.password)
    status, _ = martin.post(f"/administration/habilitations/{_company_id(demo, BAKERY)}",
                            {f"folder|{_user_id(demo, 'secretaire')}|Achats": "aucun"})
    assert status in (200, 302)
    other = _on_other_worker(martin, secretaire)
    assert other("PROPFIND", folder, headers={"Depth": "1"}).status == 404
    assert other("GET", folder + "Ticket%20multi.pdf").status == 404
    assert other("PROPFIND", BAKERY_URL + "Ventes/", headers={"Depth": "0"}).status == 207

    # A password reset through one worker: the old one no longer opens the drive through the
    # other, whose credential cache had it.
    status, _ = martin.post("/administration/utilisateurs/secretaire/mot-de-passe")
    assert status in (200, 302)
    other = _on_other_worker(martin, secretaire)
    assert other("PROPFIND", BAKERY_URL + "Ventes/", headers={"Depth": "0"}).status == 401
    for dav in secretaire.values():
        dav.close()


def test_a_worker_killed_in_a_request_is_replaced_while_the_other_serves(workers):
    server = workers()
    expert = pinned(server, "expert")
    victim, survivor = expert
    # The victim is in the middle of an upload when it dies.
    target = BAKERY_URL + "Achats/Interrompu.pdf"
    upload = expert[victim].connection
    upload.putrequest("PUT", target)
    for name, value in {**expert[victim].auth, "Content-Length": str(4 * 65536)}.items():
        upload.putheader(name, value)
    upload.endheaders(b"%PDF-1.4 " + b"x" * 65527)
    time.sleep(0.5)  # the victim has the request and reads its body
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(OSError):  # the connection is gone (reset, or closed unanswered)
        upload.send(b"x" * 3 * 65536)
        upload.getresponse()
    # The other worker serves on, on its kept-alive connection and on new ones; nothing of
    # the interrupted upload is there.
    assert expert[survivor]("PROPFIND", BAKERY_URL, headers={"Depth": "1"}).status \
        == 207
    assert expert[survivor]("GET", target).status == 404
    replaced = wait_for(lambda: (lambda now: now if len(now) == 2 and victim not in now
                                 else None)(children(server)),
                        "the parent starts a new worker")
    assert survivor in replaced
    assert not _alive(victim)
    fresh = pinned(server, "expert")
    assert set(fresh) == replaced
    for dav in [*expert.values(), *fresh.values()]:
        dav.close()
    assert server.process.poll() is None
    # Nothing half-written: no document without its body, no upload left in the store.
    assert_fsck_clean(Path(demo_settings(server)))


def test_sighup_replaces_the_workers_one_by_one_and_the_port_never_goes_unserved(workers):
    server = workers()
    before = started_workers(server)
    failures: list[str] = []
    answered = [0]
    done = threading.Event()

    def poll() -> None:  # a new connection each time, during the whole reload
        parts = urlsplit(server.base_url)
        while not done.is_set() and answered[0] < 100_000:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
            try:
                connection.request("GET", "/connexion")
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(str(response.status))
                answered[0] += 1
            except OSError as exc:
                failures.append(repr(exc))
            finally:
                connection.close()

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        server.process.send_signal(signal.SIGHUP)
        after = wait_for(lambda: (lambda now: now if len(now) == 2 and not now & before
                                  else None)(children(server)),
                         "two new worker processes", tries=1200)
    finally:
        done.set()
        poller.join()
    assert failures == [] and answered[0] > 0
    assert all(not _alive(pid) for pid in before)
    dav = Dav(server.base_url, "expert", server.password)
    reply = dav("PROPFIND", BAKERY_URL, headers={"Depth": "0"})
    assert reply.status == 207 and int(reply.headers[HEADER]) in after
    dav.close()


def test_sigterm_lets_an_upload_in_flight_finish_then_every_process_exits(workers, demo):
    server = workers()
    pids = started_workers(server)
    parts = urlsplit(server.base_url)
    body = b"%PDF-1.4 " + os.urandom(4 * 65536)
    target = BAKERY_URL + "Achats/En%20cours.pdf"
    raw = socket.create_connection((parts.hostname, parts.port), timeout=60)
    head = (f"PUT {target} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            f"Authorization: {basic('martin', server.password)['Authorization']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    raw.sendall(head + body[:65536])
    time.sleep(0.5)  # the worker has the request and reads its body
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.5)  # the stop is under way while the body is still coming
    raw.sendall(body[65536:])
    answer = raw.makefile("rb").readline()
    raw.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer
    assert server.process.wait(timeout=60) == 0
    assert "Serveur arrêté." in "".join(server.output)
    for pid in pids:
        assert not _alive(pid)
    # The document is whole: the next server shows it as sent.
    again = start_server(Path(demo_settings(server)), server.password)
    try:
        dav = Dav(again.base_url, "martin", again.password)
        assert dav("GET", target).body == body
        dav.close()
    finally:
        again.stop()


def demo_settings(server: LiveServer) -> str:
    return server.process.args[server.process.args.index("--config") + 1]


def test_deposit_alerts_are_mailed_once_whichever_worker_took_the_uploads(
        workers, smtp, demo):  # noqa: F811 (smtp: test_mail_alerts's fixture)
    sink = Sink()
    _, port = smtp.start(sink)
    server = workers(smtp=smtp_settings(port), alerts={**FAST_ALERTS,
                                                       "quiet_delay_seconds": 2})
    martin = pinned(server, "martin")
    for number in range(10):
        dav = list(martin.values())[number % 2]  # both workers take uploads
        assert dav("PUT", BAKERY_URL + f"Achats/Ticket%20{number}.pdf", b"%PDF-1.4 t") \
            .status == 201
    wait_for_mails(demo, sink, 3)
    time.sleep(2 * FAST_ALERTS["poll_seconds"] + 1)  # a second sender would have sent by now
    assert sink.per_recipient() == Counter(STAFF)
    for received in sink.messages:
        assert received.mail["Subject"] == "[Cabinet Démo] 10 nouveaux documents déposés"
    for dav in martin.values():
        dav.close()


def test_bad_worker_counts_are_refused_in_one_sentence(settings_file, demo):
    import subprocess

    path = settings_file()
    for value in ("0", "10000"):
        done = subprocess.run([*liasse_command(), "--config", str(path), "serve", "--port",
                               "0", "--workers", value], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        assert "--workers" in done.stderr and "entre 1 et 64" in done.stderr, done.stderr
    path = settings_file(server={"workers": 65})
    done = subprocess.run([*liasse_command(), "--config", str(path), "serve", "--port", "0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "[server]" in done.stderr or "server" in done.stderr, done.stderr
    assert "workers" in done.stderr and "entre 0 et 64" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
