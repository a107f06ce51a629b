"""E-invoices received in Achats (since 1 September 2026 every French company must be able
to receive them; seed 004 files received PEPPOL invoices into the client's file).

Whatever channel deposits a document in Achats (the drive, the web, the sync tool, mail
later), the deposit's event tells the background worker, which reads it here
(`scan_deposits`): a Factur-X PDF (its embedded `factur-x.xml`), or a UBL or CII XML, is read
with the `factur-x` package and offered to the company as a pre-filled expense to confirm;
anything else is left alone. The XML is parsed by lxml with a parser that resolves no entity,
loads no DTD and reaches no network, and a document declaring a DOCTYPE is refused outright
(billion laughs, XXE): a malformed or hostile file is recorded as *illisible* with its reason,
shown to the company, and never undoes nor delays the deposit, which was committed before.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict
from decimal import Decimal, InvalidOperation

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.documents.blobs import BlobStore
from acl.documents.models import Node
from acl.errors import Conflict, NotFound
from acl.events.models import WorkerCursor
from acl.events.stream import events_since, last_event_id
from acl.invoicing import expenses
from acl.invoicing.amounts import format_rate
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.invoicing.models import Expense, ReceivedInvoice, ReceivedState
from acl.people.models import Company

log = logging.getLogger(__name__)
CURSOR = "received-einvoices"
BATCH = 200
MAX_BYTES = 20 * 1024 * 1024  # a bigger document is not read (it stays deposited)
MAX_XML_BYTES = 5 * 1024 * 1024
EMBEDDED_NAMES = ("factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml")


class Unreadable(Exception):
    """Why a received e-invoice cannot be read, in French."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           dtd_validation=False, huge_tree=False, remove_pis=True)


def read_xml(data: bytes) -> etree._Element:
    if len(data) > MAX_XML_BYTES:
        raise Unreadable("XML trop volumineux (5 Mo au plus).")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise Unreadable("XML refusé : il déclare un DOCTYPE ou des entités (risque "
                         "d'attaque), ce qu'une facture électronique ne fait pas.")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise Unreadable(f"XML mal formé : {str(exc)[:120]}") from None
    if root is None:
        raise Unreadable("XML vide.")
    return root


def xml_of_pdf(data: bytes) -> bytes | None:
    """The Factur-X XML embedded in a PDF, or None for a PDF that carries none (a scan)."""
    from pypdf import PdfReader

    try:
        attachments = PdfReader(io.BytesIO(data)).attachments
        for name, bodies in attachments.items():
            if name.lower() in EMBEDDED_NAMES and bodies:
                return bodies[0]
    except Exception:  # a PDF pypdf cannot read is no Factur-X; it stays a document
        log.debug("PDF not read for an embedded invoice", exc_info=True)
    return None


