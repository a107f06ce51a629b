"""Passwords: the policy, changing and resetting them, and signing in with throttling.

Time is passed explicitly (`now=`): nothing here sleeps. Every sign-in runs in its own
committed transaction, as at an edge.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from acl.errors import InvalidInput
from acl.people import accounts
from acl.people.accounts import SignIn, authenticate
from acl.people.models import Company, User
from acl.rights import passwords
from acl.rights.models import AuditEntry, Role
from acl.rights.passwords import PasswordHasher, generate_password
from config.settings import SecuritySettings, load_settings
from tests.conftest import DEMO_PASSWORD, FAST_SECURITY

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WRONG = "pas-le-bon-mot-de-passe"
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect (ou compte désactivé)."
LOCKED = "Trop d'essais infructueux pour cet identifiant : connexion bloquée jusqu'à"

# For the pure policy checks: no database needed.
POLICY = PasswordHasher(SecuritySettings(**{k: v for k, v in FAST_SECURITY.items()
                                            if k.startswith("argon2")}))


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def sign_in(db, hasher, login: str, password: str, *, address: str = "203.0.113.1",
            now: datetime = T0) -> SignIn:
    with db.transaction() as s:
        return authenticate(s, hasher, login, password, address, now=now)


def stored(db, login: str) -> User:
    with db.session() as s:
        return s.scalars(select(User).where(User.login == login)).one()


@pytest.fixture
def hasher_with(settings_file):
    """A PasswordHasher for the same database with other `[security]` settings."""
    def make(**security) -> PasswordHasher:
        return PasswordHasher(load_settings(settings_file(security=security)).security)
    return make


# ---------------------------------------------------------------------------------------------
# The policy.

def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


TOO_SHORT = "Le mot de passe doit compter au moins 12 caractères."
HAS_LOGIN = "Le mot de passe ne doit pas contenir l'identifiant."
HAS_COMPANY = "Le mot de passe ne doit pas contenir le nom de l'entreprise."
REPETITIVE = "Le mot de passe est trop répétitif."

#  id: (password, login, company name, expected refusal or None)
POLICY_TABLE = {
    "eleven_chars": ("court-court", "secretaire", "", TOO_SHORT),
    "twelve_chars": ("cheval-bleu7", "secretaire", "", None),
    "passphrase": ("correct cheval pile agrafe", "secretaire", "", None),
    # Length counts characters as written, not their decomposed code points.
    "eleven_accented_decomposed": (nfd("été à Nîmes"), "secretaire", "", TOO_SHORT),
    "twelve_accented_decomposed": (nfd("été à Nîmes!"), "secretaire", "", None),
    "contains_login": ("Secretaire-2026!", "secretaire", "", HAS_LOGIN),
    "contains_login_accented": ("Hélène#Printemps", "helene", "", HAS_LOGIN),
    "contains_login_without_dot": ("jeanmartin-1234", "jean.martin", "", HAS_LOGIN),
    "short_login_ignored": ("jm-un-mot-de-passe", "jm", "", None),
    "contains_company": ("boulangerie martin 2026", "secretaire", "Boulangerie Martin",
                         HAS_COMPANY),
    "contains_company_punctuated": ("GARAGE-dupont!!99", "secretaire", "Garage Dupont",
                                    HAS_COMPANY),
    "company_word_alone_is_fine": ("le garage du coin 42", "secretaire", "Garage Dupont", None),
    "one_character": ("aaaaaaaaaaaaaaaa", "secretaire", "", REPETITIVE),
    "two_characters": ("abababababab", "secretaire", "", REPETITIVE),
    "too_long": ("abc" * 342, "secretaire", "",
                 "Le mot de passe ne peut dépasser 1024 caractères."),
}


@pytest.mark.parametrize("case", list(POLICY_TABLE))
def test_password_policy(case):
    password, login, company_name, expected = POLICY_TABLE[case]
    if expected is None:
        POLICY.check(password, login=login, company_name=company_name)
        return
    with pytest.raises(InvalidInput) as refused:
        POLICY.check(password, login=login, company_name=company_name)
    assert refused.value.reason == expected
    assert refused.value.field == "password"


def test_generated_passwords_pass_the_policy():
    for _ in range(50):
        POLICY.check(generate_password(login="abc", company_name="Boulangerie Martin"),
                     login="abc", company_name="Boulangerie Martin")


def test_a_generated_password_is_drawn_again_when_it_holds_the_login(demo, hasher, ctx_of,
                                                                    monkeypatch):
    """Creating "abc" without a password works even when the first draw contains "abc"."""
    draws = iter(["mCRw-6TnB-abcd-uwFk", "mCRw-6TnB-xyzw-uwFk"])
    monkeypatch.setattr(passwords, "_draw", lambda: next(draws))
    with demo.transaction() as s:
        bakery = s.scalars(select(Company).where(Company.name == "Boulangerie Martin")).one()
        account = accounts.create_user(s, ctx_of("martin", s), hasher, login="abc",
                                       display_name="Anne", role=Role.UTILISATEUR,
                                       company=bakery)
    assert account.initial_password == "mCRw-6TnB-xyzw-uwFk"
    assert sign_in(demo, hasher, "abc", "mCRw-6TnB-xyzw-uwFk").user is not None


def test_minimum_length_is_a_setting(hasher_with):
    hasher = hasher_with(password_min_length=16)
    with pytest.raises(InvalidInput, match="au moins 16 caractères"):
        hasher.check("quinze-car-xyz!")
    hasher.check("seize-caracteres")


def test_creating_an_account_with_a_weak_password_creates_nothing(demo, hasher, ctx_of):
    ctx = ctx_of("martin")
    with pytest.raises(InvalidInput) as refused:
        with demo.transaction() as s:
            bakery = s.scalars(select(Company).where(Company.name == "Boulangerie Martin")).one()
            accounts.create_user(s, ctx, hasher, login="comptable", display_name="Paul",
                                 role=Role.UTILISATEUR, company=bakery,
                                 password="Boulangerie-Martin-2026")
    assert refused.value.reason == HAS_COMPANY
    with demo.session() as s:
        assert s.scalars(select(User).where(User.login == "comptable")).first() is None


# ---------------------------------------------------------------------------------------------
# Changing one's own password, resetting another's.

NEW = "un nouveau mot de passe"


def change(db, hasher, ctx_of, login: str, old: str, new: str) -> None:
    with db.transaction() as s:
        user = s.scalars(select(User).where(User.login == login)).one()
        accounts.change_own_password(s, ctx_of(login, s), hasher, user, old, new)


def test_change_own_password(demo, hasher, ctx_of):
    version = stored(demo, "martin").credentials_version
    change(demo, hasher, ctx_of, "martin", DEMO_PASSWORD, NEW)
    assert stored(demo, "martin").credentials_version == version + 1
    assert sign_in(demo, hasher, "martin", NEW).user is not None
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD).reason == BAD_CREDENTIALS
    with demo.session() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (last.actor_login, last.action, last.outcome) == (
            "martin", "user.password_change", "ok")
        assert DEMO_PASSWORD not in last.detail and NEW not in last.detail


@pytest.mark.parametrize(("old", "new", "reason"), [
    (WRONG, NEW, "L'ancien mot de passe est incorrect."),
    ("", NEW, "L'ancien mot de passe est incorrect."),
    (DEMO_PASSWORD, DEMO_PASSWORD, "Le nouveau mot de passe doit différer de l'ancien."),
    (DEMO_PASSWORD, "court", TOO_SHORT),
    (DEMO_PASSWORD, "moi-c-est-martin!", HAS_LOGIN),
], ids=["wrong_old", "empty_old", "same_as_old", "too_short", "contains_login"])
def test_change_own_password_refused(demo, hasher, ctx_of, old, new, reason):
    before = stored(demo, "martin")
    with pytest.raises(InvalidInput) as refused:
        change(demo, hasher, ctx_of, "martin", old, new)
    assert refused.value.reason == reason
    after = stored(demo, "martin")
    assert (after.password_hash, after.credentials_version) == (
        before.password_hash, before.credentials_version)
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD).user is not None


def test_company_name_is_checked_for_company_users(demo, hasher, ctx_of):
    with pytest.raises(InvalidInput) as refused:
        change(demo, hasher, ctx_of, "secretaire", DEMO_PASSWORD, "Boulangerie-Martin-2026")
    assert refused.value.reason == HAS_COMPANY


def test_reset_password_generates_one_to_change(demo, hasher, ctx_of):
    version = stored(demo, "secretaire").credentials_version
    with demo.transaction() as s:
        secretaire = s.scalars(select(User).where(User.login == "secretaire")).one()
        generated = accounts.reset_password(s, ctx_of("martin", s), hasher, secretaire)
    assert generated
    after = stored(demo, "secretaire")
    assert after.must_change_password
    assert after.credentials_version == version + 1
    assert sign_in(demo, hasher, "secretaire", DEMO_PASSWORD).user is None
    assert sign_in(demo, hasher, "secretaire", generated).user is not None
    change(demo, hasher, ctx_of, "secretaire", generated, NEW)
    assert not stored(demo, "secretaire").must_change_password


def test_reset_password_follows_the_policy(demo, hasher, ctx_of):
    before = stored(demo, "secretaire").password_hash
    with pytest.raises(InvalidInput) as refused:
        with demo.transaction() as s:
            secretaire = s.scalars(select(User).where(User.login == "secretaire")).one()
            accounts.reset_password(s, ctx_of("martin", s), hasher, secretaire,
                                    "secretaire-de-martin")
    assert refused.value.reason == HAS_LOGIN
    assert stored(demo, "secretaire").password_hash == before


def test_disabling_and_enabling_bump_the_credentials_version(demo, ctx_of):
    version = stored(demo, "secretaire").credentials_version
    for active, expected in ((False, version + 1), (True, version + 2)):
        with demo.transaction() as s:
            secretaire = s.scalars(select(User).where(User.login == "secretaire")).one()
            accounts.set_active(s, ctx_of("martin", s), secretaire, active)
        assert stored(demo, "secretaire").credentials_version == expected


# ---------------------------------------------------------------------------------------------
# Signing in.

def test_sign_in(demo, hasher):
    result = sign_in(demo, hasher, "martin", DEMO_PASSWORD)
    assert result.user is not None and result.user.login == "martin"
    assert (result.reason, result.delay, result.locked_until) == ("", 0.0, None)


def test_sign_in_ignores_case_and_spaces_of_the_login(demo, hasher):
    assert sign_in(demo, hasher, "  Martin ", DEMO_PASSWORD).user.login == "martin"


@pytest.mark.parametrize(("login", "password"), [
    ("martin", WRONG), ("martin", ""), ("personne", DEMO_PASSWORD), ("", "")],
    ids=["wrong_password", "empty_password", "unknown_login", "nothing"])
def test_failed_sign_in_says_nothing_more(demo, hasher, login, password):
    result = sign_in(demo, hasher, login, password)
    assert result.user is None
    assert result.reason == BAD_CREDENTIALS


def test_disabled_account_is_refused_as_a_wrong_password(demo, hasher, ctx_of):
    """Issue 15, item 16: "Ce compte est désactivé." confirmed a guessed password."""
    with demo.transaction() as s:
        secretaire = s.scalars(select(User).where(User.login == "secretaire")).one()
        accounts.set_active(s, ctx_of("martin", s), secretaire, False)
    result = sign_in(demo, hasher, "secretaire", DEMO_PASSWORD)
    assert (result.user, result.reason) == (None, BAD_CREDENTIALS)
    assert sign_in(demo, hasher, "secretaire", WRONG).reason == BAD_CREDENTIALS


def test_a_corrupt_stored_hash_refuses_without_crashing(demo, hasher):
    with demo.transaction() as s:
        s.scalars(select(User).where(User.login == "martin")).one().password_hash = "n'importe"
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD).reason == BAD_CREDENTIALS


def test_login_locks_after_repeated_failures_then_unlocks(demo, hasher_with):
    hasher = hasher_with(failures_before_lockout=4, lockout_minutes=15)
    for i in range(3):
        result = sign_in(demo, hasher, "martin", WRONG, now=T0 + seconds(i))
        assert result.locked_until is None
    last = T0 + seconds(3)
    result = sign_in(demo, hasher, "martin", WRONG, now=last)
    assert result.reason.startswith(LOCKED)
    assert result.locked_until == last + timedelta(minutes=15)
    # Locked: even the right password is refused, with the same answer as a wrong one.
    for now in (last + seconds(1), last + timedelta(minutes=15) - seconds(1)):
        for password in (DEMO_PASSWORD, WRONG):
            locked = sign_in(demo, hasher, "martin", password, now=now)
            assert locked.user is None and locked.reason.startswith(LOCKED)
            assert locked.locked_until == last + timedelta(minutes=15)
    # Other accounts are not affected.
    assert sign_in(demo, hasher, "dupont", DEMO_PASSWORD, address="198.51.100.2",
                   now=last + seconds(1)).user is not None
    # The lock ends by itself.
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD,
                   now=last + timedelta(minutes=15)).user is not None


def test_a_login_is_locked_whatever_the_address(demo, hasher_with):
    hasher = hasher_with(failures_before_lockout=4, lockout_minutes=15)
    for i in range(4):
        sign_in(demo, hasher, "martin", WRONG, address=f"198.51.100.{i + 10}",
                now=T0 + seconds(i))
    result = sign_in(demo, hasher, "martin", DEMO_PASSWORD, address="192.0.2.99",
                     now=T0 + seconds(10))
    assert result.user is None and result.reason.startswith(LOCKED)


def test_an_address_is_slowed_but_never_locked(demo, hasher_with):
    """Issue 15, item 9: behind the firm's proxy every user shares one address; ten wrong
    passwords there must not refuse anybody's right password."""
    hasher = hasher_with(failures_before_slowdown=2, failure_delay_seconds=1.0,
                         failures_before_lockout=4, lockout_minutes=15)
    address = "203.0.113.66"
    delays = []
    for i, login in enumerate(["martin", "dupont", "expert", "personne", "inconnu"]):
        result = sign_in(demo, hasher, login, WRONG, address=address, now=T0 + seconds(i))
        assert result.locked_until is None  # each login failed once: none is locked
        delays.append(result.delay)
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0]  # but the address is slowed down
    signed = sign_in(demo, hasher, "associe", DEMO_PASSWORD, address=address,
                     now=T0 + seconds(10))
    assert signed.user is not None and signed.delay == 0.0


