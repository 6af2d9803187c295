"""Sign-in (with the two-factor step) and sign-out."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.access import require
from portal.audit import recording as audit
from portal.navigation import landing_url
from portal.permissions import PERMISSIONS, needs, version_permissions
from portal.request import HtmxRequest, PortalRequest
from portal.stalwart import StalwartClient, errors, generation, oauth
from portal.stalwart.jmap import signin

from . import session, throttle
from .forms import SignInForm, TotpForm
from .vault import seal, unseal

log = logging.getLogger("portal.auth")

WRONG_PASSWORD = gettext_lazy("The account name or password is not correct.")
WRONG_CODE = gettext_lazy(
    "That code is not correct, or it has expired. Enter the current code from your authenticator app."
)


def _safe_next(request: HtmxRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, {request.get_host()}, request.is_secure()):
        return candidate
    return ""


def _explain(exc: errors.StalwartError) -> str:
    """A sentence for a sign-in that failed for another reason than the password."""
    if isinstance(exc, errors.UnsupportedVersion):
        return exc.message
    if _address_blocked(exc):
        return _(
            "The mail server refuses sign-ins from your address for now, after too many failed attempts. "
            "Try again later, or ask an administrator to lift the block."
        )
    if isinstance(exc, errors.Forbidden):
        return _(
            "This account is not allowed to sign in to the portal: it lacks the "
            "“authenticate-oauth” permission. Ask an administrator to grant it."
        )
    if isinstance(exc, errors.RateLimited):
        return _(
            "The mail server is refusing sign-ins for now after too many attempts. Wait a few minutes and try again."
        )
    if isinstance(exc, errors.StalwartTimeout):
        return _("The mail server did not answer in time. Try again in a moment.")
    if isinstance(exc, errors.StalwartUnavailable):
        return _("The mail server could not be reached. It may be restarting; try again in a moment.")
    if isinstance(exc, errors.OAuthError):
        return _(
            "The mail server refused to open a session (%(error)s). "
            "An administrator should check the portal's OAuth client settings."
        ) % {"error": exc.error}
    if isinstance(exc, errors.StalwartBadResponse):
        return _("The server the portal is configured to use did not answer like Stalwart does.")
    return _("The mail server could not complete the sign-in. Try again in a moment.")


def _address_blocked(exc: errors.StalwartError) -> bool:
    """Stalwart's answer to a banned forwarded address: a 403 without a body (a missing
    permission comes with a problem+json body)."""
    return isinstance(exc, errors.Forbidden) and exc.body is None


async def _own_tenant(username: str, code: oauth.AuthorizationCode, token: str) -> str | None:
    """The tenant a person belongs to (Enterprise): "" for none, None when it cannot be read.

    It scopes the audit trail and the pages that name a principal (portal.access).
    """
    if not code.enterprise:
        return ""
    if "individual-get" not in code.permissions:
        return None
    try:
        return (await StalwartClient(token).principals.get(username)).tenant
    except errors.StalwartError:
        return None


def _refused(
    request: HttpRequest, form: SignInForm | TotpForm, refusal: throttle.Refusal, step: str, next_url: str
) -> HttpResponse:
    form.add_error(None, throttle.explain(refusal))
    response = render(request, "auth/sign_in.html", {"form": form, "step": step, "next": next_url}, status=429)
    response["Retry-After"] = str(refusal.seconds)
    log.warning("sign-in refused by the throttle (%s) until %.0f", refusal.reason, refusal.until)
    return response


async def _sign_in_jmap(
    username: str, password: str, totp: str, ip: str | None
) -> tuple[oauth.AuthorizationCode, oauth.Tokens]:
    """Stalwart 0.16+: /api/auth, /auth/token, then /api/account for the permissions.

    The returned code's `code` carries the account's name as the server writes it."""
    client_code, pkce = await signin.request_code(username, password, totp, client_ip=ip)
    tokens = await signin.exchange_code(client_code, pkce, client_ip=ip)
    name, code = await signin.account(tokens.access_token, {*PERMISSIONS, *version_permissions(signin.VERSION)})
    return dataclasses.replace(code, code=name), tokens


async def _finish(
    request: HtmxRequest, username: str, password: str, next_url: str, totp: str = ""
) -> HttpResponse:
    """Get a code with these credentials (and TOTP code), exchange it and open the session."""
    ip = audit.client_ip(request)
    try:
        server = await generation.detect()
        if server == generation.JMAP:
            code, tokens = await _sign_in_jmap(username, password, totp, ip)
        else:
            code = await oauth.request_code(username, f"{password}${totp}" if totp else password, client_ip=ip)
            tokens = await oauth.exchange_code(code.code, client_ip=ip)
    except errors.TotpRequired:
        raise
    except errors.StalwartError as exc:
        await _audit_sign_in(request, username, exc)
        raise
    if server == generation.JMAP:
        # 0.16 scopes every tenant-scoped object to the caller's tenant itself (and hides
        # memberTenantId from tenant members): the portal records no tenant of its own.
        tenant: str | None = ""
        username = code.code or username
    else:
        tenant = await _own_tenant(username, code, tokens.access_token)
    user = await session.start(request, username, code, tokens, tenant)
    await _audit_sign_in(request, username, None, tenant or "")
    log.info("signed in: %s (Stalwart %s)", username, code.version)
    return HttpResponseRedirect(next_url or landing_url(user))


async def _audit_sign_in(request: HtmxRequest, username: str, error: Exception | None, tenant: str = "") -> None:
    await audit.write(
        actor=username,
        actor_tenant=tenant,
        ip=audit.client_ip(request),
        method="POST",
        path=reverse("auth:sign-in"),  # the portal's own event: its own address
        query={},
        body=None,
        error=error,
        action="portal.sign-in",
        target=username,
    )


@require_http_methods(["GET", "POST"])
async def sign_in(request: HtmxRequest) -> HttpResponse:
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if request.method == "GET":
        if "restart" in request.GET:
            await session.drop_pending(request)
        elif await session.current(request) is not None:
            return HttpResponseRedirect(next_url or reverse("home"))
        step = "totp" if await session.pending(request) else "password"
        form = TotpForm() if step == "totp" else SignInForm()
        context = {"form": form, "step": step, "next": next_url, "sso": settings.STALWART_SSO}
        return render(request, "auth/sign_in.html", context)

    if request.POST.get("step") == "totp":
        return await _totp_step(request, next_url)

    form = SignInForm(request.POST)
    status = 200
    if form.is_valid():
        username, password = form.cleaned_data["username"], form.cleaned_data["password"]
        attempt = await throttle.reserve(audit.client_ip(request), username)
        if isinstance(attempt, throttle.Refusal):
            return _refused(request, form, attempt, "password", next_url)
        failed = False
        try:
            return await _finish(request, username, password, next_url)
        except errors.TotpRequired:
            # Keep the password server-side (sealed, short-lived) so the person
            # does not type it again; it never goes back to the browser.
            await session.hold_pending(request, username, password, next_url)
            return render(request, "auth/sign_in.html", {"form": TotpForm(), "step": "totp", "next": next_url})
        except errors.Unauthorized:
            failed = True
            form.add_error(None, WRONG_PASSWORD)
            status = 401
        except errors.StalwartError as exc:
            form.add_error(None, _explain(exc))
            limited = isinstance(exc, errors.RateLimited) or _address_blocked(exc)
            status = 429 if limited else 403 if isinstance(exc, errors.Forbidden) else 502
        finally:
            await attempt.settle(failed=failed)
    context = {"form": form, "step": "password", "next": next_url, "sso": settings.STALWART_SSO}
    return render(request, "auth/sign_in.html", context, status=status)


async def _totp_step(request: HtmxRequest, next_url: str) -> HttpResponse:
    held = await session.pending(request)
    if held is None:
        messages.info(request, _("The sign-in took too long. Please enter your password again."))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    username, password, held_next = held
    form = TotpForm(request.POST)
    status = 200
    if form.is_valid():
        attempt = await throttle.reserve(audit.client_ip(request), username)
        if isinstance(attempt, throttle.Refusal):
            return _refused(request, form, attempt, "totp", held_next or next_url)
        failed = False
        try:
            response = await _finish(
                request, username, password, held_next or next_url, totp=form.cleaned_data["code"]
            )
        except errors.Unauthorized:
            failed = True
            form.add_error("code", WRONG_CODE)
            status = 401
        except errors.StalwartError as exc:
            form.add_error(None, _explain(exc))
            status = 502
        else:
            return response
        finally:
            await attempt.settle(failed=failed)
    return render(
        request, "auth/sign_in.html", {"form": form, "step": "totp", "next": held_next or next_url}, status=status
    )


# --- the redirect flow (Stalwart 0.16+, STALWART_SSO): the server's own sign-in page ------------
SSO_KEY = "portal.sso_pending"
SSO_SECONDS = 600  # the server's authorization codes live 10 minutes


def _callback_url(request: HtmxRequest) -> str:
    return request.build_absolute_uri(reverse("auth:sso-callback"))


@require_GET
async def sso_start(request: HtmxRequest) -> HttpResponse:
    """Send the browser to the server's sign-in page, with state and a PKCE challenge."""
    next_url = _safe_next(request, request.GET.get("next", ""))
    try:
        offered = settings.STALWART_SSO and await generation.detect() == generation.JMAP
        endpoint = str((await generation.discovery()).get("authorization_endpoint") or "") if offered else ""
    except errors.StalwartError as exc:
        messages.error(request, _explain(exc))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    if not endpoint:
        messages.error(request, _("Signing in on the mail server's own page is not available here."))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    pkce = signin.Pkce.new()
    state = secrets.token_urlsafe(24)
    await request.session.aset(
        SSO_KEY,
        {
            "state": state,
            "verifier": seal(pkce.verifier),
            "challenge": pkce.challenge,
            "next": next_url,
            "at": time.time(),
        },
    )
    return HttpResponseRedirect(
        signin.authorization_url(endpoint, state=state, pkce=pkce, redirect_uri=_callback_url(request))
    )


