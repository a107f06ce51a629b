"""A company's fiscal profile: the facts the deadline rules read, checked for contradictions.

The VAT regime and the fiscal year end stay on the company (the company form sets them too);
the rest is the `fiscal_profile` row. `profile_of` gives the rules one flat mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from acl.calendar.models import FiscalProfile
from acl.db import utcnow
from acl.errors import InvalidInput
from acl.people.companies import check_fiscal_year_end, check_vat_regime
from acl.people.models import Company, VatRegime

VAT_PERIODICITIES = ("", "mensuelle", "trimestrielle")
INCOME_TAXES = ("IS", "IR")
EMPLOYEES = ("aucun", "moins de 50", "50 et plus")
CFE = ("exonérée", "solde", "acompte et solde")
CVAE = ("non redevable", "redevable", "redevable avec acomptes")
MICRO = ("", "mensuelle", "trimestrielle")


@dataclass(frozen=True)
class ProfileInput:
    vat_regime: str = VatRegime.SIMPLIFIED.value
    vat_periodicity: str = ""
    vat_day: str = "24"
    income_tax: str = "IS"
    fiscal_year_end: str = "12-31"
    employees: str = "aucun"
    cfe: str = "solde"
    cvae: str = "non redevable"
    micro: str = ""
    company_cars: str = ""  # "1" when checked


def _choice(value: str, choices: tuple[str, ...], field: str, label: str) -> str:
    if value in choices:
        return value
    shown = ", ".join(c or "aucune" for c in choices)
    raise InvalidInput(f"{label} : « {value} » n'est pas une valeur possible ({shown}).",
                       field=field)


def validate(data: ProfileInput) -> dict[str, Any]:
    """The profile as stored, or InvalidInput naming the field and why (contradictions
    included: nothing is written)."""
    regime = check_vat_regime(data.vat_regime)
    periodicity = _choice(data.vat_periodicity, VAT_PERIODICITIES, "vat_periodicity",
                          "Périodicité de la TVA")
    if periodicity and regime != VatRegime.NORMAL:
        raise InvalidInput(
            f"Une entreprise au régime « {regime} » ne dépose pas de CA3 "
            f"{periodicity} : seul le réel normal en dépose. Changez le régime ou retirez "
            "la périodicité.", field="vat_periodicity")
    if regime == VatRegime.NORMAL and not periodicity:
        raise InvalidInput("Au réel normal, choisissez une déclaration CA3 mensuelle ou "
                           "trimestrielle.", field="vat_periodicity")
    if not data.vat_day.strip().isdigit() or not 15 <= int(data.vat_day) <= 24:
        raise InvalidInput("Le jour d'échéance de la TVA est un nombre entre 15 et 24.",
                           field="vat_day")
    income_tax = _choice(data.income_tax, INCOME_TAXES, "income_tax", "Imposition")
    micro = _choice(data.micro, MICRO, "micro", "Micro-entreprise")
    if micro and income_tax == "IS":
        raise InvalidInput("Une micro-entreprise relève de l'impôt sur le revenu, pas de "
                           "l'IS.", field="micro")
    if micro and regime == VatRegime.NORMAL:
        raise InvalidInput("Une micro-entreprise n'est pas au régime réel normal de TVA dans "
                           "Liasse : choisissez la franchise ou le réel simplifié.",
                           field="micro")
    return {"vat_regime": regime, "vat_periodicity": periodicity,
            "vat_day": int(data.vat_day), "income_tax": income_tax,
            "fiscal_year_end": check_fiscal_year_end(data.fiscal_year_end),
            "employees": _choice(data.employees, EMPLOYEES, "employees", "Salariés"),
            "cfe": _choice(data.cfe, CFE, "cfe", "CFE"),
            "cvae": _choice(data.cvae, CVAE, "cvae", "CVAE"),
            "micro": micro, "company_cars": data.company_cars in ("1", "on", "true")}


_READ = object()


def profile_of(session: Session, company: Company, *,
               row: FiscalProfile | None | object = _READ) -> dict[str, Any]:
    """The flat mapping the rules read (the defaults when no profile was saved); `row`: the
    profile row when the caller loaded it (None: there is none)."""
    if row is _READ:
        row = session.get(FiscalProfile, company.id)
    values = {f: getattr(row, f) for f in ("vat_periodicity", "vat_day", "income_tax",
                                            "employees", "cfe", "cvae", "micro",
                                            "company_cars")} if row else \
        {"vat_periodicity": "", "vat_day": 24, "income_tax": "IS", "employees": "aucun",
         "cfe": "solde", "cvae": "non redevable", "micro": "", "company_cars": False}
    values["vat_regime"] = company.vat_regime
    values["fiscal_year_end"] = company.fiscal_year_end
    if company.vat_regime == VatRegime.NORMAL and not values["vat_periodicity"]:
        values["vat_periodicity"] = "mensuelle"  # the regime's default filing
    if company.vat_regime != VatRegime.NORMAL:
        values["vat_periodicity"] = ""  # set by the company form alone: no CA3
    return values


def input_of(profile: dict[str, Any]) -> ProfileInput:
    return ProfileInput(**{k: ("1" if v is True else "" if v is False else str(v))
                           for k, v in profile.items() if k in ProfileInput.__annotations__})


def save(session: Session, company: Company, data: ProfileInput,
         user_id: int | None) -> dict[str, Any]:
    """Check the whole profile, then write it (the caller's transaction)."""
    values = validate(data)
    company.vat_regime = values.pop("vat_regime")
    company.fiscal_year_end = values.pop("fiscal_year_end")
    row = session.get(FiscalProfile, company.id)
    if row is None:
        row = FiscalProfile(company_id=company.id)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    row.updated_by_id = user_id
    session.flush()
    return profile_of(session, company)

