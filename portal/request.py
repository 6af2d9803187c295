"""The request as views see it: `PortalRequest` (the django-htmx `HtmxHttpRequest` pattern).

These classes are never instantiated: Django builds an `HttpRequest` (or `ASGIRequest`), and
middleware and the permission gate set the attributes named here. They exist for annotations,
so that the type checker knows what a view may read:

- `request.htmx` (every request, `portal.middleware.htmx_navigation`): a `PortalHtmx`.
- `request.portal_user` and `request.stalwart` (views behind `@require`, set by the gate in
  `portal.access` before the view runs): the signed-in person and the service handle acting
  with their own token.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

if TYPE_CHECKING:
    from portal.permissions import PortalUser
    from portal.stalwart import StalwartClient


class PortalHtmx(HtmxDetails):
    """`request.htmx`: true only for an htmx swap, which gets a fragment.

    A boosted link or form (`hx-boost`) and a history restore are htmx requests too, but they
    are navigation: they get the whole page, so `request.htmx` is false for them and
    `request.htmx.navigation` true (`request.htmx.boosted` stays readable). Views therefore
    choose with `"page.html#part" if request.htmx else "page.html"`.
    """

    @cached_property
    def sent_by_htmx(self) -> bool:
        return super().__bool__()

    @cached_property
    def navigation(self) -> bool:
        return self.sent_by_htmx and (self.boosted or self.history_restore_request)

    def __bool__(self) -> bool:
        return self.sent_by_htmx and not self.navigation


class HtmxRequest(HttpRequest):
    """Any request once the middleware ran (error pages, sign-in, the health answer)."""

    htmx: PortalHtmx
    # Set when the session was found ended (portal.auth.session.end): the sign-in page says so.
    portal_session_expired: bool


class PortalRequest(HtmxRequest):
    """A request inside a view behind `@require(...)`: the person is signed in and allowed."""

    portal_user: PortalUser
    # The service handle of the session's backend (`portal.stalwart.backend.for_session`):
    # the REST `StalwartClient`, or on 0.16+ a `JmapBackend` offering the same areas. It is
    # typed as the REST client, whose areas every backend mirrors, until the `Protocol`s of
    # `portal/stalwart/backend.py` cover every area (today: `principals`).
    stalwart: StalwartClient
