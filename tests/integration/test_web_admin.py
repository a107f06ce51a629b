"""The administration pages through Flask's test client, on the demo world: companies (create,
edit, disconnect, export, protection date), import, users, the habilitation matrix,
portfolios and the audit log. Every refusal is the service's sentence, audited; what the
user typed is kept; pages the user may not use answer 403, objects they may not see 404."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from stdnum import luhn

from acl.db import utcnow
from acl.documents.tree import standard_folders
from acl.events.models import OutboxMessage
from acl.people.models import Company, CompanyStatus, Invitation, Portfolio, User
from acl.rights.models import AuditEntry, Level, Service
from acl.rights.policy import folder_level, has_service
from acl.rights.principals import load_principal
from config.settings import DEFAULT_TREE
from invoicing_web.app import create_app

BAKERY = "Boulangerie Martin"
GARAGE = "Garage Dupont"
ADMIN = "/administration"


def siren(prefix: str) -> str:
    """A valid SIREN from eight digits (Luhn key)."""
    return prefix + luhn.calc_check_digit(prefix)


NEW_SIREN = siren("40483304")


class Browser:
    """A signed-in test client that sends the session's CSRF token with every POST."""

    def __init__(self, app, login: str, password: str) -> None:
        self.client = app.test_client()
        self.token = csrf_of(self.client.get("/connexion").get_data(as_text=True))
        reply = self.client.post("/connexion", data={"login": login, "password": password,
                                                     "csrf_token": self.token})
        assert reply.status_code == 302, reply.get_data(as_text=True)
        # Signing in starts a new session, with a new token: read it from the next page.
        self.token = csrf_of(self.client.get("/profil", follow_redirects=True).get_data(
            as_text=True))  # the profile, or the forced password change

    def get(self, url: str, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict | None = None, **kwargs):
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def text(reply) -> str:
    return html.unescape(reply.get_data(as_text=True))


