"""`/api/queue/*`: queued messages, the queue's running state and queued outgoing reports.

Stalwart's selection semantics (api-behaviour §7.2) shape this API:

* `text` overrides `from` and `to` (`QueueSelection.params()` never sends both);
* `values=1` returns message objects on the list, but makes the bulk PATCH/DELETE select
  nothing: the bulk calls never send it, nor `page`/`limit` (which would limit them too);
* a single-message `filter` is a *substring*: of a domain name for a retry, of a lowercased
  recipient address for a cancel. An empty filter means "everything" and is never sent by
  the one-recipient/one-domain calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .blobs import BlobsApi
from .errors import NotOnThisServer, StalwartBadResponse
from .paths import api_path
from .queue_types import OutgoingReportId, QueuedMessage, QueuePage, QueueSelection
from .report_types import OutgoingReport
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller


def _bool(data: Any, operation: str) -> bool:
    if not isinstance(data, bool):
        raise StalwartBadResponse("Stalwart did not answer true or false.", operation=operation)
    return data


def _total(data: Any) -> int:
    total = data.get("total") if isinstance(data, dict) else None
    if isinstance(total, bool) or not isinstance(total, int):
        raise StalwartBadResponse("Unexpected list answer.")
    return total


class QueueApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    # --- messages ------------------------------------------------------------------
    async def messages(self, selection: QueueSelection, *, page: int = 1, limit: int = 25) -> QueuePage:
        """One page of queued messages with their details, in ONE request (`values=1`)."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1 (0 would mean 'everything' to Stalwart).")
        params = {**selection.params(), "values": 1, "page": page, "limit": limit}
        data = await self._client.request("GET", api_path("queue", "messages"), params=params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise StalwartBadResponse("Unexpected list answer.", operation="GET /api/queue/messages")
        items = tuple(QueuedMessage.from_api(item) for item in data["items"])
        return QueuePage(items=items, total=_total(data), running=data.get("status") is not False)

    async def message(self, message_id: int) -> QueuedMessage:
        return QueuedMessage.from_api(await self._client.request("GET", api_path("queue", "messages", message_id)))

    async def preview(self, selection: QueueSelection, *, limit: int = 10) -> QueuePage:
        """What a bulk retry or cancel of `selection` touches: its count and the first `limit`."""
        return await self.messages(selection, page=1, limit=limit)

    async def headers(self, message: QueuedMessage) -> str:
        """The stored message's headers (`/api/store/blobs`, at most its first 10 KiB)."""
        return await BlobsApi(self._client).headers(message.blob_hash)

    async def retry(self, message_id: int, *, domain: str = "") -> bool:
        """Deliver now: every pending domain, or those whose name contains `domain`."""
        path = api_path("queue", "messages", message_id)
        data = await self._client.request("PATCH", path, params={"filter": domain})
        return _bool(data, f"PATCH {path}")

    async def cancel(self, message_id: int, *, recipients: str = "") -> bool:
        """Cancel the recipients whose lowercased address contains `recipients`, or the whole message."""
        path = api_path("queue", "messages", message_id)
        data = await self._client.request("DELETE", path, params={"filter": recipients.lower()})
        return _bool(data, f"DELETE {path}")

    async def retry_matching(self, selection: QueueSelection) -> bool:
        """PATCH every selected message (Stalwart works in the background). True if any matched."""
        path = api_path("queue", "messages")
        return _bool(await self._client.request("PATCH", path, params=selection.params()), f"PATCH {path}")

    async def cancel_matching(self, selection: QueueSelection) -> bool:
        """DELETE every selected message (in the background). True if any matched."""
        path = api_path("queue", "messages")
        return _bool(await self._client.request("DELETE", path, params=selection.params()), f"DELETE {path}")

    # --- running state -------------------------------------------------------------
    async def running(self) -> bool:
        path = api_path("queue", "status")
        return _bool(await self._client.request("GET", path), f"GET {path}")

    async def set_running(self, running: bool) -> bool:
        """Pause or resume delivery; returns whether the queue was running before."""
        path = api_path("queue", "status", "start" if running else "stop")
        return _bool(await self._client.request("PATCH", path), f"PATCH {path}")

    # --- outgoing reports ----------------------------------------------------------
    @staticmethod
    def _report_params(kind: str, domain: str) -> dict[str, str]:
        return {"type": kind if kind in ("dmarc", "tls") else "", "domain": domain.strip()}

    async def reports(
        self, *, kind: str = "", domain: str = "", page: int = 1, limit: int = 25
    ) -> Page[OutgoingReportId]:
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        params = {**self._report_params(kind, domain), "page": page, "limit": limit}
        data = await self._client.request("GET", api_path("queue", "reports"), params=params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise StalwartBadResponse("Unexpected list answer.", operation="GET /api/queue/reports")
        items = tuple(OutgoingReportId.parse(item) for item in data["items"] if isinstance(item, str))
        return Page(items=items, total=_total(data))

    async def report(self, report_id: str) -> OutgoingReport:
        return OutgoingReport.from_api(await self._client.request("GET", api_path("queue", "reports", report_id)))

    async def report_scope(self) -> frozenset[str] | None:
        """The domains the caller's outgoing reports are confined to, None for all: Stalwart
        <= 0.15 lists a tenant administrator only their domains' reports itself (no call)."""
        return None

    async def report_ref(self, report_id: str) -> OutgoingReportId | None:
        """What a report id says (type, domain, period, due), None when it is not one: no call."""
        parsed = OutgoingReportId.parse(report_id)
        return parsed if parsed.kind else None

    async def delete_report(self, report_id: str) -> bool:
        path = api_path("queue", "reports", report_id)
        return _bool(await self._client.request("DELETE", path), f"DELETE {path}")

    async def delete_reports_matching(self, *, kind: str = "", domain: str = "") -> bool:
        path = api_path("queue", "reports")
        data = await self._client.request("DELETE", path, params=self._report_params(kind, domain))
        return _bool(data, f"DELETE {path}")

    async def reschedule_report(self, report_id: str, deliver_at: datetime) -> None:
        """Stalwart <= 0.15 cannot reschedule a queued report (the page is not offered there)."""
        raise NotOnThisServer(
            "Only Stalwart 0.16 and later can reschedule a queued report.", operation="queue.reschedule_report"
        )
