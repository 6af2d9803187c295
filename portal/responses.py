"""Responses shared by every area: sign-in redirect, 403, upstream failures.

Each one works for a plain page load and for an htmx request (which gets the
page's error panel swapped into `#main`, or a client-side redirect).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy, ngettext
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from portal.permissions import Access, PortalUser
from portal.request import HtmxRequest
from portal.stalwart import errors

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger("portal.responses")


def sign_in_url(request: HtmxRequest) -> str:
    target = request.get_full_path()
    if request.htmx and request.htmx.current_url_abs_path:
        target = request.htmx.current_url_abs_path
    url = reverse("auth:sign-in")
    if target and target != "/":
        url += "?" + urlencode({"next": target})
    return url


def sign_in_redirect(request: HtmxRequest, *, expired: bool = False) -> HttpResponse:
    if expired:
        messages.info(request, gettext("Your session has ended. Please sign in again."))
    url = sign_in_url(request)
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _error_page(request: HtmxRequest, template: str, context: dict[str, Any], status: int) -> HttpResponse:
    if request.htmx:
        response = render(request, f"{template}#error", context, status=status)
        return reswap(retarget(response, "#main"), "innerHTML")
    return render(request, template, context, status=status)


def forbidden(
    request: HtmxRequest, user: PortalUser | None, access: Access | None = None, reason: StrOrPromise = ""
) -> HttpResponse:
    """403 naming what is missing; `reason` says why, when the rule is the server's own."""
    context = {
        "reason": reason,
        "missing": access.missing(user) if access and user else (),
        "needs_enterprise": bool(access and access.enterprise and user and not user.enterprise),
        "any_of": bool(access and access.any_of),
    }
    return _error_page(request, "errors/403.html", context, 403)


def outranked(request: HtmxRequest, name: str) -> HttpResponse:
    """403: the principal holds permissions the person lacks (the rank rule, portal.access)."""
    return _error_page(request, "errors/403.html", {"outranked": name}, 403)


def refused_grant(request: HtmxRequest, refused: list[str]) -> HttpResponse:
    """403: the change would grant roles or permissions the person does not hold."""
    return _error_page(request, "errors/403.html", {"refused": refused}, 403)


def not_found(request: HtmxRequest, message: StrOrPromise = "") -> HttpResponse:
    return _error_page(request, "errors/404.html", {"message": message}, 404)


def unavailable(request: HtmxRequest, reason: str, link: tuple[str, str] | None = None) -> HttpResponse:
    """404: this page has no equivalent on the connected server (`portal.capabilities.unavailable`);
    `link`: (URL name, label) of the page that replaces it (`capabilities.unavailable_link`)."""
    context: dict[str, Any] = {"reason": reason}
    if link is not None:
        context["link_url"], context["link_label"] = reverse(link[0]), link[1]
    return _error_page(request, "errors/unavailable.html", context, 404)


# What a failure means for the person looking at the page.
_UPSTREAM_TEXT: list[tuple[type[errors.StalwartError], int, StrOrPromise, StrOrPromise]] = [
    (
        errors.StalwartTimeout,
        504,
        gettext_lazy("Stalwart did not answer in time"),
        gettext_lazy("The mail server took too long to answer. It may be busy; try again in a moment."),
    ),
    (
        errors.StalwartUnavailable,
        502,
        gettext_lazy("Stalwart could not be reached"),
        gettext_lazy("The portal could not connect to the mail server. It may be restarting or down."),
    ),
    (
        errors.RateLimited,
        503,
        gettext_lazy("The mail server is busy"),
        gettext_lazy("The mail server asked the portal to slow down. Wait a moment and try again."),
    ),
    (
        errors.ConcurrencyLimited,
        503,
        gettext_lazy("Too many requests at once"),
        gettext_lazy("Stalwart refuses more than a few simultaneous requests per account. Try again in a moment."),
    ),
    (
        errors.Forbidden,
        403,
        gettext_lazy("Stalwart refused this"),
        gettext_lazy("Your account does not have the permission the mail server requires for this."),
    ),
    (
        errors.ServerError,
        502,
        gettext_lazy("Stalwart reported an internal error"),
        gettext_lazy("The mail server failed while handling the request. Its logs will say more."),
    ),
    (
        errors.StalwartBadResponse,
        502,
        gettext_lazy("Stalwart sent an unexpected answer"),
        gettext_lazy(
            "The mail server's answer could not be read. Is the portal pointed at a supported Stalwart version?"
        ),
    ),
]