def plain(reply) -> str:
    """The page as read: tags removed, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", reply.get_data(as_text=True)))
                    .split())


def input_value(reply, name: str) -> str:
    match = re.search(rf'<input id="f-{name}" name="{name}"[^>]*value="([^"]*)"',
                      reply.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else ""


def field_error(reply, name: str) -> str:
    match = re.search(rf'<p class="error" id="e-{re.escape(name)}">([^<]*)</p>',
                      reply.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else ""


@pytest.fixture
def app(demo, settings):
    return create_app(settings, demo)


@pytest.fixture
def as_user(app, demo_password):
    """`as_user(login, password=demo password)`: a signed-in Browser."""
    return lambda login, password=demo_password: Browser(app, login, password)


def company_named(db, name: str) -> Company:
    with db.session() as s:
        return s.scalars(select(Company).where(Company.name == name)).one()


def user_named(db, login: str) -> User | None:
    with db.session() as s:
        return s.scalars(select(User).where(User.login == login)).one_or_none()


def audit(db, **where) -> list[AuditEntry]:
    with db.session() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, key) == value)
        return list(s.scalars(stmt))


def level_of(db, login: str, company_name: str, folder: str) -> Level:
    with db.session() as s:
        person = s.scalars(select(User).where(User.login == login)).one()
        target = s.scalars(select(Company).where(Company.name == company_name)).one()
        return folder_level(load_principal(s, person), target.id, folder)


COMPANY_FORM = {
    "name": "Menuiserie Bernard", "siren": NEW_SIREN, "legal_form": "SARL",
    "address": "4 chemin des Copeaux, 38000 Grenoble", "vat_regime": "réel normal",
    "fiscal_year_end": "30/06", "protection_date": "", "contact_name": "Luc Bernard",
    "contact_email": "", "contact_phone": "04 76 00 00 00", "portfolio": "",
    "interlocuteur_login": "bernard", "interlocuteur_name": "Luc Bernard",
    "interlocuteur_email": "",
}


# --- companies ---------------------------------------------------------------------------

def test_create_company_with_interlocuteur_and_folder_tree(demo, as_user):
    expert = as_user("expert")
    reply = expert.post(f"{ADMIN}/entreprises/nouvelle", COMPANY_FORM)
    assert reply.status_code == 200, text(reply)
    assert reply.headers["Cache-Control"] == "no-store"  # the password is shown once
    page = text(reply)
    shown = re.search(r'<code class="secret">([^<]+)</code>', page).group(1)
    assert "Entreprise « Menuiserie Bernard » créée" in page
    with demo.session() as s:
        created = s.scalars(select(Company).where(Company.siren == NEW_SIREN)).one()
        assert (created.name, created.fiscal_year_end, created.vat_regime) == \
            ("Menuiserie Bernard", "06-30", "réel normal")
        assert standard_folders(s, created.id) == list(DEFAULT_TREE)
        bernard = s.scalars(select(User).where(User.login == "bernard")).one()
        assert (bernard.role, bernard.company_id, bernard.must_change_password) == \
            ("interlocuteur", created.id, True)
    assert [e.outcome for e in audit(demo, action="company.create")][-1] == "ok"
    # The initial password works, and must be changed first.
    bernard = as_user("bernard", shown)
    assert bernard.get("/tableau-de-bord").headers["Location"].endswith("/mot-de-passe")


def test_interlocuteur_with_email_is_invited(demo, as_user):
    expert = as_user("expert")
    form = {**COMPANY_FORM, "interlocuteur_email": "luc@menuiserie.invalid"}
    reply = expert.post(f"{ADMIN}/entreprises/nouvelle", form)
    page = text(reply)
    assert reply.status_code == 200, page
    # no [smtp] host in the tests: the page does not claim the mail left
    assert ("L'invitation pour luc@menuiserie.invalid attend dans la file d'envoi : aucun "
            "serveur de messagerie n'est configuré") in plain(reply)
    assert 'class="secret"' not in page  # no password to hand over
    with demo.session() as s:
        mail = s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "luc@menuiserie.invalid")).one()
    link = re.search(r"http://localhost(/invitation/\S+)", mail.text_body).group(1)
    assert expert.get(link).status_code == 200  # the accept page answers


def test_invalid_siren_is_shown_next_to_the_field_and_the_rest_is_kept(demo, as_user):
    expert = as_user("expert")
    reply = expert.post(f"{ADMIN}/entreprises/nouvelle", {**COMPANY_FORM, "siren": "123456789"})
    assert reply.status_code == 400
    assert field_error(reply, "siren").startswith("SIREN invalide : « 123456789 »")
    assert input_value(reply, "name") == "Menuiserie Bernard"
    assert input_value(reply, "siren") == "123456789"
    assert input_value(reply, "address") == "4 chemin des Copeaux, 38000 Grenoble"
    assert input_value(reply, "interlocuteur_login") == "bernard"
    assert input_value(reply, "fiscal_year_end") == "30/06"
    assert '<option value="réel normal" selected>' in reply.get_data(as_text=True)
    assert user_named(demo, "bernard") is None


@pytest.mark.parametrize(("change", "name", "message"), [
    ({"interlocuteur_login": "Bad Login!"}, "interlocuteur_login", "Identifiant invalide"),
    ({"interlocuteur_login": "martin"}, "interlocuteur_login", "déjà pris"),
    ({"interlocuteur_email": "pas-une-adresse"}, "interlocuteur_email",
     "Adresse e-mail invalide"),
    ({"siren": "732829320"}, "siren", "existe déjà"),
    ({"name": "  "}, "name", "La raison sociale est obligatoire."),
    ({"fiscal_year_end": "31/02"}, "fiscal_year_end", "Date de clôture invalide"),
    ({"protection_date": "2026-02-30"}, "protection_date", "Date invalide"),
    ({"contact_email": "x@"}, "contact_email", "Adresse e-mail invalide"),
], ids=["login", "login_taken", "email", "siren_taken", "name", "year_end", "protection",
        "contact_email"])
def test_company_form_errors_next_to_their_field(demo, as_user, change, name, message):
    reply = as_user("expert").post(f"{ADMIN}/entreprises/nouvelle", {**COMPANY_FORM, **change})
    assert reply.status_code == 400
    assert message in field_error(reply, name)
    with demo.session() as s:
        assert s.scalars(select(Company).where(Company.siren == NEW_SIREN)).first() is None


def not_his_portfolio(demo, ctx_of) -> int:
    """A portfolio of the firm that the associé is no member of."""
    from acl.people import portfolios

    with demo.transaction() as s:
        return portfolios.create_portfolio(s, ctx_of("expert", s), "Garages du Sud").id


def test_associe_creates_in_his_portfolio_only(demo, as_user, ctx_of):
    associe = as_user("associe")
    theirs = not_his_portfolio(demo, ctx_of)
    with demo.session() as s:
        ids = {p.name: p.id for p in s.scalars(select(Portfolio))}
    page = associe.get(f"{ADMIN}/entreprises/nouvelle").get_data(as_text=True)
    assert "Garages du Sud" not in page  # not one of his
    refused = associe.post(f"{ADMIN}/entreprises/nouvelle",
                           {**COMPANY_FORM, "portfolio": str(theirs)})
    assert refused.status_code == 403
    assert "Ce portefeuille n'est pas l'un des vôtres." in text(refused)
    assert input_value(refused, "name") == "Menuiserie Bernard"
    assert audit(demo, action="company.create", outcome="refused")[-1].actor_login == "associe"
    # In his own portfolio, with an e-mail: created, and the interlocuteur invited (the new
    # company is within his reach at once).
    done = associe.post(f"{ADMIN}/entreprises/nouvelle", {
        **COMPANY_FORM, "portfolio": str(ids["Tous les clients"]),
        "interlocuteur_email": "luc@menuiserie.invalid"})
    assert done.status_code == 200, text(done)
    assert audit(demo, action="user.invite")[-1].actor_login == "associe"


def test_company_list_shows_the_columns(demo, as_user):
    page = text(as_user("expert").get(f"{ADMIN}/entreprises"))
    row = re.search(r"<tr>(?:(?!</tr>).)*Boulangerie Martin(?:(?!</tr>).)*</tr>", page, re.S)
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(0), re.S)]
    assert cells[1:7] == ["Boulangerie Martin", "732829320", date.today().strftime("%d/%m/%Y"),
                          "—", "2", "active"]


def test_edit_disconnect_and_reconnect_a_company(demo, as_user):
    expert = as_user("expert")
    bakery = company_named(demo, BAKERY)
    url = f"{ADMIN}/entreprises/{bakery.id}"
    form = {"name": "Boulangerie Martin & Fils", "siren": "732829320", "legal_form": "SAS",
            "address": bakery.address, "vat_regime": "réel normal", "fiscal_year_end": "31/12",
            "protection_date": "2025-01-01", "contact_name": "", "contact_email": "",
            "contact_phone": ""}
    reply = expert.post(url, form)
    assert reply.status_code == 302
    edited = company_named(demo, "Boulangerie Martin & Fils")
    assert (edited.legal_form, edited.vat_regime, edited.protection_date,
            edited.folder_name) == ("SAS", "réel normal", date(2025, 1, 1), BAKERY)
    assert {e.action for e in audit(demo, company_id=bakery.id, outcome="ok")} >= \
        {"company.update", "company.protection_date"}
    assert "Fiche enregistrée." in text(expert.get(url))
    # A SIREN taken by another company: the error next to it, the typed name kept.
    taken = expert.post(url, {**form, "siren": "552100554", "name": "Nouveau nom"})
    assert taken.status_code == 400 and "existe déjà" in field_error(taken, "siren")
    assert input_value(taken, "name") == "Nouveau nom"

    assert expert.post(f"{url}/statut", {"status": "déconnectée"}).status_code == 302
    assert company_named(demo, "Boulangerie Martin & Fils").status == CompanyStatus.DISCONNECTED
    assert "Reconnecter l'entreprise" in text(expert.get(url))
    assert expert.post(f"{url}/statut", {"status": "active"}).status_code == 302
    assert company_named(demo, "Boulangerie Martin & Fils").is_active
    assert [e.action for e in audit(demo, company_id=bakery.id)][-2:] == \
        ["company.disconnect", "company.reconnect"]


def test_assistant_may_not_edit_nor_disconnect(demo, as_user):
    bakery = company_named(demo, BAKERY)
    assistant = as_user("assistant")
    assert assistant.get(f"{ADMIN}/entreprises/{bakery.id}").status_code == 403
    edit = assistant.post(f"{ADMIN}/entreprises/{bakery.id}", {
        "name": "Rachat", "siren": "732829320", "vat_regime": "réel simplifié",
        "fiscal_year_end": "31/12"})
    assert edit.status_code == 403
    assert "Seuls le correspondant et les associés administrent les entreprises." in text(edit)
    assert company_named(demo, BAKERY).name == BAKERY
    assert audit(demo, action="company.update")[-1].outcome == "refused"
    reply = assistant.post(f"{ADMIN}/entreprises/{bakery.id}/statut",
                           {"status": "déconnectée"})
    assert reply.status_code == 403
    assert "Seuls le correspondant et les associés administrent les entreprises." in text(reply)
    assert company_named(demo, BAKERY).is_active
    assert audit(demo, action="company.disconnect")[-1].outcome == "refused"


def _ids(demo, *names: str) -> list[str]:
    return [str(company_named(demo, name).id) for name in names]


def test_export_selection_as_xlsx_and_csv(demo, as_user):
    expert = as_user("expert")
    with demo.transaction() as s:  # a name a spreadsheet would run as a formula
        s.scalars(select(Company).where(Company.name == GARAGE)).one().name = "=1+1 Garage"
    selection = {"ids": _ids(demo, BAKERY, "=1+1 Garage")}
    reply = expert.post(f"{ADMIN}/entreprises/selection", {**selection, "action": "xlsx"})
    assert reply.status_code == 200
    assert reply.mimetype == \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in reply.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(reply.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ["Raison sociale", "SIREN"]
    assert [r[:2] for r in rows[1:]] == [["Boulangerie Martin", "732829320"],
                                         ["=1+1 Garage", "552100554"]]
    assert rows[1][8] == 2 and rows[1][9] == "active"
    assert sheet.cell(3, 1).data_type == "s"  # text, not a formula

    reply = expert.post(f"{ADMIN}/entreprises/selection",
                        {"ids": _ids(demo, BAKERY), "action": "csv"})
    assert reply.status_code == 200 and reply.mimetype == "text/csv"
    assert reply.data.startswith(b"\xef\xbb\xbf")  # Excel reads the accents
    table = list(csv.reader(io.StringIO(reply.data.decode("utf-8-sig")), delimiter=";"))
    assert table[0][:3] == ["Raison sociale", "SIREN", "Forme juridique"]
    assert table[1][:4] == ["Boulangerie Martin", "732829320", "SARL",
                            "12 rue du Four, 69002 Lyon"]
    assert len(table) == 2
    both = expert.post(f"{ADMIN}/entreprises/selection", {**selection, "action": "csv"})
    rows = list(csv.reader(io.StringIO(both.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[2][0] == "'=1+1 Garage"  # not run as a formula by a spreadsheet


def test_export_needs_a_selection_and_hides_other_companies(demo, as_user):
    empty = as_user("expert").post(f"{ADMIN}/entreprises/selection", {"action": "csv"})
    assert empty.status_code == 400
    assert "Sélectionnez au moins une entreprise." in text(empty)
    # Martin has no company list; a forged export is refused.
    forged = as_user("martin").post(f"{ADMIN}/entreprises/selection",
                                    {"ids": _ids(demo, GARAGE), "action": "csv"})
    assert forged.status_code == 403


def test_protection_date_for_all_selected_companies(demo, as_user):
    expert = as_user("expert")
    reply = expert.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY, GARAGE), "action": "protect", "protection_date": "2025-12-31"})
    assert reply.status_code == 302
    assert company_named(demo, BAKERY).protection_date == date(2025, 12, 31)
    assert company_named(demo, GARAGE).protection_date == date(2025, 12, 31)
    assert len(audit(demo, action="company.protection_date", outcome="ok")) == 2
    assert "appliquée à 2 entreprises" in text(expert.get(f"{ADMIN}/entreprises"))

    bad = expert.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY), "action": "protect", "protection_date": "31/13/2025"})
    assert bad.status_code == 400
    assert field_error(bad, "protection_date").startswith("Date invalide")
    assert 'value="31/13/2025"' in bad.get_data(as_text=True)  # kept as typed
    assert re.search(rf'name="ids" value="{_ids(demo, BAKERY)[0]}" checked', bad.get_data(
        as_text=True))

    cleared = expert.post(f"{ADMIN}/entreprises/selection",
                          {"ids": _ids(demo, GARAGE), "action": "unprotect"})
    assert cleared.status_code == 302
    assert company_named(demo, GARAGE).protection_date is None
    assert company_named(demo, BAKERY).protection_date == date(2025, 12, 31)


def test_a_protection_date_in_the_future_is_refused_and_nothing_changes(demo, as_user):
    """A protection date closes a period that has ended: tomorrow would freeze today's
    deposits at once."""
    from datetime import timedelta

    from config.dates import today_in_paris

    expert = as_user("expert")
    tomorrow = today_in_paris() + timedelta(days=1)
    reply = expert.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY, GARAGE), "action": "protect",
        "protection_date": tomorrow.isoformat()})
    assert reply.status_code == 400
    assert f"le {tomorrow:%d/%m/%Y} est à venir" in text(reply)
    assert company_named(demo, BAKERY).protection_date is None
    assert company_named(demo, GARAGE).protection_date is None
    today = expert.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY), "action": "protect",
        "protection_date": today_in_paris().isoformat()})
    assert today.status_code == 302
    assert company_named(demo, BAKERY).protection_date == today_in_paris()


def test_a_refused_form_offers_the_way_back_to_its_page(demo, as_user):
    """A refusal answers 403 with its sentence, and a link back to the page the form was
    on (this site's only: a foreign Referer gives none)."""
    assistant = as_user("assistant")
    came_from = f"http://localhost{ADMIN}/entreprises?tri=nom"
    reply = assistant.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY), "action": "protect", "protection_date": "2025-12-31"},
        headers={"Referer": came_from})
    assert reply.status_code == 403
    assert f'<a class="button" href="{ADMIN}/entreprises?tri=nom">Revenir à la page ' \
        "précédente</a>" in reply.get_data(as_text=True)
    foreign = assistant.post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY), "action": "protect", "protection_date": "2025-12-31"},
        headers={"Referer": "https://evil.example/administration/entreprises"})
    assert foreign.status_code == 403
    assert "Revenir à la page précédente" not in foreign.get_data(as_text=True)


