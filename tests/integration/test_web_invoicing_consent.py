"""The firm reads a company's invoicing only while the company's interlocuteur consents
(issue 18, item 1): 404 on every invoicing page of the company before and after, read-only
while it lasts, granted and revoked from the web, dated and audited; the client list says
who consented."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.web import text_of

from acl.people.models import Company
from acl.rights.models import AuditEntry, InvoicingConsent

BAKERY = "Boulangerie Martin"


@pytest.fixture
def bakery_id(demo):
    with demo.session() as s:
        return s.scalar(select(Company.id).where(Company.name == BAKERY))


REPORTS = ("revenus", "depenses", "tva", "impayes")


def firm_urls(company_id: int) -> list[str]:
    base = f"/facturation/entreprise/{company_id}"
    return [f"{base}/", *(f"{base}/rapports/{name}{suffix}" for name in REPORTS
                          for suffix in ("", ".pdf", ".xlsx"))]


def test_the_firm_sees_nothing_until_martin_consents_then_reads_only(visit, demo,
                                                                    bakery_id):
    expert, martin = visit("expert"), visit("martin")
    for url in firm_urls(bakery_id):
        assert expert.get(url).status_code == 404, url
    board = text_of(expert.get("/tableau-de-bord"))
    assert "non ouverts au cabinet" in board
    assert f"/facturation/entreprise/{bakery_id}/" not in board
    assert "Liste des revenus" not in board

    page = martin.page("/facturation/acces-cabinet")
    assert "Votre facturation est privée" in page
    granted = martin.post("/facturation/acces-cabinet", {"action": "grant"})
    assert granted.status_code == 302
    page = martin.page("/facturation/acces-cabinet")
    assert "Le cabinet consulte votre facturation" in page and "Ouvert au cabinet depuis le" in page

    overview = expert.page(f"/facturation/entreprise/{bakery_id}/")
    assert "lecture seule" in overview and "Café des Arts" in overview
    assert "Brouillon" not in overview  # drafts stay the company's
    board = expert.page("/tableau-de-bord")
    assert f"/facturation/entreprise/{bakery_id}/rapports/revenus" in board
    assert "Rapports de Boulangerie Martin" in board
    # The assistant whose portfolio holds the bakery reads it too; still nothing to write.
    assistant = visit("assistant")
    assert assistant.get(f"/facturation/entreprise/{bakery_id}/").status_code == 200
    for url in ("/facturation/nouveau", "/facturation/clients/nouveau",
                "/facturation/parametres", "/facturation/acces-cabinet"):
        assert expert.post(url, {"kind": "facture", "action": "grant"}).status_code == 404, url
    assert expert.get("/facturation/").status_code == 404

    revoked = martin.post("/facturation/acces-cabinet", {"action": "revoke"})
    assert revoked.status_code == 302
    for url in firm_urls(bakery_id):
        assert expert.get(url).status_code == 404, url
    assert "non ouverts au cabinet" in text_of(expert.get("/tableau-de-bord"))
    with demo.session() as s:
        acts = [(e.action, e.actor_login, e.company_id) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action.like("invoicing.consent%"))
            .order_by(AuditEntry.id))]
        assert acts == [("invoicing.consent_grant", "martin", bakery_id),
                        ("invoicing.consent_revoke", "martin", bakery_id)]
        row = s.get(InvoicingConsent, bakery_id)
        assert row.granted is False and row.changed_at is not None


def test_another_company_s_consent_opens_nothing_of_this_one(visit, demo, bakery_id):
    with demo.session() as s:
        garage_id = s.scalar(select(Company.id).where(Company.name == "Garage Dupont"))
    visit("martin").post("/facturation/acces-cabinet", {"action": "grant"})
    expert = visit("expert")
    assert expert.get(f"/facturation/entreprise/{garage_id}/").status_code == 404
    assert expert.get("/facturation/entreprise/999999/").status_code == 404
    # The company's own users read their own page, never another company's.
    assert visit("dupont").get(f"/facturation/entreprise/{bakery_id}/").status_code == 404


def test_only_the_interlocuteur_consents(visit, demo, bakery_id):
    # The secretary has no invoicing right: the page does not exist for her.
    secretary = visit("secretaire")
    assert secretary.get("/facturation/acces-cabinet").status_code == 404
    assert secretary.post("/facturation/acces-cabinet",
                          {"action": "grant"}).status_code == 404
    # Granted invoicing, she sees the state, but the choice stays the interlocuteur's.
    with demo.transaction() as s:
        from acl.people.accounts import find_user
        from acl.rights.models import ServiceGrant
        user = find_user(s, "secretaire")
        s.add(ServiceGrant(user_id=user.id, company_id=bakery_id, service="facturation",
                           granted=True))
        from acl.rights.audit import bump_rights_generation
        bump_rights_generation(s)
    page = secretary.page("/facturation/acces-cabinet")
    assert "Seul l'interlocuteur de l'entreprise ouvre ou ferme cet accès." in page
    refused = secretary.post("/facturation/acces-cabinet", {"action": "grant"})
    assert refused.status_code == 403
    assert "Seul l'interlocuteur" in text_of(refused)
    with demo.session() as s:
        assert s.get(InvoicingConsent, bakery_id) is None
        refusal = s.scalar(select(AuditEntry).where(
            AuditEntry.action == "invoicing.consent_grant"))
        assert refusal.outcome == "refused" and refusal.actor_login == "secretaire"
