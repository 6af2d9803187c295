"""The signed-in person's session: identity, sealed tokens, refresh.

Everything lives in Django's server-side session store. The access token is
refreshed through authlib shortly before it expires: when less than
min(STALWART_TOKEN_REFRESH_MARGIN, a quarter of its lifetime) is left. One
refresh per session runs at a time (an asyncio lock per session in a process,
and a short lock in the shared cache across processes); the requests that find
a refresh under way keep using the current token while it is valid, and the
others read the new one from the session store afterwards. When Stalwart
refuses the refresh token the person is sent back to sign-in with `?next=` kept;
when refreshing fails for a passing reason (unreachable, busy, 5xx) the session
stays and the current token is used while it is valid.

A session ends after SESSION_IDLE_TIMEOUT without a request, after
SESSION_COOKIE_AGE in any case, and when the account's password was changed
after it signed in: `credentials_changed(name)` notes the time in the shared
cache (Redis with several processes), and `current()` compares it with the
sign-in time, so every session of that person ends, in every browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import cache
from django.http import HttpRequest
from django.middleware.csrf import rotate_token
from django.utils.translation import gettext as _

from portal.permissions import PortalUser, from_oauth
from portal.request import HtmxRequest
from portal.stalwart import errors, oauth

from .vault import seal, unseal

log = logging.getLogger("portal.auth")

IDENTITY_KEY = "portal.identity"
PENDING_KEY = "portal.signin_pending"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Kept past the longest a session can live, so no older session outlives the mark.
CREDENTIALS_MARK_MARGIN = 300
# A token is refreshed when less than min(STALWART_TOKEN_REFRESH_MARGIN, this share of its
# lifetime) is left: a 20 s token in its last 5 s, a one-hour token in its last minute.
REFRESH_SHARE = 0.25
# After a refresh failed for a passing reason, the current token (still valid) is used for
# this long before the session tries again; after a 429, for as long as Stalwart asked.
REFRESH_RETRY_SECONDS = 5
# How often a request whose token is no longer usable looks whether another process has
# finished refreshing it.
REFRESH_POLL_SECONDS = 0.1


def password_changed_message() -> str:
    return _("Your password was changed. Sign in again with your new password.")


async def start(
    request: HttpRequest, name: str, code: oauth.AuthorizationCode, tokens: oauth.Tokens, tenant: str | None = ""
) -> PortalUser:
    """Record a successful sign-in under a fresh session key (`tenant` None: it could not be read)."""
    await request.session.aflush()  # drops any earlier identity and rotates the key
    rotate_token(request)  # and a new CSRF secret, as Django's own login() does
    await request.session.aset(
        IDENTITY_KEY,
        {
            "name": name,
            # As principals spell them (0.15's /api/oauth writes `_` as `-`).
            "permissions": sorted(from_oauth(code.permissions, code.version)),
            "version": code.version,
            "enterprise": code.enterprise,
            "generation": getattr(code, "generation", "rest"),
            # 0.16+: the server's own names (bounded by its enum; an administrator as one flag).
            "native": sorted(getattr(code, "native", ())),
            "native_all": bool(getattr(code, "native_all", False)),
            "reads_settings": bool(getattr(code, "reads_settings", False)),
            "tenant": tenant or "",
            "tenant_known": tenant is not None,
            "access": seal(tokens.access_token),
            "refresh": seal(tokens.refresh_token) if tokens.refresh_token else "",
            "expires_at": tokens.expires_at,
            "lifetime": _lifetime(tokens),
            "signed_in_at": time.time(),
            "seen_at": time.time(),
        },
    )
    return _user(await request.session.aget(IDENTITY_KEY))


async def end(request: HttpRequest, *, expired: bool = False, message: str = "") -> None:
    """Sign out; `expired` says it happened to the person, not by their choice.

    A `message` explains why on the sign-in page (instead of the general "session ended").

    The sealed tokens go with the session: flushing deletes it from the store (database row
    and cache entry, or the Redis entry). Stalwart itself offers no way to revoke them: its
    OAuth endpoints (v0.11 to v0.15) are /auth/token, /auth/device, /auth/introspect,
    /auth/userinfo, /auth/register and /auth/jwks.json, and its tokens are sealed values it
    does not keep, so an access token stays valid until it expires (STALWART token lifetime,
    `oauth.expiry.token`) and a refresh token until it expires or the account's password
    changes (docs/security.md, "Sessions and tokens").
    """
    await request.session.aflush()
    if message:
        messages.info(request, message)
    elif expired:
        cast(HtmxRequest, request).portal_session_expired = True


def _credentials_key(name: str) -> str:
    # Stalwart trims and lowercases the names it authenticates.
    return "credentials-changed:" + hashlib.sha256(name.strip().lower().encode()).hexdigest()[:32]


async def credentials_changed(name: str) -> None:
    """Note that `name`'s password changed now: its sessions signed in before end."""
    await cache.aset(_credentials_key(name), time.time(), timeout=settings.SESSION_COOKIE_AGE + CREDENTIALS_MARK_MARGIN)