def test_protection_date_refused_for_an_assistant_is_audited(demo, as_user):
    reply = as_user("assistant").post(f"{ADMIN}/entreprises/selection", {
        "ids": _ids(demo, BAKERY), "action": "protect", "protection_date": "2025-12-31"})
    assert reply.status_code == 403
    assert "Seuls le correspondant et les associés administrent les entreprises." in text(reply)
    assert company_named(demo, BAKERY).protection_date is None
    assert audit(demo, action="company.protection_date")[-1].outcome == "refused"


# --- import ------------------------------------------------------------------------------

def _xlsx(companies: list[list[str]], users: list[list[str]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    sheet = book.create_sheet("Entreprises")
    sheet.append(["raison_sociale", "siren", "interlocuteur_identifiant", "interlocuteur_nom",
                  "portefeuille"])
    for row in companies:
        sheet.append(row)
    sheet = book.create_sheet("Utilisateurs")
    sheet.append(["identifiant", "nom", "role", "portefeuilles"])
    for row in users:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_import_template_is_downloadable(as_user):
    reply = as_user("expert").get(f"{ADMIN}/import/modele.xlsx")
    assert reply.status_code == 200
    book = load_workbook(io.BytesIO(reply.data))
    assert {"Entreprises", "Utilisateurs"} <= set(book.sheetnames)
    assert [c.value for c in book["Entreprises"][1]][:2] == ["raison_sociale", "siren"]
    csv_reply = as_user("expert").get(f"{ADMIN}/import/modele-utilisateurs.csv")
    assert csv_reply.data.decode("utf-8-sig").startswith("identifiant;nom;role")
    assert as_user("expert").get(f"{ADMIN}/import/autre.xlsx").status_code == 404


def test_import_good_file_shows_initial_passwords_once(demo, as_user):
    data = _xlsx([["Menuiserie Bernard", NEW_SIREN, "bernard", "Luc Bernard", "Tous les clients"]],
                 [["aide", "Alice Aide", "assistant", "Tous les clients"]])
    reply = as_user("expert").post(f"{ADMIN}/import", {
        "action": "import", "file": (io.BytesIO(data), "clients.xlsx")},
        content_type="multipart/form-data")
    page = text(reply)
    assert reply.status_code == 200, page
    assert reply.headers["Cache-Control"] == "no-store"
    assert "1 entreprise(s) et 1 compte(s) créés" in page
    passwords = dict(re.findall(r"<tr><td>([^<]+)</td><td><code class=\"secret\">([^<]+)</code>",
                                page))
    assert set(passwords) == {"bernard", "aide"}
    with demo.session() as s:
        aide = s.scalars(select(User).where(User.login == "aide")).one()
        assert [p.name for p in aide.portfolios] == ["Tous les clients"]
        assert aide.must_change_password
    assert audit(demo, action="import")[-1].outcome == "ok"


def test_import_bad_file_creates_nothing_and_lists_row_errors(demo, as_user):
    body = ("raison_sociale;siren;interlocuteur_identifiant;interlocuteur_nom\n"
            f"Menuiserie Bernard;{NEW_SIREN};bernard;Luc Bernard\n"
            "Plomberie <b>Petit</b>;123456789;petit;Jean Petit\n"
            f"Doublon;{NEW_SIREN};autre;Autre\n").encode("cp1252", errors="replace")
    reply = as_user("expert").post(f"{ADMIN}/import", {
        "action": "import", "file": (io.BytesIO(body), "clients.csv")},
        content_type="multipart/form-data")
    assert reply.status_code == 400
    page = reply.get_data(as_text=True)
    assert "Import refusé : 2 erreur(s), rien n&#39;a été créé." in page
    errors = [html.unescape(e) for e in re.findall(r"<li>([^<]*ligne[^<]*)</li>", page)]
    assert errors[0].startswith("Entreprises, ligne 3 : SIREN invalide")
    assert errors[1].startswith(f"Entreprises, ligne 4 : Une entreprise de SIREN {NEW_SIREN}")
    assert "<b>Petit</b>" not in page  # user text is escaped
    assert user_named(demo, "bernard") is None
    with demo.session() as s:
        assert s.scalars(select(Company).where(Company.siren == NEW_SIREN)).first() is None
    assert audit(demo, action="import")[-1].outcome == "refused"


def test_import_check_only_creates_nothing(demo, as_user):
    data = _xlsx([["Menuiserie Bernard", NEW_SIREN, "bernard", "Luc Bernard", ""]], [])
    reply = as_user("expert").post(f"{ADMIN}/import", {
        "action": "check", "file": (io.BytesIO(data), "clients.xlsx")},
        content_type="multipart/form-data")
    assert reply.status_code == 200
    assert "Vérification réussie" in text(reply)
    assert user_named(demo, "bernard") is None


@pytest.mark.parametrize(("name", "body", "message"), [
    ("clients.pdf", b"%PDF-1.4", "Format non pris en charge"),
    ("clients.xlsx", b"not a zip", "pas un classeur Excel"),
    ("clients.csv", b"", "aucune ligne"),
])
def test_import_unreadable_files(as_user, name, body, message):
    reply = as_user("expert").post(f"{ADMIN}/import", {
        "action": "import", "file": (io.BytesIO(body), name)},
        content_type="multipart/form-data")
    assert reply.status_code == 400
    assert message in text(reply)


def test_import_without_a_file(as_user):
    reply = as_user("expert").post(f"{ADMIN}/import", {"action": "import"})
    assert reply.status_code == 400
    assert field_error(reply, "file") == "Choisissez un fichier .xlsx ou .csv."


# --- users -------------------------------------------------------------------------------

def test_role_choices_are_those_the_user_may_create(as_user):
    def roles(login):
        page = as_user(login).get(f"{ADMIN}/utilisateurs/nouveau").get_data(as_text=True)
        select_html = re.search(r'<select id="f-role".*?</select>', page, re.S).group(0)
        return re.findall(r'<option value="([^"]+)"', select_html)

    assert roles("expert") == ["associé", "assistant"]
    assert roles("associe") == ["assistant"]
    assert roles("martin") == ["utilisateur"]
    assert as_user("assistant").get(f"{ADMIN}/utilisateurs/nouveau").status_code == 403


def test_interlocuteur_creates_a_user_with_an_initial_password(demo, as_user):
    reply = as_user("martin").post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "utilisateur", "login": "vendeuse", "display_name": "Vera Vendeuse",
        "email": ""})
    assert reply.status_code == 200, text(reply)
    assert re.search(r'<code class="secret">[^<]{12,}</code>', reply.get_data(as_text=True))
    created = user_named(demo, "vendeuse")
    assert created.must_change_password
    assert created.company_id == company_named(demo, BAKERY).id


