"""Sign-in: `POST /api/oauth` for a code, then `/auth/token` through authlib."""

from __future__ import annotations

import re
import secrets
import string
import time
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError
from authlib.deprecate import AuthlibDeprecationWarning
from django.conf import settings
from django.utils.translation import gettext

with warnings.catch_warnings():
    # Authlib would prefer the httpx2 fork and says so at import; the portal
    # stays on httpx, which authlib supports.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client
    from authlib.oauth2.client import DEFAULT_HEADERS

from . import errors
from .client import StalwartClient
from .paths import api_path
from .transport import decode_response, failure, shared_transport, timeout

MINIMUM_VERSION = (0, 11)
TOKEN_PATH = "/auth/token"


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code: str
    permissions: frozenset[str]
    version: str
    enterprise: bool
    generation: str = "rest"  # the API the server speaks (portal.stalwart.generation)


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float

    def __repr__(self) -> str:  # never show the tokens
        return f"<Tokens expires_at={self.expires_at:.0f}>"


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


async def request_code(username: str, password: str, client_ip: str | None = None) -> AuthorizationCode:
    """Ask Stalwart for an authorization code with the person's credentials.

    `client_ip` (the person's address) goes to Stalwart as `X-Forwarded-For`, so that a
    server with `http.use-x-forwarded = true` counts failures against it, not the portal.

    Raises `Unauthorized` (wrong name or password, or wrong TOTP code),
    `TotpRequired` (the password was right, a code is needed), `Forbidden`
    (no authenticate-oauth), `UnsupportedVersion`, or a transport error.
    """
    client = StalwartClient(basic=(username, password), client_ip=client_ip)
    nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
    data = await client.request(
        "POST",
        api_path("oauth"),
        json_body={
            "type": "code",
            "client_id": settings.STALWART_OAUTH_CLIENT_ID,
            "redirect_uri": settings.STALWART_OAUTH_REDIRECT_URI,
            "nonce": nonce,
        },
    )
    if not isinstance(data, dict) or not isinstance(data.get("code"), str):
        raise errors.StalwartBadResponse(gettext("Stalwart's sign-in answer has no code."), operation="POST /api/oauth")
    version = str(data.get("version") or "")
    parsed = parse_version(version)
    if parsed is None or parsed[:2] < MINIMUM_VERSION:
        raise errors.UnsupportedVersion(version)
    permissions = data.get("permissions") or []
    if not isinstance(permissions, list):
        raise errors.StalwartBadResponse(
            gettext("Stalwart's permission list is unreadable."), operation="POST /api/oauth"
        )
    return AuthorizationCode(
        code=data["code"],
        permissions=frozenset(str(item) for item in permissions),
        version=version,
        enterprise=bool(data.get("isEnterprise")),
    )


def _oauth_client() -> AsyncOAuth2Client:
    # A light authlib client per exchange that borrows the shared connection
    # pool; it holds no state between calls and is never closed (closing it
    # would close the shared pool).
    return AsyncOAuth2Client(
        client_id=settings.STALWART_OAUTH_CLIENT_ID,
        token_endpoint_auth_method="none",
        base_url=settings.STALWART_URL,
        timeout=timeout(),
        transport=shared_transport(),
        trust_env=False,
    )


async def exchange_code(code: str, client_ip: str | None = None) -> Tokens:
    # authlib sends its default headers only when given none: keep them.
    headers = {**DEFAULT_HEADERS, "X-Forwarded-For": client_ip} if client_ip else None
    return await _token_call(
        lambda client: client.fetch_token(
            TOKEN_PATH,
            grant_type="authorization_code",
            code=code,
            redirect_uri=settings.STALWART_OAUTH_REDIRECT_URI,
            headers=headers,
        )
    )


async def refresh(refresh_token: str) -> Tokens:
    return await _token_call(lambda client: client.refresh_token(TOKEN_PATH, refresh_token=refresh_token))


async def _token_call(call: Any) -> Tokens:
    operation = f"POST {TOKEN_PATH}"
    client = _oauth_client()
    client.register_compliance_hook("access_token_response", _check_token_response)
    client.register_compliance_hook("refresh_token_response", _check_token_response)
    started = time.time()
    try:
        token = await call(client)
    except httpx.HTTPError as exc:
        raise failure(exc, operation) from exc
    except AuthlibBaseError as exc:
        raise errors.OAuthError(str(getattr(exc, "error", "") or "invalid_grant")) from exc
    except ValueError as exc:  # a body that is not JSON
        raise errors.StalwartBadResponse(
            gettext("Stalwart's token answer is unreadable."), operation=operation
        ) from exc
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise errors.StalwartBadResponse(gettext("Stalwart's token answer has no access token."), operation=operation)
    expires_in = token.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else 3600.0
    return Tokens(
        access_token=access, refresh_token=str(token.get("refresh_token") or ""), expires_at=started + lifetime
    )


def _check_token_response(response: httpx.Response) -> httpx.Response:
    """Let authlib see OAuth error bodies (HTTP 400); anything else is an upstream fault."""
    if response.status_code == 400:
        body = response.json() if "json" in response.headers.get("content-type", "") else None
        if isinstance(body, dict) and isinstance(body.get("error"), str) and "status" not in body:
            return response
    if response.status_code >= 300:
        decode_response(response, operation=f"POST {TOKEN_PATH}")
    return response
