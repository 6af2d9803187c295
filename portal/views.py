"""Pages that belong to no area: the landing redirect, health, my account."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal import responses
from portal.auth import session
from portal.navigation import landing_url
from portal.permissions import AREAS, PERMISSIONS, SIGNED_IN, require


@require_GET
async def home(request: HttpRequest) -> HttpResponse:
    signed_in = await session.current(request)
    if signed_in is None:
        return responses.sign_in_redirect(request)
    return HttpResponseRedirect(landing_url(signed_in[0]))


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and the container HEALTHCHECK (no upstream call)."""
    return JsonResponse({"status": "ok"})


@require_GET
@require(SIGNED_IN)
async def account_overview(request: HttpRequest) -> HttpResponse:
    user = request.portal_user  # type: ignore[attr-defined]
    grouped: dict[str, list[str]] = {area: [] for area, _ in AREAS}
    for name in sorted(user.permissions):
        permission = PERMISSIONS.get(name)
        grouped[permission.area if permission else "Administration"].append(name)
    return render(
        request,
        "account/overview.html",
        {"permission_groups": [(area, names) for area, names in grouped.items() if names]},
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", {"message": ""}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "errors/500.html", status=500)
