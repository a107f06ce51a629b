"""`liasse portfolio ...`."""

from __future__ import annotations

import argparse

from acl.people import accounts, companies, portfolios
from liasse.cli.runtime import Runtime, print_table


def register(sub: argparse._SubParsersAction) -> None:
    portfolio = sub.add_parser("portfolio", help="portefeuilles d'entreprises du cabinet",
                               description="Les membres du cabinet accèdent aux entreprises "
                                           "de leurs portefeuilles.")
    psub = portfolio.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = psub.add_parser("add", help="crée un portefeuille")
    add.add_argument("name")
    add.set_defaults(handler=add_portfolio)
    psub.add_parser("list", help="liste les portefeuilles").set_defaults(handler=list_portfolios)
    rename = psub.add_parser("rename", help="renomme un portefeuille")
    rename.add_argument("name")
    rename.add_argument("new_name", metavar="NOUVEAU_NOM")
    rename.set_defaults(handler=rename_portfolio)
    delete = psub.add_parser("delete", help="supprime un portefeuille (pas ses entreprises)")
    delete.add_argument("name")
    delete.set_defaults(handler=delete_portfolio)
    for name, present, text in (("add-company", True, "ajoute une entreprise à un portefeuille"),
                                ("remove-company", False,
                                 "retire une entreprise d'un portefeuille")):
        cmd = psub.add_parser(name, help=text)
        cmd.add_argument("name")
        cmd.add_argument("company", help="SIREN ou nom")
        cmd.set_defaults(handler=set_company, present=present)
    for name, present, text in (("add-member", True,
                                 "ajoute un membre du cabinet à un portefeuille"),
                                ("remove-member", False,
                                 "retire un membre du cabinet d'un portefeuille")):
        cmd = psub.add_parser(name, help=text)
        cmd.add_argument("name")
        cmd.add_argument("login")
        cmd.set_defaults(handler=set_member, present=present)


def add_portfolio(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        portfolio = portfolios.create_portfolio(s, ctx, args.name)
    print(f"Portefeuille « {portfolio.name} » créé.")
    return 0


def list_portfolios(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        print_table(["Portefeuille", "Entreprises", "Membres"],
                    [[p.name, ", ".join(c.name for c in p.companies) or "-",
                      ", ".join(u.login for u in p.members) or "-"]
                     for p in portfolios.visible_portfolios(s, ctx)])
    return 0


def rename_portfolio(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        portfolio = portfolios.find_portfolio(s, args.name)
        before = portfolio.name
        portfolios.rename_portfolio(s, ctx, portfolio, args.new_name)
    print(f"Portefeuille « {before} » renommé « {portfolio.name} ».")
    return 0


def delete_portfolio(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        portfolios.delete_portfolio(s, ctx, portfolios.find_portfolio(s, args.name))
    print(f"Portefeuille « {args.name} » supprimé.")
    return 0


def set_company(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        portfolio = portfolios.find_portfolio(s, args.name)
        company = companies.find_company(s, ctx.principal, args.company)
        portfolios.set_company(s, ctx, portfolio, company, args.present)
    print(f"« {company.name} » {'ajoutée à' if args.present else 'retirée de'} "
          f"« {portfolio.name} ».")
    return 0


def set_member(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        portfolio = portfolios.find_portfolio(s, args.name)
        user = accounts.find_user(s, args.login)
        portfolios.set_member(s, ctx, portfolio, user, args.present)
    print(f"« {user.login} » {'ajouté à' if args.present else 'retiré de'} "
          f"« {portfolio.name} ».")
    return 0
