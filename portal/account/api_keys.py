"""Self-service API keys on Stalwart 0.16+ (objects.md §6 `x:ApiKey`).

On 0.16 an API key is a credential of one's own account, made by its owner: the server
generates the secret and returns it once, on creation. The portal shows it in that response
only (never logged, never stored, never in a redirect, `Cache-Control: no-store`). A key has
a description, an expiry, the addresses it may be used from and a scope: everything the
account may do, only chosen permissions, or all but chosen ones. A scope beyond the person's
own permissions is refused next to the field (by the form, and by the server's `forbidden`).
Each operation is gated on its own `sysApiKey*` permission.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from portal import responses
from portal.access import require
from portal.permissions import needs_native
from portal.request import PortalRequest
from portal.stalwart import errors
from portal.stalwart.types import Credential

from .forms import ApiKeyForm
from .views import GRANT_REFUSED, _end_of_day, _failed, _issue_form_token, _page, _use_form_token

log = logging.getLogger("portal.account")

LIST = needs_native("sysApiKeyGet")
CREATE = needs_native("sysApiKeyGet", "sysApiKeyCreate")
UPDATE = needs_native("sysApiKeyGet", "sysApiKeyUpdate")
DESTROY = needs_native("sysApiKeyGet", "sysApiKeyDestroy")
TAB = "api-keys"


def _api(request: PortalRequest) -> Any:
    return request.stalwart.account


async def _find(request: PortalRequest, key_id: str) -> Credential | None:
    return next((k for k in await _api(request).api_keys() if k.id == key_id), None)


def _gone(request: PortalRequest) -> HttpResponse:
    messages.info(request, gettext("That API key no longer exists."))
    return HttpResponseRedirect(reverse("account:api-keys"))


def _initial(key: Credential) -> dict[str, Any]:
    return {
        "description": key.description,
        "expires": key.expires.astimezone(UTC).date() if key.expires else None,
        "allowed_ips": "\n".join(key.allowed_ips),
        "scope": key.scope if key.scope in ("Replace", "Disable") else "Inherit",
        "permissions": list(key.permissions),
    }


def _refused(form: ApiKeyForm, exc: errors.StalwartError) -> bool:
    """Put a refusal of the server next to its field; False when it is not one for the form."""
    if isinstance(exc, errors.Forbidden) and GRANT_REFUSED in exc.message:
        reason = exc.message
        form.add_error("permissions", gettext("The mail server refused this scope: %(reason)s") % {"reason": reason})
        return True
    if isinstance(exc, errors.TenantQuotaExceeded):
        form.add_error(
            None,
            gettext("Your account holds as many API keys as the mail server allows (%(reason)s). Revoke one first.")
            % {"reason": exc.message},
        )
        return True
    if isinstance(exc, (errors.OtherError, errors.FieldMissing)):
        field = exc.field if exc.field in form.fields else None
        reason = exc.details if isinstance(exc, errors.OtherError) and exc.details else exc.message
        form.add_error(field, gettext("The mail server did not accept this: %(reason)s") % {"reason": reason})
        return True
    return False


@require_GET
@require(LIST)
async def api_keys(request: PortalRequest) -> HttpResponse:
    keys = await _api(request).api_keys()
    user = request.portal_user
    context = {
        "api_keys": keys,
        "can_create": CREATE.allows(user),
        "can_update": UPDATE.allows(user),
        "can_destroy": DESTROY.allows(user),
    }
    return _page(request, "account/api_keys.html", TAB, context)


@require_http_methods(["GET", "POST"])
@require(CREATE)
async def api_key_create(request: PortalRequest) -> HttpResponse:
    held = await _api(request).held_permissions()
    today = datetime.now(UTC).date()
    if request.method == "GET":
        context = {"form": ApiKeyForm(held=held, today=today), "form_token": await _issue_form_token(request)}
        return _page(request, "account/api_key_form.html", TAB, context)

    form = ApiKeyForm(request.POST, held=held, today=today)
    context = {"form": form, "form_token": request.POST.get("form_token", "")}
    if not form.is_valid():
        return _page(request, "account/api_key_form.html", TAB, context, status=400)
    if not await _use_form_token(request, request.POST.get("form_token", "")):
        messages.info(
            request,
            gettext(
                "That API key was already created and cannot be shown again. "
                "If you did not copy it, revoke it and create a new one."
            ),
        )
        return HttpResponseRedirect(reverse("account:api-keys"))
    data = form.cleaned_data
    try:
        _id, secret = await _api(request).create_api_key(
            data["description"],
            expires=_end_of_day(data["expires"]) if data["expires"] else None,
            allowed_ips=data["allowed_ips"],
            scope=form.scope(),
        )
    except responses.SUBMIT_FAILURES as exc:
        context["form_token"] = await _issue_form_token(request)
        return _failed(request, "account/api_key_form.html", TAB, context, exc, form)
    except errors.StalwartError as exc:
        if not _refused(form, exc):
            raise
        context["form_token"] = await _issue_form_token(request)
        return _page(request, "account/api_key_form.html", TAB, context, status=400)
    log.info("API key created by %s", request.portal_user.name)
    # Shown once, straight from this response: never stored, never in a redirect or the session.
    context = {"description": data["description"], "secret": secret}
    return _page(request, "account/api_key_created.html", TAB, context)


@require_http_methods(["GET", "POST"])
@require(UPDATE)
async def api_key_edit(request: PortalRequest, key_id: str) -> HttpResponse:
    key = await _find(request, key_id)
    if key is None:
        return _gone(request)
    held = await _api(request).held_permissions()
    initial = _initial(key)
    today = datetime.now(UTC).date()
    if request.method == "GET":
        form = ApiKeyForm(initial=initial, held=held, current=key.permissions, today=today)
        return _page(request, "account/api_key_form.html", TAB, {"form": form, "api_key": key})

    form = ApiKeyForm(request.POST, initial=initial, held=held, current=key.permissions, today=today)
    context = {"form": form, "api_key": key}
    if not form.is_valid():
        return _page(request, "account/api_key_form.html", TAB, context, status=400)
    data = form.cleaned_data
    expires: str | None | bool = False
    if data["expires"] != initial["expires"]:
        expires = _end_of_day(data["expires"]) if data["expires"] else None
    scope = form.scope()
    try:
        await _api(request).update_api_key(
            key.id,
            description=data["description"] if data["description"] != key.description else None,
            expires=expires,
            allowed_ips=data["allowed_ips"] if set(data["allowed_ips"]) != set(key.allowed_ips) else None,
            scope=scope if scope != (key.scope or "Inherit", key.permissions) else None,
        )
    except errors.ItemNotFound:
        return _gone(request)
    except responses.SUBMIT_FAILURES as exc:
        return _failed(request, "account/api_key_form.html", TAB, context, exc, form)
    except errors.StalwartError as exc:
        if not _refused(form, exc):
            raise
        return _page(request, "account/api_key_form.html", TAB, context, status=400)
    log.info("API key options changed by %s", request.portal_user.name)
    messages.success(request, gettext("“%(label)s” is saved.") % {"label": data["description"]})
    return HttpResponseRedirect(reverse("account:api-keys"))


@require_http_methods(["GET", "POST"])
@require(DESTROY)
async def api_key_revoke(request: PortalRequest, key_id: str) -> HttpResponse:
    key = await _find(request, key_id)
    if key is None:
        return _gone(request)
    if request.method == "POST":
        try:
            await _api(request).revoke_api_key(key.id)
        except errors.ItemNotFound:
            return _gone(request)
        except responses.SUBMIT_FAILURES as exc:
            return _failed(request, "account/api_key_revoke.html", TAB, {"api_key": key}, exc)
        log.info("API key revoked by %s", request.portal_user.name)
        messages.success(
            request, gettext("“%(label)s” is revoked: it can no longer be used.") % {"label": key.description}
        )
        return HttpResponseRedirect(reverse("account:api-keys"))
    return _page(request, "account/api_key_revoke.html", TAB, {"api_key": key})
