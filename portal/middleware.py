"""Turns service-layer errors that views did not handle into explanatory pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.messages import middleware as messages_middleware
from django.contrib.sessions import middleware as sessions_middleware
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware import clickjacking, common, csp, csrf, security
from django.utils.cache import patch_vary_headers
from django.utils.decorators import sync_and_async_middleware
from django.utils.deprecation import MiddlewareMixin
from django_htmx.http import HttpResponseClientRedirect
from whitenoise.middleware import WhiteNoiseMiddleware

from portal import responses
from portal.request import HtmxRequest, PortalHtmx
from portal.stalwart import errors

# Django hands a middleware the next handler, synchronous or asynchronous (async_mode says
# which); the portal's run asynchronously under ASGI and synchronously in the test client.
GetResponse = Callable[[HttpRequest], Any]
Middleware = Callable[[HttpRequest], Any]
AsyncGetResponse = Callable[[HttpRequest], Awaitable[HttpResponse]]


class InlineHooks(MiddlewareMixin):
    """For Django middleware whose hooks only compute (headers, cookies, tokens).

    Under ASGI, Django runs every hook of a synchronous middleware through a thread hop
    (`sync_to_async`), one at a time in a single shared thread: a dozen hops per request,
    serialised across concurrent requests. These hooks do no I/O, so they run in the
    event loop instead. In a synchronous stack nothing changes.
    """

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        if self.async_mode:
            for name in ("process_view", "process_exception", "process_template_response"):
                hook = getattr(self, name, None)
                if hook is not None and not iscoroutinefunction(hook):
                    setattr(self, name, _in_event_loop(hook))

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        process_request = getattr(self, "process_request", None)
        response = process_request(request) if process_request is not None else None
        response = response or await cast(Awaitable[HttpResponseBase], self.get_response(request))
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            response = process_response(request, response)
        return cast(HttpResponseBase, response)


def _in_event_loop(hook: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def run(*args: Any) -> Any:
        return hook(*args)

    return run


class SecurityMiddleware(InlineHooks, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineHooks, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(InlineHooks, csrf.CsrfViewMiddleware):
    """The token lives in a cookie (not the session): checking it is computation."""


class MessageMiddleware(InlineHooks, messages_middleware.MessageMiddleware):
    """Messages are kept in the session, which the session middleware saves."""


class XFrameOptionsMiddleware(InlineHooks, clickjacking.XFrameOptionsMiddleware):
    pass


class ContentSecurityPolicyMiddleware(InlineHooks, csp.ContentSecurityPolicyMiddleware):
    pass


class SessionMiddleware(InlineHooks, sessions_middleware.SessionMiddleware):
    """Saving a changed session is I/O: only then does the answer take a thread hop."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self.process_request(request)
        response = await cast(AsyncGetResponse, self.get_response)(request)
        if request.session.modified or settings.SESSION_SAVE_EVERY_REQUEST:
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return self.process_response(request, response)


class UpstreamErrorMiddleware(InlineHooks, MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, errors.NotOnThisServer):
            return responses.unavailable(cast(HtmxRequest, request), exception.message)
        if isinstance(exception, errors.StalwartError):
            return responses.upstream_error(cast(HtmxRequest, request), exception)
        return None


HEALTH_PATH = "/healthz"