@require_GET
async def sso_callback(request: HtmxRequest) -> HttpResponse:
    """Where the server's sign-in page sends the browser back: check the state, exchange the code."""
    pending = await request.session.apop(SSO_KEY, None)
    state = request.GET.get("state", "")
    verifier = unseal(pending.get("verifier", "")) if isinstance(pending, dict) else None
    if (
        not isinstance(pending, dict)
        or verifier is None
        or not state
        or not secrets.compare_digest(state, str(pending.get("state", "")))
        or time.time() - pending.get("at", 0) > SSO_SECONDS
    ):
        messages.error(request, _("That sign-in could not be finished. Please start again."))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    code = request.GET.get("code", "")
    if not code:
        messages.error(request, _("The mail server did not sign you in. Please try again."))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    ip = audit.client_ip(request)
    pkce = signin.Pkce(verifier, str(pending.get("challenge", "")))
    try:
        tokens = await signin.exchange_code(code[:512], pkce, client_ip=ip, redirect_uri=_callback_url(request))
        name, info = await signin.account(tokens.access_token, {*PERMISSIONS, *version_permissions(signin.VERSION)})
    except errors.StalwartError as exc:
        await _audit_sign_in(request, "", exc)
        messages.error(request, _explain(exc))
        return HttpResponseRedirect(reverse("auth:sign-in"))
    user = await session.start(request, name, info, tokens, "")
    await _audit_sign_in(request, name, None)
    log.info("signed in through the server's page: %s", name)
    return HttpResponseRedirect(str(pending.get("next") or "") or landing_url(user))


