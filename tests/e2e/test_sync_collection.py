"""Issue 21: the drive's RFC 6578 `sync-collection` REPORT on its root, the change token of
the sync tool: which companies moved since a token, filtered by the one permission
function, and a token refused with the `valid-sync-token` precondition."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import unquote

import pytest
from support.dav import Dav

pytestmark = pytest.mark.e2e

BAKERY, GARAGE = "Boulangerie Martin", "Garage Dupont"


def report(dav: Dav, token: str = "") -> tuple[int, dict[str, str], str]:
    body = ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>").encode()
    reply = dav("REPORT", "/dav/", body, headers={"Depth": "0",
                                                  "Content-Type": "application/xml"})
    if reply.status != 207:
        return reply.status, {}, reply.text
    root = ET.fromstring(reply.body)
    members = {unquote(r.findtext("{DAV:}href")).strip("/").removeprefix("dav/"):
               r.findtext(".//{DAV:}status") for r in root.iter("{DAV:}response")}
    return 207, members, root.findtext("{DAV:}sync-token")


def test_changes_since_a_token_name_only_the_companies_that_moved(live_server, demo):
    expert = Dav(live_server.base_url, "expert", live_server.password)
    martin = Dav(live_server.base_url, "martin", live_server.password)
    try:
        status, members, token = report(expert)
        assert status == 207 and set(members) == {BAKERY, GARAGE}
        assert report(expert, token)[1] == {}  # nothing moved: an empty answer
        assert martin("PUT", live_server.dav(BAKERY, "Achats", "neuf.pdf"), b"%PDF").status \
            == 201
        status, members, token = report(expert, token)
        assert members == {BAKERY: "HTTP/1.1 200 OK"}
        assert report(expert, token)[1] == {}
        # The interlocuteur of the bakery only ever hears of the bakery.
        assert set(report(martin)[1]) == {BAKERY}
        # Another user's token, or a damaged one: the precondition, the client starts over.
        for bad in (token, "urn:liasse:sync:xyz", "n'importe quoi"):
            status, _, text = report(martin, bad)
            assert status == 403 and "valid-sync-token" in text
    finally:
        expert.close()
        martin.close()


def test_a_company_out_of_reach_is_reported_removed(live_server, demo, ctx_of):
    from sqlalchemy import select

    from acl.people import portfolios
    from acl.people.models import Company

    associe = Dav(live_server.base_url, "associe", live_server.password)
    try:
        _, members, token = report(associe)
        assert set(members) == {BAKERY, GARAGE}
        with demo.transaction() as session:
            garage = session.scalar(select(Company).where(Company.folder_name == GARAGE))
            portfolios.set_company(session, ctx_of("expert", session), portfolios.find_portfolio(
                session, "Tous les clients"), garage, False)
        status, members, _ = report(associe, token)
        assert members[GARAGE] == "HTTP/1.1 404 Not Found"
        assert members.get(BAKERY, "HTTP/1.1 200 OK") == "HTTP/1.1 200 OK"
    finally:
        associe.close()