# --- a change that failed in Stalwart --------------------------------------------------------
# Failures during a submit after which the form is shown again with what was typed (rather
# than the error page): Stalwart could not be reached, timed out, failed or garbled its answer,
# or refused to take more requests. Refusals with a meaning (403, 404, validation) are not here.
SUBMIT_FAILURES: tuple[type[errors.StalwartError], ...] = (
    errors.StalwartUnavailable,
    errors.ServerError,
    errors.StalwartBadResponse,
    errors.RateLimited,
    errors.ConcurrencyLimited,
)


def change_not_applied(exc: errors.StalwartError) -> bool:
    """Whether Stalwart certainly did not apply the change whose request failed with `exc`.

    True when the request never left the portal (the connection could not be made) or when
    Stalwart refused it before acting (rate and concurrency limits). A timeout, a broken
    connection, a 5xx or an unreadable answer come after the request was sent: the change
    may have been applied.
    """
    if isinstance(exc, errors.StalwartUnavailable):
        return not exc.sent
    return isinstance(exc, errors.RateLimited | errors.ConcurrencyLimited)


def _failure_text(exc: errors.StalwartError, idempotent: bool, changes: bool) -> str:
    if not changes:
        return gettext(
            "The mail server did not complete the check, and it changes nothing. What you typed is below; "
            "submit it again in a moment."
        )
    if change_not_applied(exc):
        if isinstance(exc, errors.StalwartUnavailable):
            return gettext(
                "Nothing was changed: the portal could not connect to the mail server, so the request was "
                "never sent. What you typed is below; submit it again when the server is back."
            )
        return gettext(
            "Nothing was changed: the mail server refused the request because it is busy. "
            "What you typed is below; submit it again in a moment."
        )
    if isinstance(exc, errors.StalwartTimeout):
        happened = gettext("The mail server did not answer in time, so the change may have been applied.")
    else:
        happened = gettext("The mail server failed while handling the change, so it may or may not have been applied.")
    if idempotent:
        advice = gettext("Check the result before going on; submitting the form below again is safe.")
    else:
        advice = gettext(
            "Check the result before submitting again: if it was applied, submitting again would do it twice or fail."
        )
    return f"{happened} {advice}"


def _forget_secrets(form: django_forms.BaseForm | None, secrets: tuple[str, ...]) -> None:
    """Empty the secret fields of a bound form, so nothing typed into them is rendered back."""
    if form is None or not getattr(form, "is_bound", False):
        return
    names = set(secrets) | {
        name for name, field in form.fields.items() if isinstance(field.widget, django_forms.PasswordInput)
    }
    submitted: Any = form.data  # a QueryDict (or a dict in tests): both copy themselves
    data = submitted.copy()
    for name in names:
        data.pop(form.add_prefix(name), None)
    form.data = data


