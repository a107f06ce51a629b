"""A refusal is an answer, not an incident: 403s and 409s over the drive and the web leave
no ERROR and no traceback in the server's log (a real `liasse serve`)."""

from __future__ import annotations

import base64
import http.cookiejar
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.e2e

BAKERY = "Boulangerie Martin"
LOCK = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")


def call(server, login: str, method: str, url: str, body=None, **headers: str) -> int:
    token = base64.b64encode(f"{login}:{server.password}".encode()).decode()
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={"Authorization": f"Basic {token}", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as refused:
        refused.read()
        refused.close()
        return refused.code


def web_status(server, login: str, path: str) -> int:
    """Sign in through the form as a browser would, then GET `path`."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(server.base_url + "/connexion", timeout=30) as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())[1]
    form = urllib.parse.urlencode({"login": login, "password": server.password,
                                   "csrf_token": token}).encode()
    with opener.open(server.base_url + "/connexion", form, timeout=30) as signed_in:
        assert signed_in.url.endswith("/tableau-de-bord")
    try:
        with opener.open(server.base_url + path, timeout=30) as reply:
            return reply.status
    except urllib.error.HTTPError as refused:
        refused.read()
        refused.close()
        return refused.code


def test_refusals_leave_no_error_in_the_log(live_server):
    s = live_server
    statuses = [
        call(s, "secretaire", "PUT", s.dav(BAKERY, "Fiscalité", "x.pdf"), b"x"),
        call(s, "secretaire", "MKCOL", s.dav(BAKERY, "Fiscalité", "Dossier")),
        call(s, "expert", "DELETE", s.dav(BAKERY, "Achats")),
        call(s, "expert", "MOVE", s.dav(BAKERY, "Achats"),
             Destination=s.dav(BAKERY, "Autres", "A")),
        call(s, "expert", "LOCK", s.dav(BAKERY, "Achats"), LOCK),
        call(s, "expert", "COPY", s.dav(BAKERY, "Achats", "Facture Moulin Giraud octobre.pdf"),
             Destination=s.dav("Garage Dupont", "Achats", "x.pdf")),
        web_status(s, "secretaire", "/administration/journal"),
    ]
    assert all(status in (403, 404, 409) for status in statuses), statuses
    time.sleep(0.5)  # the log lines of the last answers
    log = "".join(s.output)
    assert "ERROR" not in log and "Traceback" not in log, log
