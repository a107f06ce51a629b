"""`liasse fsck` and `liasse trash list|restore|purge` as an administrator uses them: what they
print, their exit codes, and the documents readable (or not) afterwards.

Commands run in-process through `liasse.cli.main` (the `Cli` helper of test_cli.py) on the
demo world; the blob store is damaged by hand as a disk, a crash or an earlier version of
Liasse would leave it.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from acl.documents import browsing, operations, store
from acl.documents.blobs import BlobStore, open_store
from acl.documents.models import Node, NodeVersion
from acl.documents.tree import add_document
from acl.errors import NotFound
from acl.events.models import OutboxMessage
from acl.invoicing.models import InvoicingProfile
from tests.integration.test_cli import Cli, header, row_of, rows

PARIS = ZoneInfo("Europe/Paris")
BAKERY = "Boulangerie Martin"
BAKERY_INVOICE = "Facture Moulin Giraud octobre.pdf"  # Achats, deposited by martin
BAKERY_TAX_RETURN = "Liasse fiscale 2025.pdf"  # Fiscalité (secretaire may not read it)
GARAGE = "Garage Dupont"
GARAGE_INVOICE = "Facture 2026-0042.pdf"  # Ventes, deposited by dupont

MISSING = "Contenus manquants"
ALTERED = "Contenus altérés (empreinte différente)"
ORPHANS = "Contenus orphelins (aucun document ne les utilise)"
TEMPORARY = "Envois interrompus (fichiers temporaires)"
ALL_GOOD = "Aucun problème."
ORPHANS_ONLY = "Intégrité : OK (orphelins sans gravité)."
PROBLEMS = "Intégrité : PROBLÈMES TROUVÉS."


@pytest.fixture
def demo_cli(demo, settings, capsys, monkeypatch) -> Cli:
    """The CLI on the demo world (acting as the correspondant `expert` unless --as)."""
    return Cli(settings.source, capsys, monkeypatch)


# --- helpers -------------------------------------------------------------------------------

def document(db, name: str) -> tuple[int, str]:
    """(id, sha256) of the one document called `name`, live or trashed."""
    with db.session() as s:
        node = s.scalars(select(Node).where(Node.name == name, Node.kind == "file")).one()
        return node.id, node.sha256


def deleted_at(db, node_id: int) -> datetime | None:
    with db.session() as s:
        return s.get(Node, node_id).deleted_at


def read(db, blobs: BlobStore, ctx_of, login: str, company: str, *path: str) -> bytes:
    """The body `login` downloads at `company`/`path`, as the web app finds and opens it;
    NotFound if it is not there (in the trash, say)."""
    with db.session() as s:
        principal = ctx_of(login, s).principal
        location = browsing.open_path(s, principal, browsing.open_company(s, principal, company),
                                     path)
        sha = location.node.sha256
    with blobs.open(sha) as stream:
        return stream.read()


def delete(db, ctx_of, login: str, name: str) -> int:
    """`login` deletes the document `name` as the web app does; returns its number."""
    node_id, _ = document(db, name)
    with db.transaction() as tx:
        principal = ctx_of(login, tx).principal
        operations.delete(tx, principal, browsing.open_node(tx, principal, node_id))
    return node_id


def fsck(cli: Cli, *options: str) -> tuple[int, list[str]]:
    """Exit code and printed lines of `liasse fsck`; nothing on stderr."""
    code, out, err = cli("fsck", *options)
    assert err == "", err
    assert "Traceback" not in out
    return code, out.rstrip("\n").split("\n")


def section(lines: list[str], title: str) -> list[str]:
    """The items fsck lists under `title` (its line says how many)."""
    heads = [i for i, line in enumerate(lines) if line.startswith(f"{title} : ")]
    if not heads:
        return []
    assert len(heads) == 1, lines
    start = heads[0]
    count = int(lines[start].rsplit(" : ", 1)[1])
    items = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        items.append(line.strip())
    assert len(items) == count, lines
    return items


def referenced_bodies(db) -> int:
    """How many distinct bodies documents, their versions, the invoicing logos and the
    mails' attachments use (fsck checks each)."""
    with db.session() as s:
        shas = set(s.scalars(select(Node.sha256).where(Node.sha256.is_not(None))))
        shas |= set(s.scalars(select(NodeVersion.sha256)))
        shas |= set(s.scalars(select(InvoicingProfile.logo_sha256).where(
            InvoicingProfile.logo_sha256.is_not(None))))
        shas |= set(s.scalars(select(OutboxMessage.attachment_sha256).where(
            OutboxMessage.attachment_sha256.is_not(None))))
        return len(shas)


