"""The one audited place that decides whether a name may be a file or folder name.

Every path segment is normalised to NFC (macOS sends NFD) and must be a name that every
client can hold: Windows refuses `<>:"|?*`, control characters, a trailing dot or space and
the reserved device names (learn.microsoft.com, "Naming Files, Paths, and Namespaces").
Bidirectional controls are refused too: U+202E makes "Facture\u202efdp.exe" show as
"Factureexe.pdf" in every file manager (CVE-2021-42574 and the "RLO" file name trick).
"""

from __future__ import annotations

import re
import unicodedata

MAX_SEGMENT_BYTES = 255  # ext4 / NTFS limit for one name, in UTF-8 bytes

_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Bidirectional embedding, override and isolate controls, and the directional marks.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {
    f"LPT{i}" for i in range(1, 10)}


class InvalidName(ValueError):
    """A name refused with a one-sentence French reason."""


def normalize_segment(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def check_segment(name: str) -> str:
    """Return the NFC form of `name`, or raise `InvalidName` saying why it is refused."""
    name = normalize_segment(name)
    if name in ("", ".", ".."):
        raise InvalidName("un nom ne peut pas être vide, « . » ou « .. »")
    if len(name.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise InvalidName(f"un nom ne peut pas dépasser {MAX_SEGMENT_BYTES} octets")
    bad = _FORBIDDEN.search(name)
    if bad:
        shown = repr(bad.group()) if bad.group() < " " or bad.group() == "\x7f" else bad.group()
        raise InvalidName(f"le caractère {shown} n'est pas accepté par Windows")
    bidi = _BIDI.search(name)
    if bidi:
        raise InvalidName(f"le caractère de contrôle de sens d'écriture U+{ord(bidi.group()):04X} "
                          "n'est pas accepté (il déguise le nom affiché)")
    if name[-1] in ". ":
        raise InvalidName("un nom ne peut pas finir par un point ou une espace (Windows)")
    if name.split(".")[0].upper().rstrip() in _RESERVED:
        raise InvalidName(f"« {name.split('.')[0]} » est un nom réservé par Windows")
    return name


# Looking a name up ignores case and accents ("eglise" finds "Pharmacie de l'Église"), the
# same way in Python and in SQL (acl.db.folded): lower case, then these letters without their
# accent, and the typographic apostrophe as the plain one.
ACCENTED = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝŸ’"
PLAIN = "aaaaaaceeeeiiiinooooouuuuyyaaaaaaceeeeiiiinooooouuuuyy'"
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(text: str | None) -> str:
    """`text` as names are compared: "Pharmacie de l’Église" -> "pharmacie de l'eglise"."""
    return unicodedata.normalize("NFC", text or "").lower().translate(_FOLD)
