"""Checks of the identifiers and texts an invoicing form holds, each refusing with a French
sentence next to its field (`InvalidInput.field`): SIREN and SIRET, intra-EU VAT numbers,
IBAN and BIC (python-stdnum), e-mail addresses, country codes, colours, free texts."""

from __future__ import annotations

import re
import unicodedata

from stdnum import bic, iban
from stdnum.eu import vat
from stdnum.exceptions import ValidationError
from stdnum.fr import siren, siret

from acl.errors import InvalidInput
from acl.people.accounts import EMAIL_RE

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def text(value: str, field: str, label: str, *, limit: int, required: bool = False,
         multiline: bool = False) -> str:
    """A text as typed, trimmed; control characters refused (a line break only in a
    multi-line text)."""
    value = (value or "").strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if required and not value:
        raise InvalidInput(f"{label} : à renseigner.", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{label} : {limit} caractères au plus.", field=field)
    allowed = "\n\t" if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        raise InvalidInput(f"{label} : caractère de contrôle refusé.", field=field)
    return value


def company_number(value: str, field: str) -> str:
    """A SIREN (9 digits) or SIRET (14 digits), checked; "" when empty."""
    compact = re.sub(r"\s", "", value or "")
    if not compact:
        return ""
    try:
        return siret.validate(compact) if len(compact) == 14 else siren.validate(compact)
    except ValidationError:
        raise InvalidInput(f"« {value.strip()} » n'est pas un SIREN (9 chiffres) ou un SIRET "
                           "(14 chiffres) valide.", field=field) from None


def vat_number(value: str, field: str) -> str:
    compact = re.sub(r"[\s.-]", "", value or "").upper()
    if not compact:
        return ""
    try:
        return vat.validate(compact)
    except ValidationError:
        raise InvalidInput(f"« {value.strip()} » n'est pas un numéro de TVA intracommunautaire "
                           "valide.", field=field) from None


def iban_number(value: str, field: str = "iban") -> str:
    compact = re.sub(r"\s", "", value or "").upper()
    if not compact:
        return ""
    try:
        return iban.validate(compact)
    except ValidationError:
        raise InvalidInput(f"« {value.strip()} » n'est pas un IBAN valide.",
                           field=field) from None


def bic_code(value: str, field: str = "bic") -> str:
    compact = re.sub(r"\s", "", value or "").upper()
    if not compact:
        return ""
    try:
        return bic.validate(compact)
    except ValidationError:
        raise InvalidInput(f"« {value.strip()} » n'est pas un BIC valide.",
                           field=field) from None


def email(value: str, field: str = "email") -> str:
    value = (value or "").strip()
    if value and (len(value) > 254 or not EMAIL_RE.match(value)):
        raise InvalidInput(f"« {value} » n'est pas une adresse e-mail valide.", field=field)
    return value


def country(value: str, field: str, *, required: bool = True) -> str:
    value = (value or "").strip().upper()
    if not value and not required:
        return ""
    if not _COUNTRY.match(value):
        raise InvalidInput("Pays : un code de deux lettres (FR, BE, DE...).", field=field)
    return value


def colour(value: str, field: str) -> str:
    value = (value or "").strip()
    if not _COLOUR.match(value):
        raise InvalidInput("Couleur : au format #RRVVBB (par exemple #1f4e79).", field=field)
    return value.lower()


def days(value: str | int | None, field: str, label: str, *, highest: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidInput(f"{label} : un nombre de jours.", field=field) from None
    if not 0 <= number <= highest:
        raise InvalidInput(f"{label} : de 0 à {highest} jours.", field=field)
    return number
