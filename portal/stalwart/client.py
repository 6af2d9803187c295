"""`StalwartClient`: the REST backend's calls to Stalwart's `/api/*` (0.11-0.15).

What a failed call becomes is decided once, in `transport.py` (`failure`, `decode_response`).
"""

from __future__ import annotations

import json
import logging
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx
from django.utils.translation import gettext

from . import changes, errors
from .transport import JSON_TYPES, api_url, authorization, decode_response, failure, parsed, shared_client

if TYPE_CHECKING:
    from .account import AccountApi
    from .blobs import BlobsApi, UndeleteApi
    from .dkim import DkimApi
    from .dns import DnsApi
    from .logs import LogsApi
    from .maintenance import MaintenanceApi
    from .principals import PrincipalsApi
    from .queue import QueueApi
    from .reports import ReportsApi
    from .settings_api import SettingsApi
    from .spamfilter import SpamFilterApi
    from .telemetry import TelemetryApi
    from .troubleshoot import TroubleshootApi

log = logging.getLogger("portal.stalwart")


class StalwartClient:
    """Calls the management API as one person.

    Exactly one credential is used: the person's OAuth access token (the normal
    case), or their name and current password as Basic auth (for the few calls
    Stalwart only accepts that way, and for sign-in).
    """

    def __init__(
        self, access_token: str | None = None, *, basic: tuple[str, str] | None = None, client_ip: str | None = None
    ) -> None:
        """`client_ip`, for a password check: the address of the person typing it, sent as
        `X-Forwarded-For` (a Stalwart with `http.use-x-forwarded` bans that, not the portal)."""
        self._authorization = authorization(access_token, basic)
        self._forwarded_for = client_ip if basic is not None else None

    # The API areas, each created on first use: a page needs one or two of them.
    @cached_property
    def principals(self) -> PrincipalsApi:
        from .principals import PrincipalsApi

        return PrincipalsApi(self)

    @cached_property
    def account(self) -> AccountApi:
        from .account import AccountApi

        return AccountApi(self)

    @cached_property
    def dkim(self) -> DkimApi:
        from .dkim import DkimApi

        return DkimApi(self)

    @cached_property
    def dns(self) -> DnsApi:
        from .dns import DnsApi

        return DnsApi(self)

    @cached_property
    def queue(self) -> QueueApi:
        from .queue import QueueApi

        return QueueApi(self)

    @cached_property
    def reports(self) -> ReportsApi:
        from .reports import ReportsApi

        return ReportsApi(self)

    @cached_property
    def blobs(self) -> BlobsApi:
        from .blobs import BlobsApi

        return BlobsApi(self)

    @cached_property
    def undelete(self) -> UndeleteApi:
        from .blobs import UndeleteApi

        return UndeleteApi(self)

    @cached_property
    def logs(self) -> LogsApi:
        from .logs import LogsApi

        return LogsApi(self)

    @cached_property
    def settings(self) -> SettingsApi:
        from .settings_api import SettingsApi

        return SettingsApi(self)

    @cached_property
    def telemetry(self) -> TelemetryApi:
        from .telemetry import TelemetryApi

        return TelemetryApi(self)

    @cached_property
    def troubleshoot(self) -> TroubleshootApi:
        from .troubleshoot import TroubleshootApi

        return TroubleshootApi(self)

    @cached_property
    def spam_filter(self) -> SpamFilterApi:
        from .spamfilter import SpamFilterApi

        return SpamFilterApi(self)

    @cached_property
    def maintenance(self) -> MaintenanceApi:
        from .maintenance import MaintenanceApi

        return MaintenanceApi(self)

    @property
    def authorization(self) -> str:
        """The `Authorization` header value, for requests made outside `request()` (streams)."""
        return self._authorization

    def __repr__(self) -> str:  # never show the credential
        return "<StalwartClient>"

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str = "application/octet-stream",
    ) -> Any:
        """Send one request and return the `data` of a successful answer.

        `path` must come from `paths.api_path()`. Query parameters with empty
        values are dropped, as Stalwart would ignore them anyway. `content` sends
        a raw body (a message to train the spam filter with) instead of JSON.
        """
        query = {key: str(value) for key, value in (params or {}).items() if value not in (None, "")}
        outcome: Exception | None = None
        try:
            return await self._send(method, path, query, json_body, content, content_type)
        except Exception as exc:
            outcome = exc
            raise
        finally:
            change = changes.rest_change(method, path, query, json_body, outcome)
            if change is not None:
                await changes.report([change])

    async def _send(
        self, method: str, path: str, query: dict[str, str], json_body: Any, content: bytes | None, content_type: str
    ) -> Any:
        operation = f"{method} {path}"
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        if self._forwarded_for:
            headers["X-Forwarded-For"] = self._forwarded_for
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif content is not None:
            headers["Content-Type"] = content_type
        started = time.perf_counter()
        try:
            response = await shared_client().request(
                method, parsed(api_url(path, query)), content=content, headers=headers
            )
        except httpx.HTTPError as exc:
            raise failure(exc, operation, started=started) from exc
        return decode_response(response, operation=operation, started=started)

    async def request_raw(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> bytes:
        """Send one request whose successful answer is raw bytes (blob downloads).

        Errors still arrive as JSON (a management error with HTTP 200, or problem+json)
        and raise like `request()` does.
        """
        query = {key: str(value) for key, value in (params or {}).items() if value not in (None, "")}
        outcome: Exception | None = None
        try:
            return await self._send_raw(method, path, query)
        except Exception as exc:
            outcome = exc
            raise
        finally:
            change = changes.rest_change(method, path, query, None, outcome)
            if change is not None:
                await changes.report([change])

    async def _send_raw(self, method: str, path: str, query: dict[str, str]) -> bytes:
        operation = f"{method} {path}"
        headers = {"Authorization": self._authorization, "Accept": "application/octet-stream, application/json"}
        started = time.perf_counter()
        try:
            response = await shared_client().request(method, api_url(path, query), headers=headers)
        except httpx.HTTPError as exc:
            raise failure(exc, operation, started=started) from exc
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if response.status_code < 300 and content_type not in JSON_TYPES:
            return response.content
        decode_response(response, operation=operation, started=started)
        raise errors.StalwartBadResponse(
            gettext("Stalwart sent JSON where raw content was expected."), operation=operation
        )
