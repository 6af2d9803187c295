"""`/api/store/blobs/{hash}` (raw message bytes) and `/api/store/undelete/{account}` (Enterprise).

Stalwart pages deleted items but cannot search them: a `Search` (text in the sender, the
subject or the date received) reads every item of the account (at most `SEARCH_LIMIT`) and filters
them here. Only 0.15 and later describe an item's sender, subject and receipt
(`Capabilities.undelete_search`).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import errors
from .paths import api_path
from .queue_types import parse_time, rfc3339
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller

HEADER_LIMIT = 10240
#: At most this many deleted items of one account are read for a search.
SEARCH_LIMIT = 5000


def header_block(raw: bytes) -> str:
    """The header section of a raw message: everything before the first blank line, as text."""
    text = raw.decode("utf-8", errors="replace").replace("\r", "")
    head, _, _ = text.partition("\n\n")
    return head


class BlobsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def fetch(self, blob_hash: str, *, limit: int | None = None) -> bytes:
        """The blob's bytes (the first `limit` of them). A missing blob raises ItemNotFound."""
        return await self._client.request_raw("GET", api_path("store", "blobs", blob_hash), params={"limit": limit})

    async def headers(self, blob_hash: str) -> str:
        """A stored message's headers, read from at most its first 10 KiB."""
        return header_block(await self.fetch(blob_hash, limit=HEADER_LIMIT))


@dataclass(frozen=True, slots=True)
class DeletedItem:
    hash: str
    size: int
    deleted_at: datetime | None
    expires_at: datetime | None
    collection: str
    sender: str = ""  # Stalwart 0.15+: what was deleted (`item`)
    subject: str = ""
    received_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Any) -> DeletedItem:
        if not isinstance(data, dict) or not isinstance(data.get("hash"), str):
            raise errors.StalwartBadResponse("Unexpected deleted item.")
        size = data.get("size")
        # Up to 0.14 each item names its `collection`; 0.15 describes the item instead
        # (`item: {type, from, subject, received_at}`), while restoring still takes the
        # collection: an e-mail's type is its collection's name (`email`).
        described = data.get("item") if isinstance(data.get("item"), dict) else {}
        collection = data.get("collection") or described.get("type") or ""
        return cls(
            hash=data["hash"],
            size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
            deleted_at=parse_time(data.get("deletedAt"), field="deletedAt"),
            expires_at=parse_time(data.get("expiresAt"), field="expiresAt"),
            collection=str(collection),
            sender=str(described.get("from") or ""),
            subject=str(described.get("subject") or ""),
            received_at=parse_time(described.get("received_at"), field="received_at"),
        )


@dataclass(frozen=True, slots=True)
class Search:
    """A search of deleted items: text found in the sender, the subject or the date received
    (written `YYYY-MM-DD HH:MM` in UTC, so `2026-03` finds a month)."""

    text: str = ""

    def __bool__(self) -> bool:
        return bool(self.text.strip())

    def matches(self, item: DeletedItem) -> bool:
        needle = self.text.strip().casefold()
        received = item.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if item.received_at else ""
        return any(needle in value.casefold() for value in (item.sender, item.subject, received))


@dataclass(frozen=True, slots=True)
class RestoreResult:
    outcome: str  # "success", "scheduled" (0.16+: restored by a server task), "notFound" or "error"
    reason: str = ""


class UndeleteApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(
        self, account: str, *, page: int = 1, limit: int = 25, search: Search | None = None
    ) -> Page[DeletedItem]:
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        if search:
            everything = await self._page(account, 1, SEARCH_LIMIT)
            matching = [item for item in everything.items if search.matches(item)]
            start = (page - 1) * limit
            return Page(items=tuple(matching[start : start + limit]), total=len(matching))
        return await self._page(account, page, limit)

    async def _page(self, account: str, page: int, limit: int) -> Page[DeletedItem]:
        data = await self._client.request(
            "GET", api_path("store", "undelete", account), params={"page": page, "limit": limit}
        )
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise errors.StalwartBadResponse("Unexpected list answer.")
        total = data.get("total")
        return Page(
            items=tuple(DeletedItem.from_api(item) for item in data["items"]),
            total=total if isinstance(total, int) and not isinstance(total, bool) else 0,
        )

    async def restore(
        self, account: str, items: builtins.list[DeletedItem] | None
    ) -> builtins.list[RestoreResult]:
        """Restore the given items (or everything with None) to the Inbox, keeping their deletion time."""
        body: Any
        if items is None:
            body = None
            content = b"null"
        else:
            body = [
                {
                    "hash": item.hash,
                    "collection": item.collection,
                    "restoreTime": rfc3339(item.deleted_at) if item.deleted_at else None,
                    "cancelDeletion": rfc3339(item.expires_at) if item.expires_at else None,
                }
                for item in items
            ]
            content = None
        path = api_path("store", "undelete", account)
        if content is not None:
            data = await self._client.request("POST", path, content=content, content_type="application/json")
        else:
            data = await self._client.request("POST", path, json_body=body)
        if not isinstance(data, list):
            raise errors.StalwartBadResponse("Unexpected restore answer.", operation=f"POST {path}")
        results = []
        for entry in data:
            entry = entry if isinstance(entry, dict) else {}
            results.append(RestoreResult(str(entry.get("type") or "error"), str(entry.get("reason") or "")))
        return results
