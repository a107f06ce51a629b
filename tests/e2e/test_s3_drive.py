"""The drive and the web app with the bodies in an S3 bucket (`[storage] backend = "s3"`): a
real `liasse serve` on a real SeaweedFS server, real HTTP clients. And the bucket going away:
503 with Retry-After, then recovery by itself, and no row pointing at a missing body."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support.dav import Dav
from support.seaweed import SeaweedServer
from support.server import start_server
from support.web import Visitor

from acl.documents import migration
from acl.documents.blobs import FolderStore
from acl.documents.s3store import S3Store
from config.settings import StorageSettings, load_settings
from invoicing_web.app import create_app
from tests.integration.test_cli import Cli
from tests.integration.test_storage_cli import ALL_GOOD, document, fsck

pytestmark = pytest.mark.e2e

FOLDER = ("Boulangerie Martin", "Achats")
INVOICE = "Facture Moulin Giraud octobre.pdf"


def into_bucket(settings, storage: dict[str, str]) -> S3Store:
    """The demo world's bodies copied into the bucket (as `liasse storage migrate` does)."""
    bucket = S3Store.from_settings(StorageSettings(**storage), where="test")
    migration.migrate(FolderStore(settings.data_dir / "blobs"), bucket)
    return bucket


@pytest.fixture
def on_s3(demo, settings, settings_file, s3_storage) -> tuple[Path, S3Store]:
    bucket = into_bucket(settings, s3_storage)
    return settings_file(storage=s3_storage), bucket


def test_the_drive_and_the_web_app_serve_bodies_from_the_bucket(on_s3, demo, demo_password,
                                                               s3_storage):
    path, bucket = on_s3
    server = start_server(path, demo_password)
    dav = Dav(server.base_url, "martin", demo_password)
    try:
        small = b"%PDF-1.4 " + os.urandom(64 * 1024)
        assert dav("PUT", server.dav(*FOLDER, "petit.pdf"), small).status == 201
        assert dav("GET", server.dav(*FOLDER, "petit.pdf")).body == small
        ranged = dav("GET", server.dav(*FOLDER, "petit.pdf"), headers={"Range": "bytes=100-199"})
        assert (ranged.status, ranged.body) == (206, small[100:200])
        large = os.urandom(20 * 1024 * 1024 + 7)  # three parts: a multipart upload
        assert dav("PUT", server.dav(*FOLDER, "gros.bin"), large).status == 201
        assert hashlib.sha256(large).hexdigest() in bucket.all_hashes()
        assert bucket.temporary_names() == []
        got = dav("GET", server.dav(*FOLDER, "gros.bin"))
        assert got.body == large
        tail = dav("GET", server.dav(*FOLDER, "gros.bin"),
                   headers={"Range": f"bytes={len(large) - 1_000_000}-"})
        assert (tail.status, tail.body) == (206, large[-1_000_000:])
        assert dav("GET", server.dav(*FOLDER, INVOICE)).status == 200  # migrated
    finally:
        dav.close()
        assert server.stop() == 0, "".join(server.output)
    # The web app's download, from the bucket too.
    app = create_app(load_settings(path), demo, secure_cookies=False)
    visitor = Visitor(app, "martin", demo_password)
    try:
        node_id, sha = document(demo, INVOICE)
        answer = visitor.get(f"/telecharger/{node_id}")
        assert answer.status_code == 200
        assert hashlib.sha256(answer.get_data()).hexdigest() == sha
    finally:
        visitor.close()


def test_the_server_does_not_start_on_a_bucket_that_does_not_exist(demo, settings_file,
                                                                   s3_storage):
    path = settings_file(storage={**s3_storage, "s3_bucket": "nothing-here"})
    with pytest.raises(RuntimeError) as failed:
        start_server(path)
    assert "clé « s3_bucket » : le compartiment « nothing-here » n'existe pas." in \
        str(failed.value)
    assert "Traceback" not in str(failed.value)


@pytest.fixture
def own_seaweed(tmp_path, monkeypatch) -> SeaweedServer:
    """A SeaweedFS of this test's own, which it stops and starts again."""
    server = SeaweedServer(tmp_path / "seaweed")
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_the_bucket_going_away_is_a_503_then_recovery_and_no_orphan_row(
        own_seaweed, demo, settings, settings_file, demo_password, capsys, monkeypatch):
    storage = {"backend": "s3", "s3_endpoint": own_seaweed.endpoint,
               "s3_bucket": own_seaweed.new_bucket()}
    into_bucket(settings, storage)
    path = settings_file(storage=storage)
    server = start_server(path, demo_password)
    dav = Dav(server.base_url, "martin", demo_password)
    body = b"%PDF-1.4 " + os.urandom(300_000)
    try:
        own_seaweed.stop()
        for name in ("pendant-la-panne.pdf",):
            refused = dav("PUT", server.dav(*FOLDER, name), body)
            assert refused.status == 503, refused.text
            assert refused.headers["Retry-After"] == "2"
            assert "Stockage des documents momentanément injoignable" in refused.text
        read = dav("GET", server.dav(*FOLDER, INVOICE))
        assert read.status == 503 and read.headers["Retry-After"] == "2"
        own_seaweed.start()
        after = dav("GET", server.dav(*FOLDER, "pendant-la-panne.pdf"))
        assert after.status in (200, 404)  # absent or whole, never a row without its body
        if after.status == 200:
            assert after.body == body
        assert dav("PUT", server.dav(*FOLDER, "après.pdf"), body).status == 201
        assert dav("GET", server.dav(*FOLDER, "après.pdf")).body == body
    finally:
        dav.close()
        assert server.stop() == 0
    assert "S3 storage unreachable" in "".join(server.output)  # the log line
    code, lines = fsck(Cli(path, capsys, monkeypatch))
    assert (code, lines[-1]) == (0, ALL_GOOD), lines
