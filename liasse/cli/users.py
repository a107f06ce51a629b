"""`liasse user ...` and `liasse grant`."""

from __future__ import annotations

import argparse

from acl.documents.tree import standard_folders
from acl.errors import InvalidInput
from acl.events.models import AlertMode
from acl.people import accounts, administration, companies
from acl.rights.audit import admin_transaction
from acl.rights.models import Level, Role, Service
from acl.rights.policy import Action, Resource, authorize, folder_level
from acl.rights.principals import load_principal
from config import dates
from liasse.cli.runtime import Runtime, print_table, read_password

ROLE_NAMES = {r.value: r for r in Role} | {"associe": Role.ASSOCIE}


def _role(text: str) -> Role:
    try:
        return ROLE_NAMES[text.strip().lower()]
    except KeyError:
        raise argparse.ArgumentTypeError(
            f"rôle inconnu « {text} » ({', '.join(r.value for r in Role)})") from None


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="comptes utilisateurs",
                          description="Créer, lister, consulter, désactiver des comptes.")
    usub = user.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = usub.add_parser("add", help="crée un compte (sans aucun droit au départ)")
    add.add_argument("login")
    add.add_argument("--name", required=True, help="nom affiché")
    add.add_argument("--role", required=True, type=_role,
                     help="associé, assistant (cabinet) ou utilisateur (entreprise)")
    add.add_argument("--email")
    add.add_argument("--company", help="entreprise d'un compte utilisateur (SIREN ou nom)")
    add.add_argument("--password-stdin", action="store_true",
                     help="lit le mot de passe sur l'entrée standard (sinon il est généré)")
    add.set_defaults(handler=add_user)

    lst = usub.add_parser("list", help="liste les comptes visibles")
    lst.add_argument("--company", help="seulement les comptes de cette entreprise")
    lst.set_defaults(handler=list_users)

    show = usub.add_parser("show", help="fiche d'un compte et ses droits dossier par dossier")
    show.add_argument("login")
    show.set_defaults(handler=show_user)

    passwd = usub.add_parser(
        "passwd", help="change un mot de passe",
        description="Sans --as, ou avec --as LOGIN différent du compte visé : réinitialisation "
                    "par un administrateur. Avec --as égal au compte visé : changement de son "
                    "propre mot de passe, l'ancien est demandé.")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="lit le nouveau mot de passe (précédé de l'ancien pour son propre "
                             "compte, une ligne chacun) sur l'entrée standard")
    passwd.set_defaults(handler=change_password)

    edit = usub.add_parser("edit", help="modifie le nom affiché ou l'e-mail d'un compte")
    edit.add_argument("login")
    edit.add_argument("--name", help="nouveau nom affiché")
    edit.add_argument("--email", help="nouvelle adresse (\"\" l'efface)")
    edit.set_defaults(handler=edit_user)

    remove = usub.add_parser(
        "remove", help="supprime un compte (son historique garde son nom)",
        description="Le compte ne peut plus se connecter et n'est plus listé ; ses documents, "
                    "réceptions et téléchargements gardent son nom, suivi de « (compte "
                    "supprimé) ». Son e-mail est effacé, son identifiant libéré. Définitif.")
    remove.add_argument("login")
    remove.set_defaults(handler=remove_user)

    for name, active, text in (("disable", False, "désactive"), ("enable", True, "réactive")):
        cmd = usub.add_parser(name, help=f"{text} un compte")
        cmd.add_argument("login")
        cmd.set_defaults(handler=set_active, active=active)

    locked = usub.add_parser("locked", help="comptes dont la connexion est bloquée",
                             description="Après trop d'essais de mot de passe infructueux, "
                                         "la connexion d'un compte est bloquée un moment.")
    locked.set_defaults(handler=list_locked)
    unlock = usub.add_parser("unlock", help="lève le blocage de connexion d'un compte")
    unlock.add_argument("login")
    unlock.set_defaults(handler=unlock_user)

    alerts = usub.add_parser(
        "alerts", help="alertes de dépôt par e-mail d'un compte",
        description="off : aucune ; immediate : un message par dépôt ; digest : les dépôts "
                    "faits en rafale groupés en un message (par défaut).")
    alerts.add_argument("login")
    alerts.add_argument("mode", choices=[m.value for m in AlertMode])
    alerts.set_defaults(handler=set_alerts)

    grant = sub.add_parser(
        "grant", help="accorde ou retire des droits (habilitations)",
        description="Droits d'un assistant ou d'un utilisateur sur les dossiers d'une "
                    "entreprise, ou sur la messagerie et la facturation.")
    grant.add_argument("login")
    grant.add_argument("--company", required=True, help="SIREN ou nom de l'entreprise")
    target = grant.add_mutually_exclusive_group(required=True)
    target.add_argument("--folder", action="append", help="dossier (répétable)")
    target.add_argument("--service", choices=[s.value for s in Service])
    grant.add_argument("--level", required=True,
                       help="aucun, lecture ou écriture (dossiers) ; oui ou non (services)")
    grant.set_defaults(handler=grant_rights)


def add_user(rt: Runtime, args: argparse.Namespace) -> int:
    password = read_password(args)
    with rt.admin() as (s, ctx):
        company = companies.find_company(s, ctx.principal, args.company) if args.company \
            else None
        created = accounts.create_user(s, ctx, rt.hasher, login=args.login,
                                       display_name=args.name, role=args.role,
                                       email=args.email, company=company, password=password)
    print(f"Compte « {created.user.login} » ({args.role.value}) créé, sans aucun droit "
          "pour l'instant.")
    if created.initial_password:
        print(f"Mot de passe initial (à changer à la première connexion) : "
              f"{created.initial_password}")
    return 0


