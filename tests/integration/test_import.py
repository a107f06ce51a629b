"""Bulk import from .xlsx / .csv: all or nothing, every error with its row number."""

from __future__ import annotations

import re
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from acl.people.bulk_import import (
    COMPANY_COLUMNS,
    USER_COLUMNS,
    ImportRefused,
    read_file,
    write_template,
)
from acl.people.models import Company, User
from acl.rights.models import AuditEntry, Level
from acl.rights.policy import folder_level
from acl.rights.principals import load_principal
from liasse.cli import main

COMPANY_HEADER = ["raison_sociale", "siren", "forme_juridique", "date_protection", "portefeuille",
                  "interlocuteur_identifiant", "interlocuteur_nom", "interlocuteur_email"]
USER_HEADER = ["identifiant", "nom", "role", "email", "portefeuilles"]


def _xlsx(path, companies, users=()):
    book = Workbook()
    ws = book.active
    ws.title = "Entreprises"
    ws.append(COMPANY_HEADER)
    for row in companies:
        ws.append(row)
    if users:
        wu = book.create_sheet("Utilisateurs")
        wu.append(USER_HEADER)
        for row in users:
            wu.append(row)
    book.save(path)
    return path


def _counts(db):
    with db.session() as s:
        return (s.scalar(select(func.count()).select_from(Company)),
                s.scalar(select(func.count()).select_from(User)))


GOOD_COMPANIES = [
    ["Pharmacie Durand", 443061841, "SELARL", date(2025, 12, 31), "Tous les clients", "durand",
     "Marie Durand", "durand@example.fr"],
    ["Fleurs & Co", "542065479", "SAS", None, None, "fleurs", "Luc Fleur", None],
]


