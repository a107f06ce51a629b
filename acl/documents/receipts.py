"""Receipts: the download history of documents, and the receipt tag kept on each node (the
download count, the first complete download by the other side: received at, received by).

Every channel that sends a body records it here when the body has been sent (the stream's
close): the drive hands its downloads over in batches (davserver/receipts.py), the web app
records each download, or each document of a zip, in a transaction of its own.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from acl.db import Database, bind_writer, utcnow
from acl.documents.models import Download, Node, NodeVersion
from acl.events.models import Event
from acl.events.stream import event_values
from acl.people.models import Company, User


@dataclass(frozen=True)
class DownloadRecord:
    """One download to record: who, which document, how many bytes, whole or not, client."""

    node_id: int
    user_id: int
    bytes_sent: int
    complete: bool
    client: str


def record_download(session: Session, node: Node, user: User, *, bytes_sent: int,
                    complete: bool, client: str) -> None:
    record_downloads(session, [DownloadRecord(node.id, user.id, bytes_sent, complete, client)])


def record_downloads(session: Session, records: Sequence[DownloadRecord]) -> None:
    """Downloads, in bulk: a few queries and one insert per table whatever their number (the
    drive hands its downloads over in batches). Each goes to the download history; the first
    complete one by someone on the other side marks the receipt, which is an event (a plain
    download is not: the history holds it, and a GET-heavy day would flood the stream).
    Client files and vanished documents or users leave nothing."""
    nodes = {n.id: n for n in session.execute(select(
        Node.id, Node.parent_id, Node.name, Node.company_id, Node.deposited_by_id,
        Node.received_at).where(Node.id.in_({r.node_id for r in records}),
                                Node.is_client_file.is_(False)))}  # rows: no ORM objects
    sides = dict(session.execute(select(User.id, User.side).where(User.id.in_(
        {r.user_id for r in records} | {n.deposited_by_id for n in nodes.values()
                                        if n.deposited_by_id is not None}))).all())
    now = utcnow()
    connection = session.connection()
    write_time = bind_writer(connection.dialect, Download.__table__.c.at.type)
    stamp = write_time(now) if write_time else now  # once for all rows
    downloads: list[tuple] = []  # in DOWNLOAD_COLUMNS order
    counts: Counter[int] = Counter()
    received: dict[int, tuple[int, str]] = {}  # node id -> (who, their side)
    for record in records:
        node, side = nodes.get(record.node_id), sides.get(record.user_id)
        if node is None or side is None:
            continue
        downloads.append((node.id, record.user_id, stamp, record.bytes_sent, record.complete,
                          record.client[:200]))
        if not record.complete:
            continue
        counts[node.id] += 1
        depositor_side = sides.get(node.deposited_by_id)
        if node.received_at is None and node.id not in received and \
                depositor_side is not None and depositor_side != side:
            received[node.id] = (record.user_id, side)
    table = Node.__table__
    if downloads:
        _insert_downloads(connection, downloads)
    if counts:  # an increment in SQL: concurrent downloads never lose one
        connection.execute(
            update(table).where(table.c.id == bindparam("node")).values(
                download_count=table.c.download_count + bindparam("n")),
            [{"node": node_id, "n": n} for node_id, n in counts.items()])
    if received:
        connection.execute(
            update(table).where(table.c.id == bindparam("node"),
                                table.c.received_at.is_(None))
            .values(received_at=now, received_by_id=bindparam("by")),
            [{"node": node_id, "by": by} for node_id, (by, _) in received.items()])
        places = _places(session, [nodes[i] for i in received])
        session.execute(insert(Event), [event_values(
            "received", company_id=nodes[node_id].company_id, folder=places[node_id][1],
            node_id=node_id, path=places[node_id][0], actor_id=by, detail={"by_side": side})
            for node_id, (by, side) in received.items()])


DOWNLOAD_COLUMNS = ("node_id", "user_id", "at", "bytes_sent", "complete", "client")


@functools.lru_cache(maxsize=8)
def _download_insert(dialect) -> tuple[str, tuple[str, ...] | None]:
    """The download history's insert in the dialect's SQL, and the order of its positional
    parameters (None: named)."""
    compiled = insert(Download.__table__).values(
        {name: bindparam(name) for name in DOWNLOAD_COLUMNS}).compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positional else None


def _insert_downloads(connection, rows: list[tuple]) -> None:
    """Insert rows of DOWNLOAD_COLUMNS values, already as the database takes them, in one
    executemany of the driver: Core's executemany ran the columns' writers again for each
    row, most of the receipts writer's time (a GET-heavy minute brings thousands)."""
    sql, order = _download_insert(connection.dialect)
    if order is None:
        params: list = [dict(zip(DOWNLOAD_COLUMNS, row, strict=True)) for row in rows]
    elif order == DOWNLOAD_COLUMNS:
        params = rows
    else:
        index = [DOWNLOAD_COLUMNS.index(name) for name in order]
        params = [tuple(row[i] for i in index) for row in rows]
    connection.exec_driver_sql(sql, params)


def _places(session: Session, nodes: Iterable[Any]) -> dict[int, tuple[str, str]]:
    """(path, standard folder) of each node, live or trashed: one query per tree level for
    all of them, not one per ancestor of each."""
    known = {n.id: (n.parent_id, n.name, n.company_id) for n in nodes}
    targets = list(known)
    missing = {p for p, _, _ in known.values() if p is not None and p not in known}
    while missing:
        rows = session.execute(select(Node.id, Node.parent_id, Node.name, Node.company_id)
                               .where(Node.id.in_(missing))).all()
        if not rows:
            break
        known.update((r.id, (r.parent_id, r.name, r.company_id)) for r in rows)
        missing = {p for p, _, _ in known.values() if p is not None and p not in known}
    companies = dict(session.execute(select(Company.id, Company.folder_name).where(
        Company.id.in_({c for _, _, c in known.values()}))).all())
    places = {}
    for node_id in targets:
        names, current = [], node_id
        while current in known and known[current][0] is not None:  # the root has no name
            names.append(known[current][1])
            current = known[current][0]
        names.reverse()
        places[node_id] = ("/".join([companies.get(known[node_id][2], ""), *names]),
                           names[0] if names else "")
    return places


def download_recorder(db: Database, user_id: int, client: str, node_ids: Sequence[int], *,
                      archive: bool = False) -> Callable[[int, bool], None]:
    """What a `DownloadStream` calls at close: a document gets the bytes sent, each document
    of an archive its size when the archive was sent whole (else 0, incomplete)."""

    def record(bytes_sent: int, complete: bool) -> None:
        with db.transaction() as tx:
            user = tx.get(User, user_id)
            for node_id in node_ids:
                node = tx.get(Node, node_id)
                if node is None or user is None:
                    continue
                sent = (node.size if complete else 0) if archive else bytes_sent
                record_download(tx, node, user, bytes_sent=sent, complete=complete,
                                client=client)

    return record


def version_download_recorder(db: Database, user_id: int, client: str, node_id: int,
                              version: NodeVersion) -> Callable[[int, bool], None]:
    """A previous version's download goes into the history, but it is no receipt of the
    current document (nor a download of it)."""
    label = f"version n° {version.id} · {client}"

    def record(bytes_sent: int, complete: bool) -> None:
        with db.transaction() as tx:
            if tx.get(Node, node_id) is not None:
                tx.add(Download(node_id=node_id, user_id=user_id, at=utcnow(),
                                bytes_sent=bytes_sent, complete=complete, client=label[:200]))

    return record
