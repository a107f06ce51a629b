"""Expenses imported from the .xlsx or .csv template the app hands out: the rules of every
import (`acl.tables`: hostile files, row numbers), each row through the same function as a
creation in the web, all or nothing (one error and nothing is created, every error of every
row reported)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from acl import tables
from acl.errors import Refused
from acl.invoicing import expenses
from acl.invoicing.expenses import ExpenseInput, VatInput
from acl.people.models import Company

SHEET = "Dépenses"
RATE_COLUMNS = {"20": ("ht_20", "tva_20"), "10": ("ht_10", "tva_10"),
                "5,5": ("ht_5_5", "tva_5_5"), "2,1": ("ht_2_1", "tva_2_1"), "0": ("ht_0", "")}
COLUMNS = {
    "fournisseur": (True, "raison sociale du fournisseur"),
    "tva_fournisseur": (False, "son numéro de TVA intracommunautaire"),
    "numero": (False, "numéro de sa facture"),
    "date": (True, "date de la facture, JJ/MM/AAAA"),
    "echeance": (False, "JJ/MM/AAAA"),
    "categorie": (False, ", ".join(expenses.CATEGORIES)),
    "payee_le": (False, "date du paiement, vide si elle reste à payer"),
    "ht_20": (False, "montant HT au taux de 20 %"), "tva_20": (False, "TVA à 20 %"),
    "ht_10": (False, "montant HT au taux de 10 %"), "tva_10": (False, "TVA à 10 %"),
    "ht_5_5": (False, "montant HT au taux de 5,5 %"), "tva_5_5": (False, "TVA à 5,5 %"),
    "ht_2_1": (False, "montant HT au taux de 2,1 %"), "tva_2_1": (False, "TVA à 2,1 %"),
    "ht_0": (False, "montant sans TVA (exonéré)"),
}
CELL_LIMITS = {name: 30 for name in COLUMNS} | {"fournisseur": 200, "numero": 60,
                                                "categorie": 60, "tva_fournisseur": 20}
SPEC = tables.TableSpec({SHEET: COLUMNS}, CELL_LIMITS,
                        "téléchargez le modèle depuis la page des dépenses")


def read(data: bytes, suffix: str) -> list[tables.Row]:
    return tables.read_bytes(data, suffix, SPEC)


def _input(values: dict[str, str]) -> ExpenseInput:
    lines = [VatInput(rate, values.get(ht, ""), values.get(tva, "") if tva else "0")
             for rate, (ht, tva) in RATE_COLUMNS.items()
             if values.get(ht, "").strip() or (tva and values.get(tva, "").strip())]
    return ExpenseInput(
        supplier=values.get("fournisseur", ""), supplier_vat=values.get("tva_fournisseur", ""),
        number=values.get("numero", ""), issue_date=values.get("date", ""),
        due_date=values.get("echeance", ""), category=values.get("categorie", ""),
        paid_on=values.get("payee_le", ""), lines=lines)


def import_rows(session: Session, company: Company, rows: list[tables.Row],
                user_id: int | None = None) -> int:
    """Create every expense or raise ImportRefused; the caller commits (or rolls back)."""
    created = 0
    errors: list[str] = []
    for row in rows:
        savepoint = session.begin_nested()
        try:
            expenses.create(session, company, _input(row.values), user_id=user_id,
                            origin="import")
            savepoint.commit()
            created += 1
        except Refused as exc:
            savepoint.rollback()
            errors.append(f"{SHEET}, ligne {row.number} : {exc.reason}")
    if errors:
        raise tables.ImportRefused(errors)
    return created
