"""Messaging and calendar pages through the Flask test client (issue 19): who sees what,
bad input answered in French next to its field or by a 4xx, markup shown as text, nothing
half-written."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select
from support import conversations
from support.web import text_of

from acl.calendar.models import CalendarAlert, CalendarEvent, FiscalProfile
from acl.events.models import OutboxMessage
from acl.messaging.models import Message, MessageThread
from acl.people.models import Company


@pytest.fixture(autouse=True)
def _without_demo_conversations(demo):
    conversations.clear(demo)


def words(page: str) -> str:
    """The page's text as read: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def ids(db):
    with db.session() as s:
        return {c.name: c.id for c in s.scalars(select(Company))}


def count(db, model) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def martin_id(db) -> int:
    from acl.people.accounts import find_user
    with db.session() as s:
        return find_user(s, "martin").id


def test_expert_writes_martin_reads_and_replies_associe_sees_secretaire_does_not(demo, visit):
    bakery = ids(demo)["Boulangerie Martin"]
    expert = visit("expert")
    answer = expert.post(f"/messagerie/{bakery}", {
        "subject": "<script>alert(1)</script> Bilan", "body": "Bonjour <b>Jean</b>,\nle bilan ?",
        "recipients": str(martin_id(demo))})
    assert answer.status_code == 302, text_of(answer)
    thread_url = answer.headers["Location"]
    page = expert.get(thread_url).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Bilan" in page and "<script>alert" not in page
    assert "Bonjour &lt;b&gt;Jean&lt;/b&gt;" in page
    with demo.session() as s:
        assert [m.recipient for m in s.scalars(select(OutboxMessage))] == ["martin@demo.invalid"]

    martin = visit("martin")
    dashboard = martin.page("/tableau-de-bord")
    assert 'id="nav-messagerie">Messagerie <span class="badge">1<' in dashboard
    assert "Boulangerie Martin : 1 message non lu" in words(dashboard)
    assert "Bonjour <b>Jean</b>" in martin.page(thread_url)
    assert martin.post(thread_url, {"body": "Le voici, en pièce jointe."}).status_code == 302

    assert "Le voici, en pièce jointe." in visit("associe").page(thread_url)

    secretaire = visit("secretaire")
    assert secretaire.get(thread_url).status_code == 404
    assert secretaire.get(f"/messagerie/{bakery}").status_code == 404
    assert "Bilan" not in secretaire.page("/messagerie")
    dupont = visit("dupont")
    assert dupont.get(thread_url).status_code == 404
    garage = ids(demo)["Garage Dupont"]
    thread_id = thread_url.rsplit("/", 1)[1]
    assert dupont.get(f"/messagerie/{garage}/fil/{thread_id}").status_code == 404


def test_bad_messages_are_refused_next_to_their_field_and_nothing_is_written(demo, visit):
    bakery = ids(demo)["Boulangerie Martin"]
    expert = visit("expert")
    empty = expert.post(f"/messagerie/{bakery}", {"subject": "Objet", "body": "   "})
    assert empty.status_code == 400
    assert "Le message est vide : écrivez quelque chose." in text_of(empty)
    huge = expert.post(f"/messagerie/{bakery}", {"subject": "Objet", "body": "x" * 100_001})
    assert huge.status_code == 400 and "100 ko au plus" in text_of(huge)
    stranger = expert.post(f"/messagerie/{bakery}", {"subject": "Objet", "body": "Bonjour",
                                                     "recipients": "999999"})
    assert stranger.status_code == 400 and "interlocuteur désigné" in text_of(stranger)
    assert count(demo, MessageThread) == 0 and count(demo, Message) == 0
    assert count(demo, OutboxMessage) == 0


