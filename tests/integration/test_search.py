"""Looking a name up ignores case and accents, on SQLite (whose lower() folds only ASCII) as
on PostgreSQL: the CLI, the web search boxes, the audit filters, the invoicing suggestions."""

from __future__ import annotations

import pytest
from support import invoicing as inv

from acl.invoicing import customers
from tests.integration.test_cli import Cli, siren

CHURCH = "Pharmacie de l'Église"


@pytest.fixture
def demo_cli(demo, settings, capsys, monkeypatch) -> Cli:
    return Cli(settings.source, capsys, monkeypatch)


@pytest.fixture
def church(demo_cli) -> str:
    number = siren(51515151)
    demo_cli.ok("company", "add", CHURCH, "--siren", number, "--interlocuteur", "eglise",
                "--interlocuteur-name", "Élodie Ange", "--portfolio", "Tous les clients")
    return number


@pytest.mark.parametrize("typed", [CHURCH, "pharmacie de l'eglise", "PHARMACIE DE L’ÉGLISE"])
def test_the_cli_finds_a_company_however_its_name_is_typed(demo_cli, church, typed):
    assert f"SIREN                  {church}" in demo_cli.ok("company", "show", typed)


def found(page: str) -> str:
    """The results part of a search page (its table, or the list of links)."""
    start = page.index("<table") if "<table" in page else page.index("<main")
    return page[start:page.index("</main>")]


def test_the_search_boxes_find_it_without_its_accents(church, visit):
    expert = visit("expert")
    for url in ("/tableau-de-bord?q=eglise", "/administration/habilitations?q=ÉGLISE"):
        results = found(expert.page(url))
        assert CHURCH in results, url
        assert "Boulangerie Martin" not in results, url
    assert CHURCH not in found(expert.page("/tableau-de-bord?q=boulangerie"))


def test_the_audit_log_is_filtered_by_a_name_as_shown(demo_cli, church):
    """`--actor` takes a login or a display name; "elodie ange" is Élodie Ange."""
    assert "company.create" in demo_cli.ok("audit", "--actor", "expert")
    demo_cli.ok("--as", "eglise", "user", "add", "comptoir", "--name", "Marc Comptoir",
                "--role", "utilisateur", "--company", church)
    by_name = demo_cli.ok("audit", "--actor", "elodie ange")
    assert "user.create" in by_name and "company.create" not in by_name
    assert by_name == demo_cli.ok("audit", "--actor", "eglise")


def test_invoicing_suggestions_ignore_accents(demo):
    with demo.transaction() as s:
        space = inv.set_up(s)
        company = space.company(s)
        assert [c.name for c in customers.suggestions(s, company, "hotel")] == ["Hôtel du Parc"]
        assert customers.by_name(s, company, "HÔTEL DU PARC").name == "Hôtel du Parc"
