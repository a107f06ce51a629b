"""Uploads that are large, cut off, or interrupted by the server's death, against a real
`liasse serve`: a body is streamed (the server's memory does not follow its size), and an
upload that does not finish leaves no document, no body, and a consistent store behind it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select
from support.dav import Dav, basic
from support.server import liasse_command, start_server

from acl.documents.blobs import BlobStore, open_store
from acl.documents.models import Node

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
MIB = 2**20
BIG = 512 * MIB  # a body that would show if it were held in memory
BOUNDED_WAIT = 60  # seconds, for what the server does on its own after a client goes


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def blocks(total: int) -> Iterator[bytes]:
    """`total` bytes of a repeated 1 MiB random block, never all in the client's memory."""
    block = os.urandom(MIB)
    for _ in range(total // MIB):
        yield block


def expected_sha256(total: int, block: bytes) -> str:
    digest = hashlib.sha256()
    for _ in range(total // MIB):
        digest.update(block)
    return digest.hexdigest()


def stored_node(db, name: str) -> Node | None:
    with db.session() as session:
        return session.scalars(select(Node).where(Node.name == name,
                                                  Node.deleted_at.is_(None))).first()


def start_put(server, path: str, length: int | None, first_bytes: int) -> socket.socket:
    """A PUT announcing `length` bytes (None: chunked, as Finder sends), of which only
    `first_bytes` are sent."""
    host, port = urlsplit(server.base_url).hostname, urlsplit(server.base_url).port
    sock = socket.create_connection((host, port), timeout=60)
    auth = basic("secretaire", server.password)["Authorization"]
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {auth}\r\n"
                 f"Content-Type: application/pdf\r\n{framing}\r\n\r\n".encode("latin-1"))
    for _ in range(first_bytes // MIB):
        block = os.urandom(MIB)
        sock.sendall(block if length is not None else b"%x\r\n%s\r\n" % (len(block), block))
    return sock


def uploads_in_progress(pid: int, blobs: BlobStore) -> list[int]:
    """Sizes of the temporary files under the store's tmp/ that the server holds open and
    that are not empty: the uploads it is storing. They are anonymous (`O_TMPFILE`, only
    seen through the process's descriptors) where the system allows it, named otherwise."""
    sizes = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            size = os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except FileNotFoundError:  # closed meanwhile
            continue
        if target.startswith(f"{blobs.tmp}/") and size:
            sizes.append(size)
    return sizes


def wait_until_storing(pid: int, blobs: BlobStore, amount: int) -> None:
    """Until the upload's temporary file holds `amount` bytes: the server is inside the
    upload, streaming it to disk (bounded)."""
    deadline = time.monotonic() + BOUNDED_WAIT
    while not any(size >= amount for size in uploads_in_progress(pid, blobs)):
        assert time.monotonic() < deadline, "the server did not store the upload's start"
        time.sleep(0.02)


def temporary_files(blobs: BlobStore) -> list[str]:
    return sorted(p.name for p in blobs.tmp.iterdir()) if blobs.tmp.exists() else []


@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
def test_a_large_upload_is_streamed_not_held_in_memory(live_server, demo, framing):
    """512 MiB with a Content-Length (Liasse's own upload path) and chunked, as Finder sends
    (through WsgiDAV): the server grows by far less than the body, which is stored whole."""
    pid = live_server.process.pid
    dav = Dav(live_server.base_url, "secretaire", live_server.password)
    name = f"Grand export {framing}.zip"
    url = live_server.dav(BAKERY, "Achats", name)
    assert dav("OPTIONS", url).status == 200  # signed in: the baseline is a running server
    body = blocks(BIG)
    first = next(body)
    total_hash = expected_sha256(BIG, first)

    def stream() -> Iterator[bytes]:
        yield first
        yield from body

    peak = baseline = rss_mib(pid)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, rss_mib(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        headers = {"Content-Type": "application/zip"}
        if framing == "Content-Length":
            headers["Content-Length"] = str(BIG)
            reply = dav("PUT", url, stream(), headers=headers)
        else:
            reply = dav("PUT", url, stream(), headers=headers, encode_chunked=True)
    finally:
        done.set()
        sampler.join(timeout=10)
        dav.close()
    assert reply.status == 201, reply.text
    assert peak - baseline < 100, f"the server grew by {peak - baseline:.0f} MiB"
    node = stored_node(demo, name)
    assert (node.size, node.sha256) == (BIG, total_hash)


@pytest.mark.parametrize("upload", ["first request", "after a listing", "chunked"])
def test_a_client_gone_mid_upload_leaves_nothing(live_server, demo, settings, upload):
    """The connection closes after 8 MiB of the body: no document, no body, no temporary
    file, whichever way the server takes the upload (its first request goes through WsgiDAV,
    which ended such an upload as if it were complete; once the company is known, Liasse's
    own upload path; chunked, WsgiDAV)."""
    blobs = open_store(settings)
    before = blobs.all_hashes()
    name = f"Coupé en route ({upload}).pdf"
    path = "/dav/" + quote(f"{BAKERY}/Achats/{name}")
    dav = Dav(live_server.base_url, "secretaire", live_server.password)
    try:
        if upload == "after a listing":
            folder = "/dav/" + quote(f"{BAKERY}/Achats/")
            assert dav("PROPFIND", folder, headers={"Depth": "1"}).status == 207
        sock = start_put(live_server, path, None if upload == "chunked" else 64 * MIB,
                         8 * MIB)
        wait_until_storing(live_server.process.pid, blobs, 4 * MIB)
        sock.close()
        deadline = time.monotonic() + BOUNDED_WAIT
        while uploads_in_progress(live_server.process.pid, blobs):  # the server drops it
            assert time.monotonic() < deadline, uploads_in_progress(live_server.process.pid,
                                                                    blobs)
            time.sleep(0.05)
        assert temporary_files(blobs) == []
        node = stored_node(demo, name)
        assert node is None, f"a document of {node.size} bytes was filed"
        assert blobs.all_hashes() == before
        # The name is free: the whole upload, sent again, is filed.
        assert dav("PUT", path, b"%PDF-1.4 entier").status == 201
        assert dav("GET", path).body == b"%PDF-1.4 entier"
    finally:
        dav.close()


def fsck(settings_path: Path) -> subprocess.CompletedProcess:
    """`liasse fsck` on those settings, as an administrator runs it."""
    return subprocess.run([*liasse_command(), "--config", str(settings_path), "fsck"],
                          capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("LIASSE_")})


def assert_fsck_clean(settings_path: Path) -> None:
    """`liasse fsck` finds no body missing or damaged and no interrupted upload."""
    check = fsck(settings_path)
    assert check.returncode == 0, check.stdout + check.stderr
    for problem in ("Contenus manquants", "Contenus altérés", "Envois interrompus"):
        assert problem not in check.stdout, check.stdout


def test_a_server_killed_mid_upload_leaves_a_consistent_store(serve, settings_file, demo,
                                                               settings):
    """SIGKILL while a body arrives: after a restart the document does not exist, no stored
    document lacks its body (`liasse fsck` finds no problem), nothing of the body is left,
    and the upload can be redone."""
    server = serve()
    pid = server.process.pid
    blobs = open_store(settings)
    before = blobs.all_hashes()
    path = "/dav/" + quote(f"{BAKERY}/Achats/Relevé interrompu.pdf")
    sock = start_put(server, path, 64 * MIB, 8 * MIB)
    wait_until_storing(pid, blobs, 4 * MIB)
    os.kill(pid, signal.SIGKILL)
    server.process.wait(timeout=30)
    sock.close()

    check = fsck(settings_file())
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Contenus manquants" not in check.stdout, check.stdout
    assert "Contenus altérés" not in check.stdout, check.stdout
    # The body was an anonymous file: the system reclaimed it with the process.
    assert "Envois interrompus" not in check.stdout, check.stdout
    assert temporary_files(blobs) == []
    assert stored_node(demo, "Relevé interrompu.pdf") is None
    assert blobs.all_hashes() == before

    restarted = start_server(settings_file(), server.password)
    dav = Dav(restarted.base_url, "secretaire", restarted.password)
    try:
        assert dav("GET", path).status == 404
        assert dav("PUT", path, b"%PDF-1.4 releve complet").status == 201
        assert dav("GET", path).body == b"%PDF-1.4 releve complet"
    finally:
        dav.close()
        restarted.stop()


def test_a_server_killed_right_after_uploads_keeps_them(serve, settings_file, demo, settings):
    """The bodies of the last uploads are made durable in batches, after the answer: a
    process killed at once (SIGKILL, no flush) loses none of them, and the restart reports
    nothing to repair."""
    server = serve()
    dav = Dav(server.base_url, "secretaire", server.password)
    bodies = {f"Facture {i}.pdf": b"%PDF-1.4 " + os.urandom(2000) for i in range(20)}
    try:
        for name, body in bodies.items():
            assert dav("PUT", "/dav/" + quote(f"{BAKERY}/Achats/{name}"), body).status == 201
    finally:
        dav.close()
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=30)

    restarted = start_server(settings_file(), server.password)
    dav = Dav(restarted.base_url, "secretaire", restarted.password)
    try:
        assert not any("arrêt brutal" in line for line in restarted.output), restarted.output
        for name, body in bodies.items():
            assert dav("GET", "/dav/" + quote(f"{BAKERY}/Achats/{name}")).body == body
    finally:
        dav.close()
        restarted.stop()


def test_a_restart_after_a_power_cut_repairs_the_bodies_that_did_not_reach_the_disk(
        serve, settings_file, demo, settings):
    """A power cut may lose the bodies of the last moments (synced in batches) while the
    database kept their rows; the disk then shows them missing or damaged. The restart says
    which documents it repaired: an overwritten one has its previous version again, a new
    one is empty, to be deposited again; none points at a missing body."""
    server = serve()
    blobs = open_store(settings)
    dav = Dav(server.base_url, "secretaire", server.password)
    overwritten = "/dav/" + quote(f"{BAKERY}/Achats/Relevé de mars.pdf")
    new = "/dav/" + quote(f"{BAKERY}/Achats/Facture d'avril.pdf")
    try:
        assert dav("PUT", overwritten, b"%PDF-1.4 mars").status == 201
        assert dav("PUT", overwritten, b"%PDF-1.4 mars, corrige").status == 204
        assert dav("PUT", new, b"%PDF-1.4 avril").status == 201
    finally:
        dav.close()
    server.stop()
    # What the disk shows after the cut: the last two bodies never got there.
    Path(blobs.place(hashlib.sha256(b"%PDF-1.4 mars, corrige").hexdigest())).unlink()
    Path(blobs.place(hashlib.sha256(b"%PDF-1.4 avril").hexdigest())).write_bytes(b"")

    restarted = start_server(settings_file(), server.password)
    dav = Dav(restarted.base_url, "secretaire", restarted.password)
    try:
        report = "".join(restarted.output)
        assert "Reprise après un arrêt brutal" in report
        assert "« Boulangerie Martin/Achats/Relevé de mars.pdf » : son dernier dépôt " \
               "n'avait pas atteint le disque ; la version précédente est rétablie." in report
        assert "« Boulangerie Martin/Achats/Facture d'avril.pdf » : son contenu n'avait pas " \
               "atteint le disque ; le document est vide, à déposer de nouveau." in report
        assert dav("GET", overwritten).body == b"%PDF-1.4 mars"
        assert dav("GET", new).body == b""
        assert dav("PUT", new, b"%PDF-1.4 avril").status == 204
        assert dav("GET", new).body == b"%PDF-1.4 avril"
    finally:
        dav.close()
        restarted.stop()
    check = fsck(settings_file())
    assert check.returncode == 0, check.stdout + check.stderr