def recognise(name: str, data: bytes) -> ExpenseInput | None:
    """The expense an e-invoice describes; None when the document is not one (a scanned
    PDF, a photo); Unreadable when it claims to be one and cannot be read."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix == "pdf":
        xml = xml_of_pdf(data)
        if xml is None:
            return None
    elif suffix == "xml":
        xml = data
    else:
        return None
    root = read_xml(xml)
    from facturx import parse_ubl_cii_xml

    try:
        parsed = parse_ubl_cii_xml(root, check_xsd=False, date_as="date", float_as="string")
    except Exception as exc:  # the package raises plain exceptions on what it cannot read
        if suffix == "xml" and not _looks_like_invoice(root):
            return None  # some other XML (a bank statement...): not ours to judge
        raise Unreadable(f"Facture électronique illisible : {str(exc)[:160]}") from None
    return _as_expense(parsed)


def _looks_like_invoice(root: etree._Element) -> bool:
    tag = etree.QName(root).localname if isinstance(root.tag, str) else ""
    return tag in ("CrossIndustryInvoice", "Invoice", "CreditNote")


def _as_expense(parsed: dict) -> ExpenseInput:
    if str(parsed.get("BT-3", "380")) in ("381", "261", "262", "396", "532"):
        raise Unreadable("Avoir reçu : à saisir à la main (une dépense est une facture).")
    seller = parsed.get("BG-4") or {}
    supplier = str(seller.get("name") or "").strip()
    if not supplier:
        raise Unreadable("Facture électronique sans nom de fournisseur (BT-27).")
    issue = parsed.get("BT-2")
    if issue is None:
        raise Unreadable("Facture électronique sans date (BT-2).")
    lines = []
    for group in parsed.get("BG-23") or []:
        try:
            rate = Decimal(str(group.get("BT-119", "0")))
            taxable = Decimal(str(group.get("BT-116", "0")))
            vat = Decimal(str(group.get("BT-117", "0")))
        except InvalidOperation:
            raise Unreadable("Montants de TVA illisibles (BG-23).") from None
        lines.append(VatInput(format_rate(rate), f"{taxable:.2f}".replace(".", ","),
                              f"{vat:.2f}".replace(".", ",")))
    if not lines:
        raise Unreadable("Facture électronique sans ventilation de TVA (BG-23).")
    due = parsed.get("BT-9")
    return ExpenseInput(supplier=supplier[:200],
                        supplier_vat=str(seller.get("vat_identifier") or "")[:20],
                        number=str(parsed.get("BT-1") or "")[:60],
                        issue_date=issue.strftime("%d/%m/%Y"),
                        due_date=due.strftime("%d/%m/%Y") if due else "",
                        category="achats de marchandises", lines=lines)


def examine(session: Session, blobs: BlobStore, node: Node, company_id: int) -> \
        ReceivedInvoice | None:
    """Read one document deposited in Achats; a row when it is (or claims to be) an
    e-invoice."""
    if node.sha256 is None or node.size > MAX_BYTES:
        return None
    if not node.name.lower().endswith((".pdf", ".xml")):
        return None
    with blobs.open(node.sha256) as body:
        data = body.read(MAX_BYTES + 1)
    try:
        proposal = recognise(node.name, data)
    except Unreadable as exc:
        found = ReceivedInvoice(company_id=company_id, node_id=node.id, name=node.name,
                                state=ReceivedState.UNREADABLE.value, problem=str(exc))
    else:
        if proposal is None:
            return None
        found = ReceivedInvoice(company_id=company_id, node_id=node.id, name=node.name,
                                data=json.dumps(asdict(proposal), ensure_ascii=False))
    session.add(found)
    return found


def scan_deposits(session: Session, blobs: BlobStore, *, batch: int = BATCH) -> int:
    """Read the deposits into Achats since the last scan (the worker's job); returns the
    number of events read (`batch`: there may be more)."""
    cursor = session.get(WorkerCursor, CURSOR)
    if cursor is None:
        cursor = WorkerCursor(name=CURSOR, last_event_id=0)
        session.add(cursor)
    upto = last_event_id(session)
    events = [e for e in events_since(session, cursor.last_event_id, limit=batch,
                                      kinds=("deposited",)) if e.id <= upto]
    for event in events:
        if event.folder != expenses.PURCHASES or event.company_id is None \
                or event.node_id is None:
            continue
        node = session.get(Node, event.node_id)
        if node is None or node.deleted_at is not None or node.kind != "file":
            continue
        savepoint = session.begin_nested()
        try:
            examine(session, blobs, node, event.company_id)
            savepoint.commit()
        except Exception:  # one document must never stop the others
            savepoint.rollback()
            log.exception("received e-invoice %s not examined", node.name)
    cursor.last_event_id = events[-1].id if len(events) == batch else \
        max(cursor.last_event_id, upto)
    return len(events)


def consider_scanned(session: Session) -> None:
    """The deposits made so far are no news (an installation's history)."""
    cursor = session.get(WorkerCursor, CURSOR)
    if cursor is None:
        session.add(WorkerCursor(name=CURSOR, last_event_id=last_event_id(session)))


# -- What the company does with them --

def pending(session: Session, company: Company) -> list[ReceivedInvoice]:
    return list(session.scalars(select(ReceivedInvoice).where(
        ReceivedInvoice.company_id == company.id,
        ReceivedInvoice.state.in_((ReceivedState.PROPOSED.value,
                                   ReceivedState.UNREADABLE.value)))
        .order_by(ReceivedInvoice.id.desc())))


def get(session: Session, company: Company, received_id: int) -> ReceivedInvoice:
    found = session.get(ReceivedInvoice, received_id)
    if found is None or found.company_id != company.id:
        raise NotFound("Facture reçue introuvable.")
    return found


def proposal_of(found: ReceivedInvoice) -> ExpenseInput:
    values = json.loads(found.data or "{}")
    lines = [VatInput(**line) for line in values.pop("lines", [])]
    return ExpenseInput(**values, lines=lines)


def confirm(session: Session, company: Company, found: ReceivedInvoice, data: ExpenseInput,
            user_id: int | None) -> Expense:
    """The proposal, checked and perhaps corrected by the user, becomes an expense pointing at
    the received document."""
    if found.state != ReceivedState.PROPOSED.value:
        raise Conflict("Cette facture reçue a déjà été traitée.")
    expense = expenses.create(session, company, data, user_id=user_id,
                              origin="facture électronique", node_id=found.node_id)
    found.state = ReceivedState.CONFIRMED.value
    found.expense_id = expense.id
    return expense


def dismiss(found: ReceivedInvoice) -> None:
    if found.state == ReceivedState.CONFIRMED.value:
        raise Conflict("Cette facture reçue est déjà une dépense.")
    found.state = ReceivedState.DISMISSED.value
