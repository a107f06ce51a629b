"""What a hostile user and real clients found (issue 15), each against a real `liasse serve`,
over the drive and the web app as the finding was made. Numbers refer to the issue's items.
"""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
import zipfile
from io import BytesIO
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select, update
from support.channels import Browser
from support.dav import Dav, responses

from acl.documents.models import Node, NodeProperty
from acl.people.models import Company, CompanyStatus, User
from acl.rights.models import AuditEntry

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"
LOCKINFO = (b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
            b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
            b"<D:owner><D:href>secretaire@poste</D:href></D:owner></D:lockinfo>")
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect (ou compte désactivé)."
SCRIPT = b"<html><body><script>document.title='pwned'</script>facture</body></html>"


_OPENED: list[Dav] = []


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    while _OPENED:
        _OPENED.pop().close()


def dav(server, login: str, password: str | None = None) -> Dav:
    """A WebDAV client as `login`, closed after the test."""
    client = Dav(server.base_url, login, server.password if password is None else password)
    _OPENED.append(client)
    return client


def path(*segments: str) -> str:
    return "/dav/" + "/".join(quote(s) for s in segments)


def node_id(db, *names: str, company: str = BAKERY) -> int:
    with db.session() as s:
        company_id = s.scalar(select(Company.id).where(Company.name == company))
        parent = s.scalar(select(Node.id).where(Node.company_id == company_id,
                                                Node.parent_id.is_(None)))
        for name in names:
            parent = s.scalar(select(Node.id).where(Node.parent_id == parent, Node.name == name,
                                                    Node.deleted_at.is_(None)))
        return parent


# --- 1. documents never run in the app's origin ---------------------------------------------

@pytest.mark.parametrize(("name", "body"), [
    ("facture.html", SCRIPT),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
])
def test_an_active_document_is_downloaded_sandboxed_on_every_channel(live_server, demo, name,
                                                                      body):
    secretaire = dav(live_server, "secretaire")
    assert secretaire("PUT", path(BAKERY, "Achats", name), body).status == 201
    expert = dav(live_server, "expert")
    for headers in ({}, {"Range": "bytes=0-10"}):  # the fast path, and WsgiDAV's GET
        reply = expert("GET", path(BAKERY, "Achats", name), headers=headers)
        assert reply.status in (200, 206)
        assert reply.headers["Content-Disposition"].startswith("attachment;")
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Content-Security-Policy"].startswith("sandbox")
    web = Browser(live_server.base_url, "expert", live_server.password)
    status, _ = web.get(f"/telecharger/{node_id(demo, 'Achats', name)}")
    assert status == 200
    assert web.headers["Content-Disposition"].startswith("attachment;")
    assert web.headers["Content-Security-Policy"].startswith("sandbox")
    status, _ = web.post(f"/dossier/{node_id(demo, 'Achats')}/zip",
                         {"item": str(node_id(demo, "Achats", name))})
    assert status == 200 and web.headers["Content-Security-Policy"].startswith("sandbox")


def test_an_inert_document_may_show_in_the_browser_sandboxed(live_server):
    martin = dav(live_server, "martin")
    assert martin("PUT", path(BAKERY, "Achats", "note.txt"), b"bonjour").status == 201
    reply = martin("GET", path(BAKERY, "Achats", "note.txt"))
    assert reply.headers["Content-Disposition"].startswith("inline;")
    assert reply.headers["Content-Security-Policy"].startswith("sandbox")


def test_a_deposited_html_file_runs_no_script_in_a_signed_in_browser(live_server, chromium,
                                                                     browser_sign_in):
    """The finding: expert, signed in to the web app, opens the drive's URL of a document
    deposited by the secretary (giving his drive password when the browser asks)."""
    assert dav(live_server, "secretaire")(
        "PUT", path(BAKERY, "Achats", "piege.html"), SCRIPT).status == 201
    context = chromium.new_context(accept_downloads=True, http_credentials={
        "username": "expert", "password": live_server.password})
    page = context.new_page()
    page.set_default_timeout(20_000)
    browser_sign_in(page, live_server, "expert")
    with page.expect_download() as download:
        try:
            page.goto(live_server.base_url + path(BAKERY, "Achats", "piege.html"))
        except Exception as exc:  # Chromium: "Download is starting"
            assert "Download" in str(exc), exc
    assert download.value.suggested_filename == "piege.html"
    assert page.title() != "pwned"
    context.close()


