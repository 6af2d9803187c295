"""`JmapBackend`: what `request.stalwart` is for a session on Stalwart 0.16+.

It has the area attributes views use (`principals`, ...) with the same typed results as
`StalwartClient`; an area 0.16 has no equivalent for is absent here, and the pages that
need it are not offered (`portal.capabilities`, generation "jmap").
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext

from .. import errors
from .account import JmapAccount
from .client import JmapClient
from .domains import JmapDkim, JmapDns
from .observe import JmapLogs, JmapTelemetry
from .principals import JmapPrincipals
from .queue import JmapQueue
from .reports import JmapReports
from .settings import JmapSettings

if TYPE_CHECKING:
    from .maintenance import JmapMaintenance
from .tools import JmapSpamFilter, JmapTroubleshoot
from .undelete import JmapUndelete


class _MissingArea:
    def __init__(self, area: str) -> None:
        self._area = area

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("_"):
            raise AttributeError(operation)

        async def refuse(*_args: Any, **_kwargs: Any) -> Any:
            raise errors.NotOnThisServer(
                gettext("Stalwart 0.16 and later do this differently; the portal does not offer it here yet."),
                operation=f"{self._area}.{operation}",
            )

        return refuse


class JmapBackend:
    generation = "jmap"

    def __init__(self, access_token: str, *, current: tuple[str, str] | None = None, verify: JmapClient | None = None):
        self.jmap = JmapClient(access_token)
        self._access_token = access_token
        self._current = current
        self._verify = verify

    def with_password(self, name: str, password: str, code: str = "", client_ip: str | None = None) -> JmapBackend:
        """The same person, for a change that needs the password (and code) they just typed:
        the token still authenticates; the password goes in the change (`currentSecret`), and a
        check of the password alone uses it as Basic credentials from the person's address."""
        verify = JmapClient(basic=(name, password), client_ip=client_ip)
        return JmapBackend(self._access_token, current=(password, code), verify=verify)

    def __repr__(self) -> str:  # never show the credential
        return "<JmapBackend>"

    @property
    def authorization(self) -> str:
        return self.jmap.authorization

    def __getattr__(self, area: str) -> Any:
        """An area 0.16 has no equivalent for here: every call says so (`errors.NotOnThisServer`).

        Pages that need one are not offered (`portal.capabilities`); this keeps a call that
        slips through from being a crash."""
        if area.startswith("_"):
            raise AttributeError(area)
        return _MissingArea(area)

    @cached_property
    def principals(self) -> JmapPrincipals:
        return JmapPrincipals(self.jmap)

    @cached_property
    def dns(self) -> JmapDns:
        return JmapDns(self.jmap)

    @cached_property
    def dkim(self) -> JmapDkim:
        return JmapDkim(self.jmap)

    @cached_property
    def account(self) -> JmapAccount:
        return JmapAccount(self.jmap, current=self._current, verify=self._verify)

    # --- area: queue (messages and outgoing reports) ---
    @cached_property
    def queue(self) -> JmapQueue:
        return JmapQueue(self.jmap)

    # --- area: reports (incoming DMARC, TLS, ARF) ---
    @cached_property
    def reports(self) -> JmapReports:
        return JmapReports(self.jmap)

    # --- area: undelete ---
    @cached_property
    def undelete(self) -> JmapUndelete:
        return JmapUndelete(self.jmap)

    # --- area: troubleshoot and spam filter ---
    @cached_property
    def troubleshoot(self) -> JmapTroubleshoot:
        return JmapTroubleshoot(self.jmap)

    @cached_property
    def spam_filter(self) -> JmapSpamFilter:
        return JmapSpamFilter(self.jmap)

    # --- area: observability (logs, traces, live streams, metrics) ---
    @cached_property
    def logs(self) -> JmapLogs:
        return JmapLogs(self.jmap)

    @cached_property
    def telemetry(self) -> JmapTelemetry:
        return JmapTelemetry(self.jmap)

    # --- area: settings ---
    @cached_property
    def registry(self) -> JmapSettings:
        """The settings objects the server's schema describes (0.16+ only)."""
        return JmapSettings(self.jmap)

    # --- area: maintenance and blocked IPs ---
    @cached_property
    def maintenance(self) -> JmapMaintenance:
        from .maintenance import JmapMaintenance

        return JmapMaintenance(self.jmap)
