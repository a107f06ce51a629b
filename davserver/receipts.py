"""Download receipts of the drive, written in batches by a background thread.

Recording a download is a database write; doing it inside each GET made every small GET
wait for a commit and made concurrent GETs queue behind SQLite's single writer (measured in
bench/). GETs now hand the receipt to this recorder, which writes the receipts of up to
`BATCH` downloads in one transaction, at the latest `DELAY` seconds later. Before answering
a PROPFIND (which shows receipts), the drive waits for the pending ones, so a client always
reads its own downloads back; the web app sees them within `DELAY`. A stop of the server
writes what is pending.
"""

from __future__ import annotations

import atexit
import logging
import threading

from acl.db import Database
from acl.documents.receipts import DownloadRecord, record_downloads

log = logging.getLogger("liasse.receipts")
BATCH = 500
DELAY = 0.2


class ReceiptRecorder:
    """Receipts are appended to a list under a lock; only the first of a batch wakes the
    writer thread, which then waits `DELAY` and writes them all. (A queue woke it for every
    GET: a thread switch per download, measured as ~15% fewer small GETs per second.)"""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[DownloadRecord] = []
        self._handed = 0   # receipts handed over since the start
        self._written = 0  # of those, written (or given up after an error)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._flush = threading.Event()  # write now (a PROPFIND waits, or a stop)
        self._stopping = False
        self._thread: threading.Thread | None = None

    def record(self, receipt: DownloadRecord) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="liasse-receipts",
                                                daemon=True)
                self._thread.start()
                atexit.register(self.stop)  # a stopping server writes what is pending
            self._pending.append(receipt)
            self._handed += 1
            if len(self._pending) == 1:
                self._changed.notify()

    def wait(self) -> bool:
        """Return once every receipt handed over so far is written; True if any was
        pending."""
        with self._lock:
            target = self._handed
            if self._written >= target:
                return False
            self._flush.set()
            while self._written < target and self._thread is not None \
                    and self._thread.is_alive():
                self._changed.wait(timeout=1.0)
        return True

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
            self._stopping = True
            self._flush.set()
            self._changed.notify_all()
        if thread is not None and thread.is_alive():
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopping:
                    self._changed.wait()
                if not self._pending and self._stopping:
                    return
            if len(self._pending) < BATCH:
                self._flush.wait(DELAY)  # let the batch fill, unless someone waits for it
            with self._lock:
                batch, self._pending = self._pending[:BATCH], self._pending[BATCH:]
                self._flush.clear()
            try:
                self._write(batch)
            except Exception:  # never lose the thread: log, and keep serving
                log.exception("%d download receipt(s) could not be written", len(batch))
            finally:
                with self._lock:
                    self._written += len(batch)
                    self._changed.notify_all()

    def _write(self, receipts: list[DownloadRecord]) -> None:
        with self.db.transaction() as tx:
            record_downloads(tx, receipts)