# --- fsck ----------------------------------------------------------------------------------

def test_fsck_on_a_healthy_store_finds_no_problem(demo_cli, demo):
    code, lines = fsck(demo_cli)
    assert code == 0
    assert lines == [f"{referenced_bodies(demo)} contenu(s) vérifié(s).", ALL_GOOD]
    assert referenced_bodies(demo) >= 4  # the demo's four documents were all read
    code, quick = fsck(demo_cli, "--quick")
    assert (code, quick) == (0, lines)


def test_orphan_body_is_reported_but_harmless(demo_cli, demo, blobs):
    orphan, _ = blobs.put_bytes(b"%PDF-1.4 deposit whose transaction failed")
    code, lines = fsck(demo_cli)
    assert code == 0
    assert section(lines, ORPHANS) == [orphan]
    assert section(lines, MISSING) == section(lines, ALTERED) == []
    assert lines[-1] == ORPHANS_ONLY
    assert lines[0] == f"{referenced_bodies(demo)} contenu(s) vérifié(s)."  # not the orphan


def test_missing_body_names_its_document_and_fails(demo_cli, demo, blobs):
    node_id, sha = document(demo, BAKERY_INVOICE)
    blobs.path(sha).unlink()
    code, lines = fsck(demo_cli)
    assert code == 1
    assert section(lines, MISSING) == [f"{sha} (document n°{node_id} « {BAKERY_INVOICE} »)"]
    assert section(lines, ALTERED) == section(lines, ORPHANS) == []
    assert lines[-1] == PROBLEMS
    assert lines[0] == f"{referenced_bodies(demo) - 1} contenu(s) vérifié(s)."
    # --quick does not read contents, but it does see what is not there.
    code, quick = fsck(demo_cli, "--quick")
    assert code == 1
    assert section(quick, MISSING) == section(lines, MISSING)


def test_a_missing_invoicing_logo_is_named_too(demo_cli, demo, blobs):
    """Bodies a document does not own are checked as well: the logo printed on a company's
    invoices (the demo bakery's) is no orphan, and its loss is reported."""
    with demo.session() as s:
        company_id, sha = s.execute(select(InvoicingProfile.company_id,
                                           InvoicingProfile.logo_sha256)
                                    .where(InvoicingProfile.logo_sha256.is_not(None))).one()
    assert fsck(demo_cli)[1][-1] == ALL_GOOD
    blobs.path(sha).unlink()
    code, lines = fsck(demo_cli)
    assert code == 1
    assert section(lines, MISSING) == [
        f"{sha} (logo de facturation de l'entreprise n°{company_id})"]


def test_missing_body_shared_by_several_rows_names_them_all(demo_cli, demo, blobs):
    """Bodies are stored once: a copy or an unchanged re-deposit shares one. A missing body
    names every document and version that lost it (up to five, the rest counted)."""
    node_id, sha = document(demo, BAKERY_INVOICE)
    body = blobs.path(sha).read_bytes()
    with demo.transaction() as tx:
        folder = tx.get(Node, tx.get(Node, node_id).parent_id)
        copies = [add_document(tx, blobs, folder, f"copie {i}.pdf", io.BytesIO(body),
                               deposited_by_id=None).id for i in range(5)]
        tx.add(NodeVersion(node_id=copies[0], sha256=sha, size=len(body),
                           modified_at=datetime.now(UTC), replaced_at=datetime.now(UTC)))
    blobs.path(sha).unlink()
    code, lines = fsck(demo_cli)
    assert code == 1
    named = ", ".join([f"document n°{node_id} « {BAKERY_INVOICE} »",
                       *(f"document n°{c} « copie {i}.pdf »" for i, c in enumerate(copies[:4]))])
    assert section(lines, MISSING) == [f"{sha} ({named} et 2 autre(s))"]


def test_altered_body_is_found_by_a_full_check_only(demo_cli, demo, blobs):
    node_id, sha = document(demo, GARAGE_INVOICE)
    blobs.path(sha).write_bytes(b"%PDF-1.4 bit rot")
    code, lines = fsck(demo_cli)
    assert code == 1
    assert section(lines, ALTERED) == [f"{sha} (document n°{node_id} « {GARAGE_INVOICE} »)"]
    assert section(lines, MISSING) == section(lines, ORPHANS) == []
    assert lines[-1] == PROBLEMS
    code, quick = fsck(demo_cli, "--quick")
    assert code == 0
    assert section(quick, ALTERED) == []
    assert quick[-1] == ALL_GOOD


