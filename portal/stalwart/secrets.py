"""Secrets as Stalwart stores them. Stalwart never hashes; its clients do.

Passwords are sent as SHA-512 crypt (`$6$`, what the official web admin sends and
every Stalwart version verifies), with more rounds than its default 5,000. App
passwords are stored as `$app$<name>$<hash>`, where the official client's name
is base64("label$<RFC 3339 creation time>"). API keys are used as
`Bearer api_<base64(name:secret)>`.
"""

from __future__ import annotations

import base64
import secrets
import string
from datetime import UTC, datetime

from django.conf import settings
from passlib.hash import sha512_crypt

ALPHABET = string.ascii_letters + string.digits
# Readable app passwords: no 0/O, 1/l/I.
READABLE = "abcdefghijkmnpqrstuvwxyz23456789"


def hash_password(password: str) -> str:
    rounds = getattr(settings, "PASSWORD_HASH_ROUNDS", 100_000)
    return sha512_crypt.using(rounds=rounds).hash(password)


def app_password_name(label: str, created: datetime | None = None) -> str:
    created = (created or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    raw = f"{label}${created.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return base64.b64encode(raw.encode()).decode("ascii")


def app_password_secret(name: str, password: str) -> str:
    """The `secrets` entry for an app password named `name` (already encoded)."""
    return f"$app${name}${hash_password(password)}"


def generate_app_password(groups: int = 4, size: int = 4) -> str:
    """A strong password that is easy to type on a phone: `abcd-efgh-jkmn-pqrs` (80 bits)."""
    return "-".join("".join(secrets.choice(READABLE) for _ in range(size)) for _ in range(groups))


def generate_api_secret(length: int = 30) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def api_key_token(name: str, secret: str) -> str:
    return "api_" + base64.b64encode(f"{name}:{secret}".encode()).decode("ascii")
