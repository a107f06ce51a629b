"""Several Liasse nodes behind HAProxy (issue 22, item 3, and its faults): two `liasse serve`,
each its own port and process tree, on one PostgreSQL database, one storage and one session
secret, behind a real HAProxy on loopback (tests/support/nodes.py).

A test talks to a node's own port to choose the node, and to the balancer for the balanced
cases. Whatever a node keeps in memory (credentials, principals, listings, locks) is checked
against the database at each request; the background jobs run on the node elected by a
PostgreSQL advisory lock; a node killed with `kill -9` loses no answered upload; PostgreSQL
gone for a few seconds is a 503 with Retry-After, never a 500, and the nodes recover by
themselves.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import quote

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from support.channels import Browser
from support.dav import Dav, basic, responses
from support.nodes import NODE_HEADER, Cluster, cluster, start_balancer
from support.server import free_port, liasse_command
from support.tcp_proxy import tcp_proxy

from acl.documents.blobs import open_store
from acl.documents.migration import migrate
from acl.documents.models import Node
from config.settings import load_settings
from tests.e2e.test_mail_alerts import (
    FAST_ALERTS,
    STAFF,
    Sink,
    smtp,  # noqa: F401 (the fixture, used by its name)
    smtp_settings,
    wait_for_mails,
)
from tests.e2e.test_upload_integrity import assert_fsck_clean
from tests.e2e.test_workers import BAKERY, BAKERY_URL, LOCK_BODY, _company_id, _user_id

pytestmark = [pytest.mark.e2e, pytest.mark.postgresql_only]

ACHATS = BAKERY_URL + "Achats/"
UPLOADS = 50
UPLOAD_THREADS = 4
RETRIES = 5


@pytest.fixture(params=["folder", "bucket"])
def node_storage(request, settings, settings_file, demo) -> dict:
    """The [storage] section every node gets: one data folder for all of them (in
    production on NFS), or one S3 bucket (a real SeaweedFS) that the demo's bodies were
    first migrated to, as `liasse storage migrate` does."""
    shared = {"data_dir": str(settings.data_dir)}
    if request.param == "folder":
        return shared
    bucket = {**shared, **request.getfixturevalue("s3_storage")}
    moved = migrate(open_store(settings),
                    open_store(load_settings(settings_file(storage=bucket))))
    assert moved.copied > 0 and moved.copied == moved.total
    return bucket


@pytest.fixture
def nodes(tmp_path, database_url, node_storage, demo, demo_password, require_binary
          ) -> Iterator[Callable[..., Cluster]]:
    """`nodes(database_url=..., **sections)`: nodes a and b on the demo world, behind
    HAProxy, stopped at the end of the test (also on failure)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several nodes share a PostgreSQL database (LIASSE_TEST_DATABASE_URL)")
    require_binary("haproxy", "haproxy")
    with ExitStack() as stack:
        def start(url: str = database_url, **sections: dict) -> Cluster:
            return stack.enter_context(cluster(tmp_path / "nodes", url, node_storage,
                                               demo_password, **sections))

        (tmp_path / "nodes").mkdir()
        yield start


def dav(base_url: str, user: str, password: str, opened: list[Dav]) -> Dav:
    connection = Dav(base_url, user, password)
    opened.append(connection)
    return connection


def once(base_url: str, user: str, password: str, method: str, target: str,
         body: bytes | None = None, headers: dict | None = None):
    """One request on a connection of its own (through the balancer: any node)."""
    connection = Dav(base_url, user, password)
    try:
        return connection(method, target, body, headers)
    finally:
        connection.close()