def test_leftover_temporary_file_is_listed_as_an_interrupted_upload(demo_cli, blobs):
    blobs.tmp.mkdir(parents=True, exist_ok=True)
    (blobs.tmp / "put-k2x9w1ab").write_bytes(b"%PDF-1.4 half of a bo")  # a killed upload
    code, lines = fsck(demo_cli)
    assert code == 0
    assert section(lines, TEMPORARY) == ["put-k2x9w1ab"]
    assert section(lines, ORPHANS) == []  # not taken for a stored body
    assert lines[-1] == "Intégrité : OK (envois interrompus sans gravité)."


def test_bodies_in_the_earlier_two_level_layout_are_found_and_read(demo_cli, demo, settings,
                                                                  ctx_of):
    blobs = open_store(settings)
    node_id, sha = document(demo, BAKERY_INVOICE)
    original = read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE)
    current = settings.data_dir / "blobs" / sha[:2] / sha
    assert blobs.path(sha) == current  # the demo was stored in the current layout
    earlier = settings.data_dir / "blobs" / sha[:2] / sha[2:4] / sha
    earlier.parent.mkdir(parents=True, exist_ok=True)
    current.rename(earlier)
    # An orphan left there too by the earlier version is still seen as one.
    orphan, _ = blobs.put_bytes(b"earlier orphan")
    orphan_current = settings.data_dir / "blobs" / orphan[:2] / orphan
    orphan_earlier = orphan_current.parent / orphan[2:4] / orphan
    orphan_earlier.parent.mkdir(parents=True, exist_ok=True)
    orphan_current.rename(orphan_earlier)

    code, lines = fsck(demo_cli)
    assert code == 0, lines
    assert section(lines, MISSING) == section(lines, ALTERED) == []
    assert section(lines, ORPHANS) == [orphan]
    assert lines[0] == f"{referenced_bodies(demo)} contenu(s) vérifié(s)."
    assert blobs.path(sha) == earlier
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE) == original

    # And once altered there, the full check says so.
    earlier.write_bytes(b"%PDF-1.4 altered in the old place")
    code, lines = fsck(demo_cli)
    assert code == 1
    assert section(lines, ALTERED) == [f"{sha} (document n°{node_id} « {BAKERY_INVOICE} »)"]


# --- trash ---------------------------------------------------------------------------------

def test_trash_list_shows_what_was_deleted_when_and_by_whom(demo_cli, demo, ctx_of):
    assert rows(demo_cli.ok("trash", "list")) == []
    before = datetime.now(PARIS).replace(second=0, microsecond=0)
    invoice = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    after = datetime.now(PARIS)
    garage = delete(demo, ctx_of, "dupont", GARAGE_INVOICE)

    out = demo_cli.ok("trash", "list")
    assert header(out) == ["Numéro", "Élément", "Supprimé le", "Par"]
    number, path, when, who = re.split(r"\s{2,}", row_of(out, BAKERY_INVOICE))
    assert (number, path, who) == (str(invoice), f"{BAKERY}/Achats/{BAKERY_INVOICE}", "martin")
    shown = datetime.strptime(when, "%d/%m/%Y %H:%M").replace(tzinfo=PARIS)
    assert before <= shown <= after
    number, path, _, who = re.split(r"\s{2,}", row_of(out, GARAGE_INVOICE))
    assert (number, path, who) == (str(garage), f"{GARAGE}/Ventes/{GARAGE_INVOICE}", "dupont")
    assert len(rows(out)) == 2

    bakery_only = demo_cli.ok("trash", "list", "--company", "732829320")
    assert [line.split()[0] for line in rows(bakery_only)] == [str(invoice)]


def test_trash_dates_are_paris_time(demo_cli, demo, ctx_of):
    node_id = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    with demo.transaction() as tx:  # 23:30 UTC on 14 January is 00:30 on the 15th in Paris
        tx.get(Node, node_id).deleted_at = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)
    assert "15/01/2026 00:30" in row_of(demo_cli.ok("trash", "list"), BAKERY_INVOICE)