def _user(data: dict[str, Any]) -> PortalUser:
    return PortalUser(
        name=data["name"],
        permissions=frozenset(data["permissions"]),
        version=data["version"],
        enterprise=bool(data["enterprise"]),
        tenant=data.get("tenant", ""),
        tenant_known=bool(data.get("tenant_known", False)),
        generation=data.get("generation", "rest"),
        native_permissions=frozenset(data.get("native") or ()),
        native_all=bool(data.get("native_all", False)),
        reads_settings=bool(data.get("reads_settings", False)),
    )


async def identity(request: HttpRequest) -> PortalUser | None:
    """Who is signed in, without checking or refreshing the token."""
    data = await request.session.aget(IDENTITY_KEY)
    return _user(data) if isinstance(data, dict) else None


async def current(request: HttpRequest) -> tuple[PortalUser, str] | None:
    """The signed-in person and a usable access token, refreshing it when due."""
    data = await request.session.aget(IDENTITY_KEY)
    if not isinstance(data, dict):
        return None
    token = unseal(data.get("access", ""))
    if token is None:
        return None
    now = time.time()
    if (
        now - data.get("signed_in_at", 0) > settings.SESSION_COOKIE_AGE
        or now - data.get("seen_at", 0) > settings.SESSION_IDLE_TIMEOUT
    ):
        await end(request, expired=True)
        return None
    changed_at = await cache.aget(_credentials_key(data["name"]))  # the one cache read per request
    if changed_at is not None and data.get("signed_in_at", 0) <= changed_at:
        await end(request, message=password_changed_message())
        return None
    if now - data["seen_at"] > 60:  # note activity, at most once a minute
        data = {**data, "seen_at": now}
        await request.session.aset(IDENTITY_KEY, data)
    if _refresh_due(data):
        fresh = await _fresh_token(request, data, refused=False)
        if fresh is None:
            return None
        data, token = fresh
    return _user(data), token


async def refresh(request: HttpRequest, data: dict[str, Any] | None = None) -> str | None:
    """A new access token after Stalwart refused the current one; None (and the session
    ends) when the refresh token is refused too. Single flight like every refresh: a token
    another request got in the meantime is taken instead of asking again."""
    if data is None:
        data = await request.session.aget(IDENTITY_KEY)
        if not isinstance(data, dict):
            return None
    fresh = await _fresh_token(request, data, refused=True)
    return fresh[1] if fresh is not None else None


# --- refreshing, once per session at a time ------------------------------------------------
def _lifetime(tokens: oauth.Tokens) -> float:
    return max(tokens.expires_at - time.time(), 0.0)


def _refresh_due(data: dict[str, Any]) -> bool:
    margin = settings.STALWART_TOKEN_REFRESH_MARGIN
    lifetime = data.get("lifetime") or 0
    if lifetime > 0:
        margin = min(margin, lifetime * REFRESH_SHARE)
    return data["expires_at"] - time.time() < margin


def _still_valid(data: dict[str, Any]) -> bool:
    return data["expires_at"] > time.time()


def _flight_key(session_key: str) -> str:
    # Cache keys name the session by a digest, never by its key (which is its bearer secret).
    return hashlib.sha256(b"token-refresh\x00" + session_key.encode()).hexdigest()[:32]


def refresh_lock_key(session_key: str) -> str:
    """The shared cache key a process holds while it refreshes that session's token."""
    return "token-refresh-lock:" + _flight_key(session_key)


# In this process: one lock per session, per event loop (uvicorn runs one; tests one per request).
_flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, list[Any]]] = weakref.WeakKeyDictionary()


def _refreshing_here(key: str) -> bool:
    entry = _flights.get(asyncio.get_running_loop(), {}).get(key)
    return entry is not None and entry[0].locked()


@contextlib.asynccontextmanager
async def _single_flight(key: str) -> AsyncIterator[None]:
    table = _flights.setdefault(asyncio.get_running_loop(), {})
    entry = table.setdefault(key, [asyncio.Lock(), 0])
    entry[1] += 1
    try:
        async with entry[0]:
            yield
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            table.pop(key, None)


def _shared_lock_seconds() -> int:
    # As long as one refresh can take; a process that dies holding it blocks no longer.
    return int(settings.STALWART_TIMEOUT + settings.STALWART_CONNECT_TIMEOUT) + 2


async def _backing_off(key: str) -> bool:
    """A recent refresh failed for a passing reason: do not ask again yet."""
    found = await cache.aget_many(["token-refresh-busy", "token-refresh-wait:" + key])
    return bool(found)


async def _back_off(key: str, exc: errors.StalwartError) -> None:
    if isinstance(exc, errors.RateLimited):
        # Stalwart limits anonymous requests (refresh grants among them) per address, and the
        # portal is one address for all its sessions: they all wait.
        await cache.aset("token-refresh-busy", True, timeout=exc.wait)
    else:
        await cache.aset("token-refresh-wait:" + key, True, timeout=REFRESH_RETRY_SECONDS)


async def _stored_identity(request: HttpRequest) -> dict[str, Any] | None:
    """The identity as the session store has it now (another request may have refreshed it)."""
    session_key = request.session.session_key
    if session_key is None:
        return None
    data = await request.session.__class__(session_key).aget(IDENTITY_KEY)
    return data if isinstance(data, dict) else None


