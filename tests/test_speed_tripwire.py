"""A tripwire for the speed layer: the private Django (and WhiteNoise, django-htmx, httpcore)
code it copies or leans on, pinned by a hash of its source.

`portal/asgi.py`, `portal/middleware.py`, `portal/cache.py`, `portal/markup.py`,
`portal/request.py` and `portal/stalwart/` (transport.py, network.py) mirror or subclass
code that is not public API. When an upgrade changes
that code, these tests fail and name what to re-check; once the portal's copy is brought in
line (or found still right), put the new hash here. `make bench` then says whether the speed
is still what BENCHMARKS.md records.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from importlib.metadata import version

import pytest

# dotted name -> (sha256 of inspect.getsource, what to re-check when it changes).
MIRRORED = {
    "django.core.handlers.asgi.ASGIHandler.handle": (
        "c91f27c7fcdc3fff4f1c7082e91cb30f0bfaa5781ca632a116b1d9e607fd752a",
        "portal/asgi.py PortalASGIHandler.handle is a copy of it (without the thread per request): "
        "bring over what changed (body reading, signals, hang-up handling, response closing).",
    ),
    "django.core.handlers.asgi.ASGIHandler.__call__": (
        "f756809e9c9308dcccb78a301fccf09196e80cdc4745690f80384d09b69dd102",
        "portal/asgi.py PortalASGIHandler.__call__ replaces it (no ThreadSensitiveContext, HTTP only).",
    ),
    "django.core.handlers.asgi.ASGIHandler.run_get_response": (
        "0234ea5fe09a577785a5f895752910cbb439f5e28ebb53bdd27247251c00e6ef",
        "portal/asgi.py calls it from respond_until_hung_up: check that it still only runs the view.",
    ),
    "django.core.handlers.asgi.ASGIHandler.listen_for_disconnect": (
        "c729aa315c734f98cc8a6460d75adcae548e97549b6600388666fbbf6fcba2a9",
        "portal/asgi.py respond_until_hung_up relies on it raising RequestAborted on a hang-up.",
    ),
    "django.core.handlers.asgi.ASGIHandler.send_response": (
        "d91e83d2c6859eda84c27849a03f1f4e4b84459f27db951cf95c9155cf4ff6ed",
        "portal/asgi.py closes responses itself after send_response: check that it still does not.",
    ),
    "django.db": (
        "081b9e8484eb915327d363fadccd0663532766e0b419e7c0d4c028c65568ddbe",
        "portal/asgi.py leave_connection_care_to_the_handler disconnects the request-signal receivers "
        "this module connects (reset_queries, close_old_connections): check the list.",
    ),
    "django.utils.deprecation.MiddlewareMixin": (
        "719062a110865f71699d2ba8aa41406051cd16e2c4b163bd0429d8a6015b6036",
        "portal/middleware.py InlineHooks mirrors MiddlewareMixin.__acall__ (process_request, "
        "get_response, process_response) and reads async_mode: keep them in step.",
    ),
    "django.contrib.sessions.middleware.SessionMiddleware": (
        "81dfc7bdab25942992c90fcc9bbf9fb4ba3fd83395255331d8f80f4bd00983b2",
        "portal/middleware.py SessionMiddleware.__acall__ saves only a modified session, in the "
        "shared thread: check process_request/process_response still behave so.",
    ),
    "django.core.cache.backends.redis.RedisCacheClient.__init__": (
        "9f9dec1651ff4b27af72f5c790332136c7838f9e2eff8e44f54eb007d101dda5",
        "portal/cache.py RedisCache reads _servers, _options and _cache._serializer.",
    ),
    "httpcore.AsyncConnectionPool._assign_requests_to_connections": (
        "ea1547e78a655633653bde5257e611ee458cfd46b8ab4543de13c5bae095b0ae",
        "portal/stalwart/transport.py _ConnectionPool copies it with len() for the quadratic count of "
        "connections: bring over what changed, or drop the copy if httpcore fixed it.",
    ),
    "django.core.cache.backends.redis.RedisCacheClient": (
        "1bb008f53ad90a4bd10566150822b2e616a4c150d949972e105b4df2564d0632",
        "portal/cache.py RedisCache's async methods repeat what its add/get/set/touch/delete/get_many/"
        "has_key/incr/set_many/delete_many/clear send to Redis, and share its clients per process: keep them alike.",
    ),
    "django.core.cache.backends.redis.RedisCache": (
        "d727e83ffe44ca0d171bf7e50b8c8e92f05b48853b08a9cda97e957e80a16320",
        "portal/cache.py RedisCache overrides its _cache and mirrors its key and timeout handling.",
    ),
    "django.core.cache.backends.redis.RedisCache.__init__": (
        "40131bec6169f7fabfaebec788863364d123d7a6a13e9dc8de1a92bb00cd451f",
        "portal/cache.py RedisCache builds its asyncio client from this backend's private attributes.",
    ),
    "django.core.cache.backends.locmem.LocMemCache": (
        "01c4afac57e91bd19cd45c1d6868ded8267d6e13f41174e782dd1268e360648e",
        "portal/cache.py AsIsCache stores values unpickled with this backend's _lock, _cache, "
        "_has_expired, _delete and _set: check they still mean the same.",
    ),
    "django.urls.resolvers.URLResolver._reverse_with_prefix": (
        "947b252a39a3a018d2464cb62037402b3856112f6acf7469ef114af5aeedcfd9",
        "portal/markup.py url_pattern must give what reverse() gives (_REVERSE_SAFE mirrors its quoting).",
    ),
    "whitenoise.middleware.WhiteNoiseMiddleware.__call__": (
        "538b06958308b801b205f7495dd97176dbf4e6f93ed8a3cf495b4b8e631ff73a",
        "portal/middleware.py StaticFilesMiddleware._acall mirrors it (find_file / files.get, serve).",
    ),
    "httpcore._backends.anyio.AnyIOStream": (
        "4201c2e7406f37852bfa37a54246d3ce58330a32a9763bfb52599cda38d95e4c",
        "portal/stalwart/network.py AsyncioStream stands in for it: keep its exceptions, its "
        "b'' at the end, and the get_extra_info keys (is_readable, ssl_object, ...) alike.",
    ),
    "httpcore._async.connection.AsyncHTTPConnection._connect": (
        "2f78c5464ee7554310f9f88fb7db527c0c1f1bb72a9a53adb6c18cf760ddfe9e",
        "portal/stalwart/network.py AsyncioBackend is called here (connect_tcp, then start_tls for "
        "https; the pool's _network_backend is set in transport._transport): check the calls.",
    ),
    "django_htmx.middleware.HtmxDetails.__bool__": (
        "bcf1f3a707c22a83d71cf61589d4b5a58c12639501b3b2d0d3606e4c6cbe5090",
        "portal/request.py PortalHtmx builds request.htmx's truth on it (an htmx swap only).",
    ),
}


def _resolve(dotted: str) -> object:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(dotted)


def source_hash(dotted: str) -> str:
    return hashlib.sha256(inspect.getsource(_resolve(dotted)).encode()).hexdigest()


@pytest.mark.parametrize("dotted", sorted(MIRRORED))
def test_mirrored_code_is_unchanged(dotted):
    expected, recheck = MIRRORED[dotted]
    installed = {name: version(name) for name in ("Django", "whitenoise", "django-htmx", "httpcore")}
    assert source_hash(dotted) == expected, (
        f"{dotted} changed (installed: {installed}). Re-check: {recheck} "
        f"Then record the new hash in tests/test_speed_tripwire.py."
    )


def test_the_local_memory_cache_answers_every_async_method_inline():
    """portal/cache.py LocMemCache overrides each async method of Django's BaseCache that the
    base class would run through sync_to_async; a new one in a Django upgrade must be added."""
    from django.core.cache.backends.base import BaseCache

    from portal.cache import LocMemCache

    hopping = {
        name
        for name, member in vars(BaseCache).items()
        if name.startswith("a") and inspect.iscoroutinefunction(member) and "sync_to_async" in inspect.getsource(member)
    }
    missing = sorted(name for name in hopping if name not in vars(LocMemCache))
    assert not missing, f"portal/cache.py LocMemCache should answer these inline too: {missing}"
