"""portal/asgi.py: the portal's ASGI handler and where Django's database care runs under it."""

import time

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core import signals
from django.db import close_old_connections, connection, reset_queries
from django.http import HttpResponse
from django.test import override_settings
from django.urls import path

from portal.asgi import ConnectionCare, PortalASGIHandler, leave_connection_care_to_the_handler
from tests.asgi_server import portal_asgi_server


def receivers(signal) -> set:
    sync, asynchronous = signal._live_receivers(None)
    return set(sync) | set(asynchronous)


def test_no_database_care_runs_in_the_event_loop():
    """Under the portal's handler the request signals fire in the event loop, which owns no
    connections; a synchronous receiver there would also cost a thread hop per request.
    (Django's test client connects close_old_connections again after each request; a server
    process wires the signals once, when portal.asgi is imported.)"""
    leave_connection_care_to_the_handler()
    assert not {close_old_connections, reset_queries} & receivers(signals.request_started)
    assert not {close_old_connections, reset_queries} & receivers(signals.request_finished)


def test_connection_care_is_due_once_a_second():
    care = ConnectionCare()
    assert care.due()
    assert not care.due()
    care.next_visit = time.monotonic() - 0.001
    assert care.due()
    assert not care.due()


@pytest.mark.django_db
def test_connection_care_looks_after_the_connections_of_the_thread_that_runs_sync_work():
    """Django's own care: the connection is checked again before its next use and the debug
    query log is emptied. (Called from a synchronous test, asgiref runs the visit in this
    thread, which owns the test's connection.)"""
    connection.ensure_connection()
    connection.health_check_done = True
    connection.queries_log.append({"sql": "select 1", "time": "0.000"})
    async_to_sync(ConnectionCare().visit)()
    assert connection.health_check_done is False
    assert not connection.queries_log
    # ... and the next use tests a kept connection first.
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


class CountedCare(ConnectionCare):
    visits = 0

    async def visit(self) -> None:
        self.visits += 1
        await super().visit()


def failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("fails", failing_view), path("healthz", lambda request: HttpResponse("ok"))]


@pytest.mark.django_db(transaction=True)
@override_settings(ROOT_URLCONF=__name__)
def test_the_handler_visits_when_care_is_due_and_after_server_errors():
    handler = PortalASGIHandler()
    handler.connection_care = care = CountedCare()
    care.interval = 60  # however slow this machine, the next visit comes when the test says
    with portal_asgi_server(handler) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert care.visits == 1
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert care.visits == 1  # not due yet: no hop
        assert httpx.get(f"{url}/no-such-page").status_code == 404
        assert care.visits == 1
        assert httpx.get(f"{url}/fails").status_code == 500
        deadline = time.monotonic() + 10  # the visit follows the answer
        while care.visits < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert care.visits == 2
        care.next_visit = time.monotonic() - 0.001
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert care.visits == 3


def test_every_view_of_the_portal_is_asynchronous():
    """Under ASGI Django runs a synchronous view through a thread hop on every request."""
    from asgiref.sync import iscoroutinefunction
    from django.urls import URLResolver, get_resolver

    def views(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    found = dict(views(get_resolver("portal.urls").url_patterns))
    assert "healthz" in found and len(found) > 50
    assert [route for route, view in found.items() if not iscoroutinefunction(view)] == []


def test_what_startup_loaded_is_left_out_of_garbage_collection():
    import gc
    import sys

    from portal.asgi import leave_startup_objects_out_of_collections

    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(2000, 10, 10)  # CPython's own (importing portal.asgi already set them)
        leave_startup_objects_out_of_collections()
        assert "portal.directory.views" in sys.modules and "portal.tools.views" in sys.modules
        assert gc.get_freeze_count() > 10_000
        # Full collections (which walk every open stream's objects) come ten times less often.
        assert gc.get_threshold() == (2000, 10, 100)
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
        gc.set_threshold(*thresholds)
