"""Expenses (dépenses): the purchase invoices a company records so that its reports have
purchases — typed, imported (`acl.invoicing.expense_import`), or confirmed from an e-invoice
received in Achats (`acl.invoicing.received`).

An expense states its amounts as the supplier's invoice does: per VAT rate, the amount
without VAT and the VAT. A VAT above its amount, or a rate French law does not know, is
refused. The expense and its document in Achats point at each other: `Expense.node_id`, and
`expense_of_node` from the document's side. A document attached or deposited goes through the
operations layer, with the rights of whoever does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from acl.documents import operations, store
from acl.documents.blobs import BlobStore
from acl.documents.limits import Limits
from acl.errors import InvalidInput, NotFound
from acl.invoicing import checks
from acl.invoicing.amounts import RATES, AmountError, format_rate, parse_decimal
from acl.invoicing.models import Expense, ExpenseVat
from acl.people.models import Company
from acl.rights.policy import Principal
from config import dates

# The standard folder purchase invoices are filed in (seed 000's tree).
PURCHASES = "Achats"
CATEGORIES = ("achats de marchandises", "matières premières", "fournitures",
              "loyer et charges", "énergie", "entretien et réparations", "assurances",
              "honoraires", "télécommunications", "déplacements", "publicité", "banque",
              "sous-traitance", "autres")
NOT_FOUND = "Dépense introuvable."


@dataclass
class VatInput:
    rate: str = "20"
    taxable: str = ""
    vat: str = ""

    @property
    def is_blank(self) -> bool:
        return not (self.taxable.strip() or self.vat.strip())


@dataclass
class ExpenseInput:
    supplier: str = ""
    supplier_vat: str = ""
    number: str = ""
    issue_date: str = ""
    due_date: str = ""
    category: str = ""
    paid_on: str = ""
    lines: list[VatInput] = field(default_factory=list)


def _day(text: str, name: str, label: str, *, required: bool = False) -> date | None:
    text = (text or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{label} : à renseigner.", field=name)
        return None
    try:
        return dates.parse_day(text)
    except ValueError:
        raise InvalidInput(f"{label} : « {text[:20]} » n'est pas une date (JJ/MM/AAAA).",
                           field=name) from None


def _vat_lines(typed: list[VatInput]) -> list[ExpenseVat]:
    lines: list[ExpenseVat] = []
    seen: set[Decimal] = set()
    for number, line in enumerate((t for t in typed if not t.is_blank), start=1):
        where = f"Taux n° {number}"
        try:
            rate = parse_decimal(line.rate, f"{where} : taux de TVA", places=2)
            taxable = parse_decimal(line.taxable or "0", f"{where} : montant HT", places=2)
            vat = parse_decimal(line.vat or "0", f"{where} : TVA", places=2)
        except AmountError as exc:
            raise InvalidInput(str(exc), field=f"lines-{number}") from None
        if rate not in RATES:
            raise InvalidInput(f"{where} : taux de TVA inconnu : {format_rate(rate)} % "
                               "(20, 10, 5,5, 2,1 ou 0).", field=f"lines-{number}")
        if rate in seen:
            raise InvalidInput(f"{where} : le taux de {format_rate(rate)} % est déjà donné.",
                               field=f"lines-{number}")
        seen.add(rate)
        if vat > taxable:
            raise InvalidInput(f"{where} : la TVA ({vat} €) dépasse le montant HT "
                               f"({taxable} €).", field=f"lines-{number}")
        if rate == 0 and vat != 0:
            raise InvalidInput(f"{where} : pas de TVA à un taux de 0 %.",
                               field=f"lines-{number}")
        lines.append(ExpenseVat(rate=rate, taxable=taxable, vat=vat))
    if not lines:
        raise InvalidInput("Donnez au moins un montant HT et sa TVA.", field="lines-1")
    return lines


def _fill(expense: Expense, data: ExpenseInput) -> None:
    expense.supplier = checks.text(data.supplier, "supplier", "Fournisseur", limit=200,
                                   required=True)
    expense.supplier_vat = checks.text(data.supplier_vat, "supplier_vat",
                                       "N° de TVA du fournisseur", limit=20).upper()
    expense.number = checks.text(data.number, "number", "Numéro de facture", limit=60)
    expense.issue_date = _day(data.issue_date, "issue_date", "Date de la facture",
                              required=True)
    expense.due_date = _day(data.due_date, "due_date", "Échéance")
    category = (data.category or "").strip().lower()
    if category and category not in CATEGORIES:
        raise InvalidInput(f"Catégorie inconnue : « {category[:40]} ».", field="category")
    expense.category = category or "autres"
    expense.paid_on = _day(data.paid_on, "paid_on", "Payée le")
    if expense.paid_on is not None and expense.paid_on < expense.issue_date:
        raise InvalidInput("Payée le : pas avant la date de la facture.", field="paid_on")
    lines = _vat_lines(data.lines)
    expense.vat_lines = lines
    expense.total_ht = sum((line.taxable for line in lines), Decimal(0))
    expense.total_vat = sum((line.vat for line in lines), Decimal(0))
    expense.total_ttc = expense.total_ht + expense.total_vat


def create(session: Session, company: Company, data: ExpenseInput, *,
           user_id: int | None = None, origin: str = "saisie",
           node_id: int | None = None) -> Expense:
    expense = Expense(company_id=company.id, origin=origin, created_by_id=user_id,
                      node_id=node_id)
    _fill(expense, data)
    session.add(expense)
    session.flush()
    return expense


def update(session: Session, expense: Expense, data: ExpenseInput) -> Expense:
    _fill(expense, data)
    session.flush()
    return expense


def get(session: Session, company: Company, expense_id: int) -> Expense:
    expense = session.get(Expense, expense_id)
    if expense is None or expense.company_id != company.id:
        raise NotFound(NOT_FOUND)
    return expense


def listing(session: Session, company: Company, start: date | None = None,
            end: date | None = None, limit: int | None = 500) -> list[Expense]:
    statement = select(Expense).where(Expense.company_id == company.id)
    if start is not None:
        statement = statement.where(Expense.issue_date >= start)
    if end is not None:
        statement = statement.where(Expense.issue_date <= end)
    return list(session.scalars(statement.order_by(Expense.issue_date.desc(),
                                                   Expense.id.desc()).limit(limit)))


def input_of(expense: Expense) -> ExpenseInput:
    def day(value: date | None) -> str:
        return value.strftime("%d/%m/%Y") if value else ""

    def typed(value: Decimal) -> str:
        return f"{value:.2f}".replace(".", ",")
    return ExpenseInput(
        expense.supplier, expense.supplier_vat, expense.number, day(expense.issue_date),
        day(expense.due_date), expense.category, day(expense.paid_on),
        [VatInput(format_rate(v.rate), typed(v.taxable), typed(v.vat))
         for v in expense.vat_lines])


# -- The document in Achats --

def expense_of_node(session: Session, node_id: int) -> Expense | None:
    """The expense a document of Achats comes with, if any."""
    return session.scalar(select(Expense).where(Expense.node_id == node_id).limit(1))


def attach(session: Session, principal: Principal, expense: Expense, node_id: int) -> None:
    """Point the expense at a document of the company's Achats that the user may read."""
    location = store.live_location(session, node_id)
    if (location is None or location.company.id != expense.company_id
            or location.folder != PURCHASES or location.node.kind != "file"
            or not operations.may_read(principal, location)):
        raise NotFound(f"Document introuvable dans « {PURCHASES} ».")
    expense.node_id = location.node.id


