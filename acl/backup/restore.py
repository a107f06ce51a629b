"""Restoring a snapshot (`liasse restore SOURCE`) into an empty installation.

Everything is checked before anything is written: the manifest, the SHA-256 of every file,
every line of every table (JSON, columns, types, counts), the presence of every body the
snapshot names, and that the database is empty. Then the bodies go into the installation's
store through its public interface, each checked against its name as it is written (a
damaged one is refused before it is filed); the schema is made by the migrations at the
snapshot's revision; the rows go in, in one transaction (`acl.backup.rows`); and the schema
is brought to this version's newest revision, as `liasse serve` would.

A refusal at any step leaves no row written: at most bodies checked and filed, which no
row names yet (`liasse fsck` lists them as harmless orphans; a later restore uses them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DataError, IntegrityError

from acl.backup import rows
from acl.backup.manifest import (
    BLOBS,
    DamagedBackup,
    Manifest,
    body_entries,
    check_files,
    read_lines,
    read_manifest,
)
from acl.backup.snapshots import copy_body
from acl.db import known_revision, migrate_to, schema_revision, upgrade_schema
from acl.documents.blobs import CHUNK, BlobStore, FolderStore
from acl.errors import Refused

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Checked:
    folder: Path
    manifest: Manifest
    bodies: list[tuple[str, int]]


@dataclass(frozen=True)
class Restored:
    checked: Checked
    rows: int
    copied: int  # bodies the store did not hold yet


def check(source: Path, name: str | None, *, progress: Progress | None = None) -> Checked:
    """The snapshot read whole against its manifest (bodies: present; their content is
    checked as they are copied); DamagedBackup or Refused says what is wrong."""
    progress = progress or (lambda *_: None)
    folder, manifest = read_manifest(source, name)
    if known_revision(manifest.revision) is None:
        raise Refused(f"La sauvegarde {manifest.name} vient d'une version plus récente de "
                      f"Liasse ({manifest.liasse_version}, schéma {manifest.revision}) : "
                      "mettez Liasse à jour avant de la restaurer.")
    check_files(folder, manifest)
    for done, table in enumerate(manifest.tables):
        progress("check", done, len(manifest.tables))
        decoders = [rows.decoder(kind) for _, kind in table.columns]
        count = 0
        path = folder / table.file
        for line in read_lines(path):
            try:
                rows.parse_line(line, decoders)
            except rows.DamagedRows as exc:
                raise DamagedBackup(f"Sauvegarde endommagée : dans {path}, {exc}.") from None
            count += 1
        if count != table.rows:
            raise DamagedBackup(f"Sauvegarde incomplète : {path} contient {count} ligne(s), le "
                                f"manifeste en annonce {table.rows}.")
    progress("check", len(manifest.tables), len(manifest.tables))
    store = FolderStore(source / BLOBS)
    bodies = list(body_entries(folder, manifest))
    for sha, _ in bodies:
        if not store.exists(sha):
            raise DamagedBackup(f"Sauvegarde incomplète : le contenu {sha} manque dans "
                                f"{source / BLOBS}.")
    return Checked(folder, manifest, bodies)


def check_empty(engine: Engine) -> None:
    """Refuse a database that holds anything (a schema without rows is empty)."""
    with engine.connect() as connection:
        revision = schema_revision(connection)
        names = set(inspect(connection).get_table_names()) - {rows.ALEMBIC_TABLE}
        if revision is None and names:
            raise Refused("La base de données de destination contient des tables qui ne sont "
                          "pas celles de Liasse : restaurez dans une base vide.")
        if revision is not None and known_revision(revision) is None:
            raise Refused("La base de données de destination a été créée par une version plus "
                          "récente de Liasse : restaurez dans une base vide.")
        if rows.has_rows(connection, rows.reflect(connection)):
            raise Refused("La base de données de destination n'est pas vide : la "
                          "restauration se fait dans une installation neuve, jamais par-dessus "
                          "des données.")


def restore(engine: Engine, store: BlobStore, source: Path, name: str | None, *,
            progress: Progress | None = None) -> Restored:
    progress = progress or (lambda *_: None)
    checked = check(source, name, progress=progress)
    check_empty(engine)
    copied = _copy_bodies(source, store, checked, progress)
    migrate_to(engine, checked.manifest.revision)
    count = _load(engine, checked, progress)
    upgrade_schema(engine)
    return Restored(checked, count, copied)


def verify_bodies(source: Path, checked: Checked, *, progress: Progress | None = None) -> None:
    """Read every body of the snapshot back against its name and size (`--check`)."""
    progress = progress or (lambda *_: None)
    backup = FolderStore(source / BLOBS)
    for done, (sha, size) in enumerate(checked.bodies):
        if done % 100 == 0:
            progress("verify", done, len(checked.bodies))
        digest, read = hashlib.sha256(), 0
        with backup.open(sha) as stream:
            while block := stream.read(CHUNK):
                digest.update(block)
                read += len(block)
        if digest.hexdigest() != sha or read != size:
            raise DamagedBackup(f"Sauvegarde altérée : le contenu {sha} de {source / BLOBS} ne "
                                "correspond pas à son empreinte.")
    progress("verify", len(checked.bodies), len(checked.bodies))


def _copy_bodies(source: Path, store: BlobStore, checked: Checked, progress: Progress) -> int:
    backup = FolderStore(source / BLOBS)
    copied = 0
    for done, (sha, size) in enumerate(checked.bodies):
        if done % 100 == 0:
            progress("bodies", done, len(checked.bodies))
        if store.exists(sha):
            continue
        if copy_body(backup, store, sha) != size:
            raise DamagedBackup(f"Sauvegarde altérée : le contenu {sha} de {source / BLOBS} ne "
                                "correspond pas à son empreinte ; aucune donnée n'a été "
                                "restaurée dans la base.")
        copied += 1
    progress("bodies", len(checked.bodies), len(checked.bodies))
    return copied


def _load(engine: Engine, checked: Checked, progress: Progress) -> int:
    """Every row, in one transaction (the schema is the snapshot's revision's)."""
    entries = {t.name: t for t in checked.manifest.tables}
    total = 0
    try:
        with engine.begin() as connection:
            ordered = rows.ordered_tables(rows.reflect(connection))
            if {t.name for t in ordered} != set(entries) or any(
                    {c for c, _ in entries[t.name].columns} != set(t.columns.keys())
                    for t in ordered):
                raise DamagedBackup(f"Sauvegarde incohérente : ses tables ne sont pas celles "
                                    f"du schéma {checked.manifest.revision} de Liasse.")
            triggers = rows.TriggersOff(connection, ordered)
            for table in ordered:
                if table.name in rows.SEEDED_BY_MIGRATIONS:
                    connection.execute(table.delete())
            inserted: set[str] = set()
            for done, table in enumerate(ordered):
                progress("rows", done, len(ordered))
                entry = entries[table.name]
                loader = rows.TableLoader(connection, table, [c for c, _ in entry.columns],
                                          inserted)
                decoders = [rows.decoder(kind) for _, kind in entry.columns]
                for line in read_lines(checked.folder / entry.file):
                    loader.add(rows.parse_line(line, decoders))
                loader.finish()
                inserted.add(table.name)
                total += loader.count
            triggers.restore()
            rows.reset_sequences(connection, ordered)
            progress("rows", len(ordered), len(ordered))
    except (IntegrityError, DataError) as exc:
        raise DamagedBackup("Sauvegarde incohérente : la base refuse ses lignes "
                            f"({str(exc.orig).splitlines()[0][:200]}) ; rien n'a été "
                            "restauré dans la base.") from None
    return total