def form_upstream_failure(
    request: HtmxRequest,
    template: str,
    context: dict[str, Any],
    exc: errors.StalwartError,
    *,
    check_url: str = "",
    check_label: str = "",
    form: django_forms.BaseForm | None = None,
    secrets: tuple[str, ...] = (),
    idempotent: bool = False,
    changes: bool = True,
) -> HttpResponse:
    """The form page again, after the change it submitted failed in Stalwart.

    `template` and `context` are what the view renders for a form with errors, holding the
    bound `form` (or, for a form without a Django form, the typed values). Fields with a
    password widget and the fields named in `secrets` are emptied. The message above the form
    (`submit_failure`, shown by `components/ui.html#form-errors` for `form`, or by
    `#submit-failure` where a template places it) says whether the change was not applied or
    may have been, and links to `check_url`, where the person can see what happened.
    `idempotent`: sending the same change twice does no harm (saving a set of values), so
    the text does not warn against submitting again; `changes=False`: the form only asks
    (a check that changes nothing). The status is the error page's (502, 503 or 504).
    """
    status, title = _status_and_title(exc)
    _forget_secrets(form, secrets)
    failure = {
        "title": title,
        "text": _failure_text(exc, idempotent, changes),
        "applied": "no" if change_not_applied(exc) or not changes else "maybe",
        "check_url": check_url,
        "check_label": check_label or gettext("See the current state"),
        "form": form,
    }
    log.warning(
        "change failed in stalwart: %s (%s, %s)",
        exc.operation,
        type(exc).__name__,
        "not applied" if failure["applied"] == "no" else "may have been applied",
    )
    response = render(request, template, {**context, "submit_failure": failure}, status=status)
    wait = retry_after(exc)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response


def _status_and_title(exc: errors.StalwartError) -> tuple[int, str]:
    return next(
        ((status, str(title)) for cls, status, title, _text in _UPSTREAM_TEXT if isinstance(exc, cls)),
        (502, gettext("Stalwart refused the request")),
    )


# Stalwart's concurrency limit counts requests in flight: a second or two frees a place.
CONCURRENCY_RETRY_SECONDS = 2


def retry_after(exc: errors.StalwartError) -> int | None:
    """Seconds after which trying again makes sense, for the answer's `Retry-After` header:
    Stalwart's own (a 429 passed on, `RateLimited.wait`), or None when waiting will not help."""
    if isinstance(exc, errors.RateLimited):
        return exc.wait
    if isinstance(exc, errors.ConcurrencyLimited):
        return CONCURRENCY_RETRY_SECONDS
    return None


def wait_text(seconds: int) -> str:
    """How long to wait, in words: "30 seconds", "5 minutes"."""
    if seconds < 120:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = -(-seconds // 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def _rate_limited_text(exc: errors.RateLimited) -> tuple[str, str]:
    if exc.banned:
        return gettext("The mail server has blocked the portal"), gettext(
            "After too many failed sign-ins the mail server refuses requests from the portal's address. "
            "An administrator of the mail server must lift the block; then try again (in %(wait)s at the "
            "earliest)."
        ) % {"wait": wait_text(exc.wait)}
    return gettext("The mail server is busy"), gettext(
        "The mail server is limiting how many requests it accepts from the portal. Try again in %(wait)s."
    ) % {"wait": wait_text(exc.wait)}


def upstream_error(request: HtmxRequest, exc: errors.StalwartError) -> HttpResponse:
    if isinstance(exc, errors.NotFound | errors.ItemNotFound):
        return not_found(request, exc.message)
    status, title, explanation = next(
        ((status, title, text) for cls, status, title, text in _UPSTREAM_TEXT if isinstance(exc, cls)),
        (502, gettext("Stalwart refused the request"), exc.message),
    )
    if isinstance(exc, errors.RateLimited):
        title, explanation = _rate_limited_text(exc)
    context = {
        "status": status,
        "title": title,
        "explanation": explanation,
        "operation": exc.operation,
        "detail": exc.message,
        "retry_url": request.get_full_path() if request.method == "GET" else "",
        "show_server": settings.DEBUG,
        "stalwart_url": settings.STALWART_URL,
    }
    response = _error_page(request, "errors/upstream.html", context, status)
    wait = retry_after(exc)
    if wait is not None:
        response["Retry-After"] = str(wait)
    return response