def test_user_with_email_is_invited_and_the_invitation_can_be_resent(demo, as_user):
    martin = as_user("martin")
    reply = martin.post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "utilisateur", "login": "vendeuse", "display_name": "Vera Vendeuse",
        "email": "vera@boulangerie.invalid"})
    assert reply.status_code == 200
    assert "L'invitation pour vera@boulangerie.invalid attend dans la file d'envoi" in \
        plain(reply)
    listing = text(martin.get(f"{ADMIN}/utilisateurs"))
    assert "invitation en file d'envoi" in listing and "Renvoyer l'invitation" in listing
    again = martin.post(f"{ADMIN}/utilisateurs/vendeuse/invitation")
    assert again.status_code == 302
    with demo.session() as s:
        mails = s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "vera@boulangerie.invalid")).all()
        vendeuse = s.scalars(select(User).where(User.login == "vendeuse")).one()
        invited = s.scalars(select(Invitation).where(Invitation.user_id == vendeuse.id)).all()
    assert len(mails) == 2
    assert len(invited) == 2
    assert len([i for i in invited if i.expires_at > utcnow()]) == 1  # the older link stopped
    listing = text(martin.get(f"{ADMIN}/utilisateurs"))
    assert "Invitation pour vera@boulangerie.invalid attend dans la file d'envoi" in listing


