"""A davfs2 mount (`mount -t davfs`, as root) of a real server: files written, renamed and
deleted through the mount land on the drive, with secretaire's rights.

davfs2 uploads a written file shortly after it is closed, from its own process: there is no
event to wait on, so those checks poll the drive (bounded). Renames and deletions are
synchronous (the syscall returns once the server answered).
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from acl.documents import store
from acl.documents.models import NodeVersion

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
# What the secretary sees in Achats: the demo's invoice, a supplier's Factur-X (demo_invoicing)
# and an attachment filed from a message (demo_messaging).
ACHATS = sorted(["Facture Moulin Giraud octobre.pdf", "Facture Moulins Réunis MR-2291.pdf",
                 "Facture électricité décembre.pdf"])
MOUNT_SECONDS = 60
UPLOAD_SECONDS = 30
# What mount prints when the machine (not Liasse) cannot mount: no FUSE device or coda
# module, no privilege (containers).
ENVIRONMENT_PROBLEMS = ("fuse", "coda", "permission denied", "operation not permitted",
                        "must be root", "only root")


def eventually(check: Callable[[], bool], what: str, seconds: float = UPLOAD_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not seen on the drive after {seconds} s")
        time.sleep(0.05)


def http_get(url: str, login: str, password: str) -> bytes | None:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 404:
            return None
        raise


def http_propfind_names(url: str, login: str, password: str) -> list[str]:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    request = urllib.request.Request(url, method="PROPFIND", headers={
        "Authorization": f"Basic {token}", "Depth": "1"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 207
        body = response.read().decode()
    hrefs = [unquote(h.text) for h in ET.fromstring(body).iter("{DAV:}href")]
    return sorted(h.rstrip("/").rsplit("/", 1)[1] for h in hrefs[1:])


@pytest.fixture
def davfs_mount(live_server, tmp_path, require_binary):
    """Mount Boulangerie Martin as secretaire; yield the mount point; always unmount."""
    require_binary("mount.davfs", "davfs2")
    if os.geteuid() != 0:
        pytest.skip("mount -t davfs needs root (davfs2 is mounted by root in CI)")
    user = "davfs2"  # davfs2's default dav_user, created by the Debian package
    try:
        pwd.getpwnam(user)
    except KeyError:
        pytest.skip("Debian package davfs2 is not fully installed (no davfs2 user)")
    # davfs2 drops to its own user: its cache must be reachable by it (tmp_path is not).
    cache = Path(tempfile.mkdtemp(prefix="liasse-davfs2-cache-"))
    shutil.chown(cache, group=user)
    cache.chmod(0o775)
    secrets = tmp_path / "secrets"
    url = f"{live_server.base_url}/dav/{BAKERY}/"  # davfs2 escapes the URL itself
    secrets.write_text(f'"{url}" secretaire "{live_server.password}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    conf = tmp_path / "davfs2.conf"
    conf.write_text(f"buf_size 64\nuse_locks 1\ndelay_upload 0\ncache_dir {cache}\n"
                    f"secrets {secrets}\n", encoding="utf-8")
    mount_point = tmp_path / "lecteur"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "davfs", "-o", f"conf={conf}", url,
                             str(mount_point)], capture_output=True, text=True,
                            timeout=MOUNT_SECONDS, stdin=subprocess.DEVNULL)
    try:
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            if any(problem in output.lower() for problem in ENVIRONMENT_PROBLEMS):
                pytest.skip(f"davfs2 cannot mount on this machine: {output}")
            pytest.fail(f"mount -t davfs failed: {output}")
        yield mount_point
    finally:
        if result.returncode == 0:
            unmount(mount_point)
        shutil.rmtree(cache, ignore_errors=True)


def unmount(mount_point: Path) -> None:
    """umount (which uploads what is left) within a bounded wait; if it hangs, detach the
    mount and stop the mount.davfs process this test started."""
    pid_file = Path("/var/run/mount.davfs") / (str(mount_point).strip("/").replace("/", "-")
                                               + ".pid")
    if not os.path.ismount(mount_point):
        return
    pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
    try:
        done = subprocess.run(["umount", str(mount_point)], capture_output=True, text=True,
                              timeout=MOUNT_SECONDS)
        if done.returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=30)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def http_put(url: str, login: str, password: str, body: bytes) -> int:
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    request = urllib.request.Request(url, data=body, method="PUT",
                                     headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def test_files_written_renamed_and_deleted_through_a_davfs2_mount(davfs_mount, live_server,
                                                                   demo):
    password = live_server.password
    achats = davfs_mount / "Achats"

    def on_drive(*names: str) -> bytes | None:
        return http_get(live_server.dav(BAKERY, "Achats", *names), "secretaire", password)

    # Her drive: the four folders she may reach, and what is in them.
    assert sorted(p.name for p in davfs_mount.iterdir() if p.name != "lost+found") == [
        "Achats", "Autres", "Banque", "Ventes"]
    assert not (davfs_mount / "Fiscalité").exists()
    assert sorted(p.name for p in achats.iterdir()) == ACHATS
    assert (achats / "Facture Moulin Giraud octobre.pdf").read_bytes() == on_drive(
        "Facture Moulin Giraud octobre.pdf")

    # Write: the document appears on the drive, whole.
    body = os.urandom(300_000) + "fin du relevé".encode()
    (achats / "Relevé décembre é.pdf").write_bytes(body)
    eventually(lambda: on_drive("Relevé décembre é.pdf") == body, "the written document")

    # Folder, and rename (MOVE) into it.
    (achats / "Classement 2026").mkdir()
    assert http_propfind_names(live_server.dav(BAKERY, "Achats", "Classement 2026"),
                               "secretaire", password) == []
    os.rename(achats / "Relevé décembre é.pdf",
              achats / "Classement 2026" / "Relevé n°12 (classé).pdf")
    assert on_drive("Relevé décembre é.pdf") is None
    assert on_drive("Classement 2026", "Relevé n°12 (classé).pdf") == body

    # Overwrite through the mount: the previous body is kept as a version.
    second = b"%PDF-1.7 corrected " + os.urandom(1000)
    (achats / "Classement 2026" / "Relevé n°12 (classé).pdf").write_bytes(second)
    eventually(lambda: on_drive("Classement 2026", "Relevé n°12 (classé).pdf") == second,
               "the overwritten document")
    with demo.session() as session:
        company = store.company_by_folder_name(session, BAKERY)
        node = store.resolve(session, company, ["Achats", "Classement 2026",
                                                    "Relevé n°12 (classé).pdf"]).node
        kept = session.scalars(select(NodeVersion.sha256).where(
            NodeVersion.node_id == node.id)).all()
    assert hashlib.sha256(body).hexdigest() in kept

    # Delete: gone from the drive.
    (achats / "Note temporaire.txt").write_text("à jeter", encoding="utf-8")
    eventually(lambda: on_drive("Note temporaire.txt") is not None, "the temporary note")
    os.remove(achats / "Note temporaire.txt")
    assert on_drive("Note temporaire.txt") is None
    shutil.rmtree(achats / "Classement 2026")
    assert sorted(http_propfind_names(live_server.dav(BAKERY, "Achats"), "secretaire",
                                      password)) == ACHATS

    # Her rights hold through the mount: nothing at the company root, standard folders stay.
    with pytest.raises(OSError):
        (davfs_mount / "Nouveau dossier").mkdir()
    with pytest.raises(OSError):
        os.rename(davfs_mount / "Ventes", davfs_mount / "Ventes 2026")
    assert http_propfind_names(live_server.dav(BAKERY), "secretaire", password) == [
        "Achats", "Autres", "Banque", "Ventes"]

    # After unmounting, no lock is left: someone else can overwrite what davfs2 wrote.
    (achats / "Bon de commande.txt").write_text("20 sacs de farine T65", encoding="utf-8")
    unmount(davfs_mount)  # uploads what is left
    assert on_drive("Bon de commande.txt") == b"20 sacs de farine T65"
    assert http_put(live_server.dav(BAKERY, "Achats", "Bon de commande.txt"), "martin",
                    password, b"25 sacs") == 204