def health_answer() -> HttpResponse:
    """The liveness answer: the same for every Host, with nothing from the request in it."""
    response = HttpResponse(b'{"status": "ok"}', content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


@sync_and_async_middleware
def health_check(get_response: GetResponse) -> Middleware:
    """Answer `GET /healthz` before anything validates the Host header.

    Probes (the Dockerfile's HEALTHCHECK, a load balancer) call the portal by an address that
    is not in ALLOWED_HOSTS (127.0.0.1, the container's IP) and over plain HTTP: Django's host
    validation would answer 400 (SECURE_REDIRECT_EXEMPT spares the path the HTTPS redirect).
    It sits right after SecurityMiddleware, whose headers the answer gets and which reads the
    host only to redirect. Only this exact path and method get past, with a fixed answer that
    reads nothing from the request and sets no cookie, so a forged Host header gains nothing.
    """

    def wanted(request: HttpRequest) -> bool:
        return request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD")

    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            return health_answer() if wanted(request) else await get_response(request)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        return health_answer() if wanted(request) else get_response(request)

    return sync_middleware


def _signed_in(request: HttpRequest) -> bool:
    if getattr(request, "portal_user", None) is not None:
        return True
    session = getattr(request, "session", None)
    # Loaded already (session_preload): reading it is no I/O.
    return session is not None and "portal.identity" in session


def _no_store(request: HttpRequest, response: HttpResponse, signed_in: bool) -> HttpResponse:
    if signed_in or _signed_in(request):
        cache_control = response.get("Cache-Control", "")
        # A response marked public is the same for everyone (the script's words): it may be kept.
        if "public" not in cache_control:
            response["Cache-Control"] = "no-store, private"
    return response


@sync_and_async_middleware
def no_store_when_signed_in(get_response: GetResponse) -> Middleware:
    """`Cache-Control: no-store, private` on every answer to a signed-in person (pages, error
    pages, fragments, downloads, event streams), and on the answer that signs them in or out:
    neither the browser's cache nor a proxy keeps what the portal showed them."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            signed_in = _signed_in(request)
            return _no_store(request, await get_response(request), signed_in)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        signed_in = _signed_in(request)
        return _no_store(request, get_response(request), signed_in)

    return sync_middleware


@sync_and_async_middleware
def session_preload(get_response: GetResponse) -> Middleware:
    """Load the session before the view runs.

    Views are async; templates read the session synchronously (messages), which
    must then find it already loaded instead of querying the store from inside
    the event loop.
    """
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            await request.session.aget("portal.identity")
            return await cast(AsyncGetResponse, get_response)(request)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        request.session.get("portal.identity")
        return cast(HttpResponse, get_response(request))

    return sync_middleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to sit in an async middleware chain.

    WhiteNoise's own middleware is synchronous, which under ASGI would push every
    request through a thread hop (and serialise them). Static files are still
    found and served by WhiteNoise; other requests go straight on, asynchronously.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if not iscoroutinefunction(self.get_response):
            return super().__call__(request)
        return self._acall(request)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return cast(HttpResponseBase, self.serve(static_file, request))
        return await cast(AsyncGetResponse, self.get_response)(request)


def _mark_page_requests(request: HttpRequest) -> None:
    cast(HtmxRequest, request).htmx = PortalHtmx(request)


def _answer_boosted(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """What a boosted link or form (`hx-boost`) gets: a page to swap in.

    A boosted GET answered with something that is not a page (a CSV download, a streamed
    answer) is fetched again by the browser itself (`HX-Redirect`), so downloads save and
    streams show as they arrive. A form sent with POST and answered without a redirect (its
    errors, a confirmation step) keeps the address bar where it was (`HX-Push-Url: false`):
    the form's URL may take POST only, so going back to it or reloading it would fail.
    """
    details = cast(HtmxRequest, request).htmx
    if not details.navigation or not details.boosted or response.status_code in range(300, 400):
        return response
    if request.method == "GET":
        downloaded = "attachment" in response.get("Content-Disposition", "")
        if response.streaming or downloaded or not response.get("Content-Type", "").startswith("text/html"):
            # Never read: a streamed body has not started (close() would also signal the end
            # of the request).
            return HttpResponseClientRedirect(request.get_full_path())
    elif not response.has_header("HX-Push-Url"):
        response["HX-Push-Url"] = "false"
    return response


@sync_and_async_middleware
def htmx_navigation(get_response: GetResponse) -> Middleware:
    """Whole pages for htmx navigation, and `Vary: HX-Request` on every answer.

    Sets `request.htmx` (a `portal.request.PortalHtmx`: true only for an htmx swap, false for
    a boosted link or form and a history restore). The same URL gives a fragment to an htmx
    swap and a page to everything else, so caches must keep them apart. Boosted requests are
    answered as `_answer_boosted` says.
    """
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            _mark_page_requests(request)
            response = _answer_boosted(request, await get_response(request))
            patch_vary_headers(response, ("HX-Request",))
            return response

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        _mark_page_requests(request)
        response = _answer_boosted(request, get_response(request))
        patch_vary_headers(response, ("HX-Request",))
        return response

    return sync_middleware