def test_user_form_error_keeps_what_was_typed(demo, as_user):
    reply = as_user("expert").post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "assistant", "login": "martin", "display_name": "Autre Martin",
        "email": "autre@demo.invalid"})
    assert reply.status_code == 400
    assert field_error(reply, "login") == "L'identifiant « martin » est déjà pris."
    assert input_value(reply, "display_name") == "Autre Martin"
    assert input_value(reply, "email") == "autre@demo.invalid"
    assert '<option value="assistant" selected>' in reply.get_data(as_text=True)


def test_assistant_creating_an_associe_is_refused_with_the_reason(demo, as_user):
    reply = as_user("assistant").post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "associé", "login": "pirate", "display_name": "Pirate", "email": ""})
    assert reply.status_code == 403
    assert "Un compte « assistant » ne peut pas créer de compte « associé »." in text(reply)
    assert user_named(demo, "pirate") is None
    entry = audit(demo, action="user.create")[-1]
    assert (entry.actor_login, entry.outcome, entry.target) == ("assistant", "refused", "pirate")


def test_associe_creating_an_associe_keeps_the_form(demo, as_user):
    reply = as_user("associe").post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "associé", "login": "pirate", "display_name": "Pirate", "email": ""})
    assert reply.status_code == 403
    assert "Un compte « associé » ne peut pas créer de compte « associé »." in text(reply)
    assert input_value(reply, "login") == "pirate"
    assert user_named(demo, "pirate") is None


