"""Setting up two-factor sign-in: the secret, its otpauth URL and QR code.

The secret is made here, on the server, and kept sealed in the session between showing the
QR code and the confirmation (the form never carries it). It is dropped once two-factor is
on, when the person signs out, or after `SETUP_SECONDS`.
"""

from __future__ import annotations

import ipaddress
import time
from urllib.parse import urlsplit

import pyotp
import segno
from django.conf import settings
from django.http import HttpRequest

from portal.auth.vault import seal, unseal

SETUP_KEY = "portal.totp_setup"
SETUP_SECONDS = 30 * 60


def server_host() -> str:
    """The mail server's host name, as people type it into their mail apps."""
    return urlsplit(settings.STALWART_URL).hostname or "localhost"


def issuer() -> str:
    """What authenticator apps show above the code: the server's name when it has one."""
    host = server_host()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            return host
    return "Stalwart Mail"


async def pending_secret(request: HttpRequest, *, create: bool) -> str | None:
    """The secret being set up (the same one on reload, so a scanned code stays valid)."""
    data = await request.session.aget(SETUP_KEY)
    if isinstance(data, dict) and time.time() - data.get("at", 0) < SETUP_SECONDS:
        secret = unseal(data.get("secret", ""))
        if secret:
            return secret
    if not create:
        return None
    secret = pyotp.random_base32()  # 160 bits
    await request.session.aset(SETUP_KEY, {"secret": seal(secret), "at": time.time()})
    return secret


async def drop_pending(request: HttpRequest) -> None:
    await request.session.apop(SETUP_KEY, None)


def otpauth_url(secret: str, account_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer())


def verify(secret: str, code: str) -> bool:
    """The code the person typed, checked before anything is sent (±30 seconds of drift)."""
    return pyotp.TOTP(secret).verify(code, valid_window=1)


def grouped(secret: str) -> str:
    """`ABCD EFGH ...`: easier to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(url: str) -> str:
    """The QR code as an SVG `data:` URI (the CSP allows data: images; no inline markup needed)."""
    code = segno.make(url, error="m")
    return code.svg_data_uri(scale=1, border=4, dark="#000", light="#fff", omitsize=True)