def test_failures_are_forgotten_after_a_quiet_period(demo, hasher_with):
    hasher = hasher_with(failures_before_lockout=3, lockout_minutes=15)
    sign_in(demo, hasher, "martin", WRONG, now=T0)
    sign_in(demo, hasher, "martin", WRONG, now=T0 + seconds(1))
    # The third failure comes after 15 quiet minutes: it counts as a first one.
    late = T0 + seconds(1) + timedelta(minutes=15)
    assert sign_in(demo, hasher, "martin", WRONG, now=late).locked_until is None
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD, now=late + seconds(1)).user


def test_the_delay_doubles_after_the_slowdown_threshold(demo, hasher_with):
    hasher = hasher_with(failures_before_slowdown=3, failure_delay_seconds=1.0,
                         failures_before_lockout=50)
    delays = [sign_in(demo, hasher, "martin", WRONG, now=T0 + seconds(i)).delay
              for i in range(9)]
    assert delays == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD, now=T0 + seconds(20)).delay == 0.0


def test_a_successful_sign_in_clears_the_logins_failures(demo, hasher_with):
    hasher = hasher_with(failures_before_slowdown=3, failure_delay_seconds=1.0)

    def attempt(i: int, password: str = WRONG) -> SignIn:
        # A new address each time: only the login's own counter is at play.
        return sign_in(demo, hasher, "martin", password, address=f"192.0.2.{i}",
                       now=T0 + seconds(i))

    assert [attempt(1).delay, attempt(2).delay] == [0.0, 0.0]
    assert attempt(3, DEMO_PASSWORD).user is not None
    assert [attempt(4).delay, attempt(5).delay, attempt(6).delay] == [0.0, 0.0, 1.0]