def test_the_app_pages_carry_their_policy(live_server):
    web = Browser(live_server.base_url, "martin", live_server.password)
    assert web.get("/tableau-de-bord")[0] == 200
    policy = web.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert web.headers["X-Content-Type-Options"] == "nosniff"
    assert web.headers["Referrer-Policy"] == "same-origin"


# --- 2. an associé manages his own assistants only ------------------------------------------

def test_an_associe_of_other_companies_cannot_take_over_an_assistant(live_server, demo,
                                                                    ctx_of, hasher):
    from acl.people import accounts, portfolios
    from acl.rights.models import Role

    with demo.transaction() as tx:
        expert = ctx_of("expert", tx)
        garage_only = portfolios.create_portfolio(tx, expert, "Garages")
        garage = tx.scalars(select(Company).where(Company.name == GARAGE)).one()
        portfolios.set_company(tx, expert, garage_only, garage, True)
        other = accounts.new_user(tx, hasher, login="associe2", display_name="Autre Associé",
                                  role=Role.ASSOCIE, email=None, company=None,
                                  password=live_server.password, created_by_id=None).user
        portfolios.set_member(tx, expert, garage_only, other, True)
    web = Browser(live_server.base_url, "associe2", live_server.password)
    assert web.post("/administration/utilisateurs/assistant/mot-de-passe")[0] == 403
    assert web.post("/administration/utilisateurs/assistant/etat", {"active": "0"})[0] == 403
    with demo.session() as s:
        assistant = s.scalars(select(User).where(User.login == "assistant")).one()
        assert assistant.active and not assistant.must_change_password
    # The associé of the bakery's portfolio still manages her.
    associe = Browser(live_server.base_url, "associe", live_server.password)
    assert associe.post("/administration/utilisateurs/assistant/mot-de-passe")[0] == 200


# --- 3. one property cannot break a folder --------------------------------------------------

def test_a_dtd_in_utf16_is_refused_and_listings_stay_well_formed(live_server, demo):
    martin = dav(live_server, "martin")
    target = path(BAKERY, "Achats", "Facture Moulin Giraud octobre.pdf")
    xxe = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY xxe "boum">]>'
           '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:note xmlns:x="urn:x">&xxe;'
           '</x:note></D:prop></D:set></D:propertyupdate>').encode("utf-16")
    reply = martin("PROPPATCH", target, xxe, {"Content-Type": "application/xml"})
    assert reply.status == 400 and "DTD" in reply.text
    # A value stored before the fix (written here directly) is left out of every listing.
    with demo.transaction() as tx:
        tx.add(NodeProperty(node_id=node_id(demo, "Achats", "Facture Moulin Giraud octobre.pdf"),
                            name="{urn:x}note", value='<x:note xmlns:x="urn:x">&xxe;</x:note>'))
    for login in ("martin", "secretaire"):
        for depth in ("1", "0"):
            reply = dav(live_server, login)("PROPFIND", path(BAKERY, "Achats") + "/",
                                            headers={"Depth": depth})
            ET.fromstring(reply.body)  # well-formed
            assert reply.status == 207


# --- 4, 5. locks: every channel honours them; bounded; standard folders; broken by the firm

def lock(client, target: str, timeout: str = "Second-600", depth: str = "0"):
    reply = client("LOCK", target, LOCKINFO, {"Timeout": timeout, "Depth": depth})
    return reply


