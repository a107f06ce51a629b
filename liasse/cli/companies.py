"""`liasse company ...` and `liasse cabinet ...`."""

from __future__ import annotations

import argparse
from pathlib import Path
from zoneinfo import ZoneInfo

from acl.documents import archive, store
from acl.documents.tree import standard_folders
from acl.errors import InvalidInput
from acl.people import administration, companies
from acl.people.cabinet import get_cabinet, logo_of, read_logo_file, update_cabinet
from acl.people.companies import CompanyInput
from acl.people.models import CompanyStatus, VatRegime
from acl.people.portfolios import find_portfolio
from acl.rights.audit import admin_transaction
from liasse.cli.runtime import Runtime, parse_date, print_table, read_password

PARIS = ZoneInfo("Europe/Paris")


def register(sub: argparse._SubParsersAction) -> None:
    company = sub.add_parser("company", help="entreprises clientes",
                             description="Créer, lister, consulter, déconnecter, résilier les "
                                         "entreprises.")
    csub = company.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = csub.add_parser("add", help="crée une entreprise, son interlocuteur et ses dossiers")
    add.add_argument("name", help="raison sociale")
    add.add_argument("--siren", required=True)
    add.add_argument("--interlocuteur", required=True, metavar="LOGIN",
                     help="identifiant de l'interlocuteur du cabinet dans l'entreprise")
    add.add_argument("--interlocuteur-name", required=True, metavar="NOM")
    add.add_argument("--interlocuteur-email", metavar="EMAIL")
    add.add_argument("--password-stdin", action="store_true",
                     help="lit le mot de passe de l'interlocuteur sur l'entrée standard "
                          "(sinon un mot de passe initial est généré)")
    add.add_argument("--legal-form", default="", help="forme juridique (SARL, SAS...)")
    add.add_argument("--address", default="")
    add.add_argument("--vat-regime", default=VatRegime.SIMPLIFIED.value,
                     help="régime de TVA : " + ", ".join(r.value for r in VatRegime))
    add.add_argument("--year-end", default="31/12", help="clôture de l'exercice (JJ/MM)")
    add.add_argument("--protection-date", type=parse_date, metavar="DATE")
    add.add_argument("--portfolio", help="portefeuille où ranger l'entreprise")
    add.add_argument("--contact-name", default="")
    add.add_argument("--contact-email", default="")
    add.add_argument("--contact-phone", default="")
    add.set_defaults(handler=add_company)

    lst = csub.add_parser("list", help="liste les entreprises accessibles")
    lst.set_defaults(handler=list_companies)

    show = csub.add_parser("show", help="fiche d'une entreprise")
    show.add_argument("company", help="SIREN, nom ou numéro")
    show.set_defaults(handler=show_company)

    for name, status, text in (("disconnect", CompanyStatus.DISCONNECTED, "déconnecte"),
                               ("reconnect", CompanyStatus.ACTIVE, "reconnecte")):
        cmd = csub.add_parser(name, help=f"{text} le compte d'une entreprise")
        cmd.add_argument("company", help="SIREN, nom ou numéro")
        cmd.set_defaults(handler=set_status, status=status)

    close = csub.add_parser(
        "close", help="résilie une entreprise (rien n'est effacé)",
        description="Ferme les comptes de l'entreprise pour de bon ; le cabinet lit toujours "
                    "ses documents (« company export » les télécharge). Refusé tant qu'un de "
                    "ses documents est verrouillé.")
    close.add_argument("company", help="SIREN, nom ou numéro")
    close.set_defaults(handler=close_company)

    export = csub.add_parser("export", help="tous les documents lisibles d'une entreprise, "
                                            "dans un zip")
    export.add_argument("company", help="SIREN, nom ou numéro")
    export.add_argument("output", metavar="FICHIER.zip", type=Path)
    export.set_defaults(handler=export_company)

    protect = csub.add_parser("protect", help="fixe la date de protection d'une ou plusieurs "
                                              "entreprises")
    protect.add_argument("companies", nargs="+", metavar="ENTREPRISE")
    group = protect.add_mutually_exclusive_group(required=True)
    group.add_argument("--date", type=parse_date, help="documents antérieurs en lecture seule")
    group.add_argument("--clear", action="store_true", help="retire la date de protection")
    protect.set_defaults(handler=protect_companies)

    cabinet = sub.add_parser("cabinet", help="fiche du cabinet (nom, logo, couleur)")
    casub = cabinet.add_subparsers(dest="action", required=True, metavar="ACTION")
    casub.add_parser("show", help="affiche la fiche du cabinet").set_defaults(
        handler=show_cabinet)
    cset = casub.add_parser("set", help="modifie la fiche du cabinet")
    cset.add_argument("--name")
    cset.add_argument("--siren")
    cset.add_argument("--address")
    cset.add_argument("--colour", help="couleur au format #RRGGBB")
    logo = cset.add_mutually_exclusive_group()
    logo.add_argument("--logo", metavar="FICHIER",
                      help="image PNG ou JPEG (2 Mio au plus), copiée dans le dossier de données")
    logo.add_argument("--no-logo", action="store_true", help="retire le logo")
    cset.set_defaults(handler=set_cabinet)


