"""`/api/settings/*`: the server's flat key/value configuration (§9).

Applying it (`/api/reload`, §10) is `MaintenanceApi.reload` (`client.maintenance`).

Writes are lists of operations applied in order by Stalwart, **not atomically**:

* `{"type": "clear", "prefix": p}` deletes every key starting with `p` (no `.` is added);
* `{"type": "insert", "prefix": p | None, "values": [[k, v], ...], "assert_empty": bool}` writes
  `p.k = v`; with `assert_empty` it fails with `AssertFailed` when something exists under `p.`
  (or, without a prefix, when the first key exists);
* `{"type": "delete", "keys": [...]}` deletes exact keys.

`clear_op`, `insert_op` and `delete_op` build them.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import StalwartBadResponse
from .observability_types import SettingsPage, SettingsRecord
from .paths import api_path
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller


def clear_op(prefix: str, filter: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"type": "clear", "prefix": prefix}
    if filter is not None:
        op["filter"] = filter
    return op


def insert_op(prefix: str | None, values: Iterable[tuple[str, str]], *, assert_empty: bool) -> dict[str, Any]:
    return {
        "type": "insert",
        "prefix": prefix,
        "values": [[key, value] for key, value in values],
        "assert_empty": assert_empty,
    }


def delete_op(keys: Iterable[str]) -> dict[str, Any]:
    return {"type": "delete", "keys": list(keys)}


def _strings(data: Any, operation: str) -> dict[str, str]:
    if not isinstance(data, dict):
        raise StalwartBadResponse("Unexpected settings answer.", operation=operation)
    return {str(key): value if isinstance(value, str) else str(value) for key, value in data.items()}


class SettingsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(self, prefix: str = "", *, page: int = 1, limit: int = 0) -> SettingsPage:
        """Keys under `prefix` (a `.` is added) with the prefix stripped, in key order.

        Without a prefix every key comes back whole. `limit=0` means all of them.
        """
        operation = "GET /api/settings/list"
        data = await self._client.request(
            "GET",
            api_path("settings", "list"),
            params={"prefix": prefix, "page": page if limit else None, "limit": limit or None},
        )
        if not isinstance(data, dict):
            raise StalwartBadResponse("Unexpected settings list.", operation=operation)
        items = _strings(data.get("items"), operation)
        total = data.get("total")
        return SettingsPage(tuple(items.items()), total if isinstance(total, int) else len(items))

    async def group(
        self,
        prefix: str,
        suffix: str,
        *,
        filter: str = "",
        page: int = 1,
        limit: int = 0,
        field: str = "",
    ) -> Page[SettingsRecord]:
        """Records `<prefix>.<id>.*` that have `<prefix>.<id>.<suffix>` (listeners, stores, ...)."""
        operation = "GET /api/settings/group"
        data = await self._client.request(
            "GET",
            api_path("settings", "group"),
            params={
                "prefix": prefix,
                "suffix": suffix,
                "filter": filter,
                "page": page if limit else None,
                "limit": limit or None,
                "field": field,
            },
        )
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise StalwartBadResponse("Unexpected settings group.", operation=operation)
        records = []
        for item in data["items"]:
            fields = _strings(item, operation)
            record_id = fields.pop("_id", "")
            records.append(SettingsRecord(record_id, tuple(sorted(fields.items()))))
        total = data.get("total")
        return Page(tuple(records), total if isinstance(total, int) else len(records))

    async def keys(self, keys: Iterable[str] = (), prefixes: Iterable[str] = ()) -> dict[str, str]:
        """The values of exact keys, plus every key under each prefix (unstripped)."""
        keys, prefixes = [key for key in keys if key], [prefix for prefix in prefixes if prefix]
        if not keys and not prefixes:
            return {}
        if any("," in item for item in (*keys, *prefixes)):
            raise ValueError("Setting keys sent to /api/settings/keys cannot contain commas.")
        data = await self._client.request(
            "GET", api_path("settings", "keys"), params={"keys": ",".join(keys), "prefixes": ",".join(prefixes)}
        )
        return _strings(data, "GET /api/settings/keys")

    async def update(self, operations: builtins.list[dict[str, Any]]) -> None:
        """Apply clear/insert/delete operations in order (not atomic: earlier ones stay)."""
        if operations:
            await self._client.request("POST", api_path("settings"), json_body=operations)

    async def delete(self, key: str) -> None:
        """Delete exactly one key (never a prefix)."""
        await self._client.request("DELETE", api_path("settings", key))
