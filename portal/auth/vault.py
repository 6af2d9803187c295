"""Sealing secrets kept in the session store (tokens, the pending password).

The session store is server-side, but a database dump or a shared Redis must
not hand out working tokens: values are encrypted with a key derived from
SESSION_ENCRYPTION_KEY (or SECRET_KEY when that is not set).
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@functools.cache
def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(b"stalwart-portal session vault\x00" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _key() -> str:
    return getattr(settings, "SESSION_ENCRYPTION_KEY", "") or settings.SECRET_KEY


def seal(value: str) -> str:
    return _fernet(_key()).encrypt(value.encode()).decode("ascii")


def unseal(value: str) -> str | None:
    """The sealed value, or None when it was sealed with another key or altered."""
    return _unseal(_key(), value)


@functools.lru_cache(maxsize=1024)
def _unseal(key: str, value: str) -> str | None:
    # Every page unseals the same access token from the session (an AES decryption and an
    # HMAC check, about 2 % of a list page): the answer for a sealed value and key never
    # changes. Kept in this process only, like the token a request holds while it runs.
    try:
        return _fernet(key).decrypt(value.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        return None
