import asyncio
import gc
import os
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from contextlib import closing
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections, reset_queries
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# WhiteNoise hands Django file iterators that Django reads in a thread under
# ASGI; that works, and the warning about it would repeat for every static file.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class ConnectionCare:
    """Django's per-request database care, in the thread that owns the connections.

    Django closes broken and expired connections when a request starts and when it ends,
    with synchronous signal receivers; under ASGI each is a thread hop, about 0.2-0.3 ms of
    CPU time, for every request, although most pages never touch the database (sessions
    are read from the cache). The portal's connections all live in asgiref's one shared
    thread (see PortalASGIHandler). The handler sends this there before a request when the
    last visit is more than a second old, and after every server error (a broken connection
    is then closed before the next request can stumble on it). CONN_HEALTH_CHECKS
    (portal/settings.py) has a kept connection tested before its first use after each visit.
    """

    interval = 1.0

    def __init__(self) -> None:
        self.next_visit = 0.0

    def due(self) -> bool:
        """Whether a visit is due now; if so, the next one is booked a second later."""
        now = time.monotonic()
        if now < self.next_visit:
            return False
        self.next_visit = now + self.interval
        return True

    @staticmethod
    def _look_after() -> None:
        reset_queries()
        close_old_connections()

    async def visit(self) -> None:
        await sync_to_async(self._look_after, thread_sensitive=True)()


class Answered(Exception):
    """Ends the task group once the answer is sent (its disconnect listener is then cancelled)."""


class PortalASGIHandler(ASGIHandler):
    """Django's ASGI handler, without thread hops that most requests do not need.

    Django runs each request in its own `ThreadSensitiveContext`: the synchronous work of
    that request (a session or audit write) gets a thread started for it and joined at the
    end, which costs more than the rest of Django's request cycle. The portal's views are
    asynchronous and do little synchronous work, so it all goes to asgiref's one shared
    thread instead, one call at a time; database connections are then kept and reused as
    CONN_MAX_AGE intends. Django also closes every response in that thread; the portal
    closes it in the event loop (the receivers left on `request_finished` only compute)
    and leaves the database care to `ConnectionCare`.

    The rest is Django's own `handle`: a client that hangs up stops the view or the
    stream it is reading.
    """

    def __init__(self) -> None:
        super().__init__()
        self.connection_care = ConnectionCare()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"The portal serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            set_script_prefix(get_script_prefix(scope))
            if self.connection_care.due():
                await self.connection_care.visit()
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is None:  # Django's own answer to a request it cannot read
                assert response is not None
                await self.send_response(response, send)
            else:
                response = await self.respond_until_hung_up(request, receive, send)
            if response is None:
                await signals.request_finished.asend(sender=self.__class__)
            else:
                response.close()
                if response.status_code >= 500:
                    await self.connection_care.visit()

    async def respond_until_hung_up(
        self, request: HttpRequest, receive: Receive, send: Send
    ) -> HttpResponseBase | None:
        """Run the view and send its answer, unless the client hangs up first."""
        response = None
        try:
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self.listen_for_disconnect(receive))
                    response = await self.run_get_response(request)
                    await self.send_response(response, send)
                    raise Answered
            except* (Answered, RequestAborted):
                pass
        except BaseExceptionGroup as failures:
            # A single failure is raised as itself, as Django does, so that it reads as usual.
            if len(failures.exceptions) == 1:
                raise failures.exceptions[0] from None
            raise
        return response


django.setup(set_prefix=False)


def leave_connection_care_to_the_handler() -> None:
    """Django looks after database connections when a request starts and when it ends.

    Both are synchronous signal receivers which, under ASGI, run in the event loop's thread,
    where the portal has no connections: `ConnectionCare` does it in the thread that has them.
    """
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
        signal.disconnect(reset_queries)


def leave_startup_objects_out_of_collections() -> None:
    """Keep everything loaded at startup out of the garbage collector's reach.

    Modules, classes, templates and settings live as long as the process; every full
    collection would walk them again. With many live event streams open (each a few hundred
    objects) such walks became pauses of 100-300 ms that held up every stream's next frame.
    The views are imported first (Django would on the first request) so that they are
    included; what is created later is collected as usual, except that full collections
    come ten times less often (`FULL_COLLECTION_EVERY`).
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module)
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


#: A full collection after this many collections of the middle generation (CPython: 10).
#: Each open event stream keeps a few hundred objects, which reach the oldest generation, so
#: with a thousand delivery checks open a full collection walks some 250,000 objects and
#: holds every stream's next frame for 100-200 ms. Ten times fewer of them took the relay's
#: p99 with 1,000 checks from 290-325 ms to 90-165 ms (three runs each, BENCHMARKS.md);
#: cyclic garbage, which the portal makes little of, waits longer for its collection.
FULL_COLLECTION_EVERY = 100


leave_connection_care_to_the_handler()
application = PortalASGIHandler()
leave_startup_objects_out_of_collections()
