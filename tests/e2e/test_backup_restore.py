"""A backup and a restore with real processes: a running `liasse serve` receives documents
over WebDAV, `liasse backup` saves the installation while it serves, `liasse restore` puts it
into a new installation, and a `liasse serve` started on that one hands back the same bytes
and signs the demo accounts in with their password.

Every process is stopped at the end, also when an assertion fails.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy.engine import make_url
from support.channels import Browser
from support.dav import Dav
from support.server import liasse_command, start_server
from support.world import empty_database, write_settings

pytestmark = pytest.mark.e2e

DOCUMENTS = {
    "Boulangerie Martin/Achats/Facture farine mars.pdf": b"%PDF-1.4 farine " * 5000,
    "Boulangerie Martin/Banque/Relev\u00e9 avril.csv": b"date;montant\n01/04;12,50\n",
    "Garage Dupont/Ventes/Facture 2026-0107.pdf": os.urandom(3 * 1024 * 1024 + 7),
}
OWNERS = {"Boulangerie Martin": "martin", "Garage Dupont": "dupont"}


def run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIASSE_")}
    return subprocess.run([*liasse_command(), *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


def test_backup_of_a_serving_installation_restored_and_served(live_server, settings,
                                                              demo_password, tmp_path):
    for path, body in DOCUMENTS.items():
        drive = Dav(live_server.base_url, OWNERS[path.split("/")[0]], demo_password)
        try:
            assert drive("PUT", live_server.dav(*path.split("/")), body=body).status == 201
        finally:
            drive.close()

    backup = tmp_path / "sauvegardes"
    taken = run("--config", str(settings.source), "backup", str(backup))  # while it serves
    assert taken.returncode == 0, taken.stderr
    assert "écrite dans" in taken.stdout

    backend = make_url(settings.database.url).get_backend_name()
    folder = tmp_path / "restauree"
    folder.mkdir()
    with empty_database(backend, folder) as url:
        target = write_settings(folder, url)
        restored = run("--config", str(target), "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        assert "restaurée" in restored.stdout

        server = start_server(target, demo_password)
        try:
            for path, body in DOCUMENTS.items():
                drive = Dav(server.base_url, OWNERS[path.split("/")[0]], demo_password)
                try:
                    reply = drive("GET", server.dav(*path.split("/")))
                finally:
                    drive.close()
                assert reply.status == 200 and reply.body == body, path
            # The web sign-in with a demo password (Browser asserts the redirect after it).
            page = Browser(server.base_url, "expert", demo_password).get("/tableau-de-bord")
            assert page[0] == 200 and "Boulangerie Martin" in page[1]
            wrong = Dav(server.base_url, "martin", "pas le bon mot de passe")
            try:
                assert wrong("PROPFIND", server.dav_url, headers={"Depth": "0"}).status == 401
            finally:
                wrong.close()
        finally:
            assert server.stop() == 0, "".join(server.output)