async def _fresh_token(
    request: HttpRequest, data: dict[str, Any], *, refused: bool
) -> tuple[dict[str, Any], str] | None:
    """A usable (identity, access token) for the session, or None when the session ended.

    `refused`: Stalwart has just refused `data`'s token; otherwise it is merely due.
    """
    key = _flight_key(request.session.session_key or "")
    current_token = unseal(data.get("access", ""))
    usable = not refused and current_token is not None and _still_valid(data)
    if usable and (_refreshing_here(key) or await _backing_off(key)):
        return data, current_token  # type: ignore[return-value]
    async with _single_flight(key):
        latest = await _stored_identity(request)
        if latest is None:
            await end(request, expired=True)  # signed out meanwhile
            return None
        if latest.get("access") != data.get("access"):
            adopted = await _adopt(request, data, latest)
            if adopted is not None:
                return adopted
            data = latest
        lock = refresh_lock_key(request.session.session_key or "")
        locked = await cache.aadd(lock, True, timeout=_shared_lock_seconds())
        if not locked:
            # Another process is refreshing this session.
            if usable:
                return data, current_token  # type: ignore[return-value]
            latest = await _wait_for_other_process(request, data, lock)
            if latest is not None:
                adopted = await _adopt(request, data, latest)
                if adopted is not None:
                    return adopted
        try:
            return await _refresh_now(request, data, key, usable=usable)
        finally:
            if locked:
                await cache.adelete(lock)


async def _adopt(
    request: HttpRequest, data: dict[str, Any], latest: dict[str, Any]
) -> tuple[dict[str, Any], str] | None:
    """Take the token another request stored, when it is still valid."""
    token = unseal(latest.get("access", ""))
    if token is None or not _still_valid(latest):
        return None
    merged = {**latest, "seen_at": max(latest.get("seen_at", 0), data.get("seen_at", 0))}
    # Held in this request's session too, so saving it (a message, the activity mark) never
    # writes the old token back over the new one.
    await request.session.aset(IDENTITY_KEY, merged)
    return merged, token


async def _wait_for_other_process(request: HttpRequest, data: dict[str, Any], lock: str) -> dict[str, Any] | None:
    deadline = time.monotonic() + _shared_lock_seconds()
    while time.monotonic() < deadline:
        await asyncio.sleep(REFRESH_POLL_SECONDS)
        latest = await _stored_identity(request)
        if latest is not None and latest.get("access") != data.get("access"):
            return latest
        if not await cache.ahas_key(lock):
            break  # it finished without a new token, or died: try here
    return None


async def _refresh_now(
    request: HttpRequest, data: dict[str, Any], key: str, *, usable: bool
) -> tuple[dict[str, Any], str] | None:
    refresh_token = unseal(data.get("refresh", "")) if data.get("refresh") else None
    if not refresh_token:
        await end(request, expired=True)
        return None
    try:
        tokens = await oauth.refresh(refresh_token)
    except (errors.OAuthError, errors.Unauthorized, errors.BadRequest) as exc:
        log.info("token refresh refused for %s: %s", data.get("name"), type(exc).__name__)
        await end(request, expired=True)
        return None
    except errors.StalwartError as exc:
        # A passing failure (unreachable, timeout, 429, 5xx, an unreadable answer): the session
        # stays. The current token serves while it is valid; otherwise the error page explains.
        await _back_off(key, exc)
        if usable:
            log.warning(
                "token refresh failed for %s (%s): the current token is still valid",
                data.get("name"),
                type(exc).__name__,
            )
            return data, unseal(data["access"])  # type: ignore[return-value]
        raise
    data = dict(data)
    data["access"] = seal(tokens.access_token)
    if tokens.refresh_token and tokens.refresh_token != refresh_token:
        data["refresh"] = seal(tokens.refresh_token)
    data["expires_at"] = tokens.expires_at
    data["lifetime"] = _lifetime(tokens)
    await request.session.aset(IDENTITY_KEY, data)
    try:
        # Stored now, not when this answer is sent: parallel requests read it from the store.
        await request.session.asave()
    except UpdateError:
        await end(request, expired=True)  # the session was deleted meanwhile (signed out)
        return None
    return data, tokens.access_token


# --- the two-factor step of sign-in -----------------------------------------
async def hold_pending(request: HttpRequest, username: str, password: str, next_url: str) -> None:
    await request.session.aset(
        PENDING_KEY, {"username": username, "password": seal(password), "next": next_url, "at": time.time()}
    )


async def pending(request: HttpRequest) -> tuple[str, str, str] | None:
    data = await request.session.aget(PENDING_KEY)
    if not isinstance(data, dict):
        return None
    if time.time() - data.get("at", 0) > settings.SIGNIN_TOTP_STEP_SECONDS:
        await drop_pending(request)
        return None
    password = unseal(data.get("password", ""))
    if password is None:
        return None
    return data["username"], password, data.get("next", "")


async def drop_pending(request: HttpRequest) -> None:
    await request.session.apop(PENDING_KEY, None)