def test_good_xlsx_creates_companies_interlocuteurs_and_users(demo, settings, tmp_path, capsys):
    path = _xlsx(tmp_path / "clients.xlsx", GOOD_COMPANIES,
                 [["nadia", "Nadia Assistante", "assistant", "", "Tous les clients"]])
    code = main(["--config", str(settings.source), "import", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 entreprise(s), 1 utilisateur(s)" in out
    with demo.session() as s:
        pharmacy = s.scalars(select(Company).where(Company.siren == "443061841")).one()
        assert pharmacy.protection_date == date(2025, 12, 31)
        assert [p.name for p in pharmacy.portfolios] == ["Tous les clients"]
        durand = s.scalars(select(User).where(User.login == "durand")).one()
        assert durand.role == "interlocuteur" and durand.company_id == pharmacy.id
        nadia = load_principal(s, s.scalars(select(User).where(User.login == "nadia")).one())
        # in the portfolio "Tous les clients": reaches the imported pharmacy
        assert folder_level(nadia, pharmacy.id, "Achats") == Level.WRITE
    # the initial passwords are handed over once, in the output
    assert "durand" in out and "fleurs" in out and "nadia" in out


def test_file_with_errors_creates_nothing_and_lists_every_row(demo, settings, tmp_path, capsys):
    before = _counts(demo)
    path = _xlsx(tmp_path / "clients.xlsx", [
        GOOD_COMPANIES[0],
        ["Mauvais SIREN", "123456789", "", None, None, "mauvais", "M. Mauvais", None],
        ["Doublon", "542065479", "", "32/13/2025", None, "doublon", "D", None],
        ["Login pris", "542065479", "", None, None, "martin", "Faux Martin", None],
    ], [["durand", "Double Durand", "associé", "", ""]])
    code = main(["--config", str(settings.source), "import", str(path)])
    out = capsys.readouterr().err
    assert code == 1
    assert "rien n'a été créé" in out
    assert "Entreprises, ligne 3 : SIREN invalide" in out
    assert "Entreprises, ligne 4 :" in out and "date invalide" in out
    assert "Entreprises, ligne 5 :" in out and "martin" in out
    assert "Utilisateurs, ligne 2 :" in out and "durand" in out  # taken by row 2's company
    assert _counts(demo) == before
    with demo.session() as s:
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
        assert [e.outcome for e in refused] == ["refused"]


def test_missing_and_unknown_columns_are_refused_before_any_row(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("raison_sociale;sirne;interlocuteur_identifiant\nA;1;a\n", encoding="utf-8")
    with pytest.raises(ImportRefused) as caught:
        read_file(path)
    errors = "\n".join(caught.value.errors)
    assert "colonne inconnue « sirne »" in errors
    assert "colonne obligatoire manquante « siren »" in errors
    assert "colonne obligatoire manquante « interlocuteur_nom »" in errors


def test_csv_semicolon_cp1252_from_french_excel(demo, settings, tmp_path, capsys):
    path = tmp_path / "clients.csv"
    text = ("raison_sociale;siren;interlocuteur_identifiant;interlocuteur_nom\n"
            "Crêperie Hervé;443061841;herve;Hervé Le Goff\n")
    path.write_bytes(text.encode("cp1252"))
    assert main(["--config", str(settings.source), "import", str(path)]) == 0
    with demo.session() as s:
        assert s.scalars(select(Company.name).where(Company.siren == "443061841")).one() \
            == "Crêperie Hervé"


def test_utilisateur_rows_follow_delegation(demo, settings, tmp_path, capsys):
    """The correspondant cannot create company users; their interlocuteur can."""
    path = tmp_path / "users.csv"
    path.write_text("identifiant,nom,role,entreprise,dossiers_lecture,dossiers_ecriture\n"
                    "compta,Paul Compta,utilisateur,732829320,Fiscalité,\"Achats,Banque\"\n",
                    encoding="utf-8")
    assert main(["--config", str(settings.source), "import", str(path)]) == 1
    assert "Utilisateurs, ligne 2" in capsys.readouterr().err
    assert main(["--config", str(settings.source), "--as", "martin", "import", str(path)]) == 0
    with demo.session() as s:
        compta = load_principal(s, s.scalars(select(User).where(User.login == "compta")).one())
        bakery = s.scalars(select(Company).where(Company.siren == "732829320")).one()
        assert folder_level(compta, bakery.id, "Fiscalité") == Level.READ
        assert folder_level(compta, bakery.id, "Banque") == Level.WRITE
        assert folder_level(compta, bakery.id, "Social") == Level.NONE


def _onboarding_file(tmp_path, portfolio=""):
    """A new client whole, as the firm prepares it from its template: the company with its
    interlocuteur, and two of its people with their folders."""
    path = tmp_path / "nouveau-client.xlsx"
    book = Workbook()
    companies = book.active
    companies.title = "Entreprises"
    companies.append(["raison_sociale", "siren", "portefeuille", "interlocuteur_identifiant",
                      "interlocuteur_nom"])
    companies.append(["Pharmacie de l'Église", "443061841", portfolio, "eglise",
                      "Anne Église"])
    people = book.create_sheet("Utilisateurs")
    people.append(["identifiant", "nom", "role", "entreprise", "dossiers_lecture",
                   "dossiers_ecriture"])
    people.append(["preparatrice", "Léa Préparatrice", "utilisateur", "443061841", "Banque",
                   "Achats"])
    people.append(["comptoir", "Marc Comptoir", "utilisateur", "443061841", "", "Ventes"])
    book.save(path)
    return path


@pytest.mark.parametrize("login, portfolio", [("expert", ""), ("associe", "Tous les clients")])
def test_the_firm_onboards_a_company_whole_from_its_template(demo, settings, tmp_path, capsys,
                                                              login, portfolio):
    """Seed 000: the firm creates the company accounts from its Excel model at start-up. In
    the import that creates the company, the firm creates its utilisateurs with their
    folders; once the company exists, that is its interlocuteur's."""
    path = _onboarding_file(tmp_path, portfolio)
    code = main(["--config", str(settings.source), "--as", login, "import", str(path)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "1 entreprise(s), 2 utilisateur(s)" in out.out
    with demo.session() as s:
        pharmacy = s.scalars(select(Company).where(Company.siren == "443061841")).one()
        lea = load_principal(s, s.scalars(select(User).where(
            User.login == "preparatrice")).one())
        assert lea.company_id == pharmacy.id and lea.role.value == "utilisateur"
        assert folder_level(lea, pharmacy.id, "Achats") == Level.WRITE
        assert folder_level(lea, pharmacy.id, "Banque") == Level.READ
        assert folder_level(lea, pharmacy.id, "Fiscalité") == Level.NONE

    # Later, the same firm cannot add people to that company behind the interlocuteur's back.
    later = tmp_path / "plus-tard.csv"
    later.write_text("identifiant,nom,role,entreprise\nstagiaire,Tom Stagiaire,utilisateur,"
                     "443061841\n", encoding="utf-8")
    assert main(["--config", str(settings.source), "--as", login, "import", str(later)]) == 1
    assert "créés par son interlocuteur" in capsys.readouterr().err
    assert main(["--config", str(settings.source), "--as", "eglise", "import", str(later)]) == 0


def test_a_row_reports_all_its_errors_at_once(demo, settings, tmp_path, capsys):
    path = tmp_path / "erreurs.csv"
    path.write_text("identifiant,nom,role,email,portefeuilles\n"
                    "Pas Valide!,,stagiaire,pas-une-adresse,Inconnu\n", encoding="utf-8")
    assert main(["--config", str(settings.source), "import", str(path)]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines()
             if "Utilisateurs, ligne 2 :" in line]
    assert len(lines) == 5, lines
    for words in ("Identifiant invalide", "nom affiché est obligatoire", "rôle inconnu",
                  "Adresse e-mail invalide", "Portefeuille introuvable"):
        assert any(words in line for line in lines), (words, lines)


def test_dry_run_checks_without_creating(demo, settings, tmp_path, capsys):
    before = _counts(demo)
    path = _xlsx(tmp_path / "c.xlsx", GOOD_COMPANIES)
    assert main(["--config", str(settings.source), "import", "--dry-run", str(path)]) == 0
    assert "Rien n'a été créé" in capsys.readouterr().out
    assert _counts(demo) == before


def test_template_has_every_column_and_round_trips(tmp_path):
    xlsx = tmp_path / "modele.xlsx"
    write_template(xlsx)
    book = load_workbook(xlsx, read_only=True)
    assert [c.value for c in next(book["Entreprises"].iter_rows(max_row=1))] \
        == list(COMPANY_COLUMNS)
    assert [c.value for c in next(book["Utilisateurs"].iter_rows(max_row=1))] \
        == list(USER_COLUMNS)
    book.close()
    with pytest.raises(ImportRefused) as caught:  # an empty template imports nothing
        read_file(xlsx)
    assert "aucune ligne" in caught.value.errors[0]


@pytest.mark.parametrize("name, content, expected", [
    ("x.xlsx", b"PK\x03\x04 not really a zip", "classeur Excel"),
    ("x.pdf", b"%PDF-1.4", "Format non pris en charge"),
    ("x.csv", b"a\x00b", "octets nuls"),
])
def test_broken_files_get_one_sentence(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportRefused) as caught:
        read_file(path)
    assert expected in caught.value.errors[0]


def test_the_web_import_sends_the_welcome_mail_instead_of_passwords(demo, visit, tmp_path):
    """Accounts with an address get the firm's invitation, in its colours, with a link to
    choose a password; only those without one get a password on screen. No SMTP server in
    the tests: the page says the mails wait in the outbox."""
    from support.web import text_of

    from acl.events.models import OutboxMessage

    path = tmp_path / "clients.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.title = "Entreprises"
    sheet.append(["raison_sociale", "siren", "interlocuteur_identifiant", "interlocuteur_nom",
                  "interlocuteur_email"])
    sheet.append(["Pharmacie Durand", "443061841", "durand", "Marie Durand",
                  "durand@pharmacie.invalid"])
    sheet.append(["Fleurs & Co", "542065479", "fleurs", "Luc Fleur", None])
    book.save(path)
    expert = visit("expert")
    with path.open("rb") as upload:
        reply = expert.post("/administration/import", {"file": (upload, "clients.xlsx")},
                            content_type="multipart/form-data")
    page = text_of(reply)
    assert reply.status_code == 200, page
    assert "Les invitations attendent dans la file d'envoi" in page
    assert "durand@pharmacie.invalid" in page
    secrets_shown = re.findall(r'<td>(\w+)</td><td><code class="secret">', page)
    assert secrets_shown == ["fleurs"]  # no address: a password to hand over
    with demo.session() as s:
        mail = s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "durand@pharmacie.invalid")).one()
    assert mail.subject == "[Cabinet Démo] Votre accès à la plateforme documentaire"
    assert "Votre identifiant : durand" in mail.text_body
    assert "valable trois jours" in mail.text_body
    assert "background:#1f4e79" in mail.html_body  # the firm's colour
    link = re.search(r"http://localhost(/invitation/\S+)", mail.text_body).group(1)
    assert expert.get(link).status_code == 200


def test_the_cli_invites_when_the_public_address_is_known(demo, settings_file, tmp_path,
                                                          capsys):
    from acl.events.models import OutboxMessage

    config = settings_file(server={"public_url": "https://liasse.cabinet.invalid",
                                   "allow_plain_http": True})
    path = tmp_path / "users.csv"
    path.write_text("identifiant,nom,role,email\nnadia,Nadia Assistante,assistant,"
                    "nadia@cabinet.invalid\nmarc,Marc Assistant,assistant,\n",
                    encoding="utf-8")
    assert main(["--config", str(config), "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("Invitation(s) mise(s) dans la file d'envoi (aucun [smtp] host : elles "
            "attendent) : nadia <nadia@cabinet.invalid>.") in out
    assert "marc" in out and "nadia" not in out.split("Invitation(s)")[1].split(".\n", 1)[1]
    with demo.session() as s:
        mail = s.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient == "nadia@cabinet.invalid")).one()
    assert "https://liasse.cabinet.invalid/invitation/" in mail.text_body