def test_hash_is_upgraded_at_sign_in_when_the_cost_settings_changed(demo, hasher,
                                                                    hasher_with):
    old_hasher = hasher_with(argon2_time_cost=2, argon2_memory_kib=128)
    old_hash = old_hasher.hash(DEMO_PASSWORD)
    with demo.transaction() as s:
        s.scalars(select(User).where(User.login == "martin")).one().password_hash = old_hash
    version = stored(demo, "martin").credentials_version

    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD).user is not None

    new_hash = stored(demo, "martin").password_hash
    assert new_hash != old_hash
    assert "m=128,t=2" in old_hash and "m=64,t=1" in new_hash
    assert hasher.verify(DEMO_PASSWORD, new_hash) == (True, None)  # no further upgrade due
    assert hasher.verify(WRONG, new_hash)[0] is False
    assert stored(demo, "martin").credentials_version == version
    # The upgraded hash keeps working.
    assert sign_in(demo, hasher, "martin", DEMO_PASSWORD).user is not None


def test_a_failed_sign_in_does_not_upgrade_the_hash(demo, hasher, hasher_with):
    old_hash = hasher_with(argon2_time_cost=2, argon2_memory_kib=128).hash(DEMO_PASSWORD)
    with demo.transaction() as s:
        s.scalars(select(User).where(User.login == "martin")).one().password_hash = old_hash
    assert sign_in(demo, hasher, "martin", WRONG).user is None
    assert stored(demo, "martin").password_hash == old_hash