def test_a_document_deposited_through_one_node_is_listed_read_and_locked_through_the_other(
        nodes):
    c = nodes()
    opened: list[Dav] = []
    a = dav(c["a"].base_url, "secretaire", c.password, opened)
    b = dav(c["b"].base_url, "secretaire", c.password, opened)
    try:
        listed = set(responses(b("PROPFIND", ACHATS, headers={"Depth": "1"})))  # cached on b
        body = b"%PDF-1.4 " + os.urandom(200_000)
        document = ACHATS + "Facture%20noeud%20A.pdf"
        assert a("PUT", document, body).status == 201
        assert set(responses(b("PROPFIND", ACHATS, headers={"Depth": "1"}))) - listed == {
            f"/dav/{BAKERY}/Achats/Facture noeud A.pdf"}
        assert b("GET", document).body == body

        # A lock taken through b refuses a write through a, and the other way round.
        locked = b("LOCK", document, LOCK_BODY, {"Timeout": "Second-600"})
        assert locked.status == 200
        assert a("PUT", document, b"%PDF-1.4 autre").status == 423
        assert a("UNLOCK", document, headers={"Lock-Token": locked.headers["Lock-Token"]}
                 ).status == 204
        locked = a("LOCK", document, LOCK_BODY, {"Timeout": "Second-600"})
        assert locked.status == 200
        assert b("PUT", document, b"%PDF-1.4 autre").status == 423
        assert b("DELETE", document).status == 423
        assert a("UNLOCK", document, headers={"Lock-Token": locked.headers["Lock-Token"]}
                 ).status == 204
        assert b("PUT", document, b"%PDF-1.4 autre").status == 204
        assert a("GET", document).body == b"%PDF-1.4 autre"
    finally:
        for connection in opened:
            connection.close()

    # Through the balancer, each request on a new connection: roundrobin spreads them over
    # both nodes, and each finds what the other wrote.
    served: Counter[str] = Counter()
    bodies = {}
    for number in range(6):
        target = ACHATS + f"Balance%20{number}.pdf"
        bodies[target] = b"%PDF-1.4 " + os.urandom(10_000)
        put = once(c.base_url, "secretaire", c.password, "PUT", target, bodies[target])
        assert put.status == 201
        served[put.headers[NODE_HEADER]] += 1
        got = once(c.base_url, "secretaire", c.password, "GET", target)
        assert got.body == bodies[target]
        served[got.headers[NODE_HEADER]] += 1
    assert set(served) == {"a", "b"}
    listing = once(c.base_url, "secretaire", c.password, "PROPFIND", ACHATS,
                   headers={"Depth": "1"})
    assert {f"/dav/{BAKERY}/Achats/Balance {n}.pdf" for n in range(6)} <= \
        set(responses(listing))


def test_a_right_revoked_through_one_node_is_refused_by_the_other_at_the_next_request(
        nodes, demo):
    c = nodes()
    b = Dav(c["b"].base_url, "secretaire", c.password)
    try:
        assert b("PROPFIND", ACHATS, headers={"Depth": "1"}).status == 207  # b caches it
        martin = Browser(c["a"].base_url, "martin", c.password)
        status, _ = martin.post(f"/administration/habilitations/{_company_id(demo, BAKERY)}",
                                {f"folder|{_user_id(demo, 'secretaire')}|Achats": "aucun"})
        assert status in (200, 302)
        assert b("PROPFIND", ACHATS, headers={"Depth": "1"}).status == 404
        assert b("PUT", ACHATS + "Refus.pdf", b"%PDF-1.4 x").status in (403, 404, 409)
        assert b("PROPFIND", BAKERY_URL + "Ventes/", headers={"Depth": "0"}).status == 207
        # A password reset through a: b's credential cache no longer opens the drive.
        assert martin.post("/administration/utilisateurs/secretaire/mot-de-passe")[0] \
            in (200, 302)
        assert b("PROPFIND", BAKERY_URL + "Ventes/", headers={"Depth": "0"}).status == 401
    finally:
        b.close()


def on_node(browser: Browser, server) -> Browser:
    """The same browser (its cookie), now talking to another node."""
    browser.address = (server.base_url.split("//")[1].rsplit(":", 1)[0],
                       int(server.base_url.rsplit(":", 1)[1]))
    return browser


def test_a_web_session_opened_on_one_node_works_on_the_other_and_ends_on_both(nodes):
    c = nodes()
    browser = Browser(c["a"].base_url, "expert", c.password)
    status, page = on_node(browser, c["b"]).get("/tableau-de-bord")
    assert status == 200 and "Se déconnecter (expert)" in page
    cookie = browser.cookie
    # Signed out through b; the cookie as it was (kept by someone who copied it) no longer
    # opens the session on a.
    token = browser.token
    assert browser.post("/deconnexion")[0] == 302
    replay = on_node(Browser(c["a"].base_url, None), c["a"])
    replay.cookie, replay.token = cookie, token
    status, page = replay.get("/tableau-de-bord")
    assert status == 302 and "Se déconnecter" not in page
    # A session opened through the balancer holds on whichever node serves each request.
    balanced = Browser(c.base_url, "associe", c.password)
    served = set()
    for _ in range(6):
        status, page = balanced.get("/tableau-de-bord")
        assert status == 200 and "Se déconnecter (associe)" in page
        served.add(balanced.headers[NODE_HEADER])
    assert served == {"a", "b"}


