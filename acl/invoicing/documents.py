"""Quotes, invoices, deposit invoices and credit notes, from draft to paid.

Lifecycle: a draft (no number, every field editable, deletable) is *issued*: in one
transaction it gets the next number of its series, its totals, and frozen copies of what it
says of the seller, the buyer and the law (`acl.invoicing.mentions`); from then on the
database refuses any change of it (migration 0010). Only its state moves on: sent, paid
(payments, partial or whole), accepted or refused (a quote), invoiced (a quote turned into
an invoice), filed with the accountant. An issued invoice is corrected by a credit note,
never edited.

Series: quotes have theirs ("D-2026-"), credit notes theirs ("AV-2026-"); invoices and
deposit invoices share one ("F-2026-"), as French law wants a single continuous series of
invoices.

A credit note states positive amounts, the amounts credited (EN 16931: the type code 381 says
it is a credit); it cannot credit more than what is left of the invoice it corrects.
Deposit invoices are taken on a quote; the final invoice made from that quote deducts them
(BT-113, paid in advance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, case, func, select, type_coerce
from sqlalchemy.orm import Session

from acl.db import utcnow
from acl.errors import Conflict, InvalidInput, NotFound
from acl.invoicing import amounts, articles, checks, customers, mentions, numbering
from acl.invoicing.amounts import AmountError, Totals, parse_decimal, parse_rate
from acl.invoicing.models import (
    Article,
    Customer,
    DocKind,
    DocStatus,
    DocumentLine,
    InvoicingDocument,
    InvoicingProfile,
    Nature,
    Payment,
)
from acl.invoicing.profile import profile_of
from acl.invoicing.sheet import Address, Look, Party, Reference, Sheet, SheetLine
from acl.people.models import Company
from config import dates

MAX_LINES = 500
METHODS = ("virement", "chèque", "carte bancaire", "espèces", "prélèvement", "autre")
FROZEN = {
    DocKind.QUOTE: "Un devis émis ne se modifie plus : faites-en un nouveau, ou marquez-le "
                   "refusé.",
    DocKind.INVOICE: "Une facture émise ne se modifie ni ne se supprime : corrigez-la par un "
                     "avoir.",
    DocKind.DEPOSIT: "Une facture d'acompte émise ne se modifie ni ne se supprime : "
                     "corrigez-la par un avoir.",
    DocKind.CREDIT_NOTE: "Un avoir émis ne se modifie ni ne se supprime.",
}


@dataclass
class LineInput:
    """One line of the editor, as typed."""

    designation: str = ""
    quantity: str = "1"
    unit: str = "unité"
    unit_price: str = ""
    vat_rate: str = "20"
    vat_exemption: str = ""
    discount: str = ""
    nature: str = Nature.SERVICE.value
    reference: str = ""
    article_id: int | None = None

    @property
    def is_blank(self) -> bool:
        """An empty row of the editor (it always offers a few): ignored."""
        return not (self.designation.strip() or self.reference.strip()
                    or self.unit_price.strip())

    @classmethod
    def of(cls, line: DocumentLine) -> LineInput:
        return cls(line.designation, _typed(line.quantity), line.unit, _typed(line.unit_price),
                   amounts.format_rate(line.vat_rate), line.vat_exemption,
                   "" if not line.discount else amounts.format_rate(line.discount), line.nature,
                   line.reference, line.article_id)


@dataclass
class DraftInput:
    """The editor's form, as typed."""

    customer_id: str = ""
    issue_date: str = ""
    service_date: str = ""
    due_date: str = ""
    purchase_order: str = ""
    notes: str = ""
    payment_terms: str = ""
    lines: list[LineInput] = field(default_factory=list)

    @classmethod
    def of(cls, document: InvoicingDocument) -> DraftInput:
        return cls(str(document.customer_id or ""), _day(document.issue_date),
                   _day(document.service_date), _day(document.due_date),
                   document.purchase_order, document.notes, document.payment_terms,
                   [LineInput.of(line) for line in document.lines])


def _typed(value: Decimal) -> str:
    """1.5000 -> "1,5": a stored number as a French user types it."""
    return f"{value.normalize():f}".replace(".", ",")


