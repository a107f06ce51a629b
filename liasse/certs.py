"""Self-signed TLS certificates for a LAN trial (`liasse cert`, `liasse demo --tls`)."""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from acl.errors import InvalidInput

MAX_NAME_LENGTH = 253  # a DNS name, without its final dot (RFC 1035)
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")  # letters, digits, hyphens (RFC 1123)
_MAX_COMMON_NAME = 64  # X.509 upper bound of the subject's common name


def _shown(text: str) -> str:
    """`text` as it can appear in a one-line message."""
    short = text if len(text) <= 80 else text[:79] + "…"
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in short)


def check_host(host: str) -> str:
    """The form `host` takes in a certificate: an IP address, or a name in ASCII (a Unicode
    name converted with IDNA); `InvalidInput` saying why otherwise."""
    text = host.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        address = None
    if address is not None:
        if getattr(address, "scope_id", None):
            raise InvalidInput(f"Adresse « {_shown(host)} » : une adresse IPv6 avec zone (%…) "
                               "ne peut pas figurer dans un certificat.", field="host")
        return str(address)
    name = text[:-1] if text.endswith(".") else text  # the root's dot is implied
    if not name:
        raise InvalidInput("Nom d'hôte vide : indiquez un nom (serveur.cabinet.local) ou une "
                           "adresse IP.", field="host")
    invalid = InvalidInput(
        f"Nom d'hôte invalide « {_shown(host)} » : des parties de 1 à 63 lettres, chiffres ou "
        f"« - », séparées par des points, {MAX_NAME_LENGTH} caractères au plus.", field="host")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise invalid from None
    name = name.lower()
    if len(name) > MAX_NAME_LENGTH or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        raise invalid
    return name


def check_hosts(hosts: list[str]) -> list[str]:
    """`check_host` for each, duplicates dropped (order kept)."""
    if not hosts:
        raise InvalidInput("Indiquez au moins un nom ou une adresse IP.", field="host")
    return list(dict.fromkeys(check_host(host) for host in hosts))


def make_self_signed(cert_path: Path, key_path: Path, hosts: list[str], *,
                     days: int = 825) -> None:
    """Write a certificate valid for `hosts` (names or IP addresses) and its private key.

    Host names are checked first (`InvalidInput`); a file that cannot be written raises
    `OSError` and leaves neither file behind."""
    hosts = check_hosts(hosts)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    common_name = hosts[0] if len(hosts[0]) <= _MAX_COMMON_NAME else "Liasse"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Liasse")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        written.append(key_path)
        with os.fdopen(fd, "wb") as out:
            out.write(key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        written.append(cert_path)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    except BaseException:
        for path in written:
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass
        raise
