"""First installation: the cabinet row and its correspondant (seed 000: "Lors de
l'installation de la plateforme pour le cabinet le compte du correspondant ... est créé")."""

from __future__ import annotations

from sqlalchemy.orm import Session

from acl.errors import Refused
from acl.people.accounts import NewAccount, new_user
from acl.people.cabinet import clean_cabinet_fields
from acl.people.models import Cabinet
from acl.rights.audit import Context, record
from acl.rights.models import Role
from acl.rights.passwords import PasswordHasher
from acl.rights.principals import load_principal


def is_installed(session: Session) -> bool:
    return session.get(Cabinet, 1) is not None


def install(session: Session, hasher: PasswordHasher, *, cabinet_name: str, cabinet_siren: str,
            login: str, display_name: str, email: str | None, password: str | None,
            address: str) -> NewAccount:
    if is_installed(session):
        raise Refused("Cette installation est déjà initialisée (le cabinet et son correspondant "
                      "existent).")
    fields = clean_cabinet_fields(name=cabinet_name, siren=cabinet_siren)
    session.add(Cabinet(id=1, **fields))
    account = new_user(session, hasher, login=login, display_name=display_name,
                       role=Role.CORRESPONDANT, email=email, company=None, password=password,
                       created_by_id=None)
    ctx = Context(load_principal(session, account.user), address)
    record(session, ctx, "install", fields["name"], detail={"correspondant": account.user.login})
    return account
