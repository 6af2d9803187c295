"""Reload, updates, restart and store maintenance (api-behaviour §10, §12).

Store ids are matched by Stalwart as sent (not decoded): callers pass plain ids
(`STORE_ID`). Stalwart runs most of these as GET requests; the portal only calls them from its own
CSRF-protected POST forms. Purges and reindexing run in the background at Stalwart and answer
at once. An unknown account raises `errors.ItemNotFound`, an unknown store `errors.NotFound`.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from portal.capabilities import IN_MEMORY_PREFIXES_011

from . import errors
from .maintenance_types import BlockedIp, Task, network
from .observability_types import ReloadResult
from .paths import api_path
from .settings_api import SettingsApi, delete_op, insert_op
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller

#: What a store id looks like (Stalwart compares it undecoded, so nothing needs encoding).
STORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

#: Partial reloads (`/api/reload/<scope>`); "" is a full reload.
RELOAD_SCOPES = ("", "lookup", "certificate", "server.blocked-ip")

#: Blocked addresses are settings keys under this prefix (api-behaviour §2.5, §9), value "".
BLOCKED_PREFIX = "server.blocked-ip"

#: Key prefixes of the in-memory store that can be purged one at a time (the full list, before 0.15).
IN_MEMORY_PREFIXES = IN_MEMORY_PREFIXES_011


class MaintenanceApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def _get(self, *elements: str, params: dict[str, Any] | None = None) -> Any:
        return await self._client.request("GET", api_path(*elements), params=params)

    # --- configuration and updates ------------------------------------------------------
    async def reload(self, scope: str = "", *, dry_run: bool = False) -> ReloadResult:
        """Reload the configuration (or only lookups, certificates or blocked IPs).

        With `dry_run` (full reload only) Stalwart checks the configuration without applying it.
        """
        if scope not in RELOAD_SCOPES:
            raise ValueError(f"Unknown reload scope {scope!r}")
        # Stalwart matches the scope as written (no decoding), so its dot must stay a dot.
        path = f"{api_path('reload')}/{scope}" if scope else api_path("reload")
        params = {"dry-run": "true"} if dry_run and not scope else None
        return ReloadResult.from_api(await self._client.request("GET", path, params=params))

    async def update_spam_rules(self, *, force: bool = False, overwrite: bool = False) -> str | None:
        """Download the spam-filter rules; the new version, or None when already up to date."""
        data = await self._get(
            "update", "spam-filter", params={"force": "1" if force else "", "overwrite": "1" if overwrite else ""}
        )
        if data is not None and not isinstance(data, str):
            raise errors.StalwartBadResponse("Unexpected answer to the spam-rule update.")
        return data

    async def update_webadmin(self) -> None:
        await self._get("update", "webadmin")

    async def restart(self) -> None:
        """Stalwart 0.11 and 0.12 answer `errors.Unsupported` ("Restart is not yet supported")."""
        await self._get("restart")

    # --- store ---------------------------------------------------------------------------
    async def reindex(self, account: str = "", index: str = "") -> None:
        """Rebuild the full-text index of one account, or of every account.

        Stalwart 0.15 rebuilds one `index` at a time (`Capabilities.reindex_indexes`:
        `/api/store/reindex/<index>[/<account>]`); earlier versions take no index.
        """
        elements = ["store", "reindex"]
        if index:
            elements.append(index)
        if account:
            elements.append(account)
        await self._get(*elements)

    async def purge_blobs(self) -> None:
        await self._get("store", "purge", "blob")

    @staticmethod
    def _store(store: str) -> str:
        if store and not STORE_ID.fullmatch(store):
            raise ValueError(f"Not a store id: {store!r}")
        return store

    async def purge_data(self, store: str = "") -> None:
        store = self._store(store)
        await self._get(*(("store", "purge", "data", store) if store else ("store", "purge", "data")))

    async def purge_in_memory(
        self, store: str = "", prefix: str = "", account: str = "", *, known: Collection[str] = IN_MEMORY_PREFIXES
    ) -> None:
        """Purge expired keys (no prefix), or every key under one of the `known` prefixes
        (the server's: `Capabilities.in_memory_prefixes`; Stalwart 0.15 answers an unknown
        prefix with success and purges only expired keys, so one is never sent)."""
        store = self._store(store)
        if prefix and (prefix not in IN_MEMORY_PREFIXES or prefix not in known):
            raise ValueError(f"Unknown in-memory prefix {prefix!r}")
        if account and prefix != "bayes-account":
            raise ValueError("Only the bayes-account prefix takes an account.")
        elements = ["store", "purge", "in-memory"]
        if store or prefix:
            elements.append(store or "default")
        if prefix:
            elements.append(prefix)
        if account:
            elements.append(account)
        await self._get(*elements)

    async def delete_bayes_global(self) -> None:
        await self.purge_in_memory(prefix="bayes-global")

    async def delete_bayes_account(self, account: str) -> None:
        await self.purge_in_memory(prefix="bayes-account", account=account)

    async def purge_account(self, account: str = "") -> None:
        """Purge deleted mail of one account, or of every account."""
        await self._get(*(("store", "purge", "account", account) if account else ("store", "purge", "account")))

    async def reset_uids(self, account: str) -> tuple[int, int] | None:
        """Reset the IMAP UIDs of an account; returns (mailboxes, messages) changed."""
        data = await self._client.request("DELETE", api_path("store", "uids", account))
        if (
            not isinstance(data, list)
            or len(data) != 2
            or not all(isinstance(item, int) and not isinstance(item, bool) for item in data)
        ):
            raise errors.StalwartBadResponse("Unexpected answer to the UID reset.")
        return data[0], data[1]

    async def used_quota(self, account: str, *, recalculate: bool = False) -> int:
        data = await self._client.request("DELETE" if recalculate else "GET", api_path("store", "quota", account))
        if isinstance(data, bool) or not isinstance(data, int):
            raise errors.StalwartBadResponse("Unexpected used quota.")
        return data

    # --- blocked IP addresses (settings keys `server.blocked-ip.<address>`) ------------------
    async def blocked_ips(self) -> Page[BlockedIp]:
        """Every blocked address, in key order (Stalwart keeps no reason, time or expiry here)."""
        listed = await SettingsApi(self._client).list(BLOCKED_PREFIX)
        items = tuple(BlockedIp(id=key, address=key) for key, _value in listed.items if key)
        return Page(items, len(items))

    async def block_ip(
        self, address: str, *, reason: str = "manual", expires: datetime | None = None, reload: bool = True
    ) -> str:
        """Block an address or network; returns its id. Before 0.16 only the address is kept
        (`reason` and `expires` are not sent). An address already blocked raises `errors.FieldAlreadyExists`.
        Without `reload` the caller runs `reload("server.blocked-ip")` itself."""
        address = _blocked_address(address)
        key = f"{BLOCKED_PREFIX}.{address}"
        try:
            await SettingsApi(self._client).update([insert_op(None, [(key, "")], assert_empty=True)])
        except errors.AssertFailed:
            raise errors.FieldAlreadyExists(
                "Already blocked.", body={"error": "fieldAlreadyExists", "field": "address", "value": address}
            ) from None
        if reload:
            await self.reload(BLOCKED_PREFIX)
        return address

    async def unblock_ip(self, entry: str, *, reload: bool = True) -> None:
        """Delete the key and reload the blocked addresses (a key already gone is no error)."""
        address = _blocked_address(entry)
        await SettingsApi(self._client).update([delete_op([f"{BLOCKED_PREFIX}.{address}"])])
        if reload:
            await self.reload(BLOCKED_PREFIX)

    # --- the task queue and actions of Stalwart 0.16 (no REST equivalent) ---------------------
    @staticmethod
    def _not_here(operation: str) -> errors.NotOnThisServer:
        return errors.NotOnThisServer(
            "Only Stalwart 0.16 and later have a task queue.", operation=f"maintenance.{operation}"
        )

    async def tasks(self, *, page: int = 1, limit: int = 50, failed: bool = False) -> Page[Task]:
        raise self._not_here("tasks")

    async def task(self, task_id: str) -> Task:
        raise self._not_here("task")

    async def rerun_task(self, task_id: str, *, due: datetime | None = None) -> None:
        raise self._not_here("rerun_task")

    async def cancel_task(self, task_id: str) -> None:
        raise self._not_here("cancel_task")

    async def create_task(self, kind: str, maintenance_type: str = "", **targets: str) -> str:
        raise self._not_here("create_task")

    async def run_action(self, kind: str) -> None:
        raise self._not_here("run_action")


def _blocked_address(text: str) -> str:
    address = network(text)
    if address is None:
        raise ValueError(f"Not an IP address or network: {text!r}")
    return address
