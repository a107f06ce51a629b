"""`liasse backup` and `liasse restore` as an administrator uses them, on the demo world:
a round trip gives back every row and every body (SQLite, PostgreSQL, and from one to the
other), a second backup copies only new bodies, an interrupted backup is never taken for a
complete one, and a damaged backup is refused with one sentence, nothing written.

Commands run in-process through `liasse.cli.main` (the `Cli` helper of test_cli.py); the
interrupted backup runs in a forked process that dies midway, as a killed one would.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from support.world import PG_URL, empty_database, write_settings

from acl.backup import rows, snapshots
from acl.backup.manifest import BLOBS, MANIFEST, SNAPSHOTS, read_lines, snapshot_names
from acl.db import make_engine
from acl.documents import browsing, operations
from acl.documents.blobs import FolderStore
from acl.documents.limits import Limits
from config.settings import load_settings
from tests.integration.test_cli import Cli

BAKERY_ACHATS = "Boulangerie Martin/Achats"


@pytest.fixture
def cli(demo, settings, capsys, monkeypatch) -> Cli:
    return Cli(settings.source, capsys, monkeypatch)


@pytest.fixture
def installation(tmp_path, capsys, monkeypatch) -> Iterator[Callable[[str], Cli]]:
    """`installation(backend)`: the CLI of a new installation on an empty database (its
    settings written, nothing else), dropped at the end."""
    stack = []

    def make(backend: str) -> Cli:
        folder = tmp_path / f"restored-{len(stack)}"
        folder.mkdir()
        context = empty_database(backend, folder)
        url = context.__enter__()
        stack.append(context)
        return Cli(write_settings(folder, url), capsys, monkeypatch)

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


def backend_of(settings) -> str:
    return make_url(settings.database.url).get_backend_name()


def table_rows(url: str) -> dict[str, list[dict]]:
    """Every table of a database as the backup writes it, keyed by column name (column
    order may differ between databases)."""
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as connection:
            out = {}
            for table in rows.ordered_tables(rows.reflect(connection)):
                columns, lines = rows.dump_rows(connection, table)
                names = [c for c, _ in columns]
                out[table.name] = [dict(zip(names, json.loads(line), strict=True))
                                   for line in lines]
            return out
    finally:
        engine.dispose()


def snapshot_rows(folder: Path) -> dict[str, list[dict]]:
    manifest = json.loads((folder / MANIFEST).read_text())
    return {t["name"]: [dict(zip([c for c, _ in t["columns"]], json.loads(line), strict=True))
                        for line in read_lines(folder / t["file"])]
            for t in manifest["tables"]}


def only_snapshot(destination: Path) -> Path:
    names = snapshot_names(destination)
    assert len(names) == 1, names
    return destination / SNAPSHOTS / names[0]


def deposit(settings, db, ctx_of, name: str, data: bytes, folder: str = BAKERY_ACHATS) -> None:
    with db.transaction() as tx:
        principal = ctx_of("expert", tx).principal
        target = browsing.open_drive_path(tx, principal, folder)
        operations.deposit_bytes(tx, principal, FolderStore(settings.data_dir / "blobs"),
                                 Limits.from_settings(settings.drive), target, name, data)


def folder_before_its_parent(db, ctx_of) -> str:
    """A folder whose parent was made after it (its key points forward): moved into a newer
    folder, as anyone may do on the drive."""
    with db.transaction() as tx:
        principal = ctx_of("expert", tx).principal
        achats = browsing.open_drive_path(tx, principal, BAKERY_ACHATS)
        older = operations.mkdir(tx, principal, achats, "Ancien")
        newer = operations.mkdir(tx, principal, achats, "Nouveau")
        operations.move(tx, principal, older, newer)
    return f"{BAKERY_ACHATS}/Nouveau/Ancien"


def assert_restored(source: Path, target_settings_path: Path) -> None:
    """The restored database holds every row of the snapshot (plus the restore's own audit
    entry), and its store every body, whole."""
    target = load_settings(target_settings_path)
    restored = table_rows(target.database.url)
    expected = snapshot_rows(source)
    assert set(restored) == set(expected)
    for name, lines in expected.items():
        if name == "generation":  # the restore's audit entry moves the rights counter
            continue
        got = restored[name]
        if name == "audit_entry":
            assert got[:-1] == lines and got[-1]["action"] == "restore"
        else:
            assert got == lines, name
    manifest = json.loads((source / MANIFEST).read_text())
    store = FolderStore(target.data_dir / "blobs")
    bodies = [json.loads(line) for line in read_lines(source / "bodies.jsonl.gz")]
    assert len(bodies) == manifest["bodies"] > 0
    for sha, size in bodies:
        with store.open(sha) as stream:
            data = stream.read()
        assert hashlib.sha256(data).hexdigest() == sha and len(data) == size


# --- round trips ---------------------------------------------------------------------------

def test_round_trip_gives_back_every_row_and_body(cli, demo, settings, ctx_of, tmp_path,
                                                  installation):
    folder = folder_before_its_parent(demo, ctx_of)
    deposit(settings, demo, ctx_of, "Relevé.pdf", b"%PDF- releve", folder=folder)
    backup = tmp_path / "sauvegardes"
    out = cli.ok("backup", str(backup))
    assert "Sauvegarde " in out and "écrite dans" in out
    snapshot = only_snapshot(backup)

    target = installation(backend_of(settings))
    out = target.ok("restore", str(backup))
    assert f"Sauvegarde {snapshot.name} restaurée" in out
    assert_restored(snapshot, target.config)

    # The restored installation works: checked whole, and new rows get new keys (PostgreSQL's
    # sequences continue after the restored ones).
    assert "Aucun problème." in target.ok("fsck")
    target.ok("user", "add", "nouveau", "--name", "Nouveau Venu", "--role", "assistant")
    listing = target.ok("user", "list")
    assert "nouveau" in listing and "secretaire" in listing
    assert snapshot.name in target.ok("audit", "--action", "restore")


@pytest.mark.skipif(not PG_URL, reason="no PostgreSQL: set LIASSE_TEST_DATABASE_URL")
def test_restore_into_the_other_database(cli, demo, settings, tmp_path, installation):
    """SQLite to PostgreSQL (how a firm moves to PostgreSQL), and back."""
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    other = "postgresql" if backend_of(settings) == "sqlite" else "sqlite"
    target = installation(other)
    target.ok("restore", str(backup))
    assert_restored(only_snapshot(backup), target.config)
    assert "Aucun problème." in target.ok("fsck")
    target.ok("user", "add", "nouveau", "--name", "Nouveau Venu", "--role", "assistant")


def test_second_backup_copies_only_new_bodies(cli, demo, settings, ctx_of, tmp_path):
    backup = tmp_path / "sauvegardes"
    first = cli.ok("backup", str(backup))
    assert "dont 0 copiés" not in first
    second = cli.ok("backup", str(backup))
    assert "dont 0 copiés cette fois (0 octets)" in second
    deposit(settings, demo, ctx_of, "Nouvelle facture.pdf", b"%PDF- nouvelle")
    third = cli.ok("backup", str(backup))
    assert "dont 1 copiés cette fois" in third
    names = snapshot_names(backup)
    assert len(names) == 3 and len(set(names)) == 3  # the previous snapshots are kept
    # every body in the folder is whole and named by its hash
    store = FolderStore(backup / BLOBS)
    for sha in store.all_hashes():
        with store.open(sha) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == sha


def test_check_reads_a_backup_whole(cli, tmp_path):
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    assert "intègre" in cli.ok("restore", "--check", str(backup))
    _alter_a_body(backup)
    err = cli.refused("restore", "--check", str(backup))
    assert "ne correspond pas à son empreinte" in err


def test_a_body_missing_from_the_installation_is_named(cli, demo, settings, tmp_path):
    """The snapshot is still written (the database is worth keeping), the exit code says it
    is not whole."""
    sha = next(iter(FolderStore(settings.data_dir / "blobs").all_hashes()))
    for path in (settings.data_dir / "blobs").rglob(sha):
        path.unlink()
    code, out, err = cli("backup", str(tmp_path / "sauvegardes"))
    assert code == 1 and "écrite dans" in out
    assert "manquent ou sont altérés" in err and "liasse fsck" in err
    manifest = json.loads((only_snapshot(tmp_path / "sauvegardes") / MANIFEST).read_text())
    assert sha in manifest["unavailable"]


# --- an interrupted backup -------------------------------------------------------------------

def test_an_interrupted_backup_is_never_taken_for_a_complete_one(cli, demo, settings, ctx_of,
                                                                 tmp_path, installation):
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    complete = snapshot_names(backup)
    deposit(settings, demo, ctx_of, "Pendant la panne.pdf", b"%PDF- panne")

    pid = os.fork()
    if pid == 0:  # the backup process, killed while it copies bodies (no clean-up runs)
        try:
            def die(stage: str, done: int, total: int) -> None:
                if stage == "bodies" and done == 0:
                    os._exit(9)
            engine = make_engine(settings.database.url, create=False)
            snapshots.take(engine, FolderStore(settings.data_dir / "blobs"), backup,
                           progress=die)
        finally:
            os._exit(3)  # never reached the interruption: the test fails below
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 9

    leftovers = [p.name for p in (backup / SNAPSHOTS).iterdir() if p.name not in complete]
    assert leftovers and all(name.startswith(".en-cours-") for name in leftovers)
    assert snapshot_names(backup) == complete  # the partial one is not a snapshot
    target = installation(backend_of(settings))
    out = target.ok("restore", str(backup))
    assert complete[0] in out  # the last complete one

    cli.ok("backup", str(backup))  # the next backup clears what the killed one left
    assert not list((backup / SNAPSHOTS).glob(".en-cours-*"))
    assert len(snapshot_names(backup)) == 2


# --- damaged backups: refused, nothing written --------------------------------------------------

def _alter_a_body(backup: Path) -> None:
    path = next(p for p in (backup / BLOBS).rglob("*") if p.is_file() and len(p.name) == 64)
    path.write_bytes(path.read_bytes() + b"!")


def _rewrite_table(snapshot: Path, table: str, edit: Callable[[list[str]], list[str]]) -> None:
    """Change a table's lines and put the file's new hash in the manifest (a backup damaged
    in a way its hashes do not show)."""
    manifest = json.loads((snapshot / MANIFEST).read_text())
    entry = next(t for t in manifest["tables"] if t["name"] == table)
    path = snapshot / entry["file"]
    lines = edit(list(read_lines(path)))
    path.write_bytes(gzip.compress("".join(f"{line}\n" for line in lines).encode()))
    data = path.read_bytes()
    manifest["files"][entry["file"]] = {"sha256": hashlib.sha256(data).hexdigest(),
                                        "bytes": len(data)}
    (snapshot / MANIFEST).write_text(json.dumps(manifest))


def _manifest(edit: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(backup: Path) -> None:
        path = only_snapshot(backup) / MANIFEST
        manifest = json.loads(path.read_text())
        edit(manifest)
        path.write_text(json.dumps(manifest))
    return apply


def _truncate_table(backup: Path) -> None:
    path = only_snapshot(backup) / "tables" / "user_account.jsonl.gz"
    path.write_bytes(path.read_bytes()[:-20])


def _missing_body(backup: Path) -> None:
    next(p for p in (backup / BLOBS).rglob("*") if p.is_file() and len(p.name) == 64).unlink()


def _broken_json(backup: Path) -> None:
    _rewrite_table(only_snapshot(backup), "company", lambda lines: [lines[0][:-3], *lines[1:]])


def _wrong_type(backup: Path) -> None:
    def edit(lines):
        first = json.loads(lines[0])
        first[0] = "pas un nombre"
        return [json.dumps(first), *lines[1:]]
    _rewrite_table(only_snapshot(backup), "company", edit)


def _a_row_less(backup: Path) -> None:
    _rewrite_table(only_snapshot(backup), "node", lambda lines: lines[:-1])


def _truncated_manifest(backup: Path) -> None:
    path = only_snapshot(backup) / MANIFEST
    path.write_bytes(path.read_bytes()[:200])


def _no_manifest(backup: Path) -> None:
    (only_snapshot(backup) / MANIFEST).unlink()


def _newer(manifest: dict) -> None:
    manifest["revision"] = "9999"


def _escaping_file(manifest: dict) -> None:
    manifest["files"]["../../liasse.toml"] = manifest["files"].pop("bodies.jsonl.gz")


HOSTILE = {
    "missing body": (_missing_body, "manque dans"),
    "altered body": (_alter_a_body, "ne correspond pas à son empreinte"),
    "truncated table file": (_truncate_table, "ne correspond pas à son empreinte dans le "
                                              "manifeste"),
    "broken JSON": (_broken_json, "n'est pas du JSON valide"),
    "value of the wrong type": (_wrong_type, "ne correspond pas au type de sa colonne"),
    "a row less than announced": (_a_row_less, "le manifeste en annonce"),
    "truncated manifest": (_truncated_manifest, "illisible ou incomplet"),
    "no manifest": (_no_manifest, "Aucune sauvegarde complète"),
    "newer Liasse": (_manifest(_newer), "version plus récente de Liasse"),
    "a file outside the snapshot": (_manifest(_escaping_file), "illisible ou incomplet"),
}


@pytest.mark.parametrize("damage", sorted(HOSTILE))
def test_a_damaged_backup_is_refused_and_nothing_is_written(cli, settings, tmp_path,
                                                            installation, damage):
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    spoil, sentence = HOSTILE[damage]
    spoil(backup)
    target = installation(backend_of(settings))
    err = target.refused("restore", str(backup))
    assert sentence in err
    target_settings = load_settings(target.config)
    url = make_url(target_settings.database.url)
    if url.get_backend_name() == "sqlite":
        assert not Path(url.database).exists()  # made for the restore, removed again
    else:
        assert not any(table_rows(target_settings.database.url).values())


def test_restore_refuses_a_database_that_is_not_empty(cli, settings, tmp_path):
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    before = table_rows(settings.database.url)
    err = cli.refused("restore", str(backup))
    assert "n'est pas vide" in err
    assert table_rows(settings.database.url) == before


def test_restore_names_what_is_missing(cli, settings, tmp_path, installation):
    target = installation(backend_of(settings))
    assert "Aucune sauvegarde complète" in target.refused("restore", str(tmp_path / "rien"))
    backup = tmp_path / "sauvegardes"
    cli.ok("backup", str(backup))
    err = target.refused("restore", str(backup), "--snapshot", "2020-01-01T00-00-00Z")
    assert "Aucune sauvegarde complète « 2020-01-01T00-00-00Z »" in err
    settings_copy = target.config.read_text()
    target.config.unlink()
    err = target.refused("restore", str(backup))
    assert "Aucun réglage" in err
    target.config.write_text(settings_copy)


def test_backup_refuses_a_destination_that_is_a_file(cli, tmp_path):
    (tmp_path / "fichier").write_text("x")
    assert "n'est pas un dossier" in cli.refused("backup", str(tmp_path / "fichier"))


def test_backup_is_the_correspondants(cli, tmp_path):
    err = cli.refused("--as", "associe", "backup", str(tmp_path / "sauvegardes"))
    assert "réservée au correspondant" in err
    assert not (tmp_path / "sauvegardes").exists()


def test_a_snapshot_of_an_older_schema_is_restored_then_brought_up_to_date(
        demo, settings, tmp_path, installation):
    """A snapshot taken by an older Liasse: the schema is made at its revision, the rows go
    in, then the migrations bring it to this version's."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from acl.db import alembic_config, schema_revision

    engine = make_engine(settings.database.url, create=False)
    try:
        command.downgrade(alembic_config(engine), "0013")
        backup = tmp_path / "sauvegardes"
        taken = snapshots.take(engine, FolderStore(settings.data_dir / "blobs"), backup)
    finally:
        engine.dispose()
    assert taken.manifest.revision == "0013"
    assert "invoicing_consent" not in {t.name for t in taken.manifest.tables}

    target = installation(backend_of(settings))
    target.ok("restore", str(backup))
    url = load_settings(target.config).database.url
    restored = table_rows(url)
    expected = snapshot_rows(only_snapshot(backup))
    assert restored["user_account"] == expected["user_account"]
    assert restored["node"] == expected["node"]
    assert restored["invoicing_consent"] == []  # made by the newer migration, empty
    engine = make_engine(url, create=False)
    try:
        with engine.connect() as connection:
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
            assert schema_revision(connection) == head != "0013"
    finally:
        engine.dispose()
