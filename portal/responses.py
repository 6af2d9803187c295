"""Responses shared by every area: sign-in redirect, 403, upstream failures.

Each one works for a plain page load and for an htmx request (which gets the
page's error panel swapped into `#main`, or a client-side redirect).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from portal.permissions import Access, PortalUser
from portal.stalwart import errors


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def sign_in_url(request: HttpRequest) -> str:
    target = request.get_full_path()
    if _is_htmx(request) and request.htmx.current_url_abs_path:  # type: ignore[attr-defined]
        target = request.htmx.current_url_abs_path  # type: ignore[attr-defined]
    url = reverse("auth:sign-in")
    if target and target != "/":
        url += "?" + urlencode({"next": target})
    return url


def sign_in_redirect(request: HttpRequest, *, expired: bool = False) -> HttpResponse:
    if expired:
        messages.info(request, gettext("Your session has ended. Please sign in again."))
    url = sign_in_url(request)
    if _is_htmx(request):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def _error_page(request: HttpRequest, template: str, context: dict, status: int) -> HttpResponse:
    if _is_htmx(request):
        response = render(request, f"{template}#error", context, status=status)
        return reswap(retarget(response, "#main"), "innerHTML")
    return render(request, template, context, status=status)


def forbidden(request: HttpRequest, user: PortalUser | None, access: Access | None = None) -> HttpResponse:
    context = {
        "missing": access.missing(user) if access and user else (),
        "needs_enterprise": bool(access and access.enterprise and user and not user.enterprise),
        "any_of": bool(access and access.any_of),
    }
    return _error_page(request, "errors/403.html", context, 403)


def not_found(request: HttpRequest, message: str = "") -> HttpResponse:
    return _error_page(request, "errors/404.html", {"message": message}, 404)


# What a failure means for the person looking at the page.
_UPSTREAM_TEXT: list[tuple[type[errors.StalwartError], int, str, str]] = [
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
        gettext_lazy("Stalwart is limiting requests"),
        gettext_lazy("The mail server asked the portal to slow down. Wait a few seconds and try again."),
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


def upstream_error(request: HttpRequest, exc: errors.StalwartError) -> HttpResponse:
    if isinstance(exc, errors.NotFound | errors.ItemNotFound):
        return not_found(request, exc.message)
    status, title, explanation = next(
        ((status, title, text) for cls, status, title, text in _UPSTREAM_TEXT if isinstance(exc, cls)),
        (502, gettext("Stalwart refused the request"), exc.message),
    )
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
    return _error_page(request, "errors/upstream.html", context, status)
