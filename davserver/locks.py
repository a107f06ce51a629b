"""WsgiDAV's lock storage over the database (`acl.documents.locks`): the locks the drive
takes are rows that the web app, the CLI and every other server process see.

Nearly every request asks whether a lock covers its path. A drive usually holds no lock
(Office and Explorer take them only while a document is open), so the storage answers
`holds_no_lock` from the `locks` generation counter that the gate reads with the account of
every request (one query already made): while the counter has not moved since the storage
last counted the locks, the answer stands, in every process (davserver/fastpath.py,
davserver/propfind.py). A lock that expires does not move the counter: the answer stays
"some lock" until the next change, which only sends the request through WsgiDAV.
"""

from __future__ import annotations

import threading

from acl.db import Database
from acl.documents import locks


def _as_dict(row) -> dict:
    """A lock row as WsgiDAV's lock manager reads it."""
    return {"token": row.token, "root": row.root, "type": "write", "scope": row.scope,
            "depth": row.depth, "owner": row.owner, "principal": row.principal,
            "timeout": row.timeout, "expire": row.expire}


def _root(path: str) -> str:
    return "/" + path.strip("/")  # WsgiDAV's normalize_lock_root


class DatabaseLockStorage:
    """WsgiDAV's `LockStorageDict` interface (lock_man/lock_storage.py), on rows."""

    def __init__(self, db: Database, max_seconds: int) -> None:
        self.db = db
        self.max_seconds = max_seconds
        self._counted: tuple[int | None, bool] = (None, True)  # (generation, any lock)
        self._counted_lock = threading.Lock()

    def __repr__(self) -> str:
        return "DatabaseLockStorage"

    def open(self) -> None:
        """Nothing to open: the database is the server's."""

    def close(self) -> None:
        """Nothing to close."""

    def cleanup(self) -> None:
        with self.db.transaction() as tx:
            locks.purge_expired(tx)

    def clear(self) -> None:
        with self.db.transaction() as tx:
            for info in locks.listed(tx):
                locks.remove(tx, info.token)

    def get(self, token: str) -> dict | None:
        with self.db.session() as session:
            row = locks.get(session, token)
            return None if row is None else _as_dict(row)

    def create(self, path: str, lock: dict) -> dict:
        timeout = locks.bounded(float(lock.get("timeout") or -1), self.max_seconds)
        with self.db.transaction() as tx:
            row = locks.create(tx, root=_root(path), scope=lock["scope"], depth=lock["depth"],
                               owner=lock["owner"], principal=lock["principal"],
                               timeout=timeout)
            lock.update(_as_dict(row))
        return lock

    def refresh(self, token: str, *, timeout: float) -> dict:
        with self.db.transaction() as tx:
            row = locks.refresh(tx, token, locks.bounded(timeout, self.max_seconds))
            if row is None:
                raise ValueError("no such lock")
            return _as_dict(row)

    def delete(self, token: str) -> bool:
        with self.db.transaction() as tx:
            return locks.remove(tx, token)

    def get_lock_list(self, path: str, *, include_root: bool, include_children: bool,
                      token_only: bool) -> list:
        with self.db.session() as session:
            rows = locks.at(session, _root(path), include_root=include_root,
                            include_children=include_children)
            return [row.token if token_only else _as_dict(row) for row in rows]

    def holds_no_lock(self, generation: int | None) -> bool:
        """Whether no lock exists, for a request that read the `locks` counter as
        `generation` (None: unknown, count now)."""
        with self._counted_lock:
            counted, some = self._counted
        if generation is not None and counted == generation:
            return not some
        with self.db.session() as session:
            some = locks.any_lock(session)
        if generation is not None:
            with self._counted_lock:
                self._counted = (generation, some)
        return not some


def holds_no_lock(lock_manager, environ: dict) -> bool:
    """Whether the drive's lock storage says at once that it holds no lock."""
    if lock_manager is None:
        return True
    check = getattr(lock_manager.storage, "holds_no_lock", None)
    return check is not None and check(environ.get("liasse.lock_generation"))
