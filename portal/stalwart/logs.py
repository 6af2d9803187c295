"""`/api/logs`: the server's log file, newest line first (api-behaviour §16)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import StalwartBadResponse
from .observability_types import LogEntry
from .paths import api_path
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller


class LogsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(self, *, filter: str = "", page: int = 1, limit: int = 50, anchor: str = "") -> Page[LogEntry]:
        """One page of log entries. `filter` is a case-sensitive substring of the raw line.
        (`anchor` is for servers that page by anchor; this API pages by number and ignores it.)

        Stalwart's `total` is an estimate: when the page is full and more lines exist it is
        the matches counted so far plus one more page.
        """
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        data: Any = await self._client.request(
            "GET", api_path("logs"), params={"page": page, "limit": limit, "filter": filter}
        )
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise StalwartBadResponse("Unexpected answer from /api/logs.", operation="GET /api/logs")
        total = data.get("total")
        items = tuple(LogEntry.from_api(item) for item in data["items"])
        return Page(items=items, total=total if isinstance(total, int) and not isinstance(total, bool) else len(items))
