"""Undelete on Stalwart 0.16+ (Enterprise): the `undelete` area over `x:ArchivedItem`.

The same calls as the REST area (`portal.stalwart.blobs.UndeleteApi`), returning the same
`DeletedItem`s and `RestoreResult`s (v0.16 objects.md §15, rest-to-jmap.md 53-54):

* an item's `hash` is its `x:ArchivedItem` id, its `collection` the variant (`email`, `file`,
  `calendar`, `contact`, `sieve`), `deleted_at`/`expires_at` are `archivedAt`/`archivedUntil`;
  `sender`, `subject` and `received_at` come from the e-mail (a calendar event's title or a
  file's name stands in for the subject of other kinds).
* The items of one account are `/query` with the `accountId` filter (honoured for callers with
  `impersonate`, which the server limits to the tenant's accounts for a tenant administrator).
  The account id is looked up by its address first: a filter value cannot be a back-reference,
  so a list page is two requests, the second being the query and the `/get` by back-reference.
* The server filters archived items by account only, so a search (sender or subject text, a
  received-date range) is applied here over every item of the account, read a `/get` page at a
  time (`SEARCH_LIMIT` items at most).
* A restore is exactly `{"status": "requestRestore"}` per item (a patch with `archivedUntil`
  would only change the retention date, objects.md §15), in `/set` calls of `maxObjectsInSet`.
  The ids sent are first checked to belong to the account of the page, so a forged form cannot
  restore another account's mail into it. `restoreTime`/`cancelDeletion` do not exist on 0.16:
  the server restores the item as it was archived.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..blobs import SEARCH_LIMIT, DeletedItem, RestoreResult, Search
from ..queue_types import parse_time
from ..types import Page
from . import lookup
from .client import Call, JmapClient, Results, ref

OBJ = "x:ArchivedItem"
#: The variant (`@type`) of an archived item -> the collection name the portal shows.
COLLECTIONS = {
    "Email": "email",
    "FileNode": "file",
    "CalendarEvent": "calendar",
    "ContactCard": "contact",
    "SieveScript": "sieve",
}


def _time(item: Mapping[str, Any], key: str) -> datetime | None:
    try:
        return parse_time(item.get(key), field=key)
    except errors.StalwartBadResponse:
        return None


def to_item(item: Mapping[str, Any]) -> DeletedItem:
    """An `x:ArchivedItem` as the portal's `DeletedItem`."""
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise errors.StalwartBadResponse(gettext("Stalwart sent an archived item without an id."), operation=OBJ)
    kind = str(item.get("@type") or "")
    size = item.get("size")
    subject = item.get("subject") or item.get("title") or item.get("name") or ""
    return DeletedItem(
        hash=item["id"],
        size=size if isinstance(size, int) and not isinstance(size, bool) else 0,
        deleted_at=_time(item, "archivedAt"),
        expires_at=_time(item, "archivedUntil"),
        collection=COLLECTIONS.get(kind, kind.lower()),
        sender=str(item.get("from") or ""),
        subject=str(subject),
        received_at=_time(item, "receivedAt"),
    )


