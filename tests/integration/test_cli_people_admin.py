"""The CLI counterparts of the people administration of issue 16 (items 4 and 5): the
cabinet's logo copied in, users edited and removed, portfolios renamed, companies
"résiliées"; every refusal one French sentence (exit 1)."""

from __future__ import annotations

import re
import zipfile

from integration import test_cli
from integration.test_cli import Cli
from integration.test_web_branding import SVG, png
from sqlalchemy import select

from acl.people.models import Cabinet
from acl.rights.models import AuditEntry

cli, demo_cli = test_cli.cli, test_cli.demo_cli  # the fixtures of test_cli.py


def test_cabinet_logo_is_copied_into_the_data_folder(demo_cli: Cli, demo, blobs, tmp_path):
    original = tmp_path / "logo.png"
    original.write_bytes(png())
    assert "Fiche du cabinet mise à jour." in demo_cli.ok("cabinet", "set", "--logo",
                                                          str(original))
    original.unlink()  # the original may go: the copy stays
    with demo.session() as s:
        stored = s.get(Cabinet, 1).logo
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "cabinet.update")
                          .order_by(AuditEntry.id.desc())).first()
    assert blobs.path(stored).read_bytes() == png()
    assert "PNG" in entry.detail
    assert "PNG, 1 Kio (copie dans le dossier de données)" in demo_cli.ok("cabinet", "show")
    svg = tmp_path / "logo.svg"
    svg.write_bytes(SVG)
    assert "Logo refusé : une image PNG ou JPEG" in demo_cli.refused(
        "cabinet", "set", "--name", "Autre nom", "--logo", str(svg))
    assert "Logo introuvable ou illisible" in demo_cli.refused(
        "cabinet", "set", "--logo", str(tmp_path / "absent.png"))
    with demo.session() as s:
        assert s.get(Cabinet, 1).logo == stored and s.get(Cabinet, 1).name != "Autre nom"
    demo_cli.ok("cabinet", "set", "--no-logo")
    assert "Logo     -" in demo_cli.ok("cabinet", "show")


def test_user_edit_and_remove(demo_cli: Cli, demo):
    out = demo_cli.ok("--as", "martin", "user", "edit", "secretaire", "--name", "Sophie Durand",
                      "--email", "sophie@boulangerie.invalid")
    assert "Compte « secretaire » modifié." in out
    assert "Sophie Durand" in demo_cli.ok("user", "show", "secretaire")
    assert "Aucun changement." in demo_cli.ok("--as", "martin", "user", "edit", "secretaire",
                                              "--name", "Sophie Durand")
    assert "déjà celle d'un autre compte" in demo_cli.refused(
        "--as", "martin", "user", "edit", "secretaire", "--email", "martin@demo.invalid")
    assert "Un associé administre les assistants" in demo_cli.refused(
        "--as", "associe", "user", "edit", "secretaire", "--name", "X")
    assert "L'interlocuteur ne se supprime pas" in demo_cli.refused("user", "remove", "martin")
    out = demo_cli.ok("--as", "martin", "user", "remove", "secretaire")
    assert "Compte « secretaire » supprimé" in out
    assert "secretaire" not in demo_cli.ok("user", "list")
    for argv in (("user", "show", "secretaire"), ("user", "enable", "secretaire")):
        assert "Aucun compte « secretaire »." in demo_cli.refused(*argv)
    with demo.session() as s:
        entries = [e.outcome for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action.in_(("user.update", "user.remove")))
            .order_by(AuditEntry.id))]
    assert entries == ["ok", "refused", "refused", "ok"]  # a bad address is no act


def test_portfolio_rename(demo_cli: Cli):
    out = demo_cli.ok("portfolio", "rename", "commerces de bouche", "Métiers de bouche")
    assert "Portefeuille « Commerces de bouche » renommé « Métiers de bouche »." in out
    assert "Métiers de bouche" in demo_cli.ok("portfolio", "list")
    assert "existe déjà" in demo_cli.refused("portfolio", "rename", "Métiers de bouche",
                                             "Tous les clients")
    assert "Seul le correspondant" in demo_cli.refused(
        "--as", "associe", "portfolio", "rename", "Métiers de bouche", "X")


def test_company_show_names_the_interlocuteur_close_and_export(demo_cli: Cli, tmp_path):
    shown = demo_cli.ok("company", "show", "Garage Dupont")
    assert re.search(r"^Interlocuteur\s+Claire Dupont \(dupont, [^)]+\)$", shown, re.M)
    assert "Seuls le correspondant et les associés résilient une entreprise." in \
        demo_cli.refused("--as", "assistant", "company", "close", "Boulangerie Martin")
    out = demo_cli.ok("company", "close", "Garage Dupont")
    assert "« Garage Dupont » résiliée : 1 compte(s) fermé(s) (dupont)" in out
    assert "résiliée" in demo_cli.ok("company", "list")
    assert "— désactivé" in demo_cli.ok("company", "show", "Garage Dupont")
    assert "est déjà résiliée" in demo_cli.refused("company", "close", "Garage Dupont")
    assert "elle le reste" in demo_cli.refused("company", "reconnect", "Garage Dupont")
    target = tmp_path / "garage.zip"
    assert "document(s) de « Garage Dupont »" in demo_cli.ok("company", "export",
                                                             "Garage Dupont", str(target))
    assert "Ventes/Facture 2026-0042.pdf" in zipfile.ZipFile(target).namelist()
    assert "existe déjà" in demo_cli.refused("company", "export", "Garage Dupont", str(target))
