"""Secrets as Stalwart stores them. Stalwart never hashes; its clients do.

Passwords are sent as Argon2id PHC strings (`$argon2id$v=19$...`, verified by every
Stalwart since 0.11) or, with `PASSWORD_HASH_SCHEME=sha512-crypt`, as SHA-512 crypt
(`$6$`, what the official web admin sends) with more rounds than its default 5,000.
App passwords are stored as `$app$<name>$<hash>` with the same hash, where the
official client's name is base64("label$<RFC 3339 creation time>"). API keys are
used as `Bearer api_<base64(name:secret)>`.

Hashing takes tens of milliseconds of CPU on purpose. Request code awaits
`hash_password_async` (or `hash_passwords` for a batch), which runs it in a small
pool of threads of its own: never in the event loop, and never in the shared thread
that runs the portal's other synchronous work (docs/security.md).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import string
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import argon2
from django.conf import settings
from passlib.hash import sha512_crypt

ALPHABET = string.ascii_letters + string.digits
# Readable app passwords: no 0/O, 1/l/I.
READABLE = "abcdefghijkmnpqrstuvwxyz23456789"


# The longest password the portal accepts anywhere (docs/security.md says why).
MAX_PASSWORD_LENGTH = 256
SCHEMES = ("argon2id", "sha512-crypt")


class PasswordTooLong(ValueError):
    """Forms refuse these first; hashing refuses them too, whoever calls it."""


def hash_password(password: str) -> str:
    """The secret Stalwart stores for `password`. Blocking: request code awaits
    `hash_password_async` instead."""
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooLong(f"passwords are limited to {MAX_PASSWORD_LENGTH} characters")
    if getattr(settings, "PASSWORD_HASH_SCHEME", "argon2id") == "sha512-crypt":
        rounds = getattr(settings, "PASSWORD_HASH_ROUNDS", 100_000)
        return sha512_crypt.using(rounds=rounds).hash(password)
    hasher = argon2.PasswordHasher(
        time_cost=getattr(settings, "PASSWORD_ARGON2_TIME_COST", 2),
        memory_cost=getattr(settings, "PASSWORD_ARGON2_MEMORY_KIB", 19_456),
        parallelism=getattr(settings, "PASSWORD_ARGON2_PARALLELISM", 1),
        type=argon2.Type.ID,
    )
    return hasher.hash(password)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _hashing_pool() -> ThreadPoolExecutor:
    """The threads that hash, made on first use; PASSWORD_HASH_THREADS of them at most."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(
                    max_workers=max(1, int(getattr(settings, "PASSWORD_HASH_THREADS", 2))),
                    thread_name_prefix="portal-password-hash",
                )
    return _pool


async def hash_password_async(password: str) -> str:
    """`hash_password` in the hashing threads: the event loop and the shared thread go on meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(_hashing_pool(), hash_password, password)


async def hash_passwords(passwords: Iterable[str]) -> list[str]:
    """Several passwords (a CSV import), in order; the pool's size bounds how many hash at once."""
    return list(await asyncio.gather(*(hash_password_async(password) for password in passwords)))


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
