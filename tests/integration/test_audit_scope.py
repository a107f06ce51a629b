"""Who reads which audit entries: the correspondant all; an associé his companies and acts."""

from __future__ import annotations

from acl.people.companies import CompanyInput, create_company
from acl.rights.audit import admin_transaction, query_entries


def test_associe_does_not_read_acts_on_companies_outside_his_portfolios(demo, settings, hasher,
                                                                          ctx_of):
    expert = ctx_of("expert")
    with admin_transaction(demo, expert) as s:
        create_company(s, expert, hasher, settings.folders,
                       CompanyInput(name="Pharmacie Durand", siren="443061841"),
                       interlocuteur_login="durand", interlocuteur_name="Marie Durand")
    with demo.session() as s:
        everything = [e.target for e in query_entries(s, ctx_of("expert", s).principal)]
        associe = [e.target for e in query_entries(s, ctx_of("associe", s).principal)]
    assert "Pharmacie Durand" in everything
    assert "Pharmacie Durand" not in associe
    assert "Boulangerie Martin" in associe  # created in his portfolio's company
