"""Customers and articles imported from the .xlsx or .csv template the app hands out.

The same rules as the import of companies (`acl.tables`, `acl.people.bulk_import`): the
same checks of hostile files, every row through the same function as a creation in the web
(same validation), each in a savepoint so that every row's error is collected, and all or
nothing: one error and nothing is created, every error reported with its row number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from acl import tables
from acl.errors import Refused
from acl.invoicing import articles, customers
from acl.people.models import Company

CUSTOMER_SHEET, ARTICLE_SHEET = "Clients", "Articles"

# column -> (required, help text), and the form field it fills.
CUSTOMER_COLUMNS = {
    "nom": (True, "raison sociale ou nom du client"),
    "type": (False, "professionnel (par défaut) ou particulier"),
    "adresse": (False, "numéro et rue"),
    "complement": (False, "complément d'adresse"),
    "code_postal": (False, ""),
    "ville": (False, ""),
    "pays": (False, "code à deux lettres, FR par défaut"),
    "livraison_adresse": (False, "si la livraison se fait ailleurs"),
    "livraison_complement": (False, ""),
    "livraison_code_postal": (False, ""),
    "livraison_ville": (False, ""),
    "livraison_pays": (False, ""),
    "siren": (False, "SIREN (9 chiffres) ou SIRET (14 chiffres) ; obligatoire pour un "
                     "professionnel français avant d'émettre une facture"),
    "tva_intracom": (False, "numéro de TVA intracommunautaire, par exemple FR40303265045"),
    "email": (False, "adresse où envoyer les factures"),
    "delai_paiement": (False, "en jours ; vide : le délai de vos paramètres"),
}
CUSTOMER_FIELDS = {
    "nom": "name", "type": "kind", "adresse": "address_line1", "complement": "address_line2",
    "code_postal": "postcode", "ville": "city", "pays": "country",
    "livraison_adresse": "delivery_line1", "livraison_complement": "delivery_line2",
    "livraison_code_postal": "delivery_postcode", "livraison_ville": "delivery_city",
    "livraison_pays": "delivery_country", "siren": "siren", "tva_intracom": "vat_number",
    "email": "email", "delai_paiement": "payment_days",
}
ARTICLE_COLUMNS = {
    "reference": (True, "code unique de l'article"),
    "designation": (True, "ce qui est imprimé sur la facture"),
    "unite": (False, "unité (par défaut), pièce, forfait, heure, jour, mois, kg, litre, m, "
                     "m², m³"),
    "prix_unitaire_ht": (True, "en euros, par exemple 12,50"),
    "taux_tva": (True, "20, 10, 5,5, 2,1 ou 0"),
    "exoneration": (False, "pour un taux de 0 : franchise, autoliquidation, "
                           "intracommunautaire, export ou exoneration"),
    "nature": (False, "bien ou service (par défaut)"),
}
ARTICLE_FIELDS = {
    "reference": "reference", "designation": "designation", "unite": "unit",
    "prix_unitaire_ht": "unit_price", "taux_tva": "vat_rate", "exoneration": "vat_exemption",
    "nature": "nature",
}
CELL_LIMITS = {
    "nom": 200, "type": 20, "adresse": 200, "complement": 200, "code_postal": 20,
    "ville": 100, "pays": 2, "livraison_adresse": 200, "livraison_complement": 200,
    "livraison_code_postal": 20, "livraison_ville": 100, "livraison_pays": 2, "siren": 20,
    "tva_intracom": 20, "email": 254, "delai_paiement": 5,
    "reference": 50, "designation": 500, "unite": 20, "prix_unitaire_ht": 30,
    "taux_tva": 10, "exoneration": 30, "nature": 10,
}
SPEC = tables.TableSpec({CUSTOMER_SHEET: CUSTOMER_COLUMNS, ARTICLE_SHEET: ARTICLE_COLUMNS},
                        CELL_LIMITS, "téléchargez le modèle depuis la page d'import")


@dataclass
class CatalogResult:
    customers: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)


def read(data: bytes, suffix: str) -> list[tables.Row]:
    return tables.read_bytes(data, suffix, SPEC)


def _customer(values: dict[str, str]) -> customers.CustomerInput:
    typed = {CUSTOMER_FIELDS[column]: value for column, value in values.items()
             if column in CUSTOMER_FIELDS}
    typed["kind"] = typed.get("kind", "").strip().lower() or "professionnel"
    typed["country"] = typed.get("country") or "FR"
    siren = typed.get("siren", "")
    if siren.isdigit() and len(siren) < 9:  # Excel turns it into a number: leading zeros go
        typed["siren"] = siren.zfill(9)
    return customers.CustomerInput(**typed)


def _article(values: dict[str, str]) -> articles.ArticleInput:
    typed = {ARTICLE_FIELDS[column]: value for column, value in values.items()
             if column in ARTICLE_FIELDS}
    typed["unit"] = typed.get("unit") or "unité"
    typed["nature"] = typed.get("nature", "").strip().lower() or "service"
    typed["vat_exemption"] = typed.get("vat_exemption", "").strip().lower()
    return articles.ArticleInput(**typed)


def import_rows(session: Session, company: Company, rows: list[tables.Row]) -> CatalogResult:
    """Create everything or raise ImportRefused; the caller commits (or rolls back)."""
    result = CatalogResult()
    errors: list[str] = []
    for row in rows:
        savepoint = session.begin_nested()
        try:
            if row.sheet == CUSTOMER_SHEET:
                result.customers.append(
                    customers.create(session, company, _customer(row.values)).name)
            else:
                result.articles.append(
                    articles.create(session, company, _article(row.values)).reference)
            savepoint.commit()
        except Refused as exc:
            savepoint.rollback()
            errors.append(f"{row.sheet}, ligne {row.number} : {exc.reason}")
    if errors:
        raise tables.ImportRefused(errors)
    return result
