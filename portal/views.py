"""Pages that belong to no area: the landing redirect, health, the script's words, my account."""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import get_language, override
from django.views.decorators.http import require_GET
from django.views.i18n import JavaScriptCatalog

from portal import responses
from portal.access import require
from portal.auth import session
from portal.middleware import health_answer
from portal.navigation import landing_url
from portal.permissions import AREAS, PERMISSIONS, SIGNED_IN
from portal.request import HtmxRequest, PortalRequest


@require_GET
async def home(request: HtmxRequest) -> HttpResponse:
    signed_in = await session.current(request)
    if signed_in is None:
        return responses.sign_in_redirect(request)
    return HttpResponseRedirect(landing_url(signed_in[0]))


@require_GET
async def healthz(request: HtmxRequest) -> HttpResponse:
    """Liveness for load balancers and the container HEALTHCHECK (no upstream call).

    `portal.middleware.health_check` answers GET and HEAD before any host check; this view
    names the URL and answers what reaches it (other methods get 405)."""
    return health_answer()


@lru_cache(maxsize=8)
def _javascript_catalog(language: str) -> bytes:
    # The compiled catalogs do not change while the process runs; the view's GET reads
    # nothing from the request.
    with override(language):
        return JavaScriptCatalog().get(None).content


@require_GET
async def javascript_catalog(request: HtmxRequest) -> HttpResponse:
    """Django's JavaScript catalog: `gettext()`, `ngettext()` and `interpolate()` with the
    words of static/js/portal.js (the djangojs domain). Public, like the sign-in page that
    uses it; the script keeps its English words when this does not load."""
    response = HttpResponse(_javascript_catalog(get_language()), content_type='text/javascript; charset="utf-8"')
    patch_cache_control(response, public=True, max_age=3600)
    return response


@require_GET
@require(SIGNED_IN)
async def account_overview(request: PortalRequest) -> HttpResponse:
    user = request.portal_user
    grouped: dict[str, list[str]] = {area: [] for area, _ in AREAS}
    for name in sorted(user.permissions):
        permission = PERMISSIONS.get(name)
        grouped[permission.area if permission else "Administration"].append(name)
    return render(
        request,
        "account/overview.html",
        {"permission_groups": [(area, names) for area, names in grouped.items() if names]},
    )


def page_not_found(request: HtmxRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", {"message": ""}, status=404)


def server_error(request: HtmxRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