def _day(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


# -- Finding documents --

def get(session: Session, company: Company, document_id: int) -> InvoicingDocument:
    document = session.get(InvoicingDocument, document_id)
    if document is None or document.company_id != company.id:
        raise NotFound("Document introuvable.")
    return document


def _require_draft(document: InvoicingDocument) -> None:
    if not document.is_draft:
        raise Conflict(FROZEN[document.kind_enum])


# -- Drafts --

def new_draft(session: Session, company: Company, kind: DocKind, user_id: int | None, *,
              customer: Customer | None = None) -> InvoicingDocument:
    """A new quote or invoice, starting from the company's reference document (its lines,
    notes and terms) when it has one, else from its default notes and terms."""
    if kind not in (DocKind.QUOTE, DocKind.INVOICE):
        raise InvalidInput("Un acompte se prend sur un devis, un avoir sur une facture.")
    profile = profile_of(session, company)
    document = InvoicingDocument(company_id=company.id, kind=kind.value,
                                 status=DocStatus.DRAFT.value, created_by_id=user_id,
                                 customer_id=customer.id if customer is not None else None,
                                 notes=profile.default_notes,
                                 payment_terms=profile.payment_terms)
    reference = session.get(InvoicingDocument, profile.reference_document_id) \
        if profile.reference_document_id else None
    if reference is not None and reference.company_id == company.id:
        document.notes, document.payment_terms = reference.notes, reference.payment_terms
        document.lines = [_copy_line(line) for line in reference.lines]
    session.add(document)
    session.flush()
    return document


def _copy_line(line: DocumentLine, quantity: Decimal | None = None) -> DocumentLine:
    return DocumentLine(
        position=line.position, article_id=line.article_id, reference=line.reference,
        designation=line.designation, quantity=line.quantity if quantity is None else quantity,
        unit=line.unit, unit_price=line.unit_price, discount=line.discount,
        vat_rate=line.vat_rate, vat_exemption=line.vat_exemption, nature=line.nature,
        net=line.net)


def duplicate(session: Session, company: Company, source: InvoicingDocument,
              user_id: int | None) -> InvoicingDocument:
    """A new draft of the same kind (a quote or an invoice) with the same customer, lines,
    notes and terms."""
    kind = DocKind.QUOTE if source.kind == DocKind.QUOTE.value else DocKind.INVOICE
    document = InvoicingDocument(company_id=company.id, kind=kind.value,
                                 status=DocStatus.DRAFT.value, created_by_id=user_id,
                                 customer_id=source.customer_id, notes=source.notes,
                                 payment_terms=source.payment_terms,
                                 purchase_order=source.purchase_order)
    document.lines = [_copy_line(line) for line in source.lines]
    session.add(document)
    session.flush()
    _set_totals(session, document)
    return document


def _parse_line(number: int, typed: LineInput, franchise: bool,
                known: dict[str, Article], ids: set[int]) -> DocumentLine:
    """A typed line checked; `known` holds the active articles of the references typed,
    `ids` the ids of the company's articles among those the lines name."""
    prefix = f"Ligne {number} : "
    where = f"lines-{number}"
    typed = _with_article(typed, known)

    def amount(text: str, what: str, name: str, **kw) -> Decimal:
        try:
            return parse_decimal(text, what, **kw)
        except AmountError as exc:
            raise InvalidInput(prefix + str(exc), field=f"{where}-{name}") from None

    designation = checks.text(typed.designation, f"{where}-designation",
                              prefix + "Désignation", limit=500, required=True, multiline=True)
    reference = checks.text(typed.reference, f"{where}-reference", prefix + "Référence",
                            limit=50)
    quantity = amount(typed.quantity or "1", "Quantité", "quantity", allow_negative=True)
    unit_price = amount(typed.unit_price or "0", "Prix unitaire HT", "unit_price")
    discount = amount(typed.discount or "0", "Remise", "discount", places=2)
    if discount > 100:
        raise InvalidInput(prefix + "Remise : 100 % au plus.", field=f"{where}-discount")
    if franchise:  # art. 293 B: no VAT on any line
        rate, exemption = Decimal(0), "franchise"
    else:
        try:
            rate, exemption = parse_rate(typed.vat_rate or "", typed.vat_exemption)
        except AmountError as exc:
            raise InvalidInput(prefix + str(exc), field=f"{where}-vat_rate") from None
    try:
        unit = articles.check_unit(typed.unit or "unité", f"{where}-unit")
        nature = articles.check_nature(typed.nature, f"{where}-nature")
    except InvalidInput as exc:
        raise InvalidInput(prefix + exc.reason, field=exc.field) from None
    # an article gone or of another company: the line keeps what it says, without the link
    article_id = _as_id(typed.article_id)
    article_id = article_id if article_id in ids else None
    line = DocumentLine(position=number, article_id=article_id, reference=reference,
                        designation=designation, quantity=quantity, unit=unit,
                        unit_price=unit_price, discount=discount, vat_rate=rate,
                        vat_exemption=exemption, nature=nature)
    line.net = _amount_line(line).net
    if abs(line.net) >= amounts.MAX_AMOUNT:
        raise InvalidInput(prefix + "montant hors de toute mesure (10^12 € au plus).",
                           field=f"{where}-quantity")
    return line


def _as_id(text: str | int | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


def _articles_of(session: Session, company: Company, typed: Sequence[LineInput]
                 ) -> tuple[dict[str, Article], set[int]]:
    """In two queries, whatever the number of lines: the active articles of the references
    lines give without a designation, and which article ids the lines name are the
    company's."""
    references = {line.reference.strip() for line in typed
                  if line.reference.strip() and not line.designation.strip()}
    known = articles.by_references(session, company, references)
    named = {i for i in (_as_id(line.article_id) for line in typed) if i is not None}
    return known, articles.ids_of(session, company, named) | {a.id for a in known.values()}


def _with_article(typed: LineInput, known: dict[str, Article]) -> LineInput:
    """A line given only an article's reference (typed without the help of the browser's
    script) takes the article's designation, unit, price, rate and nature."""
    if typed.designation.strip() or not typed.reference.strip():
        return typed
    article = known.get(typed.reference.strip())
    if article is None:
        return typed
    chosen = articles.ArticleInput.of(article)
    return LineInput(chosen.designation, typed.quantity or "1", chosen.unit,
                     typed.unit_price.strip() or chosen.unit_price, chosen.vat_rate,
                     chosen.vat_exemption, typed.discount, chosen.nature, chosen.reference,
                     article.id)


def _amount_line(line: DocumentLine) -> amounts.Line:
    return amounts.Line(line.quantity, line.unit_price, line.vat_rate, line.discount,
                        line.vat_exemption)


def _parse_date(text: str, field_name: str, label: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return dates.parse_day(text)
    except ValueError:
        raise InvalidInput(f"{label} : date invalide « {text[:20]} » (JJ/MM/AAAA).",
                           field=field_name) from None


def save_draft(session: Session, company: Company, document: InvoicingDocument,
               data: DraftInput) -> InvoicingDocument:
    """Check and save what the editor holds; a draft may be incomplete (the mentions are
    checked at issue), but every number in it is a number."""
    _require_draft(document)
    profile = profile_of(session, company)
    customer = None
    if str(data.customer_id).strip():
        try:
            customer = customers.get(session, company, int(data.customer_id))
        except ValueError:
            raise InvalidInput("Client introuvable.", field="customer_id") from None
    typed = [line for line in data.lines if not line.is_blank]
    if len(typed) > MAX_LINES:
        raise InvalidInput(f"{MAX_LINES} lignes au plus par document.", field="lines")
    known, ids = _articles_of(session, company, typed)
    lines = [_parse_line(number, line, profile.vat_franchise, known, ids)
             for number, line in enumerate(typed, start=1)]
    values = {
        "issue_date": _parse_date(data.issue_date, "issue_date", "Date"),
        "service_date": _parse_date(data.service_date, "service_date",
                                    "Date de livraison ou de prestation"),
        "due_date": _parse_date(data.due_date, "due_date",
                                "Validité" if document.kind == DocKind.QUOTE.value
                                else "Échéance"),
        "purchase_order": checks.text(data.purchase_order, "purchase_order",
                                      "Référence de commande", limit=100),
        "notes": checks.text(data.notes, "notes", "Notes", limit=2000, multiline=True),
        "payment_terms": checks.text(data.payment_terms, "payment_terms",
                                     "Conditions de paiement", limit=1000, multiline=True),
    }
    document.customer_id = customer.id if customer is not None else None
    for name, value in values.items():
        setattr(document, name, value)
    document.lines = lines
    session.flush()
    _set_totals(session, document)
    return document


def delete_draft(session: Session, document: InvoicingDocument) -> None:
    _require_draft(document)
    session.delete(document)
    session.flush()


def _set_totals(session: Session, document: InvoicingDocument) -> Totals:
    result = amounts.totals((_amount_line(line) for line in document.lines),
                            sum((d.total_ttc for d in deposits_of(session, document)),
                                Decimal(0)))
    document.total_ht, document.total_vat = result.total_ht, result.total_vat
    document.total_ttc, document.prepaid = result.total_ttc, result.prepaid
    return result


def totals_of(session: Session, document: InvoicingDocument) -> Totals:
    return amounts.totals((_amount_line(line) for line in document.lines), document.prepaid)


# -- From one document to the next --

def invoice_from_quote(session: Session, company: Company, quote: InvoicingDocument,
                       user_id: int | None) -> InvoicingDocument:
    """The invoice of a quote, in one action: its customer, lines, notes and terms, the link
    kept; the deposits invoiced on the quote are deducted."""
    if quote.kind != DocKind.QUOTE.value or quote.is_draft:
        raise InvalidInput("Seul un devis émis devient une facture.")
    if quote.status == DocStatus.REFUSED.value:
        raise Conflict("Ce devis a été refusé : il ne devient pas une facture.")
    existing = session.scalar(select(InvoicingDocument).where(
        InvoicingDocument.source_id == quote.id,
        InvoicingDocument.kind == DocKind.INVOICE.value))
    if existing is not None:
        raise Conflict(f"Ce devis a déjà sa facture ({existing.number or 'brouillon'}).")
    invoice = InvoicingDocument(company_id=company.id, kind=DocKind.INVOICE.value,
                                status=DocStatus.DRAFT.value, created_by_id=user_id,
                                customer_id=quote.customer_id, source_id=quote.id,
                                notes=quote.notes, payment_terms=quote.payment_terms,
                                purchase_order=quote.purchase_order)
    invoice.lines = [_copy_line(line) for line in quote.lines]
    session.add(invoice)
    session.flush()
    _set_totals(session, invoice)
    return invoice


def deposit_on_quote(session: Session, company: Company, quote: InvoicingDocument,
                     percent: str, user_id: int | None) -> InvoicingDocument:
    """A deposit invoice for `percent` of a quote: one line per VAT rate of the quote, so that
    the deposit bears the VAT it will be deducted with."""
    if quote.kind != DocKind.QUOTE.value or quote.is_draft:
        raise InvalidInput("Un acompte se prend sur un devis émis.")
    try:
        share = parse_decimal(percent, "Pourcentage d'acompte", places=2)
    except AmountError as exc:
        raise InvalidInput(str(exc), field="percent") from None
    if not 0 < share < 100:
        raise InvalidInput("Pourcentage d'acompte : entre 0 et 100 %.", field="percent")
    deposit = InvoicingDocument(company_id=company.id, kind=DocKind.DEPOSIT.value,
                                status=DocStatus.DRAFT.value, created_by_id=user_id,
                                customer_id=quote.customer_id, source_id=quote.id,
                                payment_terms=quote.payment_terms,
                                purchase_order=quote.purchase_order)
    result = totals_of(session, quote)
    natures = {line.nature for line in quote.lines}
    nature = natures.pop() if len(natures) == 1 else Nature.SERVICE.value
    share_text = amounts.format_rate(share)
    deposit.lines = [
        DocumentLine(position=position, designation=(
            f"Acompte de {share_text} % sur le devis {quote.number}"
            + (f" (TVA {amounts.format_rate(group.rate)} %)" if len(result.vat_groups) > 1
               else "")),
            quantity=Decimal(1), unit="forfait",
            unit_price=amounts.cents(group.taxable * share / 100), discount=Decimal(0),
            vat_rate=group.rate, vat_exemption=group.exemption, nature=nature,
            net=amounts.cents(group.taxable * share / 100))
        for position, group in enumerate(result.vat_groups, start=1)]
    session.add(deposit)
    session.flush()
    _set_totals(session, deposit)
    return deposit


def credit_note_for(session: Session, company: Company, invoice: InvoicingDocument,
                    user_id: int | None) -> InvoicingDocument:
    """A credit note correcting an issued invoice, in full to begin with: its lines can be
    lowered or removed before it is issued, to correct in part."""
    if invoice.kind not in (DocKind.INVOICE.value, DocKind.DEPOSIT.value) or invoice.is_draft:
        raise InvalidInput("Un avoir corrige une facture émise.")
    if creditable(session, invoice) <= 0:
        raise Conflict(f"La facture {invoice.number} est déjà entièrement corrigée par avoir.")
    note = InvoicingDocument(company_id=company.id, kind=DocKind.CREDIT_NOTE.value,
                             status=DocStatus.DRAFT.value, created_by_id=user_id,
                             customer_id=invoice.customer_id, source_id=invoice.id,
                             notes=f"Avoir sur la facture {invoice.number} du "
                                   f"{invoice.issue_date:%d/%m/%Y}.")
    note.lines = [_copy_line(line) for line in invoice.lines]
    session.add(note)
    session.flush()
    _set_totals(session, note)
    return note


def made_from(session: Session, document: InvoicingDocument) -> list[InvoicingDocument]:
    """The documents made from this one: a quote's invoice and deposits, an invoice's
    credit notes."""
    return list(session.scalars(select(InvoicingDocument).where(
        InvoicingDocument.source_id == document.id).order_by(InvoicingDocument.id)))


def deposits_of(session: Session, document: InvoicingDocument) -> list[InvoicingDocument]:
    """The issued deposit invoices a final invoice deducts: those of its quote."""
    if document.kind != DocKind.INVOICE.value or document.source_id is None:
        return []
    return list(session.scalars(select(InvoicingDocument).where(
        InvoicingDocument.source_id == document.source_id,
        InvoicingDocument.kind == DocKind.DEPOSIT.value,
        InvoicingDocument.number.is_not(None)).order_by(InvoicingDocument.issue_date,
                                                        InvoicingDocument.id)))


def credited(session: Session, invoice: InvoicingDocument) -> Decimal:
    """What the issued credit notes of an invoice credit, with VAT."""
    return Decimal(session.scalar(select(_sum_of_cents(InvoicingDocument.total_ttc)).where(
        InvoicingDocument.source_id == invoice.id,
        InvoicingDocument.kind == DocKind.CREDIT_NOTE.value,
        InvoicingDocument.number.is_not(None)))) / 100


def creditable(session: Session, invoice: InvoicingDocument) -> Decimal:
    return invoice.total_ttc - credited(session, invoice)


def paid(invoice: InvoicingDocument) -> Decimal:
    return sum((payment.amount for payment in invoice.payments), Decimal(0))


def left_to_pay(session: Session, invoice: InvoicingDocument) -> Decimal:
    """What the customer still owes on an issued invoice."""
    if invoice.kind not in (DocKind.INVOICE.value, DocKind.DEPOSIT.value) or invoice.is_draft:
        return Decimal(0)
    return max(Decimal(0), invoice.total_ttc - invoice.prepaid - credited(session, invoice)
               - paid(invoice))


# -- Issuing --

def _prefix(profile: InvoicingProfile, kind: DocKind) -> str:
    return {DocKind.QUOTE: profile.quote_prefix,
            DocKind.CREDIT_NOTE: profile.credit_prefix}.get(kind, profile.invoice_prefix)


def issue(session: Session, company: Company, document: InvoicingDocument, *,
          today: date | None = None) -> InvoicingDocument:
    """Number and freeze a draft, in the caller's transaction (a failure gives the number
    back). Refused, with one sentence, when a mandatory piece is missing."""
    _require_draft(document)
    today = today or date.today()
    profile = profile_of(session, company)
    customer = session.get(Customer, document.customer_id) if document.customer_id else None
    buyer = customers.party_of(customer) if customer is not None else None
    seller = mentions.seller_of(profile)
    gaps = mentions.missing(seller, buyer, franchise=profile.vat_franchise,
                            line_count=len(document.lines),
                            exemptions=[line.vat_exemption for line in document.lines])
    if gaps:
        raise InvalidInput(mentions.refusal(gaps))
    if customer is not None and customer.archived:
        raise InvalidInput(f"Le client « {customer.name} » est archivé : désarchivez-le ou "
                           "choisissez-en un autre.", field="customer_id")
    if profile.vat_franchise and any(line.vat_exemption != "franchise"
                                     for line in document.lines):
        raise InvalidInput("Votre entreprise est en franchise de TVA : enregistrez de nouveau "
                           "le document pour passer ses lignes à 0 %.")
    issue_date = document.issue_date or today
    if issue_date > today:
        raise InvalidInput("La date d'émission ne peut pas être dans le futur.",
                           field="issue_date")
    result = _set_totals(session, document)
    kind = document.kind_enum
    if result.total_ttc < 0:
        raise InvalidInput("Le total est négatif : un montant à rendre au client se fait par "
                           "un avoir." if kind != DocKind.CREDIT_NOTE
                           else "Un avoir porte des montants positifs : ce qui est crédité.")
    if kind == DocKind.CREDIT_NOTE:
        source = session.get(InvoicingDocument, document.source_id)
        left = creditable(session, source)
        if result.total_ttc > left:
            raise InvalidInput(f"L'avoir ({amounts.format_amount(result.total_ttc)}) dépasse ce "
                               f"qui reste à créditer sur la facture {source.number} "
                               f"({amounts.format_amount(left)}).")
    if result.due < 0:
        raise InvalidInput("Les acomptes déduits dépassent le total de la facture.")
    due_date = document.due_date
    if due_date is None:
        days = profile.quote_days if kind == DocKind.QUOTE else (
            customer.payment_days if customer.payment_days is not None
            else profile.payment_days)
        due_date = issue_date + timedelta(days=days)
    if due_date < issue_date:
        raise InvalidInput("L'échéance ne peut pas précéder la date d'émission.",
                           field="due_date")
    sentences = mentions.mentions(profile, buyer, result.vat_groups,
                                  [line.nature for line in document.lines])
    number = numbering.next_number(session, company.id, _prefix(profile, kind), issue_date)
    # Everything the document says, set in the one UPDATE that gives its number: after it,
    # the database refuses any change (migration 0010).
    document.number = number
    document.status = DocStatus.ISSUED.value
    document.issue_date = issue_date
    document.service_date = document.service_date or issue_date
    document.due_date = due_date
    document.issued_at = utcnow()
    document.seller = mentions.freeze_seller(seller, sentences,
                                             vat_on_debits=profile.vat_on_debits)
    document.buyer = mentions.freeze_buyer(buyer, customers.delivery_of(customer))
    session.flush()
    if kind == DocKind.INVOICE and document.source_id is not None:
        quote = session.get(InvoicingDocument, document.source_id)
        if quote is not None and quote.kind == DocKind.QUOTE.value:
            quote.status = DocStatus.INVOICED.value
    return document


# -- After issue: its state moves on --

def mark_sent(document: InvoicingDocument) -> None:
    if document.is_draft:
        raise InvalidInput("Émettez d'abord le document.")
    if document.status == DocStatus.ISSUED.value:
        document.status = DocStatus.SENT.value
    document.sent_at = document.sent_at or utcnow()


def answer_quote(document: InvoicingDocument, accepted: bool) -> None:
    """The customer's answer to a quote ("bon pour accord", or no)."""
    if document.kind != DocKind.QUOTE.value or document.is_draft:
        raise InvalidInput("Seul un devis émis s'accepte ou se refuse.")
    if document.status == DocStatus.INVOICED.value:
        raise Conflict("Ce devis est déjà facturé.")
    document.status = (DocStatus.ACCEPTED if accepted else DocStatus.REFUSED).value


def record_payment(session: Session, document: InvoicingDocument, *, paid_on: str,
                   amount: str, method: str, note: str = "",
                   user_id: int | None = None) -> Payment:
    """A payment received (partial or whole); the invoice is paid when nothing is left."""
    if document.kind not in (DocKind.INVOICE.value, DocKind.DEPOSIT.value) or document.is_draft:
        raise InvalidInput("Un règlement s'enregistre sur une facture émise.")
    day = _parse_date(paid_on, "paid_on", "Date du règlement")
    if day is None:
        raise InvalidInput("Date du règlement : à renseigner.", field="paid_on")
    if day < document.issue_date:
        raise InvalidInput("Un règlement ne précède pas la facture.", field="paid_on")
    try:
        value = parse_decimal(amount, "Montant", places=2)
    except AmountError as exc:
        raise InvalidInput(str(exc), field="amount") from None
    if value <= 0:
        raise InvalidInput("Montant : plus de 0 €.", field="amount")
    left = left_to_pay(session, document)
    if value > left:
        raise InvalidInput(f"Montant : il ne reste que {amounts.format_amount(left)} à régler.",
                           field="amount")
    if method not in METHODS:
        raise InvalidInput("Moyen de paiement inconnu.", field="method")
    payment = Payment(paid_on=day, amount=value, method=method, recorded_by_id=user_id,
                      note=checks.text(note, "note", "Note", limit=200))
    document.payments.append(payment)
    session.flush()
    if left_to_pay(session, document) == 0:
        document.status = DocStatus.PAID.value
    return payment


# -- How a document stands, in words --

@dataclass(frozen=True)
class Standing:
    """How an issued document stands: its situation in words, and what is left to pay."""
    situation: str
    left_to_pay: Decimal = Decimal(0)


def situation(session: Session, document: InvoicingDocument, today: date | None = None) -> str:
    """The state shown in lists: "brouillon", "émise", "envoyée", "payée", "partiellement
    payée", "en retard", "annulée par avoir", "accepté"..."""
    return standings(session, [document], today)[document.id].situation


def standings(session: Session, documents: Sequence[InvoicingDocument],
              today: date | None = None) -> dict[int, Standing]:
    """The standing of each document of a page, by id, in two queries whatever its length
    (what the credit notes credit, what was paid)."""
    today = today or date.today()
    invoices = [d.id for d in documents if not d.is_draft and d.kind in (
        DocKind.INVOICE.value, DocKind.DEPOSIT.value)]
    credits: dict[int, Decimal] = {}
    payments: dict[int, tuple[int, Decimal]] = {}
    for chunk in (invoices[i:i + 500] for i in range(0, len(invoices), 500)):
        credits.update((source, Decimal(total) / 100) for source, total in session.execute(
            select(InvoicingDocument.source_id, _sum_of_cents(InvoicingDocument.total_ttc))
            .where(InvoicingDocument.source_id.in_(chunk),
                   InvoicingDocument.kind == DocKind.CREDIT_NOTE.value,
                   InvoicingDocument.number.is_not(None))
            .group_by(InvoicingDocument.source_id)))
        payments.update((document_id, (count, Decimal(total) / 100))
                        for document_id, count, total in session.execute(
            select(Payment.document_id, func.count(), _sum_of_cents(Payment.amount))
            .where(Payment.document_id.in_(chunk)).group_by(Payment.document_id)))
    return {d.id: _standing(d, credits.get(d.id, Decimal(0)),
                            payments.get(d.id, (0, Decimal(0))), today) for d in documents}


def _standing(document: InvoicingDocument, credited_ttc: Decimal,
              payments: tuple[int, Decimal], today: date) -> Standing:
    kind = document.kind_enum
    if document.is_draft:
        return Standing("brouillon")
    if kind == DocKind.QUOTE:
        return Standing({"émis": "émis", "envoyé": "envoyé", "accepté": "accepté",
                         "refusé": "refusé", "facturé": "facturé"}.get(document.status,
                                                                     document.status))
    if kind == DocKind.CREDIT_NOTE:
        return Standing("émis" if document.status == DocStatus.ISSUED.value else "envoyé")
    count, paid_ttc = payments
    left = max(Decimal(0), document.total_ttc - document.prepaid - credited_ttc - paid_ttc)
    if credited_ttc >= document.total_ttc > 0:
        return Standing("annulée par avoir", left)
    if left == 0:
        return Standing("payée")
    if document.due_date is not None and document.due_date < today:
        return Standing("en retard", left)
    if count:
        return Standing("partiellement payée", left)
    return Standing("envoyée" if document.status == DocStatus.SENT.value else "émise", left)


# -- What it says: the sheet the PDF and the Factur-X are drawn from ------------------------------

def sheet_of(session: Session, company: Company, document: InvoicingDocument,
             look: Look | None = None) -> Sheet:
    """The document as printed. An issued one says what was frozen at issue; a draft is
    previewed with today's settings and customer (and "BROUILLON" across it)."""
    profile = profile_of(session, company)
    lines = tuple(_sheet_line(line) for line in document.lines)
    if document.is_draft:
        customer = session.get(Customer, document.customer_id) if document.customer_id \
            else None
        buyer = customers.party_of(customer) if customer is not None \
            else Party(name="(client à choisir)", address=Address())
        delivery = customers.delivery_of(customer) if customer is not None else None
        seller = mentions.seller_of(profile)
        result = amounts.totals((_amount_line(line) for line in document.lines),
                                sum((d.total_ttc for d in deposits_of(session, document)),
                                    Decimal(0)))
        sentences = mentions.mentions(profile, buyer, result.vat_groups,
                                      [line.nature for line in document.lines])
        vat_on_debits = profile.vat_on_debits
        issue_date = document.issue_date or date.today()
    else:
        seller, sentences, vat_on_debits = mentions.thaw_seller(document.seller)
        buyer, delivery = mentions.thaw_buyer(document.buyer)
        result = totals_of(session, document)
        issue_date = document.issue_date
    source = session.get(InvoicingDocument, document.source_id) if document.source_id \
        else None
    kind = document.kind_enum
    return Sheet(
        kind=kind.value, title=kind.label, number=document.number or "",
        issue_date=issue_date, due_date=document.due_date,
        service_date=document.service_date, seller=seller, buyer=buyer, delivery=delivery,
        lines=lines, totals=result, purchase_order=document.purchase_order,
        notes=document.notes, payment_terms=document.payment_terms, mentions=sentences,
        corrects=_reference(source) if kind == DocKind.CREDIT_NOTE and source else None,
        quote=_reference(source) if kind != DocKind.CREDIT_NOTE and source else None,
        deposits=tuple(Reference(d.number, d.issue_date, d.total_ttc)
                       for d in deposits_of(session, document)),
        vat_on_debits=vat_on_debits, look=look or Look(
            layout=profile.layout, colour=profile.colour, accent=profile.accent,
            logo_position=profile.logo_position))


def _reference(document: InvoicingDocument) -> Reference:
    return Reference(document.number or "", document.issue_date, document.total_ttc)


def _sheet_line(line: DocumentLine) -> SheetLine:
    computed = _amount_line(line)
    return SheetLine(position=line.position, reference=line.reference,
                     designation=line.designation, quantity=line.quantity, unit=line.unit,
                     unit_price=line.unit_price, discount=line.discount,
                     vat_rate=line.vat_rate, vat_category=computed.category,
                     vat_exemption=line.vat_exemption, nature=line.nature, net=line.net)


# -- Lists --

@dataclass(frozen=True)
class Filters:
    kind: str = ""  # a DocKind value, or "" for every kind
    status: str = ""  # a DocStatus value
    customer_id: int | None = None
    start: date | None = None  # issue date, inclusive
    end: date | None = None
    query: str = ""  # number or customer name


def listing(session: Session, company: Company, filters: Filters, *,
            limit: int | None = None) -> list[InvoicingDocument]:
    """The documents matching the filters, newest first (drafts at the top)."""
    return list(session.scalars(_filtered(company, filters)
                                .order_by(InvoicingDocument.number.is_(None).desc(),
                                          InvoicingDocument.issue_date.desc(),
                                          InvoicingDocument.id.desc()).limit(limit)))


def _filtered(company: Company, filters: Filters):
    statement = select(InvoicingDocument).where(InvoicingDocument.company_id == company.id)
    if filters.kind:
        statement = statement.where(InvoicingDocument.kind == filters.kind)
    if filters.status:
        statement = statement.where(InvoicingDocument.status == filters.status)
    if filters.customer_id is not None:
        statement = statement.where(InvoicingDocument.customer_id == filters.customer_id)
    if filters.start is not None:
        statement = statement.where(InvoicingDocument.issue_date >= filters.start)
    if filters.end is not None:
        statement = statement.where(InvoicingDocument.issue_date <= filters.end)
    if filters.query.strip():
        text = filters.query.strip().lower()
        statement = statement.outerjoin(Customer, Customer.id == InvoicingDocument.customer_id) \
            .where(func.lower(InvoicingDocument.number).contains(text, autoescape=True)
                   | func.lower(Customer.name).contains(text, autoescape=True))
    return statement


@dataclass(frozen=True)
class ListTotals:
    count: int
    total_ht: Decimal
    total_vat: Decimal
    total_ttc: Decimal


def list_totals(session: Session, company: Company, filters: Filters) -> ListTotals:
    """The sums of the issued documents matching the filters, computed by the database
    (credit notes count against): drafts and quotes are not turnover."""
    subquery = _filtered(company, filters).where(
        InvoicingDocument.number.is_not(None),
        InvoicingDocument.kind != DocKind.QUOTE.value).subquery()
    sign = case((subquery.c.kind == DocKind.CREDIT_NOTE.value, -1), else_=1)
    row = session.execute(select(
        func.count(), *(_sum_of_cents(column, sign) for column in (
            subquery.c.total_ht, subquery.c.total_vat, subquery.c.total_ttc)))).one()
    return ListTotals(row[0], *(Decimal(value) / 100 for value in row[1:]))


def _sum_of_cents(column, sign=1):
    """SUM of a money column as whole cents (exact on SQLite as on PostgreSQL)."""
    return func.coalesce(func.sum(type_coerce(column, BigInteger) * sign), 0)


def customers_named(session: Session, documents: Sequence[InvoicingDocument]) -> dict[int, str]:
    """The names of the customers of a page of documents, in one query."""
    ids = {d.customer_id for d in documents if d.customer_id is not None}
    if not ids:
        return {}
    return {customer_id: name for customer_id, name in session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(ids)))}