def test_the_web_app_honours_the_drive_locks(live_server, demo, settings):
    secretaire = dav(live_server, "secretaire")
    doc = path(BAKERY, "Banque", "en-cours.xlsx")
    assert secretaire("PUT", doc, b"PK v1").status == 201
    reply = lock(secretaire, doc)
    assert reply.status == 200, reply.text
    token = reply.headers["Lock-Token"]
    martin = Browser(live_server.base_url, "martin", live_server.password)
    doc_id, banque = node_id(demo, "Banque", "en-cours.xlsx"), node_id(demo, "Banque")
    status, page = martin.post(f"/dossier/{banque}/deposer", file=("en-cours.xlsx", b"PK v2"))
    assert status == 423 and "verrouillé par secretaire" in page
    assert martin.post(f"/element/{doc_id}/renommer", {"name": "autre.xlsx"})[0] == 423
    assert martin.post(f"/element/{doc_id}/supprimer")[0] == 423
    assert martin.post(f"/element/{doc_id}/deplacer",
                       {"destination": str(node_id(demo, "Autres"))})[0] == 423
    moved = subprocess.run([sys.executable, "-m", "liasse.cli", "--config", str(settings.source),
                            "--as", "martin", "document", "move", f"{BAKERY}/Banque/en-cours.xlsx",
                            f"{BAKERY}/Autres"], capture_output=True, text=True)
    assert moved.returncode == 1 and "verrouillé par secretaire" in moved.stderr
    # A folder holding a locked document is not trashed either.
    assert secretaire("MKCOL", path(BAKERY, "Banque", "Lot")).status == 201
    inner = path(BAKERY, "Banque", "Lot", "releve.csv")
    assert secretaire("PUT", inner, b"a;b").status == 201
    assert lock(secretaire, inner).status == 200
    assert martin.post(f"/element/{node_id(demo, 'Banque', 'Lot')}/supprimer")[0] == 423
    # The holder's own next save goes on over the drive; the document is where it was.
    assert secretaire("PUT", doc, b"PK v3", {"If": f"({token})"}).status == 204
    assert secretaire("GET", doc).body == b"PK v3"
    # Unlocked: the web may change it.
    assert secretaire("UNLOCK", doc, headers={"Lock-Token": token}).status == 204
    assert martin.post(f"/element/{doc_id}/renommer", {"name": "fini.xlsx"})[0] == 303


def test_locks_are_bounded_and_standard_folders_are_not_locked(live_server):
    secretaire = dav(live_server, "secretaire")
    reply = lock(secretaire, path(BAKERY, "Ventes") + "/", "Infinite", "infinity")
    assert reply.status == 403 and "dossier standard" in reply.text
    doc = path(BAKERY, "Ventes", "devis.docx")
    assert secretaire("PUT", doc, b"PK").status == 201
    reply = lock(secretaire, doc, "Infinite")
    assert reply.status == 200
    assert 3500 < granted(reply) <= 3600  # an hour at most, refreshable
    reply = secretaire("LOCK", doc, headers={"If": f"({reply.headers['Lock-Token']})",
                                             "Timeout": "Second-999999"})
    assert reply.status == 200 and 3500 < granted(reply) <= 3600


def granted(reply) -> int:
    """The seconds a LOCK answer says the lock lasts."""
    return int(re.search(r"<D:timeout>Second-(\d+)</D:timeout>", reply.text).group(1))


def test_the_firm_sees_and_breaks_a_lock_on_the_web_and_the_cli(live_server, demo, settings):
    secretaire = dav(live_server, "secretaire")
    doc = path(BAKERY, "Achats", "bloque.docx")
    assert secretaire("PUT", doc, b"PK").status == 201
    assert lock(secretaire, doc).status == 200
    martin = Browser(live_server.base_url, "martin", live_server.password)
    assert martin.get("/administration/verrous")[0] == 403  # not the firm's staff
    expert = Browser(live_server.base_url, "expert", live_server.password)
    status, page = expert.get("/administration/verrous")
    assert status == 200 and "Achats/bloque.docx" in page and "secretaire" in page
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    assert expert.post("/administration/verrous/lever", {"token": token})[0] == 302
    assert dav(live_server, "martin")("PUT", doc, b"PK v2").status == 204  # free again
    with demo.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "lock.break")).one()
    # The CLI lists and breaks them too.
    assert lock(secretaire, doc).status == 200
    cli = [sys.executable, "-m", "liasse.cli", "--config", str(settings.source)]
    listed = subprocess.run([*cli, "lock", "list"], capture_output=True, text=True, check=True)
    assert f"{BAKERY}/Achats/bloque.docx" in listed.stdout
    subprocess.run([*cli, "lock", "break", f"{BAKERY}/Achats/bloque.docx"], check=True,
                   capture_output=True)
    assert dav(live_server, "martin")("PUT", doc, b"PK v3").status == 204


