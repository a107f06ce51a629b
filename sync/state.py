"""What the sync tool remembers between runs, in `<local>/.liasse-sync/state.db` (SQLite, the
standard library's): each change is committed as soon as it is done, so that a run killed
at any point (kill -9, power cut) resumes from what is really on both sides.

- `remote`: the server's listing of each company as last read (path -> kind, hash, size,
  time); a company the change token says has not moved is not read again;
- `agreed`: what both sides held at the end of the last transfer of each path (the hash,
  and the local size and time then): a change since is a change on that side;
- `company`: the companies met, and whether the platform still has them for this account;
- `meta`: the change token, and the server and account the folder is synchronised with.

Paths are "Entreprise/Dossier/.../nom", NFC, with "/".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS company (name TEXT PRIMARY KEY, present INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS remote (path TEXT PRIMARY KEY, company TEXT NOT NULL,
    is_dir INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL);
CREATE INDEX IF NOT EXISTS remote_company ON remote (company);
CREATE TABLE IF NOT EXISTS agreed (path TEXT PRIMARY KEY, company TEXT NOT NULL,
    is_dir INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, gone_local INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS agreed_company ON agreed (company);
"""


@dataclass(frozen=True)
class Remote:
    is_dir: bool
    sha256: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Agreed:
    is_dir: bool
    sha256: str
    size: int
    mtime_ns: int
    gone_local: bool = False


def company_of(path: str) -> str:
    return path.split("/", 1)[0]


class State:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- meta ------------------------------------------------------------------------------

    def get(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def put(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                        "SET value = excluded.value", (key, value))

    # --- companies -------------------------------------------------------------------------

    def companies(self) -> dict[str, bool]:
        return {n: bool(p) for n, p in self.db.execute("SELECT name, present FROM company")}

    def set_company(self, name: str, present: bool) -> None:
        self.db.execute("INSERT INTO company VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                        "SET present = excluded.present", (name, int(present)))

    # --- the server's listing --------------------------------------------------------------

    def remote(self, company: str) -> dict[str, Remote]:
        return {p: Remote(bool(d), s, z, m) for p, d, s, z, m in self.db.execute(
            "SELECT path, is_dir, sha256, size, mtime FROM remote WHERE company = ?",
            (company,))}

    def replace_remote(self, company: str, entries: dict[str, Remote]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM remote WHERE company = ?", (company,))
            self.db.executemany("INSERT INTO remote VALUES (?, ?, ?, ?, ?, ?)", [
                (p, company, int(r.is_dir), r.sha256, r.size, r.mtime)
                for p, r in entries.items()])

    def set_remote(self, path: str, entry: Remote) -> None:
        """One path as the tool itself just made it on the server (an upload, a folder)."""
        self.db.execute("INSERT OR REPLACE INTO remote VALUES (?, ?, ?, ?, ?, ?)",
                        (path, company_of(path), int(entry.is_dir), entry.sha256, entry.size,
                         entry.mtime))

    # --- what both sides agreed ------------------------------------------------------------

    def agreed(self, company: str) -> dict[str, Agreed]:
        return {p: Agreed(bool(d), s, z, m, bool(g)) for p, d, s, z, m, g in self.db.execute(
            "SELECT path, is_dir, sha256, size, mtime_ns, gone_local FROM agreed "
            "WHERE company = ?", (company,))}

    def agree(self, path: str, entry: Agreed) -> None:
        self.db.execute("INSERT OR REPLACE INTO agreed VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (path, company_of(path), int(entry.is_dir), entry.sha256, entry.size,
                         entry.mtime_ns, int(entry.gone_local)))

    def forget(self, paths: Iterable[str]) -> None:
        """Drop what was agreed on these paths and every path below them."""
        with self.db:
            self.db.execute("BEGIN")
            for path in paths:
                self.db.execute("DELETE FROM agreed WHERE path = ? OR substr(path, 1, ?) = ?",
                                (path, len(path) + 1, path + "/"))