def test_a_deposit_alert_is_mailed_once_not_once_per_node(nodes, smtp, demo):  # noqa: F811
    sink = Sink()
    _, port = smtp.start(sink)
    c = nodes(smtp=smtp_settings(port), alerts={**FAST_ALERTS, "quiet_delay_seconds": 2})
    opened: list[Dav] = []
    both = [dav(c[name].base_url, "martin", c.password, opened) for name in ("a", "b")]
    try:
        for number in range(10):
            assert both[number % 2]("PUT", ACHATS + f"Ticket%20{number}.pdf",
                                    b"%PDF-1.4 t").status == 201
    finally:
        for connection in opened:
            connection.close()
    wait_for_mails(demo, sink, 3)
    time.sleep(2 * FAST_ALERTS["poll_seconds"] + 1)  # a second sender would have sent by now
    assert sink.per_recipient() == Counter(STAFF)
    for received in sink.messages:
        assert received.mail["Subject"] == "[Cabinet Démo] 10 nouveaux documents déposés"


def stored(db, name: str) -> Node | None:
    with db.session() as s:
        return s.scalar(select(Node).where(Node.name == name, Node.deleted_at.is_(None)))


def test_a_node_killed_during_50_uploads_loses_no_answered_one(nodes, demo):
    c = nodes()
    bodies = {f"Lot {n:02d}.pdf": b"%PDF-1.4 " + os.urandom(64 * 1024 + n) for n in
              range(UPLOADS)}
    targets = {name: ACHATS + quote(name) for name in bodies}
    answers: dict[str, int | str] = {}
    lock = threading.Lock()
    queue = list(bodies)
    killed = threading.Event()

    def upload() -> None:
        while True:
            with lock:
                if not queue:
                    return
                name = queue.pop(0)
            try:
                status = once(c.base_url, "martin", c.password, "PUT", targets[name],
                              bodies[name]).status
            except OSError as exc:  # the node died with the request
                status = repr(exc)
            with lock:
                answers[name] = status
                if len(answers) == UPLOADS // 5 and not killed.is_set():
                    killed.set()  # a fifth done, the rest under way: b goes
                    c.kill("b")

    threads = [threading.Thread(target=upload) for _ in range(UPLOAD_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert killed.is_set() and len(answers) == UPLOADS

    answered = [name for name, status in answers.items()
                if isinstance(status, int) and 200 <= status < 300]
    others = sorted(set(bodies) - set(answered))
    for name in answered:
        assert once(c.base_url, "martin", c.password, "GET", targets[name]).body == \
            bodies[name], name
    for name in others:  # a 502/503 from the balancer, or a connection cut: retried
        for _ in range(RETRIES):
            if once(c.base_url, "martin", c.password, "PUT", targets[name],
                    bodies[name]).status in (201, 204):
                break
        else:
            raise AssertionError(f"{name} could not be deposited again")
        assert once(c.base_url, "martin", c.password, "GET", targets[name]).body == \
            bodies[name], name
    listing = responses(once(c.base_url, "martin", c.password, "PROPFIND", ACHATS,
                             headers={"Depth": "1"}))
    assert {f"/dav/{BAKERY}/Achats/{name}" for name in bodies} <= set(listing)
    for name in bodies:
        assert stored(demo, name).size == len(bodies[name])
    assert_fsck_clean(c.settings["a"])


def _address(base_url: str) -> tuple[str, int]:
    host, port = base_url.split("//")[1].rsplit(":", 1)
    return host, int(port)


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def proxied(database_url: str, port: int) -> str:
    return make_url(database_url).set(host="127.0.0.1", port=port) \
        .render_as_string(hide_password=False)


CUT_SECONDS = 3.0


def test_postgresql_gone_for_seconds_is_503_then_every_node_recovers_by_itself(
        nodes, database_url, demo):
    target = make_url(database_url)
    with tcp_proxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        c = nodes(proxied(database_url, proxy.port))
        opened: list[Dav] = []
        drive = {name: dav(c[name].base_url, "secretaire", c.password, opened)
                 for name in ("a", "b")}
        web = {name: on_node(Browser(c["a"].base_url, "expert", c.password), c[name])
               for name in ("a", "b")}
        try:
            for name in ("a", "b"):  # every cache warm, every connection open
                assert drive[name]("PROPFIND", ACHATS, headers={"Depth": "1"}).status == 207
                assert web[name].get("/tableau-de-bord")[0] == 200

            # A chunked upload (WsgiDAV's PUT, not the fast path) under way when the
            # database goes: its body arrives, its filing cannot be committed.
            upload = socket.create_connection(_address(c["a"].base_url), timeout=60)
            upload.sendall(
                f"PUT {ACHATS}Coupure%20en%20cours.pdf HTTP/1.1\r\nHost: node\r\n"
                f"Authorization: {basic('secretaire', c.password)['Authorization']}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode() + _chunk(b"%PDF-1.4 "))
            time.sleep(0.5)  # the server has the request and reads its body
            proxy.cut()
            upload.sendall(_chunk(os.urandom(100_000)) + b"0\r\n\r\n")
            answer = http.client.HTTPResponse(upload)
            answer.begin()
            refused: list[tuple[str, int, str | None]] = [
                ("a chunked PUT", answer.status, answer.getheader("Retry-After"))]
            answer.close()
            upload.close()
            started = time.monotonic()
            number = 0
            while time.monotonic() - started < CUT_SECONDS:
                for name in ("a", "b"):
                    number += 1
                    for method, path, body in (
                            ("PROPFIND", ACHATS, None),
                            ("GET", BAKERY_URL, None),
                            ("PUT", ACHATS + f"Pendant%20{number}.pdf", b"%PDF-1.4 coupure")):
                        reply = drive[name](method, path, body, {"Depth": "1"})
                        refused.append((f"{name} {method}", reply.status,
                                        reply.headers.get("Retry-After")))
                    status, _ = web[name].get("/tableau-de-bord")
                    refused.append((f"{name} web", status, web[name].headers.get(
                        "Retry-After")))
                    health = once(c[name].base_url, None, "", "GET", "/sante")
                    refused.append((f"{name} /sante", health.status,
                                    health.headers.get("Retry-After")))
            proxy.restore()
            assert refused and {(what, status, retry) for what, status, retry in refused} \
                <= {(what, 503, "2") for what, _, _ in refused}, Counter(refused)

            # Back by themselves: the same connections, no restart.
            for name in ("a", "b"):
                for _ in range(100):
                    if drive[name]("PROPFIND", ACHATS, headers={"Depth": "1"}).status == 207:
                        break
                    time.sleep(0.1)
                else:
                    raise AssertionError(f"node {name} did not recover")
                assert web[name].get("/tableau-de-bord")[0] == 200
                assert once(c[name].base_url, None, "", "GET", "/sante").status == 200
            listed = set(responses(drive["a"]("PROPFIND", ACHATS, headers={"Depth": "1"})))
            assert not [href for href in listed if "Pendant" in href]
            assert stored(demo, f"Pendant {number}.pdf") is None
            assert stored(demo, "Coupure en cours.pdf") is None
            assert drive["b"]("PUT", ACHATS + "Apr%C3%A8s.pdf", b"%PDF-1.4 ok").status == 201
            assert drive["a"]("GET", ACHATS + "Apr%C3%A8s.pdf").body == b"%PDF-1.4 ok"
            for server in c.nodes.values():
                assert server.process.poll() is None
        finally:
            for connection in opened:
                connection.close()
        assert_fsck_clean(c.settings["a"])


def test_nodes_started_together_migrate_the_database_once(database_url, settings_file):
    """After an upgrade every node starts at once, each bringing the schema up to date: one
    migrates, the others wait and find it done (they failed on what the first had just
    created, a 'simultaneous operation' refusal, before the migrations took a lock)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several nodes share a PostgreSQL database (LIASSE_TEST_DATABASE_URL)")
    path = settings_file()  # an empty schema: every migration still to run
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    commands = [subprocess.Popen([*liasse_command(), "--config", str(path), "fsck"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 env=env) for _ in range(3)]
    outputs = [command.communicate(timeout=300)[0] for command in commands]
    # Migrated, each then refuses in the one sentence of a database without a firm.
    assert outputs == ["liasse : Aucun correspondant : lancez d'abord « liasse init ».\n"] * 3


def test_with_no_node_up_the_balancer_says_to_try_again(tmp_path, require_binary):
    """HAProxy's own 503 (every node down or not yet up) carries Retry-After and a French
    sentence, as Liasse's 503s do, so that clients retry instead of giving up."""
    require_binary("haproxy", "haproxy")
    balancer = start_balancer(tmp_path, {"a": free_port()})  # nobody listens there
    try:
        for _ in range(200):  # bounded: HAProxy binds within moments
            try:
                socket.create_connection(("127.0.0.1", balancer.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", balancer.port, timeout=30)
        connection.request("GET", "/dav/")
        answer = connection.getresponse()
        body = answer.read().decode()
        connection.close()
    finally:
        balancer.stop()
    assert answer.status == 503
    assert answer.getheader("Retry-After") == "2"
    assert "réessayez dans un instant" in body
