"""The invoicing pages through Flask's test client on the demo world: who sees them, the
editor without JavaScript, issue, PDF, print view, sending, settings and logo, imports,
and every hostile input answered with a French sentence and a 4xx."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import select
from support import invoicing as inv
from support.web import text_of

from acl.documents import store
from acl.events.models import OutboxMessage
from acl.invoicing.models import InvoicingDocument

YEAR = date.today().year
EDITOR = re.compile(r'action="/facturation/(\d+)"')


@pytest.fixture
def space(demo):
    with demo.transaction() as s:
        return inv.set_up(s)


def _png(size=(120, 60), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128)).save(
        buffer, "PNG")
    return buffer.getvalue()


def _new(visitor, kind="facture") -> int:
    answer = visitor.post("/facturation/nouveau", {"kind": kind})
    assert answer.status_code == 302, text_of(answer)
    return int(answer.headers["Location"].rsplit("/", 1)[1])


def _lines(*rows) -> dict[str, str]:
    data = {}
    for n, row in enumerate(rows, start=1):
        for name, value in row.items():
            data[f"lines-{n}-{name}"] = value
    return data


LINES = _lines(
    {"designation": "Pain de campagne", "quantity": "120", "unit": "pièce",
     "unit_price": "2,40", "vat_rate": "5,5", "nature": "bien"},
    {"designation": "Buffet traiteur", "quantity": "1", "unit": "forfait",
     "unit_price": "350", "vat_rate": "10", "discount": "5"},
    {"designation": "Livraison", "quantity": "1", "unit": "forfait", "unit_price": "25",
     "vat_rate": "20"},
)


def _issued(visitor, space) -> int:
    document_id = _new(visitor)
    answer = visitor.post(f"/facturation/{document_id}",
                          {"customer": "Hôtel du Parc", "action": "issue", **LINES})
    assert answer.status_code == 302, text_of(answer)
    return document_id


@pytest.mark.parametrize("login", ["expert", "associe", "assistant", "secretaire"])
def test_the_space_is_not_found_for_whoever_may_not_invoice(visit, space, login):
    visitor = visit(login)
    assert "Facturation" not in text_of(visitor.get("/tableau-de-bord"))
    for url in ("/facturation/", "/facturation/clients", "/facturation/parametres",
                "/facturation/1", "/facturation/1/pdf", "/facturation/logo"):
        assert visitor.get(url).status_code == 404, url
    assert visitor.post("/facturation/nouveau", {"kind": "facture"}).status_code == 404


def test_a_whole_invoice_without_javascript(visit, space, demo):
    dupont_user = visit("dupont")
    assert "Facturation" in text_of(dupont_user.get("/tableau-de-bord"))
    document_id = _new(dupont_user)
    page = text_of(dupont_user.get(f"/facturation/{document_id}"))
    assert "Facture — brouillon" in page and "Enregistrer et émettre" in page
    # A line given only by its article's reference takes the article (no script needed).
    saved = dupont_user.post(f"/facturation/{document_id}", {
        "customer": "hôtel du parc", "action": "save",
        **_lines({"reference": "PAIN", "quantity": "10"})})
    assert saved.status_code == 302, text_of(saved)
    page = text_of(dupont_user.get(f"/facturation/{document_id}"))
    assert "Pain de campagne" in page and "25,32" in page  # 24.00 + 5.5 %
    issued = dupont_user.post(f"/facturation/{document_id}",
                         {"customer": "Hôtel du Parc", "action": "issue", **LINES})
    assert issued.status_code == 302
    page = text_of(dupont_user.get(f"/facturation/{document_id}"))
    assert f"Facture F-{YEAR}-0001" in page and "699,59" in page
    listing = text_of(dupont_user.get("/facturation/"))
    assert f"F-{YEAR}-0001" in listing and "645,50" in listing
    pdf = dupont_user.get(f"/facturation/{document_id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"]
    assert "sandbox" in pdf.headers["Content-Security-Policy"]
    printable = text_of(dupont_user.get(f"/facturation/{document_id}/impression"))
    assert "Indemnité forfaitaire" in printable and "Net à payer" in printable


def test_a_refused_line_is_shown_next_to_its_field_and_what_was_typed_stays(visit, space,
                                                                            demo):
    dupont_user = visit("dupont")
    document_id = _new(dupont_user)
    answer = dupont_user.post(f"/facturation/{document_id}", {
        "customer": "Hôtel du Parc", "action": "save",
        **_lines({"designation": "Pain", "quantity": "deux", "unit_price": "1",
                  "vat_rate": "20"})})
    assert answer.status_code == 400
    page = text_of(answer)
    assert "Ligne 1 : Quantité : « deux » n'est pas un nombre." in page
    assert 'value="deux"' in page


def test_issue_without_the_mandatory_mentions_names_what_is_missing(visit, demo):
    dupont_user = visit("dupont")
    document_id = _new(dupont_user)
    answer = dupont_user.post(f"/facturation/{document_id}", {
        "action": "issue", **_lines({"designation": "Pain", "unit_price": "1",
                                     "vat_rate": "20"})})
    assert answer.status_code == 400
    page = text_of(answer)
    assert "Émission impossible : il manque" in page and "le client" in page
    with demo.session() as s:  # the draft was saved, not issued
        document = s.get(InvoicingDocument, document_id)
        assert document.number is None and document.lines[0].designation == "Pain"


def test_an_issued_invoice_cannot_be_edited_or_deleted_through_the_app(visit, space, demo):
    dupont_user = visit("dupont")
    document_id = _issued(dupont_user, space)
    edit = dupont_user.post(f"/facturation/{document_id}", {"action": "save", **LINES})
    assert edit.status_code == 409 and "corrigez-la par un avoir" in text_of(edit)
    delete = dupont_user.post(f"/facturation/{document_id}/supprimer")
    assert delete.status_code == 409
    with demo.session() as s:
        assert s.get(InvoicingDocument, document_id).number == f"F-{YEAR}-0001"


def test_quote_to_invoice_to_accountant_then_expert_finds_it(visit, space, demo):
    dupont_user = visit("dupont")
    quote_id = _new(dupont_user, "devis")
    assert dupont_user.post(f"/facturation/{quote_id}", {"customer": "Hôtel du Parc",
                                                   "action": "issue", **LINES}
                       ).status_code == 302
    converted = dupont_user.post(f"/facturation/{quote_id}/action", {"action": "invoice"})
    invoice_id = int(converted.headers["Location"].rsplit("/", 1)[1])
    assert dupont_user.post(f"/facturation/{invoice_id}",
                       {"customer": "Hôtel du Parc", "action": "issue", **LINES}
                       ).status_code == 302
    sent = dupont_user.post(f"/facturation/{invoice_id}/action", {"action": "accountant"})
    assert sent.status_code == 302
    assert "Envoyé au comptable" in text_of(dupont_user.get(f"/facturation/{invoice_id}"))
    again = dupont_user.post(f"/facturation/{invoice_id}/action", {"action": "accountant"})
    assert "Déjà envoyé au comptable" in text_of(dupont_user.get(again.headers["Location"]))
    name = f"Facture F-{YEAR}-0001 - Hôtel du Parc.pdf"
    with demo.session() as s:
        location = store.resolve(s, inv.garage(s), ["Ventes", name])
        assert location is not None and location.node.deposited_by_id is not None
        node_id = location.node.id
    expert = visit("expert")
    page = text_of(expert.get(f"/document/{node_id}", follow_redirects=True))
    assert name in page and "Claire Dupont" in page  # the receipt: who deposited it
    assert expert.get(f"/facturation/{invoice_id}").status_code == 404  # the rest stays


def test_mail_to_the_customer_goes_through_the_outbox(visit, space, demo):
    dupont_user = visit("dupont")
    document_id = _issued(dupont_user, space)
    bad = dupont_user.post(f"/facturation/{document_id}/action",
                      {"action": "email", "recipient": "pas une adresse"})
    assert bad.status_code == 400 and "n'est pas une adresse e-mail valide" in text_of(bad)
    good = dupont_user.post(f"/facturation/{document_id}/action",
                       {"action": "email", "recipient": "compta@hotel-du-parc.invalid"})
    assert good.status_code == 302
    with demo.session() as s:
        mail = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert mail.recipient == "compta@hotel-du-parc.invalid"
        assert mail.attachment_name == f"Facture F-{YEAR}-0001.pdf"
        assert mail.sender_name == "Garage Dupont"


def test_settings_colour_logo_and_hostile_values(visit, space, demo):
    dupont_user = visit("dupont")
    page = text_of(dupont_user.get("/facturation/parametres"))
    assert 'type="color"' in page
    form = {name: value for name, value in re.findall(
        r'name="([a-z_0-9]+)" type="(?:text|email|color)"\s+value="([^"]*)"', page)}
    bad_prefix = dupont_user.post("/facturation/parametres", {**form, "layout": "bandeau",
                                                          "logo_position": "droite",
                                                          "registry_kind": "RCS",
                                                          "invoice_prefix": "F/{année}/"})
    assert bad_prefix.status_code == 400 and "Préfixe refusé" in text_of(bad_prefix)
    bad_colour = dupont_user.post("/facturation/parametres", {**form, "layout": "bandeau",
                                                          "logo_position": "droite",
                                                          "colour": "red;}"})
    assert bad_colour.status_code == 400 and "#RRVVBB" in text_of(bad_colour)
    saved = dupont_user.post("/facturation/parametres", {**form, "layout": "bandeau",
                                                     "logo_position": "droite",
                                                     "registry_kind": "RCS",
                                                     "colour": "#aa3300"})
    assert saved.status_code == 302, text_of(saved)
    for data, words in [(b"<svg onload='alert(1)'/>", "PNG ou JPEG"),
                        (b"\x89PNG\r\n\x1a\nbroken", "illisible"),
                        (b"\x89PNG\r\n\x1a\n" + b"0" * (2 * 2**20), "2 Mio")]:
        answer = dupont_user.post("/facturation/parametres/logo",
                             {"logo": (io.BytesIO(data), "logo.png")},
                             content_type="multipart/form-data")
        assert answer.status_code == 400 and words in text_of(answer), words
    ok = dupont_user.post("/facturation/parametres/logo",
                     {"logo": (io.BytesIO(_png(mode="RGBA")), "logo.png")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    logo = dupont_user.get("/facturation/logo")
    assert logo.status_code == 200 and logo.mimetype == "image/png"
    with demo.session() as s:
        from acl.invoicing.profile import profile_of

        profile = profile_of(s, inv.garage(s))
        assert (profile.layout, profile.colour, profile.logo_position) == (
            "bandeau", "#aa3300", "droite")


def test_markup_typed_by_a_user_is_shown_as_text(visit, space):
    dupont_user = visit("dupont")
    document_id = _new(dupont_user)
    dupont_user.post(f"/facturation/{document_id}", {
        "customer": "Hôtel du Parc", "action": "save",
        **_lines({"designation": "<img src=x onerror=alert(1)>", "unit_price": "1",
                  "vat_rate": "20"})})
    raw = dupont_user.get(f"/facturation/{document_id}").get_data(as_text=True)
    assert "<img src=x" not in raw and "&lt;img src=x onerror=alert(1)&gt;" in raw


def test_customer_and_article_forms_and_import(visit, space, demo):
    dupont_user = visit("dupont")
    refused = dupont_user.post("/facturation/clients/nouveau",
                          {"name": "Client", "kind": "professionnel", "country": "FR",
                           "siren": "123"})
    assert refused.status_code == 400 and "n'est pas un SIREN" in text_of(refused)
    created = dupont_user.post("/facturation/clients/nouveau",
                          {"name": "Épicerie Fine", "kind": "particulier", "country": "FR",
                           "city": "Lyon"})
    assert created.status_code == 302
    assert "Épicerie Fine" in text_of(dupont_user.get("/facturation/clients"))
    article = dupont_user.post("/facturation/articles/nouveau",
                          {"reference": "CROI", "designation": "Croissant", "unit": "pièce",
                           "unit_price": "1,10", "vat_rate": "5,5", "nature": "bien"})
    assert article.status_code == 302
    template = dupont_user.get("/facturation/import/modele-clients-articles.xlsx")
    assert template.status_code == 200 and template.data.startswith(b"PK")
    bad = dupont_user.post("/facturation/import",
                      {"file": (io.BytesIO(b"nom;siren\nA;ABC\nB;552100554\n"), "c.csv")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400
    assert "Clients, ligne 2 : « ABC » n'est pas un SIREN" in text_of(bad)
    good = dupont_user.post("/facturation/import",
                       {"file": (io.BytesIO(b"nom;siren\nMoulin Giraud;552100554\n"),
                                 "c.csv")}, content_type="multipart/form-data")
    assert good.status_code == 302
    assert "Moulin Giraud" in text_of(dupont_user.get("/facturation/clients"))


def test_list_filters_and_exports(visit, space):
    dupont_user = visit("dupont")
    _issued(dupont_user, space)
    assert "645,50" in text_of(dupont_user.get("/facturation/?kind=facture"))
    empty = text_of(dupont_user.get("/facturation/?kind=devis"))
    assert "Aucun document ne correspond à ces filtres" in empty
    bad = dupont_user.get("/facturation/?start=32/13/2026")
    assert bad.status_code == 400 and "Date invalide" in text_of(bad)
    csv = dupont_user.get("/facturation/export.csv?kind=facture")
    assert csv.status_code == 200 and "645,50" in csv.data.decode("utf-8-sig")
    assert dupont_user.get("/facturation/export.xlsx").data.startswith(b"PK")