def test_disable_enable_and_reset_password(demo, as_user):
    martin = as_user("martin")
    before = user_named(demo, "secretaire").credentials_version
    assert martin.post(f"{ADMIN}/utilisateurs/secretaire/etat", {"active": "0"}).status_code == 302
    assert not user_named(demo, "secretaire").active
    assert "Réactiver" in text(martin.get(f"{ADMIN}/utilisateurs"))
    assert martin.post(f"{ADMIN}/utilisateurs/secretaire/etat", {"active": "1"}).status_code == 302
    assert user_named(demo, "secretaire").active
    reply = martin.post(f"{ADMIN}/utilisateurs/secretaire/mot-de-passe")
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="secret">([^<]+)</code>', text(reply)).group(1)
    after = user_named(demo, "secretaire")
    assert after.must_change_password and after.credentials_version > before
    as_user("secretaire", password)  # the new password signs in
    assert [e.action for e in audit(demo, actor_login="martin")][-3:] == \
        ["user.disable", "user.enable", "user.password_reset"]


def test_user_acts_out_of_reach(demo, as_user):
    # Dupont's account is invisible to Martin: 404; an associé may not disable the
    # correspondant: 403 with the reason, audited.
    assert as_user("martin").post(f"{ADMIN}/utilisateurs/dupont/etat",
                                  {"active": "0"}).status_code == 404
    reply = as_user("associe").post(f"{ADMIN}/utilisateurs/expert/etat", {"active": "0"})
    assert reply.status_code == 403
    assert "Un associé administre les assistants et les interlocuteurs" in text(reply)
    assert user_named(demo, "expert").active
    assert audit(demo, action="user.disable")[-1].outcome == "refused"


def test_user_list_columns_and_buttons(as_user):
    page = text(as_user("associe").get(f"{ADMIN}/utilisateurs"))
    row = re.search(r"<tr>\s*<td>assistant</td>.*?</tr>", page, re.S).group(0)
    assert "Inès Assistante" in row and "Assistant" in row and "assistant@demo.invalid" in row
    assert "Désactiver" in row  # an associé manages assistants...
    expert_row = re.search(r"<tr>\s*<td>expert</td>.*?</tr>", page, re.S).group(0)
    assert "Désactiver" not in expert_row  # ... not the correspondant


# --- habilitations -----------------------------------------------------------------------

def _cell(db, login: str, folder: str) -> str:
    return f"folder|{user_named(db, login).id}|{folder}"


def test_matrix_grant_read_on_fiscalite_to_secretaire(demo, as_user):
    bakery = company_named(demo, BAKERY)
    martin = as_user("martin")
    assert martin.get(f"{ADMIN}/habilitations").headers["Location"].endswith(
        f"/habilitations/{bakery.id}")
    page = martin.get(f"{ADMIN}/habilitations/{bakery.id}").get_data(as_text=True)
    assert '<label class="sr-only" for="' in page and "secretaire — Fiscalité" in page
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.NONE
    reply = martin.post(f"{ADMIN}/habilitations/{bakery.id}",
                        {_cell(demo, "secretaire", "Fiscalité"): "lecture",
                         _cell(demo, "secretaire", "Achats"): "écriture"})  # unchanged
    assert reply.status_code == 302
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.READ
    assert level_of(demo, "secretaire", BAKERY, "Achats") == Level.WRITE
    grants = audit(demo, action="habilitation.grant", actor_login="martin")
    assert [e.target for e in grants][-1] == "secretaire Boulangerie Martin/Fiscalité"
    assert "1 droit modifié." in text(martin.get(f"{ADMIN}/habilitations/{bakery.id}"))
    # Revoke: "aucun".
    martin.post(f"{ADMIN}/habilitations/{bakery.id}",
                {_cell(demo, "secretaire", "Fiscalité"): "aucun"})
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.NONE


def test_matrix_services_for_utilisateurs(demo, as_user):
    bakery = company_named(demo, BAKERY)
    secretaire = user_named(demo, "secretaire")
    reply = as_user("martin").post(f"{ADMIN}/habilitations/{bakery.id}",
                                   {f"service|{secretaire.id}|messagerie": "oui"})
    assert reply.status_code == 302
    with demo.session() as s:
        assert has_service(load_principal(s, s.get(User, secretaire.id)), bakery.id,
                           Service.MESSAGING)
    # The correspondant has no invoicing of his own: the "oui" option is disabled, with the
    # service's reason; forcing it is refused next to the cell.
    expert = as_user("expert")
    page = text(expert.get(f"{ADMIN}/habilitations/{bakery.id}"))
    assert '<option value="oui" disabled>' in page
    assert "Vous ne pouvez pas accorder la facturation : vous ne l'avez pas." in page
    forced = expert.post(f"{ADMIN}/habilitations/{bakery.id}",
                         {f"service|{secretaire.id}|facturation": "oui"})
    assert forced.status_code == 403
    assert "1 refusée" in text(forced)
    assert re.search(r'<p class="error" id="e-s\d+-1">Vous ne pouvez pas accorder la '
                     r"facturation", text(forced))


def test_matrix_rows_and_refused_cells(demo, as_user):
    bakery = company_named(demo, BAKERY)
    page = text(as_user("associe").get(f"{ADMIN}/habilitations/{bakery.id}"))
    # Rows: the assistant reaching the bakery, its utilisateur; not the interlocuteur.
    assert re.findall(r'<span class="when">(\w+) ·', page) == ["assistant", "secretaire"]
    # An associé manages assistants, not a company's utilisateurs: the row says why.
    secretaire_row = re.search(r"Sophie Secrétaire.*?</tr>", page, re.S).group(0)
    assert "Un associé administre les assistants et les interlocuteurs de ses entreprises." \
        in secretaire_row
    assert "<select" not in secretaire_row
    assert "<select" in re.search(r"Inès Assistante.*?</tr>", page, re.S).group(0)