class JmapUndelete:
    """`undelete.list/restore` for a 0.16+ server (see the module's docstring)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    async def _call(self, calls: builtins.list[Call]) -> Results:
        """The calls' answers; the method errors of `x:ArchivedItem` are raised at once, a
        refusal for want of a licence as `errors.EnterpriseRequired` (as the REST API says it)."""
        results = await self._client.call(calls)
        for call in calls:
            if call.name.startswith(OBJ):
                try:
                    results[call.call_id]
                except errors.Forbidden as exc:
                    if "enterprise" in exc.message.lower() or "licen" in exc.message.lower():
                        raise errors.EnterpriseRequired(
                            exc.message, body={"error": "unsupported", "details": "Enterprise feature"},
                            operation=call.name,
                        ) from exc
                    raise
        return results

    # --- the account ------------------------------------------------------------------------
    async def _account_calls(self, account: str) -> tuple[list[Call], lookup.Lookup]:
        limit = (await self._client.limits()).max_get
        calls, (found,) = lookup.account_calls(self._client, [account], limit=limit)
        return calls, found

    async def _account_id(self, results: Results, found: lookup.Lookup, account: str) -> str:
        """The id of the account the lookup's calls found (looked up again with its domain when
        more accounts share its local part than the query gave)."""
        item, again = lookup.pick(results, found)
        if item is None and again:
            item = (await lookup.by_domain(self._client, [found.name])).get(found.name)
        if item is None:  # unknown, or a bare login that is ambiguous across domains
            raise errors.NotFound(
                gettext("There is no account called %(account)s.") % {"account": account},
                status=404,
                operation="x:Account/query",
            )
        return str(item["id"])

    async def _resolve(self, account: str) -> str:
        calls, found = await self._account_calls(account)
        return await self._account_id(await self._call(calls), found, account)

    # --- reading ----------------------------------------------------------------------------
    async def _page(self, account_id: str, position: int, limit: int) -> tuple[builtins.list[DeletedItem], int]:
        """One page of the account's items, newest first, and their total: one request."""
        query_id, get_id = self._client.next_id(), self._client.next_id()
        query = {
            "filter": {"accountId": account_id},
            "sort": [{"property": "id", "isAscending": False}],
            "position": position,
            "limit": limit,
            "calculateTotal": True,
        }
        results = await self._call(
            [
                Call(f"{OBJ}/query", query, query_id),
                # Every property: each variant has its own (an e-mail's subject, an event's title...).
                Call(f"{OBJ}/get", {"#ids": ref(query_id, f"{OBJ}/query")}, get_id),
            ]
        )
        total = results[query_id].get("total")
        order = {value: index for index, value in enumerate(results[query_id].get("ids") or [])}
        found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        found.sort(key=lambda item: order.get(item.get("id"), len(order)))
        items = [to_item(item) for item in found if item.get("accountId") in (None, account_id)]
        return items, total if isinstance(total, int) and not isinstance(total, bool) else len(items)

    async def list(
        self, account: str, *, page: int = 1, limit: int = 25, search: Search | None = None
    ) -> Page[DeletedItem]:
        """A page of what `account` deleted and can still be restored, newest first."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        account_id = await self._resolve(account)
        if not search:
            items, total = await self._page(account_id, (page - 1) * limit, limit)
            return Page(items=tuple(items), total=total)
        step = (await self._client.limits()).max_get
        everything: builtins.list[DeletedItem] = []
        total = SEARCH_LIMIT
        while len(everything) < min(total, SEARCH_LIMIT):
            items, total = await self._page(account_id, len(everything), step)
            if not items:
                break
            everything += items
        matching = [item for item in everything[:SEARCH_LIMIT] if search.matches(item)]
        start = (page - 1) * limit
        return Page(items=tuple(matching[start : start + limit]), total=len(matching))

    # --- restoring --------------------------------------------------------------------------
    async def _ids_of(self, account: str, wanted: builtins.list[str]) -> tuple[str, set[str]]:
        """The account's id and which of `wanted` are its archived items: one request."""
        calls, found_account = await self._account_calls(account)
        items_get = self._client.next_id()
        calls.append(Call(f"{OBJ}/get", {"ids": wanted, "properties": ["accountId"]}, items_get))
        results = await self._call(calls)
        account_id = await self._account_id(results, found_account, account)
        found = results[items_get].get("list") or []
        return account_id, {
            str(item["id"]) for item in found if isinstance(item, dict) and item.get("accountId") == account_id
        }

    async def _all_ids(self, account: str) -> builtins.list[str]:
        account_id = await self._resolve(account)
        query_id = self._client.next_id()
        query = {"filter": {"accountId": account_id}, "position": 0, "calculateTotal": True}
        answer = (await self._call([Call(f"{OBJ}/query", query, query_id)]))[query_id]
        return [str(value) for value in answer.get("ids") or [] if isinstance(value, str)]

    async def restore(
        self, account: str, items: builtins.list[DeletedItem] | None
    ) -> builtins.list[RestoreResult]:
        """Restore the given items of `account` (or all of them with None)."""
        if items is None:
            ids = await self._all_ids(account)
            outcomes: dict[str, RestoreResult] = {}
        else:
            wanted = builtins.list(dict.fromkeys(item.hash for item in items))
            if not wanted:
                return []
            _account_id, owned = await self._ids_of(account, wanted)
            ids = [ident for ident in wanted if ident in owned]
            outcomes = {ident: RestoreResult("notFound") for ident in wanted if ident not in owned}
        step = (await self._client.limits()).max_set
        calls = [
            Call(
                f"{OBJ}/set",
                {"update": {ident: {"status": "requestRestore"} for ident in ids[start : start + step]}},
                self._client.next_id(),
            )
            for start in range(0, len(ids), step)
        ]
        results = await self._call(calls) if calls else None
        for call in calls:
            assert results is not None
            answer = results[call.call_id]
            for ident in answer.get("updated") or {}:
                outcomes[str(ident)] = RestoreResult("scheduled")  # a RestoreArchivedItem task
            for ident, error in (answer.get("notUpdated") or {}).items():
                error = error if isinstance(error, dict) else {}
                if error.get("type") == "notFound":
                    outcomes[str(ident)] = RestoreResult("notFound")
                else:
                    reason = str(error.get("description") or error.get("type") or "")
                    outcomes[str(ident)] = RestoreResult("error", reason)
        return builtins.list(outcomes.values())