# --- 6. a disconnected company does not administer itself ------------------------------------

def test_a_disconnected_company_does_not_administer_itself(live_server, demo):
    martin = Browser(live_server.base_url, "martin", live_server.password)
    with demo.transaction() as tx:
        tx.execute(update(Company).where(Company.name == BAKERY)
                   .values(status=CompanyStatus.DISCONNECTED.value))
        from acl.rights.audit import bump_rights_generation
        bump_rights_generation(tx)
    with demo.session() as s:
        company_id = s.scalar(select(Company.id).where(Company.name == BAKERY))
    status, page = martin.post(f"/administration/habilitations/{company_id}",
                               {f"folder|{_user_id(demo, 'secretaire')}|Fiscalité": "lecture"})
    assert status == 403 and "déconnecté" in page
    assert martin.post("/administration/utilisateurs/secretaire/mot-de-passe")[0] == 403
    status, page = martin.post("/administration/utilisateurs/nouveau", {
        "login": "intrus", "display_name": "Intrus", "role": "utilisateur"})
    assert status == 403
    with demo.session() as s:
        assert s.scalars(select(User).where(User.login == "intrus")).first() is None


def _user_id(db, login: str) -> int:
    with db.session() as s:
        return s.scalar(select(User.id).where(User.login == login))


# --- 7. no body on HEAD, on a kept-alive connection ------------------------------------------