def test_an_attachment_is_filed_in_the_chosen_folder_and_shown_in_the_thread(demo, visit):
    from acl.documents import store
    bakery = ids(demo)["Boulangerie Martin"]
    with demo.session() as s:
        achats = store.resolve(s, s.get(Company, bakery), ["Achats"]).node.id
    martin = visit("martin")
    answer = martin.post(f"/messagerie/{bakery}", {
        "subject": "Facture EDF", "body": "Ci-joint.", "folder": str(achats),
        "files": [(io.BytesIO(b"%PDF-1.4 edf\n"), "EDF novembre.pdf")]},
        content_type="multipart/form-data")
    assert answer.status_code == 302, text_of(answer)
    page = visit("assistant").page(answer.headers["Location"])
    assert "Pièce jointe" in page and "EDF novembre.pdf" in page
    space = visit("expert").page(f"/messagerie/{bakery}")
    assert "Accusé de dépôt : Achats/EDF novembre.pdf déposé par Jean Martin" in words(space)


def test_edit_and_withdrawal_show_in_the_thread(demo, visit):
    bakery = ids(demo)["Boulangerie Martin"]
    expert = visit("expert")
    thread_url = expert.post(f"/messagerie/{bakery}", {"subject": "Rendez-vous",
                                                       "body": "Mardi 10 h ?"}).headers["Location"]
    with demo.session() as s:
        message_id = s.scalars(select(Message.id)).one()
    assert visit("associe").post(f"/messagerie/{bakery}/message/{message_id}/modifier",
                                 {"body": "pirate"}).status_code == 403
    expert.post(f"/messagerie/{bakery}/message/{message_id}/modifier", {"body": "Mardi 11 h ?"})
    page = visit("martin").page(thread_url)
    assert "Mardi 11 h ?" in page and "Texte précédent" in page and "Mardi 10 h ?" in page
    expert.post(f"/messagerie/{bakery}/message/{message_id}/retirer")
    page = visit("martin").page(thread_url)
    assert "message retiré par Élise Expert le" in words(page)
    assert "Mardi 11 h ?" not in page


def test_forward_address_must_be_an_address_and_confirmed(demo, visit):
    martin = visit("martin")
    bad = martin.post("/messagerie/transferts", {"address": "pas-une-adresse"})
    assert bad.status_code == 400 and "Adresse e-mail invalide" in text_of(bad)
    martin.post("/messagerie/transferts", {"address": "jean@perso.invalid"})
    assert "en attente de confirmation" in martin.page("/messagerie/transferts")
    assert visit("expert").get("/messagerie/transferts/confirmer/faux").status_code == 404
    with demo.session() as s:
        body = s.scalars(select(OutboxMessage.text_body)).one()
    token = body.split("/messagerie/transferts/confirmer/")[1].split()[0]
    assert "jean@perso.invalid" in text_of(martin.client.get(
        f"/messagerie/transferts/confirmer/{token}"))
    assert "confirmée le" in martin.page("/messagerie/transferts")


# --- calendar -----------------------------------------------------------------------------------

PROFILE = {"vat_regime": "réel normal", "vat_periodicity": "mensuelle", "vat_day": "19",
           "income_tax": "IS", "fiscal_year_end": "31/12", "employees": "moins de 50",
           "cfe": "solde", "cvae": "non redevable", "micro": ""}


def test_the_firm_sets_the_profile_and_a_contradiction_is_refused(demo, visit):
    garage = ids(demo)["Garage Dupont"]
    expert = visit("expert")
    bad = expert.post(f"/calendrier/{garage}/profil", {**PROFILE, "vat_regime": "franchise"})
    assert bad.status_code == 400
    assert "ne dépose pas de CA3 mensuelle" in text_of(bad)
    assert count(demo, FiscalProfile) == 0
    assert visit("dupont").post(f"/calendrier/{garage}/profil", PROFILE).status_code == 403
    assert expert.post(f"/calendrier/{garage}/profil", PROFILE).status_code == 302
    page = visit("dupont").page(f"/calendrier/{garage}?vue=liste&mois=2026-05")
    assert "IS : relevé de solde 2572 de 2025" in page and "ven. 15/05/2026" in page
    assert "TVA : déclaration CA3 d'avril 2026" in page or "CA3 de avril 2026" in page
    month = visit("dupont").page(f"/calendrier/{garage}?mois=2026-05")
    assert "mai 2026" in month and "Liasse fiscale" in month
    only_social = visit("dupont").page(f"/calendrier/{garage}?vue=liste&mois=2026-05&genre=Social")
    assert "DSN de avril 2026" in only_social and "IS : relevé" not in only_social