def test_an_endless_login_is_refused_not_a_crash(demo, hasher):
    """A 5,000-character login (a hostile form) gives the usual refusal on every database."""
    with demo.transaction() as s:
        outcome = accounts.authenticate(s, hasher, "x" * 5000, "whatever", "127.0.0.1")
    assert outcome.user is None and outcome.reason == BAD_CREDENTIALS


# ---------------------------------------------------------------------------------------------
# The slow hash is checked outside the write transaction (several workers, one SQLite file).

class HeldHasher(PasswordHasher):
    """The real hasher, held in the middle of a verification until the test lets it go."""

    def __init__(self, security) -> None:
        super().__init__(security)
        import threading
        self.inside, self.release = threading.Event(), threading.Event()

    def verify(self, password, hashed):
        self.inside.set()
        assert self.release.wait(30), "the test never released the verification"
        return super().verify(password, hashed)


def test_other_writers_commit_while_a_password_is_being_checked(demo, hasher):
    import threading
    held = HeldHasher(hasher.security)
    outcome: list[SignIn] = []
    signing_in = threading.Thread(target=lambda: outcome.append(accounts.attempt_sign_in(
        demo, held, "dupont", DEMO_PASSWORD, "203.0.113.9")))
    signing_in.start()
    try:
        assert held.inside.wait(30)
        # The sign-in is in argon2 now: a write from elsewhere commits at once (with the
        # check inside the write transaction it waited for the lock, or timed out).
        with demo.transaction() as tx:
            tx.scalars(select(User).where(User.login == "martin")).one().display_name = "M."
    finally:
        held.release.set()
        signing_in.join(30)
    assert outcome and outcome[0].user is not None and outcome[0].user.login == "dupont"
    assert stored(demo, "martin").display_name == "M."


def test_a_password_changed_during_the_check_is_checked_again(demo, hasher):
    with demo.session() as s:
        verdict = accounts.check_password(s, hasher, "dupont", DEMO_PASSWORD)
    assert verdict.ok
    with demo.transaction() as tx:  # meanwhile, the password changes
        tx.scalars(select(User).where(User.login == "dupont")).one().password_hash = \
            hasher.hash("un-tout-autre-mot-de-passe-2026")
    with demo.transaction() as tx:
        outcome = authenticate(tx, hasher, "dupont", DEMO_PASSWORD, "203.0.113.9",
                               now=T0, verdict=verdict)
    assert outcome.user is None and outcome.reason == BAD_CREDENTIALS