def test_trash_restore_puts_the_document_back_where_it_was(demo_cli, demo, blobs, ctx_of):
    original = read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE)
    node_id = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    with pytest.raises(NotFound):
        read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE)

    out = demo_cli.ok("trash", "restore", str(node_id))
    assert out == f"Restauré : {BAKERY}/Achats/{BAKERY_INVOICE}\n"
    assert deleted_at(demo, node_id) is None
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE) == original
    assert rows(demo_cli.ok("trash", "list")) == []

    # Restoring it again: it is no longer in the trash; nothing changes.
    err = demo_cli.refused("trash", "restore", str(node_id))
    assert err == f"liasse : Aucun élément n°{node_id} dans la corbeille ; rien n'a été restauré.\n"
    assert deleted_at(demo, node_id) is None


def test_trash_restore_of_a_name_taken_since_renames_it(demo_cli, demo, blobs, ctx_of):
    original = read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE)
    node_id = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    sha, size = blobs.put_bytes(b"%PDF-1.4 the corrected invoice")
    with demo.transaction() as tx:
        principal = ctx_of("martin", tx).principal
        achats = browsing.open_path(tx, principal, browsing.open_company(tx, principal, BAKERY),
                                   ["Achats"])
        store.store_body(tx, achats, BAKERY_INVOICE, sha, size, principal.user_id)

    renamed = "Facture Moulin Giraud octobre (restauré 1).pdf"
    assert demo_cli.ok("trash", "restore", str(node_id)) == \
        f"Restauré : {BAKERY}/Achats/{renamed}\n"
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", renamed) == original
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", BAKERY_INVOICE) == \
        b"%PDF-1.4 the corrected invoice"


@pytest.mark.parametrize("number", ["live", "999999"])
def test_trash_restore_of_what_is_not_in_the_trash_is_one_sentence(demo_cli, demo, number):
    if number == "live":
        number = str(document(demo, GARAGE_INVOICE)[0])
    err = demo_cli.refused("trash", "restore", number)
    assert err == f"liasse : Aucun élément n°{number} dans la corbeille ; rien n'a été restauré.\n"


def test_trash_restore_of_several_numbers_restores_all_or_none(demo_cli, demo, ctx_of):
    invoice = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    garage = delete(demo, ctx_of, "dupont", GARAGE_INVOICE)
    err = demo_cli.refused("trash", "restore", str(invoice), "999999")
    assert err == "liasse : Aucun élément n°999999 dans la corbeille ; rien n'a été restauré.\n"
    assert deleted_at(demo, invoice) is not None  # not restored, though it came first

    out = demo_cli.ok("trash", "restore", str(invoice), str(garage), str(invoice))
    assert out == (f"Restauré : {BAKERY}/Achats/{BAKERY_INVOICE}\n"
                   f"Restauré : {GARAGE}/Ventes/{GARAGE_INVOICE}\n")  # each number once
    assert deleted_at(demo, invoice) is None and deleted_at(demo, garage) is None


@pytest.mark.parametrize("number", ["9223372036854775808", "²", "-3", "0"])
def test_trash_restore_of_an_impossible_number_is_a_usage_error(demo_cli, number):
    code, out, err = demo_cli("trash", "restore", number)
    assert code == 2 and out == ""
    assert f"numéro invalide « {number} »" in err and "Traceback" not in err


def test_company_users_see_and_restore_only_what_they_may_read(demo_cli, demo, ctx_of):
    invoice = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    tax_return = delete(demo, ctx_of, "expert", BAKERY_TAX_RETURN)
    garage = delete(demo, ctx_of, "dupont", GARAGE_INVOICE)

    def numbers(login: str) -> set[str]:
        return {line.split()[0] for line in rows(demo_cli.ok("--as", login, "trash", "list"))}

    assert numbers("expert") == {str(invoice), str(tax_return), str(garage)}
    assert numbers("martin") == {str(invoice), str(tax_return)}
    assert numbers("secretaire") == {str(invoice)}  # Fiscalité is not hers
    assert numbers("assistant") == {str(invoice), str(tax_return)}  # her portfolio's company
    assert numbers("dupont") == {str(garage)}

    # Another company's item answers as if it did not exist, and stays in the trash.
    for login, number in [("dupont", invoice), ("martin", garage), ("secretaire", tax_return)]:
        err = demo_cli.refused("--as", login, "trash", "restore", str(number))
        assert err == f"liasse : Aucun élément n°{number} dans la corbeille ; rien n'a été " \
                      "restauré.\n"
        assert deleted_at(demo, number) is not None
    assert "Entreprise introuvable" in demo_cli.refused(
        "--as", "dupont", "trash", "list", "--company", BAKERY)

    assert demo_cli.ok("--as", "dupont", "trash", "restore", str(garage)) == \
        f"Restauré : {GARAGE}/Ventes/{GARAGE_INVOICE}\n"
    assert deleted_at(demo, garage) is None


