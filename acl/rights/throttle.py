"""Slow down, then lock, repeated failed sign-ins: per login, slowed then locked (the
account's guard against guessing); per address, slowed only. An address is never locked:
behind a firm's HTTPS proxy every user shares one, and ten wrong passwords by one person must
not lock the whole firm out, nor refuse anybody's right password.

`after_failure` and `delay_for` are pure; `acl.people.accounts.authenticate` stores the
counters in the `auth_failure` table so that every server process sees the same ones.
`client_address` tells whose address a request is, through the proxies the firm trusts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from config.settings import SecuritySettings

MAX_DELAY_SECONDS = 30.0


@dataclass(frozen=True)
class Counter:
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


def _bounded(prefix: str, value: str) -> str:
    """Keys fit the column whatever a client sends: long values are hashed."""
    if len(value) > 150:
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return f"{prefix}:{value}"


def login_key(login: str) -> str:
    return _bounded("login", login.strip().lower())


def address_key(address: str) -> str:
    return _bounded("addr", address)


def is_stale(counter: Counter, now: datetime, policy: SecuritySettings) -> bool:
    """Failures are forgotten one lockout period after the last one (and after a lock ends)."""
    if counter.locked_until is not None:
        return now >= counter.locked_until
    return now - counter.last_failure_at >= timedelta(minutes=policy.lockout_minutes)


def locked_until(counters: list[Counter], now: datetime) -> datetime | None:
    ends = [c.locked_until for c in counters if c.locked_until is not None and c.locked_until > now]
    return max(ends) if ends else None


def after_failure(counter: Counter | None, now: datetime, policy: SecuritySettings, *,
                  may_lock: bool = True) -> Counter:
    """The counter after one more failure; `may_lock` false for an address (slowed only)."""
    failures = 1 if counter is None or is_stale(counter, now, policy) else counter.failures + 1
    lock = None
    if may_lock and failures >= policy.failures_before_lockout:
        lock = now + timedelta(minutes=policy.lockout_minutes)
    return Counter(failures=failures, last_failure_at=now, locked_until=lock)


def delay_for(failures: int, policy: SecuritySettings) -> float:
    """Seconds the answer to a failed attempt is held back: doubling after the threshold."""
    extra = failures - policy.failures_before_slowdown
    if extra < 0:
        return 0.0
    return min(policy.failure_delay_seconds * 2 ** extra, MAX_DELAY_SECONDS)


def client_address(peer: str, forwarded_for: str, trusted: Iterable[str]) -> str:
    """The client's address: `peer` (the TCP peer), unless it is a proxy the firm trusts
    (`[server] trusted_proxies`): then the last address of X-Forwarded-For that is not one of
    those proxies (each proxy appends the address it received from; the ones before it are
    whatever the client wrote)."""
    trusted = set(trusted)
    if peer not in trusted or not forwarded_for:
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if hop not in trusted:
            return hop[:100]
    return peer
