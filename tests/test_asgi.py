"""portal/asgi.py: where Django's per-request database care runs under the portal's handler."""

from django.core import signals
from django.db import close_old_connections, reset_queries

from portal.asgi import look_after_connections_at_request_end


def receivers(signal) -> set:
    sync, asynchronous = signal._live_receivers(None)
    return set(sync) | set(asynchronous)


def test_nothing_synchronous_runs_before_a_page():
    """A synchronous receiver of request_started would cost a thread hop before every view.
    (Django's test client connects close_old_connections again after each request; a server
    process wires the signals once, when portal.asgi is imported.)"""
    look_after_connections_at_request_end()
    assert not {close_old_connections, reset_queries} & receivers(signals.request_started)


def test_database_connections_are_still_looked_after_once_per_request():
    """At the end of the request, in the thread that owns the connections (closing the
    response is already a hop there); a kept connection is health-checked before reuse."""
    from django.conf import settings

    assert {close_old_connections, reset_queries} <= receivers(signals.request_finished)
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_what_startup_loaded_is_left_out_of_garbage_collection():
    import gc
    import sys

    from portal.asgi import leave_startup_objects_out_of_collections

    try:
        leave_startup_objects_out_of_collections()
        assert "portal.directory.views" in sys.modules and "portal.tools.views" in sys.modules
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # the test process goes on collecting as before
