import gc
import os
import warnings

import django
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections, reset_queries

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# WhiteNoise hands Django file iterators that Django reads in a thread under
# ASGI; that works, and the warning about it would repeat for every static file.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")


class PortalASGIHandler(ASGIHandler):
    """Django's ASGI handler, without a new thread for every request.

    Django runs each request in its own `ThreadSensitiveContext`: the synchronous work of
    that request (here: closing the response, the request signals, a session or audit
    write) gets a thread started for it and joined at the end, which costs more than the
    rest of Django's request cycle. The portal's views are asynchronous and do little
    synchronous work, so it all goes to asgiref's one shared thread instead, one call at a
    time; database connections are then kept and reused as CONN_MAX_AGE intends.
    """

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"The portal serves HTTP only, not {scope['type']}.")
        await self.handle(scope, receive, send)


django.setup(set_prefix=False)


def look_after_connections_at_request_end() -> None:
    """Django looks after database connections when a request starts and when it ends.

    Both are synchronous signal receivers, so under ASGI each costs a thread hop, and the
    one at the start delays every page. The portal's connections all live in asgiref's one
    synchronous thread, which the hop at the end (closing the response) visits anyway: the
    end-of-request check closes broken and expired connections there, and
    CONN_HEALTH_CHECKS (portal/settings.py) tests a kept connection before its next use.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_started.disconnect(reset_queries)
    signals.request_finished.connect(reset_queries)


def leave_startup_objects_out_of_collections() -> None:
    """Keep everything loaded at startup out of the garbage collector's reach.

    Modules, classes, templates and settings live as long as the process; every full
    collection would walk them again. With many live event streams open (each a few hundred
    objects) such walks became pauses of 100-300 ms that held up every stream's next frame.
    The views are imported first (Django would on the first request) so that they are
    included; what is created later is collected as usual.
    """
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (imports every view module)
    gc.collect()
    gc.freeze()


look_after_connections_at_request_end()
application = PortalASGIHandler()
leave_startup_objects_out_of_collections()
