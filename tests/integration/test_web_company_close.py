""""Résilier" a client (issue 16, item 5; seed 003), the counterpart of creating it: closed
and kept — its accounts closed, nothing deleted, the firm reads its documents and downloads
them as a zip; refused while one of its documents is locked, the holder named."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import select
from support.web import text_of

from acl.documents import locks
from acl.people.models import Company, CompanyStatus, User
from acl.rights.models import AuditEntry

GARAGE = "Garage Dupont"
BAKERY = "Boulangerie Martin"


def company(demo, name: str) -> Company:
    with demo.session() as s:
        return s.scalars(select(Company).where(Company.name == name)).one()


def active_logins(demo, company_id: int) -> list[str]:
    with demo.session() as s:
        return list(s.scalars(select(User.login).where(User.company_id == company_id,
                                                       User.active.is_(True))))


def last_audit(demo, action: str) -> AuditEntry:
    with demo.session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                         .order_by(AuditEntry.id.desc())).first()


def signs_in(app, login: str, password: str) -> bool:
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/connexion").get_data(as_text=True)).group(1)
    answer = client.post("/connexion", data={"login": login, "password": password,
                                             "csrf_token": token})
    return answer.status_code == 302


def test_a_closed_company_is_kept_read_by_the_firm_and_closed_to_its_people(
        demo, app, visit, demo_password):
    garage = company(demo, GARAGE)
    card = f"/administration/entreprises/{garage.id}"
    expert = visit("expert")
    assert "Résilier l'entreprise…" in expert.page(card)
    confirm = expert.page(f"{card}/resilier")
    assert "La résiliation est définitive" in confirm and "Rien n'est effacé" in confirm
    answer = expert.post(f"{card}/resilier")
    assert answer.status_code == 302
    page = expert.page(card)
    assert "« Garage Dupont » résiliée : 1 compte(s) fermé(s)" in page
    assert '<span class="badge">résiliée</span>' in page and "Résilier l'entreprise" not in page
    assert company(demo, GARAGE).status == CompanyStatus.CLOSED.value
    # Its people never sign in again.
    assert active_logins(demo, garage.id) == []
    assert not signs_in(app, "dupont", demo_password)
    # Nothing deleted: the firm reads the documents, read-only, and downloads them whole.
    folder = expert.page("/documents/Garage Dupont/Ventes")
    assert "Facture 2026-0042.pdf" in folder
    root = re.search(r'name="item" value="(\d+)"', page).group(1)
    archive = expert.post(f"/dossier/{root}/zip", {"item": root})
    assert (archive.status_code, archive.mimetype) == (200, "application/zip")
    names = zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    assert "Ventes/Facture 2026-0042.pdf" in names
    # The lists say so; it is not reconnected.
    assert "résiliée" in expert.page("/administration/entreprises")
    again = expert.post(f"{card}/statut", {"status": "active"})
    assert again.status_code == 400
    assert "« Garage Dupont » est résiliée : elle le reste" in text_of(again)
    assert company(demo, GARAGE).status == CompanyStatus.CLOSED.value
    entry = last_audit(demo, "company.close")
    assert (entry.actor_login, entry.target, entry.outcome) == ("expert", GARAGE, "ok")
    assert "dupont" in entry.detail


def test_a_locked_document_stops_the_closure_and_its_holder_is_named(demo, visit):
    bakery = company(demo, BAKERY)
    with demo.transaction() as s:
        locks.create(s, root=locks.root_of(f"{BAKERY}/Achats/Facture Moulin Giraud octobre.pdf"),
                     scope="exclusive", depth="0", owner=b"", principal="secretaire",
                     timeout=600)
    expert = visit("expert")
    url = f"/administration/entreprises/{bakery.id}/resilier"
    assert "Facture Moulin Giraud octobre.pdf" in expert.page(url)  # warned before
    answer = expert.post(url)
    assert answer.status_code == 423
    assert ("Résiliation refusée : « Boulangerie Martin/Achats/Facture Moulin Giraud "
            "octobre.pdf » est verrouillé par Sophie Secrétaire (secretaire)") in text_of(answer)
    assert company(demo, BAKERY).status == CompanyStatus.ACTIVE.value
    assert sorted(active_logins(demo, bakery.id)) == ["martin", "secretaire"]


def test_only_the_firm_heads_close_a_company(demo, visit):
    bakery = company(demo, BAKERY)
    url = f"/administration/entreprises/{bakery.id}/resilier"
    assistant = visit("assistant")
    refused = assistant.get(url)
    assert refused.status_code == 403
    assert "Seuls le correspondant et les associés résilient une entreprise." in \
        text_of(refused)
    assert assistant.post(url).status_code == 403
    assert company(demo, BAKERY).status == CompanyStatus.ACTIVE.value
    entry = last_audit(demo, "company.close")
    assert (entry.actor_login, entry.outcome) == ("assistant", "refused")
    assert visit("martin").get(url).status_code == 403
    assert visit("dupont").get(url).status_code == 404  # not his company
