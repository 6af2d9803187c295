"""Turns service-layer errors that views did not handle into explanatory pages."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware

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


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to sit in an async middleware chain.

    WhiteNoise's own middleware is synchronous, which under ASGI would push every
    request through a thread hop (and serialise them). Static files are still
    found and served by WhiteNoise; other requests go straight on, asynchronously.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if not iscoroutinefunction(self.get_response):
            return super().__call__(request)
        return self._acall(request)

    async def _acall(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)
        return await self.get_response(request)