def test_matrix_refusal_keeps_the_typed_value_and_saves_the_rest(demo, as_user):
    bakery = company_named(demo, BAKERY)
    reply = as_user("associe").post(f"{ADMIN}/habilitations/{bakery.id}", {
        _cell(demo, "assistant", "Social"): "lecture",
        _cell(demo, "secretaire", "Fiscalité"): "lecture"})
    assert reply.status_code == 403
    page = text(reply)
    assert "1 modification enregistrée ; 1 refusée" in page
    assert level_of(demo, "assistant", BAKERY, "Social") == Level.READ
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.NONE
    assert audit(demo, action="habilitation.grant", actor_login="associe")[-1].outcome == \
        "refused"


def test_correspondant_grants_to_a_company_utilisateur(demo, as_user):
    """The delegation rules let the correspondant manage every account (acl.rights.delegation)."""
    bakery = company_named(demo, BAKERY)
    reply = as_user("expert").post(f"{ADMIN}/habilitations/{bakery.id}",
                                   {_cell(demo, "secretaire", "Fiscalité"): "lecture"})
    assert reply.status_code == 302
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.READ


def test_secretaire_posting_to_the_matrix_is_refused_with_the_reason(demo, as_user):
    bakery = company_named(demo, BAKERY)
    secretaire = as_user("secretaire")
    assert secretaire.get(f"{ADMIN}/habilitations/{bakery.id}").status_code == 403
    reply = secretaire.post(f"{ADMIN}/habilitations/{bakery.id}",
                            {_cell(demo, "secretaire", "Fiscalité"): "écriture"})
    assert reply.status_code == 403
    assert "Vous ne pouvez pas administrer votre propre compte." in text(reply)
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.NONE
    entry = audit(demo, action="habilitation.grant")[-1]
    assert (entry.actor_login, entry.outcome) == ("secretaire", "refused")


def test_matrix_of_a_company_out_of_reach_is_404(demo, as_user):
    garage = company_named(demo, GARAGE)
    assert as_user("martin").get(f"{ADMIN}/habilitations/{garage.id}").status_code == 404
    assert as_user("martin").post(f"{ADMIN}/habilitations/{garage.id}", {}).status_code == 404
    assert as_user("expert").get(f"{ADMIN}/habilitations/99999").status_code == 404


def test_matrix_bad_values(demo, as_user):
    bakery = company_named(demo, BAKERY)
    reply = as_user("martin").post(f"{ADMIN}/habilitations/{bakery.id}", {
        _cell(demo, "secretaire", "Fiscalité"): "tout",
        f"folder|{user_named(demo, 'secretaire').id}|Inconnu": "lecture"})
    assert reply.status_code == 400
    page = text(reply)
    assert "Niveau refusé : niveau inconnu « tout »" in page
    assert "« Inconnu » n'est pas un dossier de Boulangerie Martin" in page
    assert level_of(demo, "secretaire", BAKERY, "Fiscalité") == Level.NONE


# --- portfolios --------------------------------------------------------------------------

def test_portfolios_create_compose_delete(demo, as_user):
    expert = as_user("expert")
    reply = expert.post(f"{ADMIN}/portefeuilles", {"name": "Artisans"})
    assert reply.status_code == 302
    with demo.session() as s:
        artisans = s.scalars(select(Portfolio).where(Portfolio.name == "Artisans")).one()
    url = f"{ADMIN}/portefeuilles/{artisans.id}"
    assert reply.headers["Location"].endswith(url)
    garage = company_named(demo, GARAGE)
    assert expert.post(f"{url}/entreprises", {"company": garage.id, "present": "1"}
                       ).status_code == 302
    assert expert.post(f"{url}/membres", {"login": "assistant", "present": "1"}
                       ).status_code == 302
    page = text(expert.get(url))
    assert "Garage Dupont" in page and "Inès Assistante" in page
    with demo.session() as s:
        assistant = load_principal(s, s.scalars(select(User).where(User.login == "assistant"))
                                   .one())
    assert garage.id in assistant.portfolio_company_ids
    assert expert.post(f"{url}/membres", {"login": "assistant", "present": "0"}
                       ).status_code == 302
    duplicate = expert.post(f"{ADMIN}/portefeuilles", {"name": "artisans"})
    assert duplicate.status_code == 400
    assert field_error(duplicate, "name") == "Le portefeuille « artisans » existe déjà."
    assert expert.post(f"{url}/supprimer").status_code == 302
    assert expert.get(url).status_code == 404


def test_associe_composes_his_portfolios_only(demo, as_user, ctx_of):
    associe = as_user("associe")
    theirs = not_his_portfolio(demo, ctx_of)
    with demo.session() as s:
        ids = {p.name: p.id for p in s.scalars(select(Portfolio))}
    page = text(associe.get(f"{ADMIN}/portefeuilles"))
    assert "Tous les clients" in page and "Garages du Sud" not in page
    assert "Nouveau portefeuille" not in page
    refused = associe.post(f"{ADMIN}/portefeuilles", {"name": "Le mien"})
    assert refused.status_code == 403
    assert "Seul le correspondant crée, renomme et supprime les portefeuilles." in text(refused)
    assert associe.get(f"{ADMIN}/portefeuilles/{theirs}").status_code == 404
    himself = associe.post(f"{ADMIN}/portefeuilles/{ids['Tous les clients']}/membres",
                           {"login": "associe", "present": "1"})
    assert himself.status_code == 403
    assert "Un associé place des assistants dans ses portefeuilles." in text(himself)
    added = associe.post(f"{ADMIN}/portefeuilles/{ids['Tous les clients']}/membres",
                         {"login": "assistant", "present": "1"})
    assert added.status_code == 302


# --- audit log ---------------------------------------------------------------------------

