"""The firm's export of a portfolio (issue 18, item 5): the unpaid and VAT figures of its
consenting companies in one workbook (a summary sheet and a sheet per company); a company
that has not consented is left out, and the page and the summary say so."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select
from support.web import text_of

from acl.people.models import Portfolio


def _portfolio(demo, name: str) -> int:
    with demo.session() as s:
        return s.scalar(select(Portfolio.id).where(Portfolio.name == name))


def test_only_consenting_companies_are_exported_and_the_page_says_who_is_not(visit, demo):
    everyone = _portfolio(demo, "Tous les clients")
    associe = visit("associe")
    page = associe.page("/facturation/cabinet/portefeuilles")
    assert "Aucune entreprise de ce portefeuille" in page
    visit("martin").post("/facturation/acces-cabinet", {"action": "grant"})
    page = associe.page("/facturation/cabinet/portefeuilles")
    assert "Non incluses, faute d'accord de l'entreprise : Garage Dupont." in page
    answer = associe.get(f"/facturation/cabinet/portefeuilles/{everyone}.xlsx"
                         "?start=01/01/2026&end=31/12/2026")
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.data))
    assert book.sheetnames == ["Synthèse", "Boulangerie Martin"]
    summary = [tuple(v for v in row if v is not None)
               for row in book["Synthèse"].iter_rows(values_only=True)]
    assert any(row[0] == "Boulangerie Martin" and isinstance(row[2], float) for row in summary
               if row)
    assert ("Garage Dupont", "552100554",
            "non incluse : l'entreprise n'a pas ouvert sa facturation au cabinet") in summary
    martin_sheet = [row[0] for row in book["Boulangerie Martin"].iter_rows(values_only=True)]
    assert "Synthèse" in martin_sheet and "Par client" in martin_sheet


def test_bad_requests(visit, demo):
    bakery_only = _portfolio(demo, "Commerces de bouche")
    everyone = _portfolio(demo, "Tous les clients")
    assistant = visit("assistant")
    # Not a member of "Tous les clients": no such portfolio for her.
    assert assistant.get(f"/facturation/cabinet/portefeuilles/{everyone}.xlsx").status_code \
        == 404
    answer = assistant.get(f"/facturation/cabinet/portefeuilles/{bakery_only}.xlsx"
                           "?start=01/06/2026&end=01/01/2026")
    assert answer.status_code == 400
    assert "La fin de la période précède son début." in text_of(answer)
    assert assistant.get("/facturation/cabinet/portefeuilles?start=hier").status_code == 400
    # The company side has no such page.
    assert visit("martin").get("/facturation/cabinet/portefeuilles").status_code == 404