def deposit(session: Session, principal: Principal, blobs: BlobStore, limits: Limits,
            company: Company, expense: Expense, name: str, data: bytes) -> None:
    """Deposit the expense's document into Achats (an ordinary deposit: rights, limits,
    receipt, event) and point the expense at it."""
    folder = store.resolve(session, company, [PURCHASES])
    if folder is None:
        raise NotFound(f"Le dossier « {PURCHASES} » de l'entreprise est introuvable.")
    location = operations.deposit_bytes(session, principal, blobs, limits, folder, name, data)
    expense.node_id = location.node.id


def purchase_documents(session: Session, principal: Principal, company: Company,
                       limit: int = 200) -> list[store.Location]:
    """Documents of Achats (and below) the user may read, newest first: what an expense may
    be attached to."""
    from acl.documents.models import Node

    folder = store.resolve(session, company, [PURCHASES])
    if folder is None or not operations.may_read(principal, folder):
        return []
    found = []
    for node in session.scalars(select(Node).where(
            Node.company_id == company.id, Node.kind == "file", Node.parent_id == folder.node.id,
            Node.deleted_at.is_(None))
            .order_by(Node.created_at.desc()).limit(limit)):
        location = store.Location(company, (*folder.nodes, node))
        if operations.may_read(principal, location) and not store.is_client_file(node.name):
            found.append(location)
    return found
