"""Sign-in on Stalwart 0.16+: `POST /api/auth` for a one-time code, `/auth/token` through authlib.

The portal collects the name, password and (when asked) TOTP code itself and sends them to
`POST /api/auth` (type `authCode`) with its client id, its redirect URI and a PKCE S256
challenge (v0.16 jmap-management.md §1.2). The answer is `authenticated` with the code in
`client_code` (snake_case), `mfaRequired` (send again with `mfaToken`), or `failure`. The code
is exchanged at `/auth/token` with the PKCE verifier; refresh is the same as on <= 0.15.

What the person may do comes from `GET /api/account` (camelCase permissions), read against the
server's permission enum in `/api/schema` (kept per schema hash: the hash changes with the
release) and translated into the portal's rule names (`permissions.as_rest`). The 0.16 names
themselves are kept too (`JmapAuthorization.native`: only those the enum knows), for the pages
gated per object (the schema's settings), with whether the person may read any settings object.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.oauth2.client import DEFAULT_HEADERS
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from .. import errors, oauth
from ..settings_types import SETTINGS_LAYOUT
from ..transport import api_url, failure, shared_client
from ..transport import json_or_none as _json_or_none
from . import permissions
from .client import JmapClient

AUTH_PATH = "/api/auth"
ACCOUNT_PATH = "/api/account"
SCHEMA_PATH = "/api/schema"
#: What the portal records as the version of a 0.16+ server (no endpoint reports the real one).
VERSION = "0.16"
SCHEMA_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))

    def __repr__(self) -> str:
        return "<Pkce>"


async def _anonymous(method: str, path: str, *, body: Any = None, client_ip: str | None = None) -> httpx.Response:
    operation = f"{method} {path}"
    headers = {"Accept": "application/json"}
    if client_ip:
        headers["X-Forwarded-For"] = client_ip
    try:
        return await shared_client().request(method, api_url(path, {}), json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise failure(exc, operation) from exc


async def request_code(username: str, password: str, totp: str = "", client_ip: str | None = None) -> tuple[str, Pkce]:
    """A one-time code for these credentials, and the PKCE pair it was asked with.

    Raises `Unauthorized` (wrong name, password or code), `TotpRequired` (a code is needed),
    `OAuthError` (the server refused the portal as a client: its id or redirect URI),
    `RateLimited`, or a transport error.
    """
    pkce = Pkce.new()
    operation = f"POST {AUTH_PATH}"
    body = {
        "type": "authCode",
        "accountName": username,
        "accountSecret": password,
        "mfaToken": totp or None,
        "clientId": settings.STALWART_OAUTH_CLIENT_ID,
        "redirectUri": settings.STALWART_OAUTH_REDIRECT_URI,
        "codeChallenge": pkce.challenge,
        "codeChallengeMethod": "S256",
    }
    response = await _anonymous("POST", AUTH_PATH, body=body, client_ip=client_ip)
    data = _json_or_none(response)
    if response.status_code == 401:
        # /api/auth answers a client it refuses (unregistered id, redirect URI) with a bare 401;
        # wrong credentials are {"type": "failure"} with 200.
        raise errors.OAuthError("invalid_client", operation=operation)
    if response.status_code >= 300:
        retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
        raise errors.status_error(response.status_code, data, operation=operation, retry_after=retry_after)
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "authenticated" and isinstance(data, dict):
        code = data.get("client_code") or data.get("clientCode")
        if isinstance(code, str) and code:
            return code, pkce
    elif kind == "mfaRequired":
        raise errors.TotpRequired(gettext("A two-factor code is needed."), status=402, operation=operation)
    elif kind == "failure":
        raise errors.Unauthorized(gettext("Wrong credentials."), status=401, operation=operation)
    raise errors.StalwartBadResponse(gettext("Stalwart's sign-in answer has no code."), operation=operation)


def authorization_url(endpoint: str, *, state: str, pkce: Pkce, redirect_uri: str) -> str:
    """Where to send the browser for the redirect flow (the server's /login page, §1.1)."""
    base = settings.STALWART_PUBLIC_URL or settings.STALWART_URL
    if not endpoint.startswith(("https://", "http://")):
        endpoint = base + "/" + endpoint.lstrip("/")
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.STALWART_OAUTH_CLIENT_ID,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


async def exchange_code(
    code: str, pkce: Pkce, client_ip: str | None = None, redirect_uri: str | None = None
) -> oauth.Tokens:
    """The code for tokens at `/auth/token` (authlib), with the PKCE verifier; `redirect_uri` is
    the one the code was issued for (the portal's callback in the redirect flow)."""
    headers = {**DEFAULT_HEADERS, "X-Forwarded-For": client_ip} if client_ip else None
    return await oauth._token_call(
        lambda client: client.fetch_token(
            oauth.TOKEN_PATH,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri or settings.STALWART_OAUTH_REDIRECT_URI,
            code_verifier=pkce.verifier,
            headers=headers,
        )
    )


@dataclass(frozen=True, slots=True)
class SchemaPermissions:
    """What sign-in reads from the server's schema: its `Permission` enum, and the read
    permission (`sys<Object>Get`) of every object its settings navigation links to."""

    names: tuple[str, ...]
    settings_reads: frozenset[str] = frozenset()


async def permission_enum(client: JmapClient) -> tuple[str, ...]:
    """The server's `Permission` enum from `/api/schema`."""
    return (await schema_permissions(client)).names


async def schema_permissions(client: JmapClient) -> SchemaPermissions:
    """The permissions of `/api/schema` (one redirect, then what is kept per schema hash)."""
    headers = {"Authorization": client.authorization, "Accept": "application/json"}
    operation = f"GET {SCHEMA_PATH}"
    try:
        response = await shared_client().get(api_url(SCHEMA_PATH, {}), headers=headers)
        location = response.headers.get("location", "") if response.status_code in (301, 302, 303, 307) else ""
        if not location.startswith("/api/schema/"):
            if response.status_code >= 300:
                raise errors.status_error(response.status_code, _json_or_none(response), operation=operation)
            return _permissions(_json_or_none(response))
        key = "jmap-schema-permissions:" + hashlib.sha256(location.encode()).hexdigest()[:32]
        known = await cache.aget(key)
        if isinstance(known, SchemaPermissions):
            return known
        response = await shared_client().get(api_url(location, {}), headers=headers)
    except httpx.HTTPError as exc:
        raise failure(exc, operation) from exc
    if response.status_code >= 300:
        raise errors.status_error(response.status_code, _json_or_none(response), operation=operation)
    found = _permissions(_json_or_none(response))
    await cache.aset(key, found, timeout=SCHEMA_SECONDS)
    return found


def _permissions(schema: Any) -> SchemaPermissions:
    return SchemaPermissions(_enum(schema), _settings_reads(schema))


def _enum(schema: Any) -> tuple[str, ...]:
    entries = schema.get("enums", {}).get("Permission") if isinstance(schema, dict) else None
    if not isinstance(entries, list):
        return ()
    return tuple(
        str(entry["name"]) if isinstance(entry, dict) else str(entry)
        for entry in entries
        if isinstance(entry, (dict, str)) and (not isinstance(entry, dict) or "name" in entry)
    )


def _settings_reads(schema: Any) -> frozenset[str]:
    """`sys<Object>Get` of each `x:` object (or view of one) the layout "Settings" links to,
    as the settings pages read them (`settings_types.SettingsSchema.navigation`)."""
    if not isinstance(schema, dict) or not isinstance(schema.get("objects"), dict):
        return frozenset()
    objects: dict[str, Any] = schema["objects"]
    layouts = schema.get("layouts")
    layout = next(
        (entry for entry in layouts if isinstance(entry, dict) and entry.get("name") == SETTINGS_LAYOUT),
        None,
    ) if isinstance(layouts, list) else None
    found: set[str] = set()
    pending: list[Any] = list(layout.get("items") or []) if layout else []
    while pending and len(found) < 1000:
        raw = pending.pop()
        if not isinstance(raw, dict):
            continue
        entry = raw.get("link") or raw.get("container") or raw
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("items"), list):
            pending.extend(entry["items"])
        view = entry.get("viewName")
        if not isinstance(view, str) or not view.startswith("x:"):
            continue
        target = objects.get(view)
        if isinstance(target, dict) and target.get("type") == "view":
            target = objects.get(str(target.get("objectName") or ""))
        prefix = target.get("permissionPrefix") if isinstance(target, dict) else None
        if isinstance(prefix, str) and prefix:
            found.add(prefix + "Get")
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class JmapAuthorization(oauth.AuthorizationCode):
    """A 0.16 sign-in: the portal's rule names, and the server's own names it was read from
    (`permissions.native`): the session keeps them for the gates written in 0.16 names."""

    native: frozenset[str] = frozenset()
    native_all: bool = False
    reads_settings: bool = False


async def account(token: str, rule_names: Iterable[str]) -> tuple[str, oauth.AuthorizationCode]:
    """Who the token belongs to, as the portal records it: the account's name as the server
    writes it (the JMAP session's `username`: a bare login gets the default domain), and its
    permissions (those of `rule_names`, the portal's rule names, it holds) and edition. Reading
    the session also keeps the server's limits."""
    client = JmapClient(token)
    data = await client._http("GET", ACCOUNT_PATH)
    held = data.get("permissions")
    if not isinstance(held, list):
        raise errors.StalwartBadResponse(
            gettext("Stalwart's permission list is unreadable."), operation=f"GET {ACCOUNT_PATH}"
        )
    known = await schema_permissions(client)
    jmap_session = await client.session()
    name = str(jmap_session.get("username") or "")
    held_names = [str(name) for name in held]
    granted = permissions.as_rest(held_names, known.names, rule_names)
    native, native_all = permissions.native(held_names, known.names)
    return name, JmapAuthorization(
        code="",
        permissions=granted,
        version=VERSION,
        enterprise=data.get("edition") == "enterprise",
        generation="jmap",
        native=native,
        native_all=native_all,
        reads_settings=native_all or bool(native & known.settings_reads),
    )
