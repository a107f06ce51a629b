"""The dashboards lead somewhere: the firm's "déposés non réceptionnés" opens the list of
those documents (across the companies reached, or one), each a link; a company's recent
documents are links; the cabinet table keeps its column labels on a phone."""

from __future__ import annotations

import re

from sqlalchemy import select

from acl.documents.models import Node
from acl.people.models import Company, User
from acl.rights.models import Side


def awaiting_in_db(demo, company: str | None = None) -> set[str]:
    """The names of the live documents deposited by a company side and never downloaded by
    the firm, as the database holds them."""
    with demo.session() as s:
        query = select(Node.name).join(User, User.id == Node.deposited_by_id).where(
            Node.kind == "file", Node.deleted_at.is_(None), Node.received_at.is_(None),
            User.side == Side.COMPANY.value)
        if company:
            query = query.join(Company, Company.id == Node.company_id).where(
                Company.name == company)
        return set(s.scalars(query))


def listed(page: str) -> dict[str, str]:
    """Document name -> its link, in the list's table."""
    table = page[page.index("<tbody>"):page.index("</tbody>")]
    return {name.rsplit("/", 1)[-1]: href for href, name in
            re.findall(r'<a href="([^"]+)">([^<]+)</a>', table)}


def company_id(demo, name: str) -> int:
    with demo.session() as s:
        return s.scalar(select(Company.id).where(Company.name == name))


def test_the_counter_opens_the_documents_it_counts(demo, visit):
    expert = visit("expert")
    expected = awaiting_in_db(demo)
    assert len(expected) >= 2  # the demo's: martin's invoice in Achats, dupont's in Ventes
    home = expert.page("/tableau-de-bord")
    assert re.search(rf'href="/a-receptionner"><strong>{len(expected)}</strong> documents '
                     r"déposés non réceptionnés", home)
    links = listed(expert.page("/a-receptionner"))
    assert set(links) == expected
    # each opens its document; downloading it receives it, and it leaves the list
    name = "Facture Moulin Giraud octobre.pdf"
    node = int(links[name].rsplit("/", 1)[-1])
    assert expert.get(links[name]).status_code in (200, 302)
    assert expert.get(f"/telecharger/{node}", buffered=True).status_code == 200
    assert name not in listed(expert.page("/a-receptionner"))
    assert name not in awaiting_in_db(demo)


def test_per_company_and_within_reach(demo, visit):
    garage = company_id(demo, "Garage Dupont")
    expert = visit("expert")
    assert set(listed(expert.page(f"/a-receptionner?entreprise={garage}"))) == \
        awaiting_in_db(demo, "Garage Dupont")
    home = expert.page("/tableau-de-bord")
    assert f'href="/a-receptionner?entreprise={garage}"' in home
    # the assistant's portfolio holds only the bakery: the garage is nowhere for him
    assistant = visit("assistant")
    assert set(listed(assistant.page("/a-receptionner"))) == \
        awaiting_in_db(demo, "Boulangerie Martin")
    assert assistant.get(f"/a-receptionner?entreprise={garage}").status_code == 404
    assert visit("martin").get("/a-receptionner").status_code == 404
    assert expert.get("/a-receptionner?entreprise=abc").status_code == 404


def test_a_companys_recent_documents_are_links(demo, visit):
    page = visit("martin").page("/tableau-de-bord")
    section = page[page.index("Documents récents"):page.index("Réceptionnés par le cabinet")]
    links = re.findall(r'<a class="path" href="(/document/\d+)">([^<]+)</a>', section)
    assert any(path.endswith("Achats/Facture Moulin Giraud octobre.pdf")
               for _, path in links), links


def test_the_cabinet_table_keeps_its_labels_on_a_phone(visit):
    page = visit("expert").page("/tableau-de-bord")
    row = page[page.index("<tbody>"):page.index("</tr>", page.index("<tbody>"))]
    labels = re.findall(r'data-label="([^"]+)"', row)
    assert labels == ["Entreprise", "SIREN", "Déposés non réceptionnés", "Dernier dépôt",
                      "Utilisateurs", "Rapports"]