def add_company(rt: Runtime, args: argparse.Namespace) -> int:
    password = read_password(args, "Mot de passe de l'interlocuteur : ")
    with rt.admin() as (s, ctx):
        portfolio = find_portfolio(s, args.portfolio) if args.portfolio else None
        created = companies.create_company(
            s, ctx, rt.hasher, rt.settings.folders,
            CompanyInput(name=args.name, siren=args.siren, legal_form=args.legal_form,
                         address=args.address, vat_regime=args.vat_regime,
                         fiscal_year_end=args.year_end, protection_date=args.protection_date,
                         contact_name=args.contact_name, contact_email=args.contact_email,
                         contact_phone=args.contact_phone),
            interlocuteur_login=args.interlocuteur, interlocuteur_name=args.interlocuteur_name,
            interlocuteur_email=args.interlocuteur_email, interlocuteur_password=password,
            portfolio=portfolio)
    print(f"Entreprise « {created.company.name} » créée (SIREN {created.company.siren}), "
          f"dossier « {created.company.folder_name} ».")
    print(f"Interlocuteur : {created.interlocuteur.user.login}")
    if created.interlocuteur.initial_password:
        print(f"Mot de passe initial (à changer à la première connexion) : "
              f"{created.interlocuteur.initial_password}")
    return 0


def list_companies(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        rows = companies.visible_companies(s, ctx.principal)
        counts = companies.user_counts(s)
        print_table(
            ["Nom", "SIREN", "Créée le", "Protection", "Utilisateurs", "Statut"],
            [[c.name, c.siren, c.created_at.astimezone(PARIS).strftime("%d/%m/%Y"),
              c.protection_date.strftime("%d/%m/%Y") if c.protection_date else "-",
              str(counts.get(c.id, 0)), c.status] for c in rows])
    return 0


def show_company(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        c = companies.find_company(s, ctx.principal, args.company)
        year_end = f"{c.fiscal_year_end[3:]}/{c.fiscal_year_end[:2]}"
        for label, value in (
            ("Nom", c.name), ("Dossier du lecteur", c.folder_name), ("SIREN", c.siren),
            ("Forme juridique", c.legal_form or "-"), ("Adresse", c.address or "-"),
            ("Régime de TVA", c.vat_regime), ("Clôture de l'exercice", year_end),
            ("Créée le", c.created_at.astimezone(PARIS).strftime("%d/%m/%Y")),
            ("Date de protection",
             c.protection_date.strftime("%d/%m/%Y") if c.protection_date else "-"),
            ("Statut", c.status),
            ("Interlocuteur", _person(companies.interlocuteur_of(s, c))),
            ("Contact", " ".join(x for x in (c.contact_name, c.contact_email, c.contact_phone)
                                 if x) or "-"),
            ("Portefeuilles", ", ".join(p.name for p in c.portfolios) or "-"),
            ("Dossiers", ", ".join(standard_folders(s, c.id))),
        ):
            print(f"{label:<22} {value}")
    return 0


def set_status(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        company = companies.find_company(s, ctx.principal, args.company)
        companies.set_status(s, ctx, company, args.status)
        done = "déconnecté" if args.status == CompanyStatus.DISCONNECTED else "reconnecté"
        print(f"« {company.name} » : compte {done}.")
    return 0


def _person(user) -> str:
    if user is None:
        return "-"
    return f"{user.display_name} ({user.login}" + (f", {user.email})" if user.email else ")") \
        + ("" if user.active else " — désactivé")


def close_company(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        company = companies.find_company(s, ctx.principal, args.company)
        closed = administration.close_company(s, ctx, company)
    print(f"« {company.name} » résiliée : {len(closed)} compte(s) fermé(s) "
          f"({', '.join(closed) or 'aucun'}) ; ses documents restent lisibles par le cabinet.")
    return 0


def export_company(rt: Runtime, args: argparse.Namespace) -> int:
    if args.output.exists():
        raise InvalidInput(f"« {args.output} » existe déjà : choisissez un autre nom.")
    with rt.db.session() as s:
        ctx = rt.context(s)
        company = companies.find_company(s, ctx.principal, args.company)
        items = archive.select_items(s, ctx.principal, [store.resolve(s, company, []).node.id])
        try:
            with args.output.open("xb") as out:
                archive.write_zip(rt.blobs, items, out)
        except OSError as exc:
            raise InvalidInput(f"Impossible d'écrire « {args.output} » : "
                               f"{exc.strerror or exc}.") from None
    documents = sum(1 for item in items if item.is_document)
    print(f"{documents} document(s) de « {company.name} » dans « {args.output} ».")
    return 0


def protect_companies(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
    protection = None if args.clear else args.date
    with admin_transaction(rt.db, ctx) as s:
        found = [companies.find_company(s, ctx.principal, ref) for ref in args.companies]
        for company in found:
            companies.set_protection_date(s, ctx, company, protection)
    shown = protection.strftime("%d/%m/%Y") if protection else "aucune"
    print(f"Date de protection « {shown} » appliquée à {len(found)} entreprise(s).")
    return 0


def show_cabinet(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        c = get_cabinet(s)
        logo = logo_of(s, rt.blobs)
        s.commit()  # a logo stored as a path, from before, is copied in
        shown = f"{logo.kind.upper()}, {len(logo.data) // 1024 or 1} Kio (copie dans le " \
            "dossier de données)" if logo else "-"
        for label, value in (("Nom", c.name), ("SIREN", c.siren or "-"),
                             ("Adresse", c.address or "-"), ("Couleur", c.colour),
                             ("Logo", shown)):
            print(f"{label:<8} {value}")
    return 0


def set_cabinet(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        update_cabinet(s, ctx, rt.blobs, name=args.name, siren=args.siren,
                       address=args.address, colour=args.colour,
                       logo=read_logo_file(args.logo) if args.logo else None,
                       remove_logo=args.no_logo)
    print("Fiche du cabinet mise à jour.")
    return 0
