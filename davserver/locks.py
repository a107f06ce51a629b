"""Lock storage of a single server process: WsgiDAV's shelve file, which also knows at once
whether it holds any lock at all.

Nearly every request asks whether a lock covers its path: WsgiDAV answers by looking up the
path and each folder above it (each a shelve read under the storage's lock), and a listing
by reading every stored lock. A drive usually holds no lock (Office and Explorer take them
only while a document is open), so the storage keeps a flag, `holds_no_lock`, that these
checks read first (davserver/fastpath.py, davserver/propfind.py). It is set when a lock is
stored and recomputed when one is removed, under the storage's own write lock. With Redis
(several processes) the other processes' locks are not known here: no flag, every check
asks Redis.
"""

from __future__ import annotations

from wsgidav.lock_man.lock_storage import LockStorageShelve


class ShelveLockStorage(LockStorageShelve):
    def __init__(self, storage_path: str) -> None:
        super().__init__(storage_path)
        self._empty = False  # until opened

    def holds_no_lock(self) -> bool:
        """Whether no lock is stored (expired ones count until they are purged)."""
        return self._empty

    def open(self) -> None:
        super().open()
        self._empty = len(self._dict) == 0

    def create(self, path, lock):
        self._lock.acquire_write()
        try:
            self._empty = False  # before: a check made meanwhile must not miss it
            return super().create(path, lock)
        finally:
            self._lock.release()

    def delete(self, token) -> bool:
        self._lock.acquire_write()
        try:
            deleted = super().delete(token)
            if deleted:
                self._empty = len(self._dict) == 0
            return deleted
        finally:
            self._lock.release()

    def clear(self) -> None:
        self._lock.acquire_write()
        try:
            super().clear()
            self._empty = self._dict is not None
        finally:
            self._lock.release()

    def close(self) -> None:
        self._lock.acquire_write()
        try:
            self._empty = False
            super().close()
        finally:
            self._lock.release()


def holds_no_lock(lock_manager) -> bool:
    """Whether the drive's lock storage says at once that it holds no lock (False when it
    cannot tell, as Redis)."""
    if lock_manager is None:
        return True
    check = getattr(lock_manager.storage, "holds_no_lock", None)
    return check is not None and check()
