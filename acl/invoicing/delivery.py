"""Where an issued document goes: to the accountant, filed in the company's sales folder as a
normal deposit, and to the customer, by e-mail through the outbox.

Filing goes through the operations layer (`acl.documents.operations.deposit_bytes`), as a
deposit from the drive or the web does: the same rights (the sender needs the write right on
the sales folder), locks, quota, receipt, event and alert to the firm. From that moment the
firm sees the document, and only it: the rest of the invoicing space stays the company's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.documents import operations, store
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.documents.store import Location
from acl.errors import InvalidInput, NotFound
from acl.events.models import OutboxMessage
from acl.invoicing import checks, documents, facturx, pdf
from acl.invoicing.amounts import format_amount
from acl.invoicing.models import DocKind, InvoicingDocument
from acl.invoicing.profile import profile_of
from acl.invoicing.sheet import Look, Sheet
from acl.people.models import Company
from acl.rights.policy import Principal

PDF_TYPE = "application/pdf"


def look_of(session: Session, company: Company, blobs: BlobStore) -> Look:
    """How the company's documents look, its logo read from the blob store."""
    profile = profile_of(session, company)
    logo = None
    if profile.logo_sha256:
        with blobs.open(profile.logo_sha256) as body:
            logo = body.read()
    return Look(layout=profile.layout, colour=profile.colour, accent=profile.accent,
                logo=logo, logo_position=profile.logo_position)


def pdf_of(sheet: Sheet) -> bytes:
    """The document's PDF: a Factur-X (PDF/A-3 carrying its XML) for the documents of the
    accounts, a plain PDF for a quote."""
    return facturx.facturx_pdf(sheet) if sheet.kind != DocKind.QUOTE.value \
        else pdf.render(sheet)


def file_name(sheet: Sheet) -> str:
    """"Facture F-2026-0042 - Dupont SARL.pdf": what the document is, and for whom."""
    buyer = " ".join(sheet.buyer.name.replace("/", "-").replace("\\", "-").split())[:120]
    name = f"{sheet.title} {sheet.number} - {buyer}".strip(" .-") + ".pdf"
    return operations.checked_name(name)


@dataclass(frozen=True)
class Filed:
    location: Location | None  # None when the firm has it already
    already_at: str = ""  # when it was sent before, as shown to the user

    @property
    def again(self) -> bool:
        return bool(self.already_at)


def send_to_accountant(session: Session, principal: Principal, company: Company,
                       document: InvoicingDocument, blobs: BlobStore, limits: Limits,
                       sales_folder: str) -> Filed:
    """File an issued invoice, deposit invoice or credit note in the company's sales folder,
    once: sending it again says when it was sent and files nothing."""
    if document.is_draft or document.kind == DocKind.QUOTE.value:
        raise InvalidInput("Seule une facture ou un avoir émis s'envoie au comptable.")
    if document.filed_at is not None:
        return Filed(None, already_at=f"{document.filed_at:%d/%m/%Y à %H:%M} (UTC)")
    folder = store.resolve(session, company, [sales_folder])
    if folder is None:
        raise NotFound(f"Le dossier « {sales_folder} » de l'entreprise est introuvable : "
                       "demandez à votre cabinet de le rétablir.")
    sheet = documents.sheet_of(session, company, document, look_of(session, company, blobs))
    location = operations.deposit_bytes(session, principal, blobs, limits, folder,
                                        file_name(sheet), pdf_of(sheet))
    document.filed_at = utcnow()
    document.filed_node_id = location.node.id
    return Filed(location)


def email_to_customer(session: Session, company: Company, document: InvoicingDocument,
                      blobs: BlobStore, *, recipient: str = "", message: str = "",
                      user_id: int | None = None) -> OutboxMessage:
    """Queue a mail to the customer with the document's PDF attached; the worker sends it
    (an SMTP outage delays it, never loses it). The document is then "sent"."""
    if document.is_draft:
        raise InvalidInput("Émettez d'abord le document.")
    sheet = documents.sheet_of(session, company, document, look_of(session, company, blobs))
    recipient = checks.email(recipient or sheet.buyer.email, "recipient")
    if not recipient:
        raise InvalidInput("Indiquez l'adresse e-mail du client.", field="recipient")
    message = checks.text(message, "message", "Message", limit=2000, multiline=True)
    sha, _ = blobs.put_bytes(pdf_of(sheet))
    seller = sheet.seller.name
    what = f"{sheet.title.lower() if sheet.kind != 'devis' else 'devis'} {sheet.number}"
    greeting = message or _default_message(sheet)
    mail = OutboxMessage(
        recipient=recipient,
        subject=f"{sheet.title} {sheet.number} — {seller}",
        text_body=f"Bonjour,\n\n{greeting}\n\nVous trouverez en pièce jointe notre {what}."
                  f"\n\nCordialement,\n{seller}\n",
        attachment_name=f"{sheet.title} {sheet.number}.pdf".replace("/", "-"),
        attachment_type=PDF_TYPE, attachment_sha256=sha, sender_name=seller,
        reply_to=sheet.seller.email)
    session.add(mail)
    documents.mark_sent(document)
    session.flush()
    return mail


def _default_message(sheet: Sheet) -> str:
    if sheet.kind == DocKind.QUOTE.value:
        valid = f", valable jusqu'au {sheet.due_date:%d/%m/%Y}" if sheet.due_date else ""
        return f"Voici notre devis de {format_amount(sheet.totals.total_ttc)} TTC{valid}."
    if sheet.kind == DocKind.CREDIT_NOTE.value:
        return f"Voici notre avoir de {format_amount(sheet.totals.total_ttc)} TTC."
    due = f", à régler avant le {sheet.due_date:%d/%m/%Y}" if sheet.due_date else ""
    return f"Voici notre facture de {format_amount(sheet.totals.due)} TTC{due}."

