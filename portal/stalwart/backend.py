"""The seam between views and the two generations of Stalwart's management API.

Views call `request.stalwart.<area>.<operation>(...)` and get the typed results of
`portal.stalwart.types`. For servers up to 0.15 `request.stalwart` is a `StalwartClient`
(REST `/api/*`), for 0.16 and later a `jmap.backend.JmapBackend` (JMAP `x:` objects). Each
area both generations implement is described by a `Protocol` here; the REST areas satisfy
them as they are (a test checks it), so a view written against one works with the other.
`for_session` builds the handle from the generation the session recorded at sign-in.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from .types import Page, Principal


@runtime_checkable
class PrincipalsArea(Protocol):
    """Accounts, groups, mailing lists, domains, tenants, roles, API keys, OAuth clients."""

    async def list(
        self,
        *,
        types: Iterable[str] = (),
        filter: str = "",
        page: int = 1,
        limit: int = 25,
        fields: Iterable[str] = (),
        tenant: str = "",
    ) -> Page[Principal]: ...

    async def count(self, *, types: Iterable[str] = (), filter: str = "") -> int: ...

    async def get(self, name: str) -> Principal: ...

    async def create(self, principal: dict[str, Any]) -> int: ...

    async def update(self, name: str, changes: builtins.list[dict[str, Any]]) -> None: ...

    async def delete(self, name: str) -> None: ...


# --- area: queue (messages and outgoing reports) ---


# --- area: reports (incoming DMARC, TLS, ARF) ---


# --- area: undelete ---


# --- area: troubleshoot and spam filter ---


# --- area: observability (logs, traces, live streams, metrics) ---


# --- area: settings ---


# --- area: maintenance and blocked IPs ---


@runtime_checkable
class Backend(Protocol):
    """What `request.stalwart` offers in both generations."""

    @property
    def principals(self) -> PrincipalsArea: ...

    @property
    def authorization(self) -> str: ...


def for_session(generation: str, access_token: str) -> Any:
    """The service handle for one request of a session signed in to a server of `generation`."""
    if generation == "jmap":
        from .jmap.backend import JmapBackend

        return JmapBackend(access_token)
    from .client import StalwartClient

    return StalwartClient(access_token)