def _audit_rows(reply) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", reply.get_data(as_text=True), re.S).group(1)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_audit_page_filters(demo, as_user):
    bakery = company_named(demo, BAKERY)
    as_user("assistant").post(f"{ADMIN}/utilisateurs/nouveau", {
        "role": "associé", "login": "pirate", "display_name": "Pirate"})
    as_user("martin").post(f"{ADMIN}/habilitations/{bakery.id}",
                           {_cell(demo, "secretaire", "Fiscalité"): "lecture"})
    expert = as_user("expert")
    everything = _audit_rows(expert.get(f"{ADMIN}/journal"))
    assert len(everything) == len(audit(demo))
    refused = _audit_rows(expert.get(f"{ADMIN}/journal?refused=1"))
    assert [(r[1], r[2], r[3], r[5]) for r in refused] == \
        [("assistant", "Création de compte", "pirate", "refusé")]
    assert "ne peut pas créer de compte « associé »" in refused[0][6]
    by_actor = _audit_rows(expert.get(f"{ADMIN}/journal?actor=martin"))
    assert {r[1] for r in by_actor} == {"martin"}
    assert "Droit sur un dossier" in {r[2] for r in by_actor}
    # in words: no action code, no JSON
    grant = next(r for r in by_actor if r[2] == "Droit sur un dossier")
    assert grant[6] == "niveau : lecture", grant
    assert not any("{" in r[6] or re.fullmatch(r"[a-z_]+\.[a-z_]+", r[2]) for r in everything)
    by_action = _audit_rows(expert.get(f"{ADMIN}/journal?action=habilitation"))
    assert by_action and {r[2] for r in by_action} == {"Droit sur un dossier"}
    by_company = _audit_rows(expert.get(f"{ADMIN}/journal?company={bakery.id}"))
    assert by_company and {r[4] for r in by_company} == {BAKERY}
    today = date.today().isoformat()
    assert len(_audit_rows(expert.get(f"{ADMIN}/journal?since={today}&until={today}"))) == \
        len(everything)
    assert _audit_rows(expert.get(f"{ADMIN}/journal?since=2000-01-01&until=2000-01-02")) == \
        [["Aucune entrée ne correspond."]]
    bad = expert.get(f"{ADMIN}/journal?since=hier&actor=martin")
    assert bad.status_code == 400
    assert field_error(bad, "since").startswith("Date invalide")
    assert input_value(bad, "actor") == "martin"


def test_audit_page_is_for_correspondant_and_associes(as_user):
    assert as_user("associe").get(f"{ADMIN}/journal").status_code == 200
    reply = as_user("martin").get(f"{ADMIN}/journal")
    assert reply.status_code == 403
    assert "Le journal d'audit est réservé au correspondant et aux associés." in text(reply)


# --- access, navigation, CSRF, escaping --------------------------------------------------

def test_index_links_to_the_sections_the_user_may_use(as_user):
    def links(login):
        page = as_user(login).get(ADMIN).get_data(as_text=True)
        section_list = re.search(r'<ul class="sections">(.*?)</ul>', page, re.S).group(1)
        return re.findall(r'<h2><a href="([^"]+)"', section_list)

    assert links("associe") == [f"{ADMIN}/{p}" for p in ("entreprises", "import",
                                                         "utilisateurs", "habilitations",
                                                         "portefeuilles", "verrous", "journal")]
    assert links("expert") == [*links("associe")[:-1], f"{ADMIN}/cabinet", f"{ADMIN}/journal"]
    assert links("martin") == [f"{ADMIN}/{p}" for p in ("import", "utilisateurs",
                                                        "habilitations")]
    for login in ("assistant", "secretaire"):
        browser = as_user(login)
        reply = browser.get(ADMIN)
        assert reply.status_code == 403
        assert "Votre compte n'a accès à aucune fonction d'administration." in text(reply)
        assert f'href="{ADMIN}"' not in browser.get("/tableau-de-bord").get_data(as_text=True)
    assert f'href="{ADMIN}"' in as_user("martin").get("/tableau-de-bord").get_data(as_text=True)


def test_signed_out_is_sent_to_sign_in(app):
    reply = app.test_client().get(f"{ADMIN}/entreprises")
    assert reply.status_code == 302 and "/connexion" in reply.headers["Location"]
    assert app.test_client().get(f"{ADMIN}/").headers["Location"] == ADMIN


@pytest.mark.parametrize("path", ["/entreprises/nouvelle", "/entreprises/selection",
                                  "/import", "/utilisateurs/nouveau",
                                  "/utilisateurs/secretaire/etat", "/habilitations/1",
                                  "/portefeuilles"])
def test_missing_or_forged_csrf_token_is_refused(demo, as_user, path):
    expert = as_user("expert")
    missing = expert.client.post(ADMIN + path, data={"name": "X", "active": "0"})
    assert missing.status_code == 400
    assert "Jeton de sécurité absent ou invalide" in text(missing)
    forged = expert.client.post(ADMIN + path, data={"csrf_token": "faux", "active": "0"})
    assert forged.status_code == 400
    assert user_named(demo, "secretaire").active


def test_user_text_is_escaped(demo, as_user):
    expert = as_user("expert")
    hostile = "<script>alert(1)</script>"
    reply = expert.post(f"{ADMIN}/entreprises/nouvelle", {**COMPANY_FORM, "name": hostile})
    assert reply.status_code == 200, text(reply)
    for page in (expert.get(f"{ADMIN}/entreprises"), expert.get(f"{ADMIN}/journal"),
                 expert.get(f"{ADMIN}/habilitations")):
        body = page.get_data(as_text=True)
        assert hostile not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    refused = expert.post(f"{ADMIN}/entreprises/nouvelle",
                          {**COMPANY_FORM, "siren": hostile, "interlocuteur_login": "x2"})
    assert hostile not in refused.get_data(as_text=True)
