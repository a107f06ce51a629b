"""The PROPFIND Depth 1 fast paths (before WsgiDAV, and in it) answer exactly what WsgiDAV's
generic path answers."""

from __future__ import annotations

import dataclasses

import pytest
from lxml import etree
from support.wsgi import InProcessDrive

from acl.documents import store
from acl.people.models import Company
from davserver import propfind
from davserver.app import build_drive

BODIES = {
    "empty": b"",
    "allprop": b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    "named": (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:L="urn:liasse:receipt" '
              b'xmlns:W="urn:schemas-microsoft-com:"><D:prop><D:getetag/><D:getcontentlength/>'
              b"<D:resourcetype/><D:quota-used-bytes/><L:download-count/><L:deposited-by/>"
              b"<W:Win32FileAttributes/><D:nonexistent/><D:displayname/></D:prop>"
              b"</D:propfind>"),
}


@pytest.fixture
def dav(demo, settings, hasher, demo_password) -> InProcessDrive:
    # A quota makes quota-available-bytes deterministic (otherwise: the disk's free space).
    settings = dataclasses.replace(settings, drive=dataclasses.replace(settings.drive,
                                                                       quota_mib=100))
    return InProcessDrive(build_drive(settings, demo, hasher), demo_password)


def _canon(element) -> tuple:
    """An element as nested tuples of Clark names and texts: namespace prefixes ignored."""
    return (element.tag, (element.text or "").strip(), tuple(sorted(element.attrib.items())),
            tuple(_canon(child) for child in element))


def _normalised(xml: bytes) -> dict[str, dict[str, tuple[str, str]]]:
    """href -> {property: (status, canonical value)}; prefixes and order do not matter."""
    root = etree.fromstring(xml)
    answer = {}
    for response in root.iter("{DAV:}response"):
        href = response.findtext("{DAV:}href")
        props = {}
        for propstat in response.iter("{DAV:}propstat"):
            status = propstat.findtext("{DAV:}status")
            for prop in propstat.find("{DAV:}prop"):
                props[prop.tag] = (status, _canon(prop))
        answer[href] = props
    return answer


@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize("path, user", [
    ("/Boulangerie Martin/Achats/", "secretaire"),
    ("/Boulangerie Martin/", "secretaire"),
    ("/Boulangerie Martin/Fiscalité/", "expert"),
])
def test_fast_path_matches_wsgidav(dav, demo, monkeypatch, path, user, body):
    # a sub-folder and a document with a dead property, where the listing can show them
    where = path if path.count("/") == 3 else "/Boulangerie Martin/Achats/"
    assert dav("MKCOL", where + "Sous-dossier (été)")[0].startswith("201")
    assert dav("PUT", where + "Reçu & co 'n°1'.pdf", b"%PDF-1.4 test")[0].startswith("201")
    prop = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" '
            b'xmlns:W="urn:schemas-microsoft-com:"><D:set><D:prop>'
            b"<W:Win32FileAttributes>00000020</W:Win32FileAttributes></D:prop></D:set>"
            b"</D:propertyupdate>")
    assert dav("PROPPATCH", where + "Reçu & co 'n°1'.pdf", prop)[0].startswith("207")
    status, fast = dav("PROPFIND", path, BODIES[body], user=user, depth="1")
    assert status.startswith("207")
    dav.app.fast = None  # not before WsgiDAV: propfind.handle, in it
    status, in_wsgidav = dav("PROPFIND", path, BODIES[body], user=user, depth="1")
    assert status.startswith("207")
    monkeypatch.setattr(propfind, "handle", lambda *args: None)  # WsgiDAV's own
    status, generic = dav("PROPFIND", path, BODIES[body], user=user, depth="1")
    assert status.startswith("207")
    generic_n = _normalised(generic)
    for answer in (fast, in_wsgidav):
        answer_n = _normalised(answer)
        for href in answer_n.keys() | generic_n.keys():
            assert answer_n.get(href) == generic_n.get(href), href
        assert answer_n == generic_n


def test_listing_shows_only_readable_folders(dav):
    _, xml = dav("PROPFIND", "/Boulangerie Martin/", user="secretaire", depth="1")
    names = sorted(_normalised(xml))
    assert names == ["/dav/Boulangerie%20Martin/", "/dav/Boulangerie%20Martin/Achats/",
                     "/dav/Boulangerie%20Martin/Autres/", "/dav/Boulangerie%20Martin/Banque/",
                     "/dav/Boulangerie%20Martin/Ventes/"]


def test_locked_member_shows_its_lock_in_the_listing(dav, demo):
    lock = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            b"</D:lockscope><D:locktype><D:write/></D:locktype><D:owner>moi</D:owner>"
            b"</D:lockinfo>")
    status, _ = dav("LOCK", "/Boulangerie Martin/Achats/verrou.txt", lock, timeout="Second-60")
    assert status.startswith(("200", "201"))
    _, xml = dav("PROPFIND", "/Boulangerie Martin/Achats/", depth="1")
    listing = _normalised(xml)
    locked = listing["/dav/Boulangerie%20Martin/Achats/verrou.txt"]["{DAV:}lockdiscovery"]
    assert "{DAV:}activelock" in str(locked[1]) and "moi" in str(locked[1])
    with demo.session() as s:
        company = s.query(Company).filter_by(name="Boulangerie Martin").one()
        assert store.resolve(s, company, ["Achats", "verrou.txt"]) is not None
