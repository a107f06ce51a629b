"""The rights matrix — role × folder situation × operation — run with one test body on every
channel: the operations layer in-process, the drive (WebDAV) and the web app of a real
`liasse serve`, and the `liasse document` command for moves and copies. A channel that
disagrees with the others fails here (issue 14).

The expected outcomes are written by hand below, from the rules of ../shared/DESIGN.md ("Who
is who"), not computed by the permission function they check.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from support.channels import DONE, HIDDEN, REFUSED, Command, InProcess, Web, WebDav
from support.server import start_server
from support.world import BACKENDS, DEMO_PASSWORD, demo_world

from acl.documents import store
from acl.documents.blobs import open_store
from acl.documents.limits import Limits
from acl.documents.models import Node
from acl.documents.tree import add_document
from acl.people import accounts, companies
from acl.people.models import Company, User
from acl.rights.audit import Context
from acl.rights.models import Level
from acl.rights.principals import load_principal

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"
USERS = ("expert", "associe", "assistant", "martin", "secretaire", "dupont")

# Where each situation's documents lie, and where a move or a copy sends them (a folder of
# the same company that everyone who can write the source can write too).
SITUATIONS = {
    "achats": (f"{BAKERY}/Achats", f"{BAKERY}/Ventes"),
    "social": (f"{BAKERY}/Social", f"{BAKERY}/Ventes"),  # read only for two (granted below)
    "fiscalite": (f"{BAKERY}/Fiscalité", f"{BAKERY}/Ventes"),  # none for the secretary
    "protege": (f"{BAKERY}/Achats", f"{BAKERY}/Ventes"),  # older than the protection date
    "garage": (f"{GARAGE}/Achats", f"{GARAGE}/Ventes"),
}
# W: may write; R: may only read; P: a protected document in a folder the user may write;
# H: hidden (another company, a folder without right).
LEVELS = {
    #               achats social fiscalite protege garage
    "expert":      ("W",   "W",   "W",      "P",    "W"),
    "associe":     ("W",   "W",   "W",      "P",    "W"),
    "assistant":   ("W",   "R",   "W",      "P",    "H"),  # portfolio of the bakery only
    "martin":      ("W",   "W",   "W",      "P",    "H"),
    "secretaire":  ("W",   "R",   "H",      "P",    "H"),
    "dupont":      ("H",   "H",   "H",      "H",    "W"),
}
WRITE_ONLY = {"W": DONE, "R": REFUSED, "P": REFUSED, "H": HIDDEN}
INTO_FOLDER = {"W": DONE, "R": REFUSED, "P": DONE, "H": HIDDEN}  # the folder is writable
OUTCOMES = {
    "read": {"W": DONE, "R": DONE, "P": DONE, "H": HIDDEN},
    "copy": {"W": DONE, "R": DONE, "P": DONE, "H": HIDDEN},  # into a writable folder
    "overwrite": WRITE_ONLY, "rename": WRITE_ONLY, "move": WRITE_ONLY, "delete": WRITE_ONLY,
    "deposit": INTO_FOLDER, "mkdir": INTO_FOLDER,
}
CHANNELS = ("in-process", "webdav", "web", "cli")
OFFERS = {"in-process": InProcess.offers, "webdav": WebDav.offers, "web": Web.offers,
          "cli": Command.offers}
PROTECTION = date(2021, 1, 1)


def _document(channel: str, situation: str, op: str, user: str) -> str:
    return f"{channel}-{situation}-{op}-{user}.txt"


@dataclass
class Matrix:
    channels: dict  # name -> channel, all on the same world


def _prepare(db, blobs) -> None:
    """The documents every case works on, the two read-only grants, the protection date."""
    with db.transaction() as tx:
        users = {u.login: u for u in tx.scalars(select(User))}
        bakery, garage = (tx.scalars(select(Company).where(Company.name == name)).one()
                          for name in (BAKERY, GARAGE))
        martin = Context(load_principal(tx, users["martin"]), "test")
        expert = Context(load_principal(tx, users["expert"]), "test")
        accounts.grant(tx, martin, users["secretaire"], bakery, "Social", Level.READ)
        accounts.grant(tx, expert, users["assistant"], bakery, "Social", Level.READ)
        companies.set_protection_date(tx, expert, bakery, PROTECTION)
        for situation, (folder, _) in SITUATIONS.items():
            company = garage if folder.startswith(GARAGE) else bakery
            parent = store.resolve(tx, company, folder.split("/")[1:]).node
            old = datetime(2020, 6, 1, tzinfo=UTC) if situation == "protege" else None
            for channel in CHANNELS:
                for op in OUTCOMES:
                    for user in USERS:
                        add_document(tx, blobs, parent,
                                     _document(channel, situation, op, user),
                                     io.BytesIO(b"document de la matrice\n"),
                                     deposited_by_id=users["martin"].id, at=old)


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(request, tmp_path_factory, templates) -> Iterator[Matrix]:
    with demo_world(templates, request.param, tmp_path_factory.mktemp("matrix")) as (
            path, settings, db):
        blobs = open_store(settings)
        _prepare(db, blobs)
        server = start_server(path, DEMO_PASSWORD)
        try:
            yield Matrix({"in-process": InProcess(db, blobs, Limits.from_settings(settings.drive)),
                          "webdav": WebDav(server.base_url, DEMO_PASSWORD),
                          "web": Web(server.base_url, DEMO_PASSWORD, db),
                          "cli": Command(path)})
        finally:
            server.stop()


def _run(channel, op: str, user: str, situation: str) -> str:
    folder, elsewhere = SITUATIONS[situation]
    name = _document(channel.name, situation, op, user)
    path = f"{folder}/{name}"
    if op == "read":
        return channel.read(user, path)
    if op == "overwrite":
        return channel.overwrite(user, path)
    if op == "deposit":
        return channel.deposit(user, folder, f"nouveau-{name}")
    if op == "mkdir":
        return channel.mkdir(user, folder, f"dossier-{name[:-4]}")
    if op == "rename":
        return channel.rename(user, path, f"renomme-{name}")
    if op == "move":
        return channel.move(user, path, elsewhere)
    if op == "copy":
        return channel.copy(user, path, elsewhere, f"copie-{name}")
    assert op == "delete"
    return channel.delete(user, path)


CASES = [(channel, user, situation, op) for channel in CHANNELS for user in USERS
         for situation in SITUATIONS for op in OUTCOMES if op in OFFERS[channel]]


@pytest.mark.parametrize(("channel", "user", "situation", "op"), CASES,
                         ids=["-".join(case) for case in CASES])
def test_rights_matrix(matrix, channel, user, situation, op):
    level = LEVELS[user][list(SITUATIONS).index(situation)]
    assert _run(matrix.channels[channel], op, user, situation) == OUTCOMES[op][level]


# --- what the matrix does not cover: the standard folders, the company root ---------------

STANDARD = {"expert": REFUSED, "secretaire": REFUSED, "dupont": HIDDEN}


@pytest.mark.parametrize("channel", ("in-process", "webdav", "web"))
@pytest.mark.parametrize("user", sorted(STANDARD))
def test_standard_folders_stay(matrix, channel, user):
    """Nobody renames, moves or deletes a standard folder, on any channel."""
    via = matrix.channels[channel]
    achats = f"{BAKERY}/Achats"
    assert via.rename(user, achats, "Achats 2026") == STANDARD[user]
    assert via.move(user, achats, f"{BAKERY}/Ventes") == STANDARD[user]
    assert via.delete(user, achats) == STANDARD[user]


@pytest.mark.parametrize("channel", ("in-process", "webdav", "web"))
@pytest.mark.parametrize("user", sorted(STANDARD))
def test_nothing_at_a_company_root(matrix, channel, user):
    via = matrix.channels[channel]
    assert via.deposit(user, BAKERY, f"racine-{channel}-{user}.txt") == STANDARD[user]
    assert via.mkdir(user, BAKERY, f"racine-{channel}-{user}") == STANDARD[user]


# --- one rule for moves and copies between companies (issue 14, item 2) ---------------------

@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("user", ("expert", "associe"))  # they may write in both companies
def test_a_document_never_leaves_its_company(matrix, channel, user):
    """A document belongs to its company: its receipts and history do not follow it into
    another client's tree. Moving or copying it there is refused on every channel, by those
    who may write in both companies too, and it stays where it was."""
    via = matrix.channels[channel]
    name = _document(channel, "achats", "read", user)  # a document no case changes
    source = f"{BAKERY}/Achats/{name}"
    if "move" in via.offers:
        assert via.move(user, source, f"{GARAGE}/Achats") == REFUSED
    if "copy" in via.offers:
        assert via.copy(user, source, f"{GARAGE}/Achats", f"transfuge-{name}") == REFUSED
    db = matrix.channels["in-process"].db
    with db.session() as session:
        found = session.scalars(select(Node).where(Node.name.like(f"%{name}"))).all()
        bakery = session.scalars(select(Company).where(Company.name == BAKERY)).one()
    assert [(n.name, n.company_id, n.deleted_at) for n in found] == [(name, bakery.id, None)]