def list_users(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        users = accounts.visible_users(s, ctx.principal)
        if args.company:
            company = companies.find_company(s, ctx.principal, args.company)
            users = [u for u in users if u.company_id == company.id]
        print_table(["Identifiant", "Nom", "Rôle", "Entreprise", "E-mail", "État"],
                    [[u.login, u.display_name, u.role, u.company.name if u.company else "-",
                      u.email or "-", "actif" if u.active else "désactivé"] for u in users])
    return 0


def show_user(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        user = accounts.find_visible_user(s, ctx.principal, args.login)
        principal = load_principal(s, user)
        print(f"{user.login} — {user.display_name} ({user.role}"
              f"{', ' + user.company.name if user.company else ''})"
              f"{'' if user.active else ' — désactivé'}")
        if user.portfolios:
            print("Portefeuilles : " + ", ".join(p.name for p in user.portfolios))
        rows = []
        for company in companies.visible_companies(s, principal):
            levels = []
            for folder in standard_folders(s, company.id):
                level = folder_level(principal, company.id, folder)
                levels.append(f"{folder}: {level.label}")
            services = [sv.value for sv, action in ((Service.MESSAGING, Action.MESSAGING),
                                                    (Service.INVOICING, Action.INVOICING))
                        if authorize(principal, action, Resource(company.id))]
            rows.append([company.name, ", ".join(levels), ", ".join(services) or "-"])
        if rows:
            print_table(["Entreprise", "Dossiers", "Services"], rows)
        else:
            print("Aucun droit sur aucune entreprise.")
    return 0


def change_password(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
    own = ctx.principal.login == args.login.strip().lower()
    old = read_password(args, "Ancien mot de passe : ") if own else None
    if own and old is None:
        raise InvalidInput("Pour changer votre propre mot de passe, utilisez --password-stdin "
                           "(ancien puis nouveau mot de passe).")
    new = read_password(args, "Nouveau mot de passe : ")
    with admin_transaction(rt.db, ctx) as s:
        user = accounts.find_user(s, args.login)
        if own:
            accounts.change_own_password(s, ctx, rt.hasher, user, old, new or "")
            print("Mot de passe changé.")
            return 0
        generated = accounts.reset_password(s, ctx, rt.hasher, user, new)
    print(f"Mot de passe de « {user.login} » réinitialisé.")
    if generated:
        print(f"Mot de passe initial (à changer à la première connexion) : {generated}")
    return 0


def set_active(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        user = accounts.find_user(s, args.login)
        accounts.set_active(s, ctx, user, args.active)
    print(f"Compte « {user.login} » {'réactivé' if args.active else 'désactivé'}.")
    return 0


def edit_user(rt: Runtime, args: argparse.Namespace) -> int:
    if args.name is None and args.email is None:
        raise InvalidInput("Indiquez --name ou --email.")
    with rt.admin() as (s, ctx):
        user = accounts.find_visible_user(s, ctx.principal, args.login)
        changes = administration.edit_user(s, ctx, user, display_name=args.name,
                                           email=args.email)
    print(f"Compte « {user.login} » modifié." if changes else "Aucun changement.")
    return 0


def remove_user(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        user = accounts.find_visible_user(s, ctx.principal, args.login)
        administration.remove_user(s, ctx, user)
    print(f"Compte « {args.login} » supprimé : il ne peut plus se connecter ; ses documents "
          "et réceptions gardent son nom.")
    return 0


def list_locked(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.db.session() as s:
        ctx = rt.context(s)
        rows = [[user.login, user.display_name, f"{dates.paris_day(until)} "
                 f"{dates.paris_clock(until)}"]
                for user, until in accounts.sign_in_locks(s, ctx.principal)]
    print_table(["Identifiant", "Nom", "Bloqué jusqu'au"], rows)
    return 0


def unlock_user(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        user = accounts.find_visible_user(s, ctx.principal, args.login)
        lifted = accounts.unlock(s, ctx, user)
    print(f"Connexion de « {user.login} » débloquée." if lifted
          else f"La connexion de « {user.login} » n'était pas bloquée.")
    return 0


def set_alerts(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        user = accounts.find_visible_user(s, ctx.principal, args.login)
        accounts.set_alert_mode(s, ctx, user, AlertMode(args.mode))
    labels = {"off": "désactivées", "immediate": "immédiates", "digest": "groupées"}
    print(f"Alertes de « {user.login} » : {labels[args.mode]}.")
    return 0


def grant_rights(rt: Runtime, args: argparse.Namespace) -> int:
    with rt.admin() as (s, ctx):
        user = accounts.find_user(s, args.login)
        company = companies.find_company(s, ctx.principal, args.company)
        if args.service:
            answer = args.level.strip().lower()
            if answer not in ("oui", "non"):
                raise InvalidInput("Pour un service, --level vaut « oui » ou « non ».")
            accounts.grant_service(s, ctx, user, company, Service(args.service),
                                   answer == "oui")
            print(f"{user.login} / {company.name} : {args.service} {answer}.")
            return 0
        try:
            level = Level.parse(args.level)
        except ValueError as exc:
            raise InvalidInput(f"Niveau refusé : {exc}.") from None
        for folder in args.folder:
            accounts.grant(s, ctx, user, company, folder, level)
        print(f"{user.login} / {company.name} : {', '.join(args.folder)} en {level.label}.")
    return 0
