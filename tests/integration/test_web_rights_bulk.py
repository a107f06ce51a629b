"""The rights matrix, several cells at once (issue 16, item 5; seed 004), without
JavaScript: ticked cells, a whole row, a whole column, one right given to all of them in one
transaction. A refused cell changes nothing at all, and the page names it."""

from __future__ import annotations

from sqlalchemy import select
from support.web import text_of

from acl.people.models import Company, User
from acl.rights.models import AuditEntry, Level
from acl.rights.policy import folder_level
from acl.rights.principals import load_principal
from config.settings import DEFAULT_TREE

BAKERY = "Boulangerie Martin"


def ids(demo) -> tuple[int, dict[str, int]]:
    with demo.session() as s:
        bakery = s.scalars(select(Company.id).where(Company.name == BAKERY)).one()
        people = dict(s.execute(select(User.login, User.id)).all())
    return bakery, people


def levels(demo, login: str) -> dict[str, str]:
    with demo.session() as s:
        user = s.scalars(select(User).where(User.login == login)).one()
        bakery = s.scalars(select(Company.id).where(Company.name == BAKERY)).one()
        principal = load_principal(s, user)
        return {f: folder_level(principal, bakery, f).label for f in DEFAULT_TREE}


def test_a_column_a_row_and_several_cells(demo, visit):
    bakery, people = ids(demo)
    url = f"/administration/habilitations/{bakery}"
    martin = visit("martin")
    page = martin.page(url)
    assert 'name="pick_column" value="Fiscalité"' in page
    assert f'name="pick_row" value="{people["secretaire"]}"' in page
    assert "Appliquer aux cases cochées" in page
    # A whole column.
    answer = martin.post(url, {"pick_column": "Fiscalité", "bulk_level": "lecture", "bulk": "1"})
    assert answer.status_code == 302
    assert "1 case en « lecture »." in martin.page(url)
    assert levels(demo, "secretaire")["Fiscalité"] == "lecture"
    # A whole row.
    martin.post(url, {"pick_row": str(people["secretaire"]), "bulk_level": "aucun",
                      "bulk": "1"})
    assert set(levels(demo, "secretaire").values()) == {"aucun"}
    assert "7 cases en « aucun »." in martin.page(url)
    # Several cells.
    cells = [f"folder|{people['secretaire']}|{f}" for f in ("Social", "Juridique")]
    martin.post(url, {"pick": cells, "bulk_level": "écriture", "bulk": "1"})
    assert levels(demo, "secretaire") == {f: "écriture" if f in ("Social", "Juridique")
                                          else "aucun" for f in DEFAULT_TREE}
    with demo.session() as s:
        entry = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "habilitation.grant_many").order_by(AuditEntry.id.desc())
        ).first()
        grants = s.scalars(select(AuditEntry).where(AuditEntry.action == "habilitation.grant",
                                                    AuditEntry.actor_login == "martin")).all()
    assert (entry.actor_login, entry.outcome) == ("martin", "ok")
    assert len(grants) >= 1 + 7 + 2  # every cell is a grant of its own in the log


def test_a_refused_cell_changes_nothing_and_is_named(demo, visit):
    bakery, people = ids(demo)
    url = f"/administration/habilitations/{bakery}"
    before = {login: levels(demo, login) for login in ("assistant", "secretaire")}
    associe = visit("associe")
    # The secretaire's row is not his (the matrix shows no box there); a form saying
    # otherwise is refused whole.
    answer = associe.post(url, {"pick": [f"folder|{people['assistant']}|Social",
                                         f"folder|{people['secretaire']}|Fiscalité"],
                                "bulk_level": "lecture", "bulk": "1"})
    assert answer.status_code == 403
    page = text_of(answer)
    assert ("Rien n'a été changé : la case « secretaire — Fiscalité » est refusée — Un associé "
            "administre les assistants et les interlocuteurs de ses entreprises.") in page
    assert "Un associé administre les assistants" in page.split("Sophie Secrétaire", 1)[1]
    assert ' checked>' in page.split(f"folder|{people['assistant']}|Social", 1)[1][:120]
    assert {login: levels(demo, login) for login in before} == before
    with demo.session() as s:
        entry = s.scalars(select(AuditEntry).where(
            AuditEntry.action == "habilitation.grant_many").order_by(AuditEntry.id.desc())
        ).first()
    assert (entry.actor_login, entry.outcome) == ("associe", "refused")
    # A whole column covers the cells he may change: the assistant's, not the secretaire's.
    done = associe.post(url, {"pick_column": "Social", "bulk_level": "lecture", "bulk": "1"})
    assert done.status_code == 302
    assert levels(demo, "assistant")["Social"] == "lecture"
    assert levels(demo, "secretaire") == before["secretaire"]


def test_a_bulk_change_needs_cells_and_a_right(demo, visit):
    bakery, people = ids(demo)
    url = f"/administration/habilitations/{bakery}"
    martin = visit("martin")
    empty = martin.post(url, {"bulk_level": "lecture", "bulk": "1"})
    assert empty.status_code == 400
    assert "Cochez au moins une case, une ligne ou une colonne." in text_of(empty)
    wrong = martin.post(url, {"pick_column": "Achats", "bulk_level": "tout", "bulk": "1"})
    assert wrong.status_code == 400
    assert "Choisissez le droit à donner : aucun, lecture ou écriture." in text_of(wrong)
    assert levels(demo, "secretaire")["Achats"] == Level.WRITE.label
    # Someone who grants nothing is refused with the reason.
    refused = visit("secretaire").post(url, {"pick_column": "Achats", "bulk_level": "aucun",
                                             "bulk": "1",
                                             "pick": f"folder|{people['secretaire']}|Achats"})
    assert refused.status_code == 403
    assert levels(demo, "secretaire")["Achats"] == Level.WRITE.label
