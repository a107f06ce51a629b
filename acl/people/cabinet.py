"""The cabinet's identity (name, SIREN, address, colour, logo): one row per installation.

The logo's bytes live in the blob store (`<data>/blobs`), named by their hash in
`cabinet.logo`: set from the administration page or `liasse cabinet set --logo FILE`, both
copy the image, so moving or deleting the original breaks nothing. A PNG or JPEG of 2 MiB
at most, read whole by Pillow (an SVG can carry a script: refused). Installations from
before kept the path of the original file there: `adopt_logo_file` copies it in on first
read (and at the server's start), once.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from acl.documents.blobs import BlobStore
from acl.errors import InvalidInput, Refused
from acl.people.companies import check_siren
from acl.people.models import Cabinet
from acl.rights import delegation
from acl.rights.audit import Context, record, require

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
SHA256 = re.compile(r"[0-9a-f]{64}")

log = logging.getLogger("liasse.cabinet")


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
    return changes


def logo_kind(data: bytes) -> str:
    """"png" or "jpeg" for an image a page, a mail or a PDF may carry, else InvalidInput: at
    most 2 MiB, PNG or JPEG (SVG is refused: it can carry a script), read whole by Pillow."""
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput("Logo trop lourd : 2 Mio au plus.", field="logo")
    kind = "png" if data.startswith(b"\x89PNG\r\n\x1a\n") else \
        "jpeg" if data.startswith(b"\xff\xd8\xff") else ""
    if not kind:
        raise InvalidInput("Logo refusé : une image PNG ou JPEG (le SVG peut contenir du "
                           "code).", field="logo")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidInput("Logo refusé : l'image est illisible ou endommagée.",
                           field="logo") from None
    return kind


def read_logo_file(text: str) -> bytes:
    """The bytes of an image file named on the command line (checked by `logo_kind` later)."""
    try:
        path = Path(text).expanduser()
        with path.open("rb") as body:
            return body.read(LOGO_MAX_BYTES + 1)
    except (OSError, ValueError):  # ValueError: a NUL byte
        raise InvalidInput(f"Logo introuvable ou illisible : « {text} ».",
                           field="logo") from None


def update_cabinet(session: Session, ctx: Context, blobs: BlobStore | None = None, *,
                   logo: bytes | None = None, remove_logo: bool = False,
                   **fields: str | None) -> Cabinet:
    """Change the given fields (None = unchanged); `logo`: a new image, copied into the blob
    store; `remove_logo`: none any more. All or nothing: a refused field changes nothing."""
    require(delegation.may_edit_cabinet(ctx.principal), action="cabinet.update",
            target="cabinet")
    cabinet = get_cabinet(session)
    changes = clean_cabinet_fields(**fields)
    if logo is not None:
        kind = logo_kind(logo)
        if blobs is None:
            raise ValueError("a logo needs the blob store")
        changes["logo"], _ = blobs.put_bytes(logo)
        shown = {"logo": f"{kind.upper()}, {len(logo) // 1024 or 1} Kio"}
    elif remove_logo:
        changes["logo"] = ""
        shown = {"logo": "retiré"}
    else:
        shown = {}
    for key, value in changes.items():
        setattr(cabinet, key, value)
    record(session, ctx, "cabinet.update", cabinet.name,
           detail={k: v for k, v in changes.items() if k != "logo"} | shown)
    return cabinet


@dataclass(frozen=True)
class Logo:
    data: bytes
    kind: str  # "png" or "jpeg"
    sha256: str

    @property
    def mimetype(self) -> str:
        return LOGO_TYPES[self.kind]


def adopt_logo_file(session: Session, blobs: BlobStore) -> bool:
    """A logo stored as a path (installations from before the copy): copy the file into the
    blob store and keep its hash; one that is gone, or not a PNG or JPEG any more (an SVG was
    accepted then), is dropped with a line in the log. True when the row changed."""
    cabinet = session.get(Cabinet, 1)
    if cabinet is None or not cabinet.logo or SHA256.fullmatch(cabinet.logo):
        return False
    try:
        data = read_logo_file(cabinet.logo)
        logo_kind(data)
    except InvalidInput as refused:
        log.warning("cabinet logo %r dropped: %s", cabinet.logo, refused.reason)
        cabinet.logo = ""
        return True
    cabinet.logo, _ = blobs.put_bytes(data)
    return True


def logo_of(session: Session, blobs: BlobStore) -> Logo | None:
    """The cabinet's logo as stored (None: none). A logo still stored as a path is adopted
    first: the caller commits."""
    adopt_logo_file(session, blobs)
    cabinet = session.get(Cabinet, 1)
    if cabinet is None or not cabinet.logo:
        return None
    try:
        with blobs.open(cabinet.logo) as body:
            data = body.read()
    except FileNotFoundError:  # `liasse fsck` names it
        return None
    return Logo(data, "png" if data.startswith(b"\x89PNG") else "jpeg", cabinet.logo)