def test_trash_purge_forgets_only_what_is_older_than_trash_days(demo, settings_file, ctx_of,
                                                                blobs, capsys, monkeypatch):
    cli = Cli(settings_file(storage={"trash_days": 10}), capsys, monkeypatch)
    old = delete(demo, ctx_of, "martin", BAKERY_INVOICE)
    garage_body = read(demo, blobs, ctx_of, "dupont", GARAGE, "Ventes", GARAGE_INVOICE)
    young = delete(demo, ctx_of, "dupont", GARAGE_INVOICE)
    _, old_sha = document(demo, BAKERY_INVOICE)
    with demo.transaction() as tx:
        tx.get(Node, old).deleted_at = datetime.now(UTC) - timedelta(days=11)
        tx.get(Node, young).deleted_at = datetime.now(UTC) - timedelta(days=9)

    assert cli.ok("trash", "purge") == (
        "1 élément(s) de plus de 10 jours oublié(s) ; « liasse fsck » signale les contenus "
        "devenus orphelins.\n")
    assert [line.split()[0] for line in rows(cli.ok("trash", "list"))] == [str(young)]
    with demo.session() as s:
        assert s.get(Node, old) is None
    assert "Aucun élément" in cli.refused("trash", "restore", str(old))
    cli.ok("trash", "restore", str(young))
    assert read(demo, blobs, ctx_of, "dupont", GARAGE, "Ventes", GARAGE_INVOICE) == garage_body

    # The forgotten document's body is now an orphan, which fsck reports without failing.
    code, lines = fsck(cli)
    assert code == 0
    assert section(lines, ORPHANS) == [old_sha]
    assert lines[-1] == ORPHANS_ONLY
    # Nothing left that old: a second purge forgets nothing.
    assert cli.ok("trash", "purge").startswith("0 élément(s)")


def bakery_quarter(db, blobs, ctx_of) -> tuple[int, int]:
    """martin files Achats/2026/T1/relevé.pdf at the bakery: (id of 2026, id of relevé.pdf)."""
    with db.transaction() as tx:
        principal = ctx_of("martin", tx).principal
        achats = browsing.open_path(tx, principal, browsing.open_company(tx, principal, BAKERY),
                                   ["Achats"])
        year = operations.mkdir(tx, principal, achats, "2026")
        quarter = operations.mkdir(tx, principal, year, "T1")
        statement = add_document(tx, blobs, quarter.node, "relevé.pdf",
                                 io.BytesIO(b"%PDF-1.4 T1"), deposited_by_id=principal.user_id)
        return year.node.id, statement.id


def test_restore_below_a_trashed_folder_waits_for_that_folder(demo_cli, demo, blobs, ctx_of):
    """The document was deleted, then a folder two levels above it: putting the document back
    first would make it vanish from the trash without being reachable; it is refused, and
    works once the folder is back."""
    year, statement = bakery_quarter(demo, blobs, ctx_of)
    for node_id in (statement, year):
        with demo.transaction() as tx:
            principal = ctx_of("martin", tx).principal
            operations.delete(tx, principal, browsing.open_node(tx, principal, node_id))

    err = demo_cli.refused("trash", "restore", str(statement))
    assert "restaurez-le d'abord" in err
    assert deleted_at(demo, statement) is not None
    assert str(statement) in [line.split()[0] for line in rows(demo_cli.ok("trash", "list"))]

    demo_cli.ok("trash", "restore", str(year))
    assert demo_cli.ok("trash", "restore", str(statement)) == \
        f"Restauré : {BAKERY}/Achats/2026/T1/relevé.pdf\n"
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", "2026", "T1",
                "relevé.pdf") == b"%PDF-1.4 T1"


def test_purge_of_a_folder_with_an_item_trashed_before_it(demo, settings_file, blobs, ctx_of,
                                                          capsys, monkeypatch):
    """A document deleted on its own, then its folder: both expire together."""
    cli = Cli(settings_file(storage={"trash_days": 10}), capsys, monkeypatch)
    year, statement = bakery_quarter(demo, blobs, ctx_of)
    for node_id in (statement, year):
        with demo.transaction() as tx:
            principal = ctx_of("martin", tx).principal
            operations.delete(tx, principal, browsing.open_node(tx, principal, node_id))
            tx.get(Node, node_id).deleted_at = datetime.now(UTC) - timedelta(days=11)

    assert cli.ok("trash", "purge").startswith("2 élément(s) de plus de 10 jours oublié(s)")
    with demo.session() as s:
        assert s.get(Node, year) is None and s.get(Node, statement) is None
    assert rows(cli.ok("trash", "list")) == []


