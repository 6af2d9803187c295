"""The signed-in person's session: identity, sealed tokens, refresh.

Everything lives in Django's server-side session store. The access token is
refreshed through authlib shortly before it expires; when refreshing fails
the person is sent back to sign-in with `?next=` kept.

A session ends after SESSION_IDLE_TIMEOUT without a request, after
SESSION_COOKIE_AGE in any case, and when the account's password was changed
after it signed in: `credentials_changed(name)` notes the time in the shared
cache (Redis with several processes), and `current()` compares it with the
sign-in time, so every session of that person ends, in every browser.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.utils.translation import gettext as _

from portal import responses
from portal.audit.recording import recording
from portal.permissions import Access, AccessRule, PortalUser
from portal.stalwart import StalwartClient, errors, oauth

from .vault import seal, unseal

log = logging.getLogger("portal.auth")

IDENTITY_KEY = "portal.identity"
PENDING_KEY = "portal.signin_pending"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# Kept past the longest a session can live, so no older session outlives the mark.
CREDENTIALS_MARK_MARGIN = 300


def password_changed_message() -> str:
    return _("Your password was changed. Sign in again with your new password.")


async def start(
    request: HttpRequest, name: str, code: oauth.AuthorizationCode, tokens: oauth.Tokens, tenant: str = ""
) -> PortalUser:
    """Record a successful sign-in under a fresh session key."""
    await request.session.aflush()  # drops any earlier identity and rotates the key
    rotate_token(request)  # and a new CSRF secret, as Django's own login() does
    await request.session.aset(
        IDENTITY_KEY,
        {
            "name": name,
            "permissions": sorted(code.permissions),
            "version": code.version,
            "enterprise": code.enterprise,
            "tenant": tenant,
            "access": seal(tokens.access_token),
            "refresh": seal(tokens.refresh_token) if tokens.refresh_token else "",
            "expires_at": tokens.expires_at,
            "signed_in_at": time.time(),
            "seen_at": time.time(),
        },
    )
    return _user(await request.session.aget(IDENTITY_KEY))


async def end(request: HttpRequest, *, expired: bool = False, message: str = "") -> None:
    """Sign out; `expired` says it happened to the person, not by their choice.

    A `message` explains why on the sign-in page (instead of the general "session ended").
    """
    await request.session.aflush()
    if message:
        messages.info(request, message)
    elif expired:
        request.portal_session_expired = True  # type: ignore[attr-defined]


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
    if data["expires_at"] - time.time() < settings.STALWART_TOKEN_REFRESH_MARGIN:
        try:
            token = await refresh(request, data)
        except errors.StalwartUnavailable:
            # Stalwart is down for a moment: keep going with the old token while
            # it is still valid; otherwise the error page explains.
            if data["expires_at"] <= time.time():
                raise
        if token is None:
            return None
    return _user(data), token


async def refresh(request: HttpRequest, data: dict[str, Any] | None = None) -> str | None:
    """Get a new access token; None (and the session ends) when that is refused."""
    if data is None:
        data = await request.session.aget(IDENTITY_KEY)
        if not isinstance(data, dict):
            return None
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
    data = dict(data)
    data["access"] = seal(tokens.access_token)
    if tokens.refresh_token and tokens.refresh_token != refresh_token:
        data["refresh"] = seal(tokens.refresh_token)
    data["expires_at"] = tokens.expires_at
    await request.session.aset(IDENTITY_KEY, data)
    return tokens.access_token


async def run_authorised(
    request: HttpRequest,
    view: Callable[..., Any],
    rule: AccessRule,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> HttpResponse:
    """Sign-in check, permission check, then the view (see permissions.require)."""
    signed_in = await current(request)
    if signed_in is None:
        return responses.sign_in_redirect(request, expired=getattr(request, "portal_session_expired", False))
    user, token = signed_in
    request.portal_user = user  # type: ignore[attr-defined]
    access = rule if isinstance(rule, Access) else rule(**kwargs)
    if not access.allows(user):
        return responses.forbidden(request, user, access)
    request.stalwart = StalwartClient(token)  # type: ignore[attr-defined]
    with recording(request, user.name, user.tenant):
        return await _run(request, view, args, kwargs)


async def _run(
    request: HttpRequest, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> HttpResponse:
    try:
        return await view(request, *args, **kwargs)
    except errors.Unauthorized:
        # The token was refused although the portal thought it valid (revoked,
        # or the clocks disagree). Reading is retried once with a new token;
        # a change is never repeated behind the person's back.
        if request.method in SAFE_METHODS:
            new_token = await refresh(request)
            if new_token is not None:
                request.stalwart = StalwartClient(new_token)  # type: ignore[attr-defined]
                try:
                    return await view(request, *args, **kwargs)
                except errors.Unauthorized:
                    pass
        await end(request)
        return responses.sign_in_redirect(request, expired=True)


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