def test_events_comments_and_alerts_through_the_pages(demo, visit):
    bakery, garage = ids(demo)["Boulangerie Martin"], ids(demo)["Garage Dupont"]
    expert = visit("expert")
    expert.post(f"/calendrier/{bakery}/profil", {**PROFILE, "vat_regime": "réel simplifié",
                                                 "vat_periodicity": ""})
    answer = expert.post(f"/calendrier/{bakery}/evenements", {
        "title": "<i>Réunion</i> bilan", "on": "2026-06-01", "scope": "all"})
    assert answer.status_code == 302
    assert count(demo, CalendarEvent) == 2
    week = expert.page("/calendrier?semaine=2026-06-01")
    assert week.count("<i>Réunion</i> bilan") == 2  # shown as text, for both companies
    assert expert.post(f"/calendrier/{bakery}/evenements", {"title": "", "on": "2026-06-01"}
                       ).status_code == 400
    assert expert.post(f"/calendrier/{bakery}/evenements", {"title": "x", "on": "demain"}
                       ).status_code == 400
    assert count(demo, CalendarEvent) == 2
    assert expert.post(f"/calendrier/{bakery}/commentaires", {
        "key": "is-solde:2026-05-15", "text": "Prévoir 4 200 €."}).status_code == 302
    assert "Conseil du cabinet : Prévoir 4 200 €." in words(visit("martin").page(
        f"/calendrier/{bakery}?vue=liste&mois=2026-05"))
    # an event id of another company: 404
    with demo.session() as s:
        garage_event = s.scalars(select(CalendarEvent.id).where(
            CalendarEvent.company_id == garage)).one()
    assert visit("martin").post(f"/calendrier/{bakery}/alertes", {
        "key": f"event:{garage_event}", "remind_on": "2026-05-30"}).status_code == 404
    assert visit("secretaire").get(f"/calendrier/{garage}").status_code == 404
    far = visit("martin").post(f"/calendrier/{bakery}/alertes", {
        "key": "cfe-solde:2026-12-15", "remind_on": "2026-11-01"})
    assert far.status_code == 400 and "au plus un mois avant" in text_of(far)
    after = visit("martin").post(f"/calendrier/{bakery}/alertes", {
        "key": "cfe-solde:2026-12-15", "remind_on": "2026-12-16"})
    assert after.status_code == 400 and "précéder l'évènement" in text_of(after)
    assert count(demo, CalendarAlert) == 0
    assert visit("martin").post(f"/calendrier/{bakery}/alertes", {
        "key": "cfe-solde:2026-12-15", "remind_on": "2026-12-14"}).status_code == 302
    assert "lun. 14/12/2026 : CFE : paiement du solde" in words(visit("martin").page(
        f"/calendrier/{bakery}"))


def test_the_week_across_the_portfolio_and_the_dashboard(demo, visit):
    bakery = ids(demo)["Boulangerie Martin"]
    expert = visit("expert")
    expert.post(f"/calendrier/{bakery}/profil", PROFILE)
    week = expert.page("/calendrier?semaine=2026-05-11")
    assert "Boulangerie Martin" in week and "IS : relevé de solde 2572 de 2025" in week
    assert visit("martin").get("/calendrier").status_code == 302
    assert "Prochaines échéances" in expert.page("/tableau-de-bord")
