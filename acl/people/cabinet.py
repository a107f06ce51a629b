"""The cabinet's identity (name, SIREN, address, colour, logo): one row per installation."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.orm import Session

from acl.errors import InvalidInput, Refused
from acl.people.companies import check_siren
from acl.people.models import Cabinet
from acl.rights import delegation
from acl.rights.audit import Context, record, require

# The logo is an image file on the server (`liasse cabinet set --logo`), sent by the web app.
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg"}


def get_cabinet(session: Session) -> Cabinet:
    cabinet = session.get(Cabinet, 1)
    if cabinet is None:
        raise Refused("Installation non initialisée : lancez d'abord « liasse init ».")
    return cabinet


def clean_cabinet_fields(**fields: str | None) -> dict[str, str]:
    """Validate the given fields (None = unchanged); return the ones to store."""
    changes: dict[str, str] = {}
    if fields.get("name") is not None:
        name = " ".join(fields["name"].split())
        if not name:
            raise InvalidInput("Le nom du cabinet ne peut pas être vide.", field="name")
        changes["name"] = name[:200]
    if fields.get("siren") is not None:
        changes["siren"] = check_siren(fields["siren"]) if fields["siren"].strip() else ""
    if fields.get("address") is not None:
        changes["address"] = fields["address"].strip()
    if fields.get("colour") is not None:
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", fields["colour"]):
            raise InvalidInput("Couleur invalide : attendu #RRGGBB, par exemple #1f4e79.",
                               field="colour")
        changes["colour"] = fields["colour"].lower()
    if fields.get("logo") is not None:
        changes["logo"] = _check_logo(fields["logo"].strip())
    return changes


def _check_logo(text: str) -> str:
    """An image file that exists, as an absolute path ("" removes the logo)."""
    if not text:
        return ""
    kinds = ", ".join(LOGO_TYPES)
    try:
        path = Path(text).resolve()
        usable = path.suffix.lower() in LOGO_TYPES and path.is_file()
    except (OSError, ValueError):  # ValueError: a NUL byte
        usable = False
    if not usable:
        raise InvalidInput(f"Logo introuvable ou qui n'est pas une image ({kinds}) : "
                           f"« {text} ».", field="logo")
    return str(path)


def update_cabinet(session: Session, ctx: Context, **fields: str | None) -> Cabinet:
    require(delegation.may_edit_cabinet(ctx.principal), action="cabinet.update",
            target="cabinet")
    cabinet = get_cabinet(session)
    changes = clean_cabinet_fields(**fields)
    for key, value in changes.items():
        setattr(cabinet, key, value)
    record(session, ctx, "cabinet.update", cabinet.name, detail=changes)
    return cabinet
