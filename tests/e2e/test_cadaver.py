"""cadaver (the neon command-line WebDAV client) against a real server, driven by a script on
stdin with the credentials in a .netrc: put, ls, get, mkcol, move, copy, delete; refusals."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from acl.documents import store

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"


@pytest.fixture
def cadaver(live_server, tmp_path, require_binary):
    """`cadaver(login, url, commands)`: run the commands, return {command: its output}."""
    binary = require_binary("cadaver", "cadaver")
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()

    def run(login: str, url: str, commands: list[str]) -> dict[str, str]:
        netrc = home / ".netrc"
        netrc.write_text(f"machine {urlsplit(url).hostname}\nlogin {login}\n"
                         f"password {live_server.password}\n", encoding="utf-8")
        netrc.chmod(0o600)
        result = subprocess.run(
            [binary, url], input="\n".join([*commands, "quit"]) + "\n", cwd=work,
            env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                 "LANG": "C.UTF-8", "TERM": "dumb"},
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        # One prompt per command: split the transcript on the prompts.
        parts = re.split(r"^dav:[^\n]*?> ", result.stdout, flags=re.M)[1:]
        assert len(set(commands)) == len(commands)
        return dict(zip([*commands, "quit"], parts, strict=True))

    run.work = work
    return run


def succeeded(outputs: dict[str, str]) -> dict[str, bool]:
    return {cmd: "succeeded" in out and "failed" not in out
            for cmd, out in outputs.items() if cmd != "quit" and not cmd.startswith("ls")}


def names(db, *path: str) -> list[str]:
    with db.session() as session:
        company = store.company_by_folder_name(session, BAKERY)
        location = store.resolve(session, company, list(path))
        return [n.name for n in store.live_children(session, location.node.id)]


def test_cadaver_round_trip(cadaver, live_server, demo):
    work: Path = cadaver.work
    body = os.urandom(250_000) + "fin — reçu".encode()
    (work / "relevé local.pdf").write_bytes(body)
    (work / "note.txt").write_text("Note de frais : 12,40 €\n", encoding="utf-8")
    commands = [
        'put "relevé local.pdf" "Relevé décembre.pdf"',
        "put note.txt",
        "ls",
        'mkcol "Dossier 2026"',
        'move "Relevé décembre.pdf" "Dossier 2026/Relevé décembre (classé).pdf"',
        'copy note.txt "Dossier 2026/note copie.txt"',
        'ls "Dossier 2026"',
        'get "Dossier 2026/Relevé décembre (classé).pdf" retour.pdf',
        'get "Dossier 2026/note copie.txt" copie.txt',
        "delete note.txt",
        "ls .",
    ]
    outputs = cadaver("secretaire", live_server.dav(BAKERY, "Banque") + "/", commands)
    assert succeeded(outputs) == dict.fromkeys(succeeded(outputs), True), outputs

    first_ls, sub_ls = outputs["ls"], outputs['ls "Dossier 2026"']
    assert "Relevé décembre.pdf" in first_ls and "note.txt" in first_ls
    assert "Relevé décembre (classé).pdf" in sub_ls and "note copie.txt" in sub_ls
    assert str(len(body)) in sub_ls  # the size is listed
    assert hashlib.sha256((work / "retour.pdf").read_bytes()).digest() == \
        hashlib.sha256(body).digest()
    assert (work / "copie.txt").read_text(encoding="utf-8") == "Note de frais : 12,40 €\n"
    assert "Dossier 2026" in outputs["ls ."] and "note.txt" not in outputs["ls ."]

    assert sorted(names(demo, "Banque")) == ["Dossier 2026", "Relevé octobre 2026.csv"]
    assert sorted(names(demo, "Banque", "Dossier 2026")) == [
        "Relevé décembre (classé).pdf", "note copie.txt"]


def test_cadaver_is_refused_where_she_has_no_right(cadaver, live_server, demo):
    (cadaver.work / "intrus.txt").write_text("non")
    outputs = cadaver("secretaire", live_server.dav(BAKERY) + "/", [
        "ls",
        "cd Fiscalité",
        'put intrus.txt "Fiscalité/intrus.txt"',
        "mkcol Nouveau",
        "rmcol Achats",
        'move Achats "Achats 2"',
    ])
    listed = outputs["ls"]
    for folder in ("Achats", "Autres", "Banque", "Ventes"):
        assert folder in listed
    for hidden in ("Fiscalité", "Social", "Juridique"):
        assert hidden not in listed
    assert "Could not access" in outputs["cd Fiscalité"] and "404" in outputs["cd Fiscalité"]
    assert succeeded(outputs) == dict.fromkeys(succeeded(outputs), False), outputs
    assert "403" in outputs["mkcol Nouveau"] and "403" in outputs["rmcol Achats"]
    assert names(demo, "Fiscalité") == ["Liasse fiscale 2025.pdf"]
    assert sorted(names(demo)) == ["Achats", "Autres", "Banque", "Fiscalité", "Juridique",
                                   "Social", "Ventes"]
