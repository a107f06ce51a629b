"""Branding from the web (issue 16, item 4): the correspondant sets the firm's name, colour
and logo on *Administration → Cabinet*; the logo is copied into the data folder (moving the
original breaks nothing), PNG or JPEG only, 2 MiB at most; a logo stored as a path by an
older version is copied in on first read. Refusals change nothing and say why in French."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from support.web import text_of

from acl.people.models import Cabinet
from acl.rights.models import AuditEntry

CARD = "/administration/cabinet"


def png(colour: str = "red", size: tuple[int, int] = (40, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), "blue").save(out, "JPEG")
    return out.getvalue()


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
       b'<rect width="10" height="10"/></svg>')


def card(name="Cabinet Lumière", colour="#aa3300", logo: tuple[str, bytes] | None = None,
         **extra) -> dict:
    data = {"name": name, "siren": "", "address": "1 rue du Port, 69000 Lyon",
            "colour": colour, **extra}
    if logo is not None:
        data["logo"] = (io.BytesIO(logo[1]), logo[0])
    return data


def cabinet_row(demo) -> Cabinet:
    with demo.session() as s:
        return s.get(Cabinet, 1)


def audit(demo, action: str) -> list[AuditEntry]:
    with demo.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id)))


def test_the_correspondant_sets_name_colour_and_logo(demo, visit, blobs):
    expert = visit("expert")
    page = expert.page(CARD)
    assert "Fiche du cabinet" in page and 'type="file"' in page
    body = png()
    answer = expert.post(CARD, card(logo=("logo cabinet.png", body)),
                         content_type="multipart/form-data")
    assert answer.status_code == 302, text_of(answer)
    page = expert.page(CARD)
    assert "Fiche du cabinet enregistrée. Nouveau logo en place." in page
    assert "Cabinet Lumière" in page and "--brand: #aa3300" in page
    served = expert.get("/logo")
    assert (served.status_code, served.mimetype, served.data) == (200, "image/png", body)
    # The bytes are in the data folder, under their hash: nothing points at the upload.
    row = cabinet_row(demo)
    assert blobs.path(row.logo).read_bytes() == body
    entry = audit(demo, "cabinet.update")[-1]
    assert (entry.actor_login, entry.outcome) == ("expert", "ok")
    assert "PNG" in entry.detail and "#aa3300" in entry.detail
    # A JPEG replaces it; the logo may be removed.
    expert.post(CARD, card(logo=("logo.jpg", jpeg())), content_type="multipart/form-data")
    assert expert.get("/logo").mimetype == "image/jpeg"
    expert.post(CARD, card(remove_logo="1"), content_type="multipart/form-data")
    assert expert.get("/logo").status_code == 404
    assert cabinet_row(demo).logo == ""


def test_bad_logos_are_refused_and_nothing_changes(demo, visit):
    expert = visit("expert")
    expert.post(CARD, card(name="Cabinet Avant", logo=("a.png", png())),
                content_type="multipart/form-data")
    before = cabinet_row(demo)
    big = png() + b"\0" * (2 * 1024 * 1024)
    for name, body, sentence in (
            ("logo.svg", SVG, "Logo refusé : une image PNG ou JPEG (le SVG peut contenir du "
                              "code)."),
            ("notes.txt", b"pas une image", "Logo refusé : une image PNG ou JPEG"),
            ("casse.png", b"\x89PNG\r\n\x1a\n" + b"x" * 200,
             "Logo refusé : l'image est illisible ou endommagée."),
            ("gros.png", big, "Logo trop lourd : 2 Mio au plus.")):
        answer = expert.post(CARD, card(name="Cabinet Après", colour="#000000",
                                        logo=(name, body)),
                             content_type="multipart/form-data")
        assert answer.status_code == 400, name
        page = text_of(answer)
        assert f'<p class="error" id="e-logo">{sentence}' in page, name
        assert 'value="Cabinet Après"' in page  # what was typed is kept
        after = cabinet_row(demo)
        assert (after.name, after.colour, after.logo) == (before.name, before.colour,
                                                          before.logo), name
    assert expert.get("/logo").data == png()


def test_only_the_correspondant_edits_the_card(demo, visit):
    associe = visit("associe")
    assert associe.get(CARD).status_code == 403
    answer = associe.post(CARD, card(), content_type="multipart/form-data")
    assert answer.status_code == 403
    assert "Seul le correspondant modifie la fiche du cabinet." in text_of(answer)
    assert cabinet_row(demo).name != "Cabinet Lumière"
    entry = audit(demo, "cabinet.update")[-1]
    assert (entry.actor_login, entry.outcome) == ("associe", "refused")
    assert "/administration/cabinet" not in visit("martin").page("/administration")
    assert "/administration/cabinet" in visit("expert").page("/administration")


def test_a_logo_stored_as_a_path_is_copied_in_on_first_read(demo, app, visit, tmp_path):
    original = tmp_path / "ancien-logo.png"
    original.write_bytes(png("green"))
    with demo.transaction() as s:
        s.get(Cabinet, 1).logo = str(original)
    answer = app.test_client().get("/logo")  # the sign-in page shows it to everyone
    assert (answer.status_code, answer.data) == (200, png("green"))
    original.unlink()  # moved away: the copy stays
    assert app.test_client().get("/logo").data == png("green")
    assert len(cabinet_row(demo).logo) == 64
    # An SVG kept from before is not served (it can carry a script): dropped.
    old_svg = tmp_path / "logo.svg"
    old_svg.write_bytes(SVG)
    with demo.transaction() as s:
        s.get(Cabinet, 1).logo = str(old_svg)
    assert app.test_client().get("/logo").status_code == 404
    assert cabinet_row(demo).logo == ""
    assert "<img" not in visit("expert").page("/tableau-de-bord").split("</header>")[0]
