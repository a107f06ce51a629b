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
import queue
import threading

from acl.db import Database
from acl.documents import DownloadRecord, record_downloads

log = logging.getLogger("liasse.receipts")
BATCH = 500
DELAY = 0.2


class ReceiptRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: queue.Queue[DownloadRecord | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record(self, receipt: DownloadRecord) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="liasse-receipts",
                                                daemon=True)
                self._thread.start()
                atexit.register(self.stop)  # a stopping server writes what is pending
        self._queue.put(receipt)

    def wait(self) -> bool:
        """Return once every receipt handed over so far is written; True if any was."""
        if not self._queue.unfinished_tasks:
            return False
        self._queue.join()
        return True

    def stop(self) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            while len(batch) < BATCH:
                try:
                    batch.append(self._queue.get(timeout=DELAY if len(batch) == 1 else 0.01))
                except queue.Empty:
                    break
            receipts = [r for r in batch if r is not None]
            try:
                if receipts:
                    self._write(receipts)
            except Exception:  # never lose the thread: log, and keep serving
                log.exception("%d download receipt(s) could not be written", len(receipts))
            finally:
                for _ in batch:
                    self._queue.task_done()
            if None in batch:
                return

    def _write(self, receipts: list[DownloadRecord]) -> None:
        with self.db.transaction() as tx:
            record_downloads(tx, receipts)
