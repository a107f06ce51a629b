"""People administration a firm expects (issue 16, item 5), through the web app: an
account's name and e-mail edited, an account removed (kept for the history that names it),
a portfolio renamed. Whoever manages the account decides (acl.rights.delegation); every act
and every refusal is audited; a refusal is one French sentence and changes nothing."""

from __future__ import annotations

import re

from sqlalchemy import select
from support.web import Visitor, text_of

from acl.people.models import Portfolio, User
from acl.rights.models import AuditEntry

USERS = "/administration/utilisateurs"


def user(demo, login: str) -> User | None:
    with demo.session() as s:
        return s.scalars(select(User).where(User.login == login)).one_or_none()


def last_audit(demo, action: str) -> AuditEntry:
    with demo.session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                         .order_by(AuditEntry.id.desc())).first()


def test_the_interlocuteur_edits_a_user_name_and_email(demo, visit):
    martin = visit("martin")
    assert f"{USERS}/secretaire/modifier" in martin.page(USERS)
    page = martin.page(f"{USERS}/secretaire/modifier")
    assert 'value="Sophie Secrétaire"' in page and 'value="secretaire@demo.invalid"' in page
    answer = martin.post(f"{USERS}/secretaire/modifier",
                         {"display_name": "Sophie Durand", "email": "sophie@boulangerie.invalid"})
    assert answer.status_code == 302
    assert "Compte « secretaire » modifié." in martin.page(f"{USERS}/secretaire/modifier")
    listing = martin.page(USERS)
    assert "Sophie Durand" in listing and "sophie@boulangerie.invalid" in listing
    entry = last_audit(demo, "user.update")
    assert (entry.actor_login, entry.target, entry.outcome) == ("martin", "secretaire", "ok")
    assert "Sophie Durand" in entry.detail


def test_an_address_already_used_or_malformed_is_refused_and_nothing_changes(demo, visit):
    martin = visit("martin")
    for email, sentence in (
            ("MARTIN@demo.invalid", "L'adresse « MARTIN@demo.invalid » est déjà celle d'un "
                                    "autre compte."),
            ("pas-une-adresse", "Adresse e-mail invalide : « pas-une-adresse »."),
    ):
        answer = martin.post(f"{USERS}/secretaire/modifier",
                             {"display_name": "Autre Nom", "email": email})
        assert answer.status_code == 400
        page = text_of(answer)
        assert f'<p class="error" id="e-email">{sentence}</p>' in page
        assert 'value="Autre Nom"' in page  # what was typed is kept
    found = user(demo, "secretaire")
    assert (found.display_name, found.email) == ("Sophie Secrétaire", "secretaire@demo.invalid")


def test_editing_someone_one_does_not_manage_is_refused_with_the_reason(demo, visit):
    associe = visit("associe")
    page = associe.page(f"{USERS}/secretaire/modifier")
    assert "Un associé administre les assistants et les interlocuteurs de ses entreprises." \
        in page and "<form" not in page.split("</header>")[1]
    answer = associe.post(f"{USERS}/secretaire/modifier",
                          {"display_name": "X", "email": ""})
    assert answer.status_code == 403
    assert user(demo, "secretaire").display_name == "Sophie Secrétaire"
    entry = last_audit(demo, "user.update")
    assert (entry.actor_login, entry.outcome) == ("associe", "refused")
    # A company's people are out of another company's reach: 404.
    assert visit("dupont").get(f"{USERS}/secretaire/modifier").status_code == 404


def test_a_removed_user_keeps_their_name_in_the_history_and_never_signs_in(
        demo, app, visit, demo_password):
    removed_id = user(demo, "secretaire").id
    martin = visit("martin")
    confirm = martin.page(f"{USERS}/secretaire/supprimer")
    assert "La suppression est définitive." in confirm
    answer = martin.post(f"{USERS}/secretaire/supprimer")
    assert answer.status_code == 302
    assert "Compte « secretaire » (Sophie Secrétaire) supprimé" in martin.page(USERS)
    # Never listed among the people: users, the matrix, the company's card.
    assert "Sophie Secrétaire" not in martin.page(USERS)
    expert = visit("expert")
    assert "Sophie Secrétaire" not in expert.page(USERS)
    company = user(demo, "martin").company_id
    assert "Sophie Secrétaire" not in expert.page(f"/administration/habilitations/{company}")
    assert "Sophie Secrétaire" not in expert.page(f"/administration/entreprises/{company}")
    # Never signs in again, with the old login or the new one.
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/connexion").get_data(as_text=True)).group(1)
    refused = client.post("/connexion", data={"login": "secretaire", "password": demo_password,
                                              "csrf_token": token})
    assert refused.status_code != 302
    with demo.session() as s:
        row = s.get(User, removed_id)
        assert (row.active, row.email, row.login) == (False, None, f"secretaire~{removed_id}")
    # The statement she deposited still names her.
    folder = expert.page("/documents/Boulangerie Martin/Banque")
    assert "Sophie Secrétaire (compte supprimé)" in folder
    entry = last_audit(demo, "user.remove")
    assert (entry.actor_login, entry.target, entry.outcome) == ("martin", "secretaire", "ok")
    # The login is free for a newcomer.
    created = martin.post(f"{USERS}/nouveau", {"login": "secretaire", "display_name": "Léa Neuve",
                                               "role": "utilisateur", "email": ""})
    assert created.status_code == 200 and "Léa Neuve" in text_of(created)
    assert user(demo, "secretaire").id != removed_id


def test_an_interlocuteur_leaves_with_his_company_only(demo, visit):
    expert = visit("expert")
    page = expert.page(f"{USERS}/martin/modifier")
    assert "L'interlocuteur ne se supprime pas : il part avec son entreprise" in page
    answer = expert.post(f"{USERS}/martin/supprimer")
    assert answer.status_code == 403
    assert "L'interlocuteur ne se supprime pas" in text_of(answer)
    assert user(demo, "martin").active
    assert last_audit(demo, "user.remove").outcome == "refused"
    # Nobody removes their own account.
    assert visit("martin").post(f"{USERS}/martin/supprimer").status_code == 403


def test_a_portfolio_is_renamed_by_the_correspondant(demo, visit):
    with demo.session() as s:
        portfolio = s.scalars(select(Portfolio).where(
            Portfolio.name == "Commerces de bouche")).one()
    url = f"/administration/portefeuilles/{portfolio.id}"
    expert = visit("expert")
    assert "Renommer" in expert.page(url)
    assert expert.post(f"{url}/renommer", {"name": "  Métiers de bouche "}).status_code == 302
    assert "Portefeuille « Commerces de bouche » renommé « Métiers de bouche »." in \
        expert.page(url)
    taken = expert.post(f"{url}/renommer", {"name": "tous les CLIENTS"})
    assert taken.status_code == 400
    assert "Le portefeuille « tous les CLIENTS » existe déjà." in text_of(taken)
    associe: Visitor = visit("associe")
    assert "Renommer" not in associe.page(url)
    refused = associe.post(f"{url}/renommer", {"name": "Autre"})
    assert refused.status_code == 403
    assert "Seul le correspondant crée, renomme et supprime les portefeuilles." in text_of(refused)
    with demo.session() as s:
        assert s.get(Portfolio, portfolio.id).name == "Métiers de bouche"
    entry = last_audit(demo, "portfolio.rename")
    assert (entry.actor_login, entry.outcome) == ("associe", "refused")