@require_POST
async def sign_out(request: HtmxRequest) -> HttpResponse:
    user = await session.identity(request)
    if user is not None:
        await audit.write(
            actor=user.name,
            actor_tenant=user.tenant,
            ip=audit.client_ip(request),
            method="POST",
            path="/auth/sign-out",
            query={},
            body=None,
            error=None,
            action="portal.sign-out",
            target=user.name,
        )
    await session.end(request)
    messages.success(request, _("You have signed out."))
    return HttpResponseRedirect(reverse("auth:sign-in"))


# --- the sign-in throttle, for administrators ------------------------------------------------
# Clearing lets more guesses reach Stalwart, so it takes the right to change its settings.
THROTTLE_ADMIN = needs("settings-update")


@require_GET
@require(THROTTLE_ADMIN)
async def throttle_list(request: PortalRequest) -> HttpResponse:
    limits = throttle.limits()
    context = {
        "entries": await throttle.entries(),
        "limits": limits,
        "window_minutes": max(1, limits.window // 60),
        # Stalwart's own auto-ban blocks addresses; the blocked-IP page unblocks them.
        "blocked_ips": request.portal_user.has("settings-list"),
    }
    return render(request, "auth/throttle.html", context)


@require_POST
@require(THROTTLE_ADMIN)
async def throttle_clear(request: PortalRequest) -> HttpResponse:
    cleared = await throttle.clear(request.POST.get("entry", "")[:64])
    if cleared is None:
        messages.error(request, _("That entry is no longer there, or cannot be cleared here."))
        return HttpResponseRedirect(reverse("auth:throttle"))
    user = request.portal_user
    target = " ".join(part for part in (cleared.address, cleared.account) if part)
    await audit.write(
        actor=user.name,
        actor_tenant=user.tenant,
        ip=audit.client_ip(request),
        method="POST",
        path=reverse("auth:throttle-clear"),
        query={},
        body={"kind": cleared.kind, "address": cleared.address, "account": cleared.account},
        error=None,
        action="portal.sign-in-throttle-clear",
        target=target,
    )
    log.info("sign-in throttle cleared by %s: %s", user.name, cleared.kind)
    messages.success(request, _("Cleared. Sign-ins from there may be tried again."))
    return HttpResponseRedirect(reverse("auth:throttle"))
