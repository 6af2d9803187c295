"""Self-service security: app passwords, two-factor sign-in, password, encryption at rest.

Every page acts on the signed-in person's own account through `/api/account/*`. Reading and
app passwords use their OAuth token; changing the password, two-factor or encryption uses
Basic auth with the current password they just typed (Stalwart requires it), for that one
request only. A 401 from such a request means "wrong password" and is explained next to the
field here; it must never reach the permission decorator, which would sign the person out.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets as random_tokens
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import responses
from portal.access import require
from portal.audit import recording as audit
from portal.auth import session, throttle
from portal.capabilities import unavailable
from portal.permissions import SIGNED_IN, PortalUser, needs
from portal.request import PortalRequest
from portal.stalwart import StalwartClient, errors
from portal.stalwart.account import (
    add_app_password,
    disable_otp,
    enable_otp,
    remove_app_password,
    set_password,
)
from portal.stalwart.secrets import app_password_name, generate_app_password, hash_password_async
from portal.stalwart.types import ENCRYPTION_METHODS, AccountAuth, AppPassword, EncryptionAtRest

from . import strength, totp
from .forms import (
    AppPasswordEditForm,
    AppPasswordForm,
    EncryptionForm,
    EncryptionOffForm,
    PasswordChangeForm,
    TwoFactorDisableForm,
    TwoFactorEnableForm,
)

log = logging.getLogger("portal.account")

PASSWORDS = needs("manage-passwords")
#: the words of the server's `forbidden` SetError for a credential scope beyond one's own (0.16+)
GRANT_REFUSED = "not authorized to grant"
ENCRYPTION = needs("manage-encryption")

WRONG_PASSWORD = gettext_lazy("This is not your current password. Check it and try again.")
WRONG_CODE = gettext_lazy(
    "That code is not correct, or it has expired. Enter the code your authenticator app shows now."
)
CODE_NEEDED = gettext_lazy("Your account uses two-factor sign-in: enter the code from your authenticator app as well.")
APP_FORM_TOKENS_KEY = "portal.app_password_forms"


# --- helpers ---------------------------------------------------------------------------------
def _user(request: PortalRequest) -> PortalUser:
    return request.portal_user


def _api(request: PortalRequest):
    return request.stalwart.account


def _basic(request: PortalRequest, password: str, code: str = "") -> Any:
    """A client acting with the password (and code) just typed (never stored), from the person's address.

    Up to 0.15 that is Basic auth with `password$code`; on 0.16+ the person's token with the
    password and code sent in the change itself (`JmapBackend.with_password`)."""
    if _user(request).generation == "jmap":
        return request.stalwart.with_password(_user(request).name, password, code, audit.client_ip(request))
    secret = f"{password}${code}" if code else password
    return StalwartClient(basic=(_user(request).name, secret), client_ip=audit.client_ip(request))


def _tabs(request: PortalRequest, current: str) -> list[dict[str, Any]]:
    user = _user(request)
    items = [("security", gettext("Overview"))]
    if user.has("manage-passwords"):
        items += [
            ("app-passwords", gettext("App passwords")),
            ("two-factor", gettext("Two-factor")),
            ("password", gettext("Password")),
        ]
    if user.has("manage-encryption") and not unavailable(user.capabilities, "account:encryption", {}):
        items.append(("encryption", gettext("Encryption")))
    if user.has_native("sysApiKeyGet") and not unavailable(user.capabilities, "account:api-keys", {}):
        items.append(("api-keys", gettext("API keys")))
    return [{"url": reverse(f"account:{name}"), "label": label, "current": name == current} for name, label in items]


def _page(
    request: PortalRequest, template: str, current: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    context = {"tabs": _tabs(request, current), "server_host": totp.server_host(), **context}
    failed = next((f for f in (context.get("form"), context.get("off_form")) if _failure(f) is not None), None)
    if failed is not None:
        return _failed(request, template, current, context, _failure(failed), failed)
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)  # pages about secrets are never kept by browsers or proxies
    return response


def _failure(form: Any) -> errors.StalwartError | None:
    """The failure of the change a form sent, when Stalwart failed (set by `_with_password`)."""
    return getattr(form, "submit_failure", None)


def _failed(
    request: PortalRequest,
    template: str,
    current: str,
    context: dict[str, Any],
    exc: errors.StalwartError,
    form: forms.Form | None = None,
) -> HttpResponse:
    """The page again after its change failed in Stalwart: typed values kept, passwords and codes not."""
    check = "security" if current == "password" else current
    response = responses.form_upstream_failure(
        request,
        template,
        {"tabs": _tabs(request, current), "server_host": totp.server_host(), **context},
        exc,
        form=form,
        secrets=("code",),
        check_url=reverse(f"account:{check}"),
        check_label=gettext("See your settings as they are now"),
    )
    add_never_cache_headers(response)
    return response


async def _password_was_wrong(request: PortalRequest, password: str) -> bool:
    """After a 401 for `password$code`: was it the password (True) or the code (False)?

    Asks Stalwart with the password alone: 401 means the password is wrong; anything else
    (402 "code needed", 403, or success) means it was right, so the code was not. A check the
    sign-in throttle refuses counts as a wrong password.
    """
    attempt = await throttle.reserve(audit.client_ip(request), _user(request).name)
    if isinstance(attempt, throttle.Refusal):
        return True
    failed = False
    try:
        await _basic(request, password).account.get_auth()
    except errors.Unauthorized:
        failed = True
        return True
    except errors.StalwartError:
        return False
    finally:
        await attempt.settle(failed=failed)
    return False


async def _with_password(
    request: PortalRequest,
    form: forms.Form,
    password: str,
    code: str,
    call: Callable[[StalwartClient], Awaitable[Any]],
) -> tuple[bool, Any]:
    """Run `call` with Basic auth; explain a wrong password or code on the form.

    Returns (done, result). On (False, None) the form carries the explanation, and
    `form.code_required` is set when Stalwart asked for a two-factor code.
    """
    # A wrong password here counts towards Stalwart's ban like a failed sign-in: same budget.
    attempt = await throttle.reserve(audit.client_ip(request), _user(request).name)
    if isinstance(attempt, throttle.Refusal):
        form.throttled = attempt  # type: ignore[attr-defined]
        form.add_error("password", throttle.explain(attempt))
        return False, None

    async def counted(client: StalwartClient) -> Any:
        try:
            result = await call(client)
        except BaseException as exc:
            await attempt.settle(failed=isinstance(exc, errors.Unauthorized))
            raise
        await attempt.settle(failed=False)
        return result

    try:
        return True, await counted(_basic(request, password, code))
    except errors.TotpRequired:
        form.code_required = form.upstream_refused = True  # type: ignore[attr-defined]
        form.add_error(None, CODE_NEEDED)
    except errors.Unauthorized:
        form.upstream_refused = True  # type: ignore[attr-defined]
        if code and not await _password_was_wrong(request, password):
            form.add_error("code", WRONG_CODE)
        else:
            form.add_error("password", WRONG_PASSWORD)
    except responses.SUBMIT_FAILURES as exc:
        form.submit_failure = exc  # type: ignore[attr-defined]  # the page shows the form again, and why
    return False, None


def _status(form: forms.Form) -> int:
    """401 when Stalwart refused the password or code, 429 when the portal did not ask it
    (too many failures), 400 for anything else wrong."""
    if getattr(form, "throttled", None) is not None:
        return 429
    refused = getattr(form, "code_required", False) or form.has_error("password") or form.has_error("code")
    return 401 if refused and getattr(form, "upstream_refused", False) else 400


def _with_code_step(form: Any) -> Any:
    """After a 402, show the code field on the same form (typed values kept, passwords not)."""
    if getattr(form, "code_required", False) and not form.needs_code:
        form.fields["code"] = copy.deepcopy(type(form).base_fields["code"])
        form.needs_code = True
    return form


def _sorted(app_passwords: tuple[AppPassword, ...]) -> list[AppPassword]:
    """Newest first; names that carry no date (made by other clients) last, by name."""
    dated = [a for a in app_passwords if a.created is not None]
    dated.sort(key=lambda a: a.created.timestamp() if a.created else 0.0, reverse=True)
    return dated + sorted((a for a in app_passwords if a.created is None), key=lambda a: a.label.lower())


def _next_step(auth: AccountAuth | None) -> dict[str, str] | None:
    """The one thing most worth doing next, in plain words."""
    if auth is None:
        return None
    if not auth.otp_enabled:
        return {
            "title": gettext("Turn on two-factor sign-in"),
            "text": gettext(
                "With a code from your phone as well as your password, nobody can sign in as you "
                "even if they learn your password."
            ),
            "url": reverse("account:two-factor"),
            "action": gettext("Turn on two-factor"),
        }
    if not auth.app_passwords:
        return {
            "title": gettext("Create an app password for your phone"),
            "text": gettext(
                "Mail apps cannot ask for two-factor codes. Give each app its own password, "
                "and you can switch it off without changing your main password."
            ),
            "url": reverse("account:app-password-create"),
            "action": gettext("Create an app password for your phone"),
        }
    return None


# --- overview --------------------------------------------------------------------------------
@require_GET
@require(SIGNED_IN)
async def security(request: PortalRequest) -> HttpResponse:
    user = _user(request)
    calls: dict[str, Awaitable[Any]] = {}
    if user.has("manage-passwords"):
        calls["auth"] = _api(request).get_auth()
    if user.has("manage-encryption") and not unavailable(user.capabilities, "account:encryption", {}):
        calls["crypto"] = _api(request).get_crypto()
    results = dict(zip(calls, await asyncio.gather(*calls.values()), strict=True))
    auth: AccountAuth | None = results.get("auth")
    crypto: EncryptionAtRest | None = results.get("crypto")
    context = {
        "auth": auth,
        "crypto": crypto,
        "api_keys_link": user.has_native("sysApiKeyGet") and not unavailable(user.capabilities, "account:api-keys", {}),
        "latest_app_password": _sorted(auth.app_passwords)[0] if auth and auth.app_passwords else None,
        "next_step": _next_step(auth),
    }
    return _page(request, "account/security.html", "security", context)


# --- app passwords ---------------------------------------------------------------------------
@require_GET
@require(PASSWORDS)
async def app_passwords(request: PortalRequest) -> HttpResponse:
    auth = await _api(request).get_auth()
    context = {
        "auth": auth,
        "app_passwords": _sorted(auth.app_passwords),
        "options": _user(request).capabilities.app_password_options,
    }
    return _page(request, "account/app_passwords.html", "app-passwords", context)


async def _issue_form_token(request: PortalRequest) -> str:
    """A one-time token per create form, so that reloading the result page creates nothing."""
    token = random_tokens.token_urlsafe(16)
    tokens = list(await request.session.aget(APP_FORM_TOKENS_KEY, []))[-4:]
    await request.session.aset(APP_FORM_TOKENS_KEY, [*tokens, token])
    return token


async def _use_form_token(request: PortalRequest, token: str) -> bool:
    tokens = list(await request.session.aget(APP_FORM_TOKENS_KEY, []))
    if not token or token not in tokens:
        return False
    tokens.remove(token)
    await request.session.aset(APP_FORM_TOKENS_KEY, tokens)
    return True


def _limits(form: AppPasswordForm) -> dict[str, Any]:
    """The expiry and allowed addresses typed for a new app password (Stalwart 0.16+)."""
    days = form.cleaned_data.get("expires_days")
    expires = (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ") if days else None
    return {"expires": expires, "allowed_ips": form.cleaned_data.get("allowed_ips") or ()}


@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def app_password_create(request: PortalRequest) -> HttpResponse:
    options = _user(request).capabilities.app_password_options
    if request.method == "GET":
        context = {"form": AppPasswordForm(options=options), "form_token": await _issue_form_token(request)}
        return _page(request, "account/app_password_new.html", "app-passwords", context)

    form = AppPasswordForm(request.POST, options=options)
    if not form.is_valid():
        context = {"form": form, "form_token": request.POST.get("form_token", "")}
        return _page(request, "account/app_password_new.html", "app-passwords", context, status=400)
    if not await _use_form_token(request, request.POST.get("form_token", "")):
        # A reload (or a second click) of a form that already created its password.
        messages.info(
            request,
            gettext(
                "That app password was already created and cannot be shown again. "
                "If you did not copy it, revoke it and create a new one."
            ),
        )
        return HttpResponseRedirect(reverse("account:app-passwords"))

    label = form.cleaned_data["label"]
    password = generate_app_password()
    # 0.16+ makes the app password itself: nothing to hash here.
    hashed = "" if _user(request).capabilities.server_hashes_passwords else await hash_password_async(password)
    try:
        issued = await _api(request).update_auth([add_app_password(app_password_name(label), hashed, **_limits(form))])
    except responses.SUBMIT_FAILURES as exc:
        context = {"form": form, "form_token": await _issue_form_token(request)}
        return _failed(request, "account/app_password_new.html", "app-passwords", context, exc, form)
    if isinstance(issued, str):  # Stalwart 0.16+ generates app passwords itself (shown this once)
        password = issued
    log.info("app password created by %s", _user(request).name)
    # Shown once, straight from this response: never stored, never in a redirect or the session.
    context = {"label": label, "password": password, "account_name": _user(request).name}
    return _page(request, "account/app_password_created.html", "app-passwords", context)


@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def app_password_revoke(request: PortalRequest) -> HttpResponse:
    name = (request.POST.get("name") if request.method == "POST" else request.GET.get("name")) or ""
    if request.method == "POST" and name:
        label = AppPassword.from_raw_name(name).label
        try:
            await _api(request).update_auth([remove_app_password(name)])
        except responses.SUBMIT_FAILURES as exc:
            context = {"app_password": AppPassword.from_raw_name(name), "all": False}
            return _failed(request, "account/app_password_revoke.html", "app-passwords", context, exc)
        messages.success(
            request, gettext("“%(label)s” is revoked: it can no longer be used to sign in.") % {"label": label}
        )
        return HttpResponseRedirect(reverse("account:app-passwords"))
    auth = await _api(request).get_auth()
    match = next((a for a in auth.app_passwords if a.raw_name == name), None)
    if match is None:
        messages.info(request, gettext("That app password no longer exists."))
        return HttpResponseRedirect(reverse("account:app-passwords"))
    return _page(request, "account/app_password_revoke.html", "app-passwords", {"app_password": match, "all": False})


def _end_of_day(day: date) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def _edit_initial(app: AppPassword) -> dict[str, Any]:
    return {
        "label": app.label,
        "expires": app.expires.astimezone(UTC).date() if app.expires else None,
        "allowed_ips": "\n".join(app.allowed_ips),
        "scope": app.scope if app.scope in ("Replace", "Disable") else "Inherit",
        "permissions": list(app.scope_permissions),
    }


@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def app_password_edit(request: PortalRequest, app_id: str) -> HttpResponse:
    """The name, expiry, allowed addresses and scope of one app password (Stalwart 0.16+)."""
    auth = await _api(request).get_auth()
    app = next((a for a in auth.app_passwords if a.id and a.id == app_id), None)
    if app is None:
        messages.info(request, gettext("That app password no longer exists."))
        return HttpResponseRedirect(reverse("account:app-passwords"))
    held = await _api(request).held_permissions()
    initial = _edit_initial(app)
    today = datetime.now(UTC).date()
    options = {"held": held, "current": app.scope_permissions, "today": today}
    if request.method == "GET":
        form = AppPasswordEditForm(initial=initial, **options)
        return _page(request, "account/app_password_edit.html", "app-passwords", {"form": form, "app_password": app})

    form = AppPasswordEditForm(request.POST, initial=initial, **options)
    context = {"form": form, "app_password": app}
    if not form.is_valid():
        return _page(request, "account/app_password_edit.html", "app-passwords", context, status=400)
    data = form.cleaned_data
    label = data["label"] if data["label"] != app.label else None
    expires: str | None | bool = False
    if data["expires"] != initial["expires"]:
        expires = _end_of_day(data["expires"]) if data["expires"] else None
    allowed = data["allowed_ips"] if set(data["allowed_ips"]) != set(app.allowed_ips) else None
    scope: tuple[str, tuple[str, ...]] | None = form.scope() if data.get("scope") else None
    if scope == (app.scope or "Inherit", app.scope_permissions):
        scope = None
    if label is None and expires is False and allowed is None and scope is None:
        messages.info(request, gettext("Nothing was changed."))
        return HttpResponseRedirect(reverse("account:app-passwords"))
    try:
        await _api(request).update_app_password(
            app.id, label=label, expires=expires, allowed_ips=allowed, scope=scope
        )
    except errors.Forbidden as exc:
        if GRANT_REFUSED not in exc.message:
            raise
        form.add_error(
            "permissions", gettext("The mail server refused this scope: %(reason)s") % {"reason": exc.message}
        )
        return _page(request, "account/app_password_edit.html", "app-passwords", context, status=400)
    except (errors.OtherError, errors.FieldMissing) as exc:
        field = exc.field if exc.field in form.fields else None
        reason = exc.details if isinstance(exc, errors.OtherError) and exc.details else exc.message
        form.add_error(field, gettext("The mail server did not accept this: %(reason)s") % {"reason": reason})
        return _page(request, "account/app_password_edit.html", "app-passwords", context, status=400)
    except errors.ItemNotFound:
        messages.info(request, gettext("That app password no longer exists."))
        return HttpResponseRedirect(reverse("account:app-passwords"))
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, "account/app_password_edit.html", "app-passwords", context, exc, form)
    log.info("app password options changed by %s", _user(request).name)
    messages.success(request, gettext("“%(label)s” is saved.") % {"label": label or app.label})
    return HttpResponseRedirect(reverse("account:app-passwords"))


@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def app_passwords_revoke_all(request: PortalRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            await _api(request).update_auth([remove_app_password()])
        except responses.SUBMIT_FAILURES as exc:
            return _failed(request, "account/app_password_revoke.html", "app-passwords", {"all": True}, exc)
        messages.success(
            request, gettext("All app passwords are revoked. Mail apps that used them must be given new ones.")
        )
        return HttpResponseRedirect(reverse("account:app-passwords"))
    auth = await _api(request).get_auth()
    if not auth.app_passwords:
        return HttpResponseRedirect(reverse("account:app-passwords"))
    context = {"count": len(auth.app_passwords), "all": True}
    return _page(request, "account/app_password_revoke.html", "app-passwords", context)


# --- two-factor ------------------------------------------------------------------------------
@require_GET
@require(PASSWORDS)
async def two_factor(request: PortalRequest) -> HttpResponse:
    auth = await _api(request).get_auth()
    context = {"auth": auth, "form": TwoFactorDisableForm() if auth.otp_enabled else None}
    return _page(request, "account/two_factor.html", "two-factor", context)


@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def two_factor_enable(request: PortalRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "GET":
        if (await _api(request).get_auth()).otp_enabled:
            messages.info(request, gettext("Two-factor sign-in is already on."))
            return HttpResponseRedirect(reverse("account:two-factor"))
        secret = await totp.pending_secret(request, create=True)
        return _enable_page(request, TwoFactorEnableForm(), secret)

    secret = await totp.pending_secret(request, create=False)
    if secret is None:
        messages.info(request, gettext("The setup took too long, so here is a new code. Scan it again, please."))
        return HttpResponseRedirect(reverse("account:two-factor-enable"))
    form = TwoFactorEnableForm(request.POST)
    if form.is_valid() and not totp.verify(secret, form.cleaned_data["code"]):
        form.add_error(
            "code",
            gettext(
                "That code does not match. Check that you scanned the code on this page "
                "and enter the code your app shows now."
            ),
        )
    if form.is_valid():
        url = totp.otpauth_url(secret, user.name)
        done, _ = await _with_password(
            request,
            form,
            form.cleaned_data["password"],
            "",
            lambda client: client.account.update_auth([enable_otp(url)]),
        )
        if done:
            await totp.drop_pending(request)
            log.info("two-factor sign-in turned on by %s", user.name)
            messages.success(
                request,
                gettext(
                    "Two-factor sign-in is on. From now on the portal asks for a code from your app "
                    "after your password. You stay signed in to the portal. If it asks you to sign in "
                    "again later, have your phone at hand for the code."
                ),
            )
            return HttpResponseRedirect(reverse("account:security"))
    return _enable_page(request, form, secret, status=_status(form))


def _enable_page(request: PortalRequest, form: forms.Form, secret: str, status: int = 200) -> HttpResponse:
    url = totp.otpauth_url(secret, _user(request).name)
    context = {
        "form": form,
        "qr": totp.qr_data_uri(url),
        "otpauth_url": url,
        "secret_groups": totp.grouped(secret),
        "issuer": totp.issuer(),
    }
    return _page(request, "account/two_factor_enable.html", "two-factor", context, status=status)


@require_POST
@require(PASSWORDS)
async def two_factor_disable(request: PortalRequest) -> HttpResponse:
    form = TwoFactorDisableForm(request.POST)
    if form.is_valid():
        done, _ = await _with_password(
            request,
            form,
            form.cleaned_data["password"],
            form.cleaned_data["code"],
            lambda client: client.account.update_auth([disable_otp()]),
        )
        if done:
            log.info("two-factor sign-in turned off by %s", _user(request).name)
            messages.success(
                request,
                gettext(
                    "Two-factor sign-in is off: your password alone now signs you in. You stay signed in to the portal."
                ),
            )
            return HttpResponseRedirect(reverse("account:security"))
    auth = await _api(request).get_auth()
    return _page(request, "account/two_factor.html", "two-factor", {"auth": auth, "form": form}, status=_status(form))


# --- password --------------------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@require(PASSWORDS)
async def password_change(request: PortalRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "GET":
        otp = (await _api(request).get_auth()).otp_enabled
        form = PasswordChangeForm(account_name=user.name, needs_code=otp)
        return _password_page(request, form)

    needs_code = request.POST.get("with_code") == "1"
    form = PasswordChangeForm(request.POST, account_name=user.name, needs_code=needs_code)
    if form.is_valid():
        typed = form.cleaned_data["new_password"]
        # 0.16+ checks and hashes the person's own new password itself.
        new_hash = typed if user.capabilities.server_hashes_passwords else await hash_password_async(typed)
        try:
            done, _ = await _with_password(
                request,
                form,
                form.cleaned_data["password"],
                form.cleaned_data.get("code", ""),
                lambda client: client.account.update_auth([set_password(new_hash)]),
            )
        except (errors.Unsupported, errors.OtherError) as exc:
            # E.g. an LDAP or SQL directory: Stalwart cannot change the password there.
            form.add_error(
                None,
                gettext("The mail server did not change your password: %(reason)s")
                % {"reason": exc.details or exc.message},
            )
            done = False
        if done:
            log.info("password changed by %s", user.name)
            # Every portal session of this account ends, this one now, the others
            # (other browsers, other portal processes) at their next request.
            await session.credentials_changed(user.name)
            await session.end(request)
            messages.success(
                request,
                session.password_changed_message()
                + " "
                + gettext("Mail apps that use your old password need the new one; app passwords keep working."),
            )
            return HttpResponseRedirect(reverse("auth:sign-in"))
    return _password_page(request, _with_code_step(form), status=_status(form))


def _password_page(request: PortalRequest, form: PasswordChangeForm, status: int = 200) -> HttpResponse:
    # The strength panel starts with the rules: a typed password is never rendered back.
    return _page(request, "account/password.html", "password", {"form": form, "strength": None}, status=status)


@require_POST
@require(PASSWORDS)
async def password_strength(request: PortalRequest) -> HttpResponse:
    """The strength panel of the password page (htmx, while typing). No upstream call."""
    typed = request.POST.get("new_password", "")
    context = {"strength": strength.assess(typed, _user(request).name) if typed else None, "show_problems": True}
    response = render(request, "account/password.html#strength", context)
    add_never_cache_headers(response)
    return response


# --- encryption at rest ----------------------------------------------------------------------
async def _otp_known(request: PortalRequest) -> bool:
    """Whether to show the code field up front (only known with manage-passwords). On 0.16+
    the password is confirmed alone (a code cannot be checked there without a change)."""
    if _settings(request):
        return False
    if _user(request).has("manage-passwords"):
        return (await _api(request).get_auth()).otp_enabled
    return False


@require_http_methods(["GET", "POST"])
@require(ENCRYPTION)
async def encryption(request: PortalRequest) -> HttpResponse:
    if request.method == "GET":
        needs_code = await _otp_known(request)
        crypto = await _api(request).get_crypto()
        form = EncryptionForm(
            needs_code=needs_code,
            spam_training=_spam_training(request),
            settings=_settings(request),
            initial={
                "method": crypto.type if crypto.enabled else "pGP",
                "algo": crypto.algo if crypto.enabled else "Aes256",
                "allow_spam_training": crypto.allow_spam_training,
                "encrypt_on_append": crypto.encrypt_on_append,
            },
        )
        off_form = EncryptionOffForm(needs_code=needs_code) if crypto.enabled else None
        return _encryption_page(request, crypto, form, off_form)

    needs_code = request.POST.get("with_code") == "1"
    form = EncryptionForm(
        request.POST,
        request.FILES,
        needs_code=needs_code,
        spam_training=_spam_training(request),
        settings=_settings(request),
    )
    if form.is_valid():
        data = form.cleaned_data
        allow = data["allow_spam_training"] if "allow_spam_training" in form.fields else None
        append = data["encrypt_on_append"] if "encrypt_on_append" in form.fields else None
        try:
            done, count = await _with_password(
                request,
                form,
                data["password"],
                data.get("code", ""),
                lambda client: client.account.set_crypto(
                    data["method"],
                    data["algo"],
                    data["certificates"],
                    allow_spam_training=allow,
                    encrypt_on_append=append,
                ),
            )
        except (errors.OtherError, errors.FieldMissing, errors.ItemNotFound) as exc:
            reason = exc.details if isinstance(exc, errors.OtherError) and exc.details else exc.message
            form.add_error(
                "algo" if exc.field == "algo" else "certs",
                gettext("The mail server cannot use this: %(reason)s") % {"reason": reason},
            )
        except errors.TenantQuotaExceeded as exc:
            form.add_error(
                "certs",
                gettext(
                    "Your account holds as many keys as the mail server allows (%(reason)s). "
                    "Ask your administrator to remove the ones you no longer use."
                )
                % {"reason": exc.message},
            )
        except errors.Unsupported as exc:
            form.add_error(None, _unsupported(exc))
        else:
            if done:
                log.info("encryption at rest turned on by %s (%s)", _user(request).name, data["method"])
                if data["method"] == "pGP":
                    text = ngettext(
                        "Encryption at rest is on. New messages are stored encrypted with your %(method)s key "
                        "(%(count)s certificate accepted), so only you can read them, with your private key.",
                        "Encryption at rest is on. New messages are stored encrypted with your %(method)s key "
                        "(%(count)s certificates accepted), so only you can read them, with your private key.",
                        count,
                    )
                else:
                    text = ngettext(
                        "Encryption at rest is on. New messages are stored encrypted with your %(method)s "
                        "certificate (%(count)s certificate accepted), so only you can read them, with your "
                        "private key.",
                        "Encryption at rest is on. New messages are stored encrypted with your %(method)s "
                        "certificate (%(count)s certificates accepted), so only you can read them, with your "
                        "private key.",
                        count,
                    )
                messages.success(request, text % {"method": ENCRYPTION_METHODS[data["method"]], "count": count})
                return HttpResponseRedirect(reverse("account:encryption"))
    crypto = await _api(request).get_crypto()
    off_form = EncryptionOffForm(needs_code=form.needs_code or getattr(form, "code_required", False))
    return _encryption_page(
        request, crypto, _with_code_step(form), off_form if crypto.enabled else None, status=_status(form)
    )


def _settings(request: PortalRequest) -> bool:
    """Stalwart 0.16+: encryption at rest is an account setting naming a stored key."""
    return request.portal_user.capabilities.encryption_settings


def _spam_training(request: PortalRequest) -> bool:
    """Stalwart 0.15+ asks whether encrypted mail may train the spam filter."""
    return request.portal_user.capabilities.allow_spam_training


def _unsupported(exc: errors.Unsupported) -> str:
    return gettext(
        "Encryption at rest is not available on this server: %(reason)s. Ask your administrator if you need it."
    ) % {"reason": exc.details or exc.message}


@require_POST
@require(ENCRYPTION)
async def encryption_disable(request: PortalRequest) -> HttpResponse:
    needs_code = request.POST.get("with_code") == "1"
    off_form = EncryptionOffForm(request.POST, needs_code=needs_code)
    if off_form.is_valid():
        try:
            done, _ = await _with_password(
                request,
                off_form,
                off_form.cleaned_data["password"],
                off_form.cleaned_data.get("code", ""),
                lambda client: client.account.set_crypto("disabled"),
            )
        except errors.Unsupported as exc:
            off_form.add_error(None, _unsupported(exc))
            done = False
        if done:
            log.info("encryption at rest turned off by %s", _user(request).name)
            messages.success(
                request,
                gettext(
                    "Encryption at rest is off. New messages are stored as they arrive; "
                    "messages stored while it was on stay encrypted."
                ),
            )
            return HttpResponseRedirect(reverse("account:encryption"))
    crypto = await _api(request).get_crypto()
    form = EncryptionForm(
        needs_code=off_form.needs_code or getattr(off_form, "code_required", False),
        spam_training=_spam_training(request),
        settings=_settings(request),
        initial={
            "method": crypto.type if crypto.enabled else "pGP",
            "algo": crypto.algo if crypto.enabled else "Aes256",
            "allow_spam_training": crypto.allow_spam_training,
            "encrypt_on_append": crypto.encrypt_on_append,
        },
    )
    return _encryption_page(request, crypto, form, _with_code_step(off_form), status=_status(off_form))


def _encryption_page(
    request: PortalRequest,
    crypto: EncryptionAtRest,
    form: EncryptionForm,
    off_form: EncryptionOffForm | None,
    status: int = 200,
) -> HttpResponse:
    context = {"crypto": crypto, "form": form, "off_form": off_form}
    return _page(request, "account/encryption.html", "encryption", context, status=status)
