"""The one-string allprop answer of a listing member equals the general formatter's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from davserver import propfind

WHEN = datetime(2026, 11, 23, 17, 7, 13, 123456, tzinfo=UTC)
DEAD = {"{urn:schemas-microsoft-com:}Win32FileAttributes":
        '<ns0:Win32FileAttributes xmlns:ns0="urn:schemas-microsoft-com:">00000020'
        "</ns0:Win32FileAttributes>"}


@pytest.mark.parametrize("member", [
    {"name": "Relevé d'août & <co>.pdf", "is_file": True, "size": 1234, "sha256": "ab" * 32,
     "receipt": ("secrétaire", WHEN.isoformat(), "expert & co", WHEN.isoformat(), "3"),
     "dead": DEAD},
    {"name": "sans-type", "is_file": True, "size": 0, "sha256": None,
     "receipt": ("", WHEN.isoformat(), "", "", "0"), "dead": {}},
    {"name": "Sous-dossier <été>", "is_file": False, "size": 0, "sha256": None,
     "receipt": None, "dead": DEAD},
])
def test_allprop_response_matches_the_general_formatter(member):
    fmt = propfind._Formatter()
    common = {"created": WHEN, "modified": WHEN.replace(second=59), "quota": (10, 20)}
    href = "/dav/Boulangerie%20Martin/Achats/x"
    general = propfind.member_response(
        propfind._values(fmt, lockdiscovery=None, **common, **member), href, "allprop", [])
    assert propfind.allprop_response(fmt, href, **common, **member) == general
