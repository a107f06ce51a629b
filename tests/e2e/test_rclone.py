"""rclone (WebDAV backend, vendor "other") against a real server, as `secretaire`: a tree of
accented, spaced and long names goes up, comes back identical, syncs; folders she has no
right on do not exist for her.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from acl.documents import store
from acl.documents.models import Node, NodeVersion

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
LONG_NAME = ("Procès-verbal de l'assemblée générale ordinaire annuelle des associés — "
             "approbation des comptes de l'exercice clos le 31 décembre 2025, affectation "
             "du résultat, pouvoirs pour formalités, dépôt au greffe du tribunal")[:196] + ".pdf"
TREE = {
    "Relevés bancaires/Octobre 2026 — relevé n°3.pdf": os.urandom(70_000),
    "Relevés bancaires/Novembre 2026 — relevé n°4.pdf": os.urandom(3 * 1024 * 1024 + 17),
    f"Assemblées/{LONG_NAME}": b"%PDF-1.7 " + "procès-verbal ".encode() * 300,
    "Notes de frais/2026/Déjeuner client & équipe (copie).txt": "Café, croissants : 12,40 €\n"
                                                                 .encode(),
    "Reçu café.txt": "Reçu n°42 — café serré\n".encode(),
    "Liste vide.txt": b"",
    "  espaces   multiples  .csv": b"a;b\n1;2\n",
}


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def digests(root: Path) -> dict[str, str]:
    """{relative NFC path: sha256} of every file under root."""
    return {unicodedata.normalize("NFC", p.relative_to(root).as_posix()):
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def rclone(live_server, tmp_path, require_binary):
    """`rclone(*args)`: run rclone with a config file holding two remotes as `secretaire`:
    `achats:` (her Achats folder) and `drive:` (the drive's root)."""
    binary = require_binary("rclone", "rclone")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "LANG": "C.UTF-8"}
    obscured = subprocess.run([binary, "obscure", live_server.password], env=env,
                              capture_output=True, text=True, timeout=60, check=True
                              ).stdout.strip()
    config = tmp_path / "rclone.conf"
    remotes = {"achats": live_server.dav(BAKERY, "Achats"), "drive": live_server.dav_url,
               "societe": live_server.dav(BAKERY)}
    config.write_text("".join(
        f"[{name}]\ntype = webdav\nurl = {url}\nvendor = other\nuser = secretaire\n"
        f"pass = {obscured}\n\n" for name, url in remotes.items()), encoding="utf-8")
    config.chmod(0o600)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [binary, "--config", str(config), "--retries", "1", "--low-level-retries", "1",
             "--contimeout", "10s", "--timeout", "60s", *args],
            env=env, capture_output=True, text=True, timeout=300)
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    return run


def stored_names(db, *path: str) -> list[str]:
    with db.session() as session:
        company = store.company_by_folder_name(session, BAKERY)
        location = store.resolve(session, company, list(path))
        return [n.name for n in store.live_children(session, location.node.id)]


def test_rclone_copies_a_tree_up_and_down_and_syncs(rclone, tmp_path, demo):
    up, down, again = tmp_path / "envoi", tmp_path / "retour", tmp_path / "retour 2"
    write_tree(up, TREE)
    assert len(LONG_NAME) == 200 and len(LONG_NAME.encode()) <= 255

    rclone("copy", str(up), "achats:Import 2026")
    assert sorted(stored_names(demo, "Achats", "Import 2026")) == sorted(
        ["  espaces   multiples  .csv", "Assemblées", "Liste vide.txt", "Notes de frais",
         "Reçu café.txt", "Relevés bancaires"])
    assert LONG_NAME in stored_names(demo, "Achats", "Import 2026", "Assemblées")

    rclone("copy", "achats:Import 2026", str(down))
    assert digests(down) == digests(up)
    check = rclone("check", str(up), "achats:Import 2026", "--download")
    assert "0 differences found" in check.stderr

    # The user edits, removes and adds files, then syncs: the drive follows.
    edited = dict(TREE)
    edited["Reçu café.txt"] = "Reçu n°42 — café serré, corrigé\n".encode()
    del edited["Relevés bancaires/Octobre 2026 — relevé n°3.pdf"]
    edited["Relevés bancaires/Décembre 2026 — relevé n°5.pdf"] = os.urandom(12_345)
    (up / "Relevés bancaires" / "Octobre 2026 — relevé n°3.pdf").unlink()
    write_tree(up, {k: v for k, v in edited.items() if k not in TREE or TREE[k] != v})
    rclone("sync", str(up), "achats:Import 2026")
    rclone("copy", "achats:Import 2026", str(again))
    assert digests(again) == digests(up) == {
        k: hashlib.sha256(v).hexdigest() for k, v in edited.items()}
    assert "0 differences found" in rclone("check", str(up), "achats:Import 2026",
                                           "--download").stderr

    # Nothing is lost on the server: the old receipt is a version, the removed one in the trash.
    with demo.session() as session:
        receipt = session.scalars(select(Node).where(Node.name == "Reçu café.txt")).one()
        assert session.scalars(select(NodeVersion.sha256).where(
            NodeVersion.node_id == receipt.id)).all() == [
            hashlib.sha256(TREE["Reçu café.txt"]).hexdigest()]
        removed = session.scalars(select(Node).where(
            Node.name == "Octobre 2026 — relevé n°3.pdf")).one()
        assert removed.deleted_at is not None


def test_rclone_sees_only_the_folders_she_may_read(rclone, tmp_path, demo, live_server):
    def folders(remote: str) -> list[str]:
        return [line.split(None, 4)[-1] for line in rclone("lsd", remote).stdout.splitlines()]

    assert folders("drive:") == [BAKERY]
    assert folders("societe:") == ["Achats", "Autres", "Banque", "Ventes"]
    assert "Facture Moulin Giraud octobre.pdf" in rclone("lsf", "achats:").stdout

    hidden = rclone("lsf", "societe:Fiscalité", check=False)
    assert hidden.returncode != 0 and "not found" in hidden.stderr
    assert rclone("lsf", "drive:Garage Dupont", check=False).returncode != 0

    (tmp_path / "intrus").mkdir()
    (tmp_path / "intrus" / "note.txt").write_text("je ne devrais pas être là")
    refused = rclone("copy", str(tmp_path / "intrus"), "societe:Fiscalité", check=False)
    assert refused.returncode != 0
    assert stored_names(demo, "Fiscalité") == ["Liasse fiscale 2025.pdf"]
    assert quote("Fiscalité") not in rclone("lsf", "-R", "societe:").stdout
    assert "Fiscalité" not in rclone("lsf", "-R", "societe:").stdout
