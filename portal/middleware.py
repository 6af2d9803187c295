"""Turns service-layer errors that views did not handle into explanatory pages."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin

from portal import responses
from portal.stalwart import errors


class UpstreamErrorMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, errors.StalwartError):
            return responses.upstream_error(request, exception)
        return None


@sync_and_async_middleware
def session_preload(get_response):
    """Load the session before the view runs.

    Views are async; templates read the session synchronously (messages), which
    must then find it already loaded instead of querying the store from inside
    the event loop.
    """
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            await request.session.aget("portal.identity")
            return await get_response(request)

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            request.session.get("portal.identity")
            return get_response(request)

    return middleware