def test_no_head_answer_carries_a_body(live_server):
    parts = urlsplit(live_server.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as raw:
        stream = raw.makefile("rb")
        for target in ("/dav/", "/dav/%2e%2e/", "/feeds/", "/connexion"):
            raw.sendall(f"HEAD {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            status = stream.readline()
            while stream.readline() not in (b"\r\n", b""):
                pass
            assert status.split()[1] in (b"401", b"400", b"404", b"200"), status
        # The next answer on the same connection is the one asked for, not a stray body.
        raw.sendall(b"GET /connexion HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert stream.readline().startswith(b"HTTP/1.1 200"), "a HEAD left a body behind"


# --- 8. no open redirect ----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["/\t/evil.example/", "//evil.example/", "/\\evil.example",
                                    "https://evil.example/"])
def test_sign_in_never_sends_elsewhere(live_server, target):
    web = Browser(live_server.base_url, None)
    status, _ = web.post("/connexion", {"login": "martin", "password": live_server.password,
                                        "next": target})
    assert status == 302
    location = web.headers["Location"]
    assert urlsplit(location).netloc in ("", urlsplit(live_server.base_url).netloc), location
    assert not location.startswith("//") and "evil" not in location


# --- 9. throttling: slows an address, never refuses a right password ---------------------------

def test_an_address_full_of_wrong_passwords_still_lets_the_right_one_in(serve):
    server = serve(security={"failure_delay_seconds": 0.0, "failures_before_lockout": 3})
    for attempt in range(6):  # several people behind one proxy, mistyping
        assert dav_login(server, f"inconnu{attempt}", "faux") == 401
    assert dav_login(server, "martin", server.password) == 207
    assert web_login(server, "martin", server.password) == 302
    # A login's own guard stays: three wrong passwords lock it, right one included (429).
    for _ in range(3):
        dav_login(server, "dupont", "faux")
    reply = dav(server, "dupont")("PROPFIND", "/dav/", headers={"Depth": "0"})
    assert reply.status == 429 and int(reply.headers["Retry-After"]) > 0
    assert "bloquée" in reply.text
    assert web_login(server, "dupont", server.password) == 429
    # The firm lifts it (audited), from the web; then the right password works again.
    expert = Browser(server.base_url, "expert", server.password)
    assert "connexion bloquée" in expert.get("/administration/utilisateurs")[1]
    assert expert.post("/administration/utilisateurs/dupont/debloquer")[0] == 302
    assert dav_login(server, "dupont", server.password) == 207


def test_a_health_check_on_the_sign_in_page_is_no_attempt(serve):
    server = serve(security={"failures_before_lockout": 2})
    parts = urlsplit(server.base_url)
    for _ in range(5):
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        connection.request("HEAD", "/connexion")
        assert connection.getresponse().status == 200
        connection.close()
    assert web_login(server, "martin", server.password) == 302


def test_behind_a_trusted_proxy_each_client_has_its_address(serve, demo):
    server = serve(server={"trusted_proxies": ["127.0.0.1"]},
                   security={"failure_delay_seconds": 0.0})
    client = dav(server, "martin")
    client.auth = {**client.auth, "X-Forwarded-For": "203.0.113.7"}
    client.auth["Authorization"] = client.auth["Authorization"][:-4] + "AAAA"  # wrong
    assert client("PROPFIND", "/dav/", headers={"Depth": "0"}).status == 401
    with demo.session() as s:
        from acl.rights.models import AuthFailure
        keys = set(s.scalars(select(AuthFailure.key)))
    assert "addr:203.0.113.7" in keys and "addr:127.0.0.1" not in keys


def dav_login(server, login: str, password: str) -> int:
    return dav(server, login, password)("PROPFIND", "/dav/", headers={"Depth": "0"}).status


def web_login(server, login: str, password: str) -> int:
    return Browser(server.base_url, None).post("/connexion", {"login": login,
                                                               "password": password})[0]


# --- 10. webdav4 can upload -----------------------------------------------------------------

def test_a_propfind_without_depth_is_depth_0_on_a_document(live_server):
    martin = dav(live_server, "martin")
    doc = path(BAKERY, "Achats", "Facture Moulin Giraud octobre.pdf")
    found = responses(martin("PROPFIND", doc))
    assert list(found) == [doc.replace("%20", " ")]
    assert martin("PROPFIND", path(BAKERY, "Achats", "nouveau.pdf")).status == 404
    assert martin("PROPFIND", path(BAKERY, "Achats") + "/").status == 403


def test_webdav4_uploads_and_reads_back(live_server):
    webdav4 = pytest.importorskip("webdav4.client", reason="Python package webdav4 is not "
                                                           "installed")
    import httpx

    with httpx.Client(auth=("martin", live_server.password)) as http:
        client = webdav4.Client(live_server.dav_url, http_client=http)
        remote = f"{BAKERY}/Achats/webdav4-{uuid.uuid4().hex[:6]}.txt"
        client.upload_fileobj(BytesIO(b"depuis webdav4"), remote)
        assert client.exists(remote)
        out = BytesIO()
        client.download_fileobj(remote, out)
    assert out.getvalue() == b"depuis webdav4"


# --- 11, 12, 18. depth, long restored names, zip entries, bidi names --------------------------

def test_folders_stop_at_a_bounded_depth_and_deep_trees_zip(live_server, demo):
    martin = dav(live_server, "martin")
    segments = [BAKERY, "Achats"]
    for level in range(32):
        segments.append(f"n{level}")
        assert martin("MKCOL", path(*segments)).status == 201, level
    reply = martin("MKCOL", path(*segments, "trop"))
    assert reply.status == 400 and "niveaux" in reply.text
    assert martin("PUT", path(*segments, "fond.txt"), b"au fond").status == 201
    assert martin("GET", path(*segments, "fond.txt")).body == b"au fond"
    web = Browser(live_server.base_url, "martin", live_server.password)
    status, _ = web.post(f"/dossier/{node_id(demo, 'Achats')}/zip",
                         {"item": str(node_id(demo, "Achats", "n0"))})
    assert status == 200


def test_a_company_root_zip_has_relative_names(live_server, demo):
    web = Browser(live_server.base_url, "martin", live_server.password)
    root = node_id(demo)
    parts = urlsplit(live_server.base_url)
    token = web.token
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    body = f"csrf_token={token}&item={root}"
    try:
        connection.request("POST", f"/dossier/{root}/zip", body=body, headers={
            "Cookie": web.cookie, "Content-Type": "application/x-www-form-urlencoded"})
        answer = connection.getresponse()
        assert answer.status == 200
        names = zipfile.ZipFile(BytesIO(answer.read())).namelist()
    finally:
        connection.close()
    assert names and not [n for n in names if n.startswith("/")], names
    assert "Achats/Facture Moulin Giraud octobre.pdf" in names


@pytest.mark.parametrize("name", ["Facture\u202efdp.exe", "a\u2066b.txt", "x\u200fy.pdf"])
def test_names_that_disguise_themselves_are_refused(live_server, demo, name):
    martin = dav(live_server, "martin")
    reply = martin("PUT", path(BAKERY, "Achats", name), b"x")
    assert reply.status == 400 and "sens d&#x27;écriture" in reply.text
    web = Browser(live_server.base_url, "martin", live_server.password)
    status, page = web.post(f"/dossier/{node_id(demo, 'Achats')}/deposer", file=(name, b"x"))
    assert status == 400 and "sens d&#39;écriture" in page


def test_a_restored_name_stays_within_255_bytes(live_server, demo):
    martin = dav(live_server, "martin")
    name = "é" * 125 + ".pdf"  # 254 bytes
    doc = path(BAKERY, "Achats", name)
    assert martin("PUT", doc, b"v1").status == 201
    assert martin("DELETE", doc).status == 204
    assert martin("PUT", doc, b"v2").status == 201
    web = Browser(live_server.base_url, "martin", live_server.password)
    with demo.session() as s:
        trashed = s.scalar(select(Node.id).where(Node.name == name,
                                                 Node.deleted_at.is_not(None)))
    assert web.post(f"/corbeille/{quote(BAKERY)}/restaurer/{trashed}")[0] == 303
    with demo.session() as s:
        restored = s.get(Node, trashed).name
    assert restored != name and len(restored.encode()) <= 255 and "restauré" in restored
    assert martin("GET", path(BAKERY, "Achats", restored)).body == b"v1"
    assert martin("DELETE", path(BAKERY, "Achats", restored)).status == 204


# --- 14, 15, 16, 17 --------------------------------------------------------------------------

def test_a_password_to_change_is_refused_on_the_drive_until_changed(live_server, demo):
    with demo.transaction() as tx:
        tx.execute(update(User).where(User.login == "martin").values(must_change_password=True))
    reply = dav(live_server, "martin")("PROPFIND", "/dav/", headers={"Depth": "0"})
    assert reply.status == 403 and "Mot de passe provisoire" in reply.text


def test_signing_out_ends_the_session_on_the_server(live_server):
    web = Browser(live_server.base_url, "martin", live_server.password)
    cookie = web.cookie
    assert web.get("/tableau-de-bord")[0] == 200
    assert web.post("/deconnexion")[0] == 302
    replay = Browser(live_server.base_url, None)
    replay.cookie = cookie  # a copy of the cookie taken before signing out
    status, _ = replay.get("/tableau-de-bord")
    assert status == 302 and "/connexion" in replay.headers["Location"]


def test_a_disabled_account_learns_nothing_of_its_password(live_server, demo, ctx_of):
    with demo.transaction() as tx:
        tx.execute(update(User).where(User.login == "secretaire").values(active=False))
    web = Browser(live_server.base_url, None)
    right = web.post("/connexion", {"login": "secretaire", "password": live_server.password})
    wrong = web.post("/connexion", {"login": "secretaire", "password": "faux"})
    assert right[0] == wrong[0] == 401
    said = [re.search(r'role="alert"[^>]*>([^<]+)<', page).group(1) for _, page in (right, wrong)]
    assert said[0] == said[1] == BAD_CREDENTIALS
    with demo.transaction() as tx:  # nor can it take a pending invitation
        from acl.people import invitations
        user = tx.scalars(select(User).where(User.login == "secretaire")).one()
        user.active = True
        token = invitations.invite(tx, ctx_of("martin", tx), user, live_server.base_url)
        user.active = False
    assert Browser(live_server.base_url, None).get(f"/invitation/{token}")[0] == 404


@pytest.mark.parametrize("company", ["2", "99"])
def test_a_company_out_of_reach_is_no_page(live_server, demo, company):
    web = Browser(live_server.base_url, "martin", live_server.password)
    with demo.session() as s:
        garage = s.scalar(select(Company.id).where(Company.name == GARAGE))
    target = str(garage) if company == "2" else "99999"
    assert web.get(f"/entreprise?id={target}")[0] == 404
