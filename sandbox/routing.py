"""Route registries. Each API area registers its handlers here when its module is imported.

* ``API_MODULES[name]`` handles ``/api/<name>/...`` after authentication; the handler gets
  ``(sandbox, request)`` with ``request.access`` set and does its own sub-routing (the server
  routes by module and then matches path elements and the method inside the module, which
  fixes the order of the checks, see spec §1.7).
* ``TOP_LEVEL[name]`` handles ``/<name>/...`` outside ``/api`` (e.g. ``auth``, ``.well-known``);
  it may return None to fall through to PP 404.
* ``QUERY_TOKEN_FALLBACKS`` (for SSE endpoints, spec §2.2): callables
  ``(sandbox, request) -> Response | None`` tried when header authentication failed.
"""

from __future__ import annotations

from collections.abc import Callable

from .http import Request, Response

Handler = Callable[..., Response]

API_MODULES: dict[str, Handler] = {}
TOP_LEVEL: dict[str, Callable[..., Response | None]] = {}
QUERY_TOKEN_FALLBACKS: list[Callable[..., Response | None]] = []

#: Modules imported by ``create_app`` so that they register their routes.
ROUTE_MODULES = [
    "sandbox.principals",
    "sandbox.oauth",
    "sandbox.dkim",
    "sandbox.account",
    "sandbox.queue",
    "sandbox.reports",
    "sandbox.store",
    "sandbox.config",
    "sandbox.logs",
    "sandbox.telemetry",
    "sandbox.troubleshoot",
    "sandbox.spamfilter",
    "sandbox.maintenance",
]


def api_module(name: str):
    def register(fn: Handler) -> Handler:
        API_MODULES[name] = fn
        return fn

    return register


def top_level(name: str):
    def register(fn):
        TOP_LEVEL[name] = fn
        return fn

    return register


def path_element(request: Request, index: int) -> str | None:
    """Raw ``/api`` path element ``index`` (0 = the module name), or None."""
    elements = request.elements[1:]
    return elements[index] if index < len(elements) else None
