"""The portal with one more page: `GET /bench/floor`, a signed-in page that does nothing.

`make bench` serves this (uvicorn `bench.floor:application`) to measure what any page costs
before it does its own work: uvicorn, the ASGI handler, every middleware, the session and the
sign-in and permission check (`portal.access.require`), and the response. The account list's CPU
per page is set beside it.
"""

from __future__ import annotations

from bench import FLOOR_PATH
from portal.asgi import application  # sets Django up first


def _add_the_floor() -> None:
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from portal.access import require
    from portal.permissions import SIGNED_IN
    from portal.urls import urlpatterns

    @require(SIGNED_IN)
    async def floor(request: HttpRequest) -> HttpResponse:
        return HttpResponse("floor", content_type="text/plain")

    urlpatterns.append(path(FLOOR_PATH.lstrip("/"), floor))


_add_the_floor()

__all__ = ["FLOOR_PATH", "application"]