@pytest.mark.parametrize("command", [["trash", "purge"], ["fsck"]])
def test_storage_maintenance_is_the_correspondants(demo_cli, demo, command):
    """Both act on every company at once: an associé or a company user is refused (and the
    refusal is in the audit log), an unknown --as is named; the correspondant may."""
    for login in ("associe", "dupont"):
        assert "réservée au correspondant" in demo_cli.refused("--as", login, *command)
    assert "Aucun compte « personne »" in demo_cli.refused("--as", "personne", *command)
    demo_cli.ok(*command)
    action = "trash.purge" if command[0] == "trash" else "fsck"
    acts = [(re.split(r"\s{2,}", line.strip())[1], "refusé" in line.split())
            for line in rows(demo_cli.ok("audit", "--action", action))]
    # a purge is recorded; a check changes nothing and is not
    assert acts == [("expert", False)] * (action == "trash.purge") + \
        [("dupont", True), ("associe", True)]


# --- liasse document move|copy --------------------------------------------------------------

def test_document_move_files_the_document_in_another_folder(demo_cli, demo):
    out = demo_cli.ok("document", "move", f"{BAKERY}/Achats/{BAKERY_INVOICE}", f"{BAKERY}/Banque")
    assert out == f"Déplacé : {BAKERY}/Achats/{BAKERY_INVOICE} → {BAKERY}/Banque/" \
                  f"{BAKERY_INVOICE}\n"
    node_id, _ = document(demo, BAKERY_INVOICE)
    with demo.session() as s:
        assert store.live_location(s, node_id).path == f"{BAKERY}/Banque/{BAKERY_INVOICE}"


def test_document_copy_of_a_folder_copies_what_is_below_it(demo_cli, demo, blobs, ctx_of):
    with demo.transaction() as tx:
        principal = ctx_of("expert", tx).principal
        achats = browsing.open_drive_path(tx, principal, f"{BAKERY}/Achats")
        year = operations.mkdir(tx, principal, achats, "2026")
        quarter = operations.mkdir(tx, principal, year, "T1")
        add_document(tx, blobs, quarter.node, "relevé.pdf", io.BytesIO(b"%PDF-1.4 T1"),
                     deposited_by_id=principal.user_id)
    demo_cli.ok("document", "copy", f"{BAKERY}/Achats/2026", f"{BAKERY}/Autres",
                "--name", "2026 (copie)")
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Autres", "2026 (copie)", "T1",
                "relevé.pdf") == b"%PDF-1.4 T1"
    assert read(demo, blobs, ctx_of, "martin", BAKERY, "Achats", "2026", "T1",
                "relevé.pdf") == b"%PDF-1.4 T1"  # the original stays
    assert "dans lui-même" in demo_cli.refused(
        "document", "copy", f"{BAKERY}/Achats/2026", f"{BAKERY}/Achats/2026/T1")


def test_document_never_moves_or_copies_into_another_company(demo_cli, demo):
    """Issue 14: the rule of the drive and the web app, from the command line too."""
    for action in ("move", "copy"):
        reason = demo_cli.refused("document", action, f"{BAKERY}/Achats/{BAKERY_INVOICE}",
                                  f"{GARAGE}/Achats")
        assert "Un document appartient à son entreprise" in reason
    node_id, _ = document(demo, BAKERY_INVOICE)
    with demo.session() as s:
        assert store.live_location(s, node_id).path == f"{BAKERY}/Achats/{BAKERY_INVOICE}"


def test_document_commands_act_with_the_rights_of_the_account(demo_cli):
    source = f"{BAKERY}/Fiscalité/{BAKERY_TAX_RETURN}"
    assert "introuvable" in demo_cli.refused("--as", "secretaire", "document", "move", source,
                                             f"{BAKERY}/Achats")
    assert "introuvable" in demo_cli.refused("--as", "dupont", "document", "copy",
                                             f"{BAKERY}/Achats/{BAKERY_INVOICE}",
                                             f"{GARAGE}/Achats")
    assert "introuvable" in demo_cli.refused("document", "move", f"{BAKERY}/Nulle part",
                                             f"{BAKERY}/Achats")
