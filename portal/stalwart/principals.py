"""`/api/principal`: accounts, groups, lists, domains, tenants, roles, keys, clients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .changes_types import NewPrincipal, PrincipalChange
from .errors import StalwartBadResponse
from .paths import api_path
from .principal_ops import create_body, update_ops
from .types import Page, Principal, page_from_api

if TYPE_CHECKING:
    from .transport import Caller


class PrincipalsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def list(
        self,
        *,
        types: Iterable[str] = (),
        filter: str = "",
        page: int = 1,
        limit: int = 25,
        fields: Iterable[str] = (),
        tenant: str = "",
    ) -> Page[Principal]:
        """One page of principals, ordered by name. `page` is 1-based."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1 (0 would mean 'everything' to Stalwart).")
        data = await self._client.request(
            "GET",
            api_path("principal"),
            params={
                "types": ",".join(types),
                "filter": filter.strip(),
                "page": page,
                "limit": limit,
                "fields": ",".join(fields),
                "tenant": tenant,
            },
        )
        return page_from_api(data, Principal.from_api)

    async def list_descending(
        self,
        *,
        types: Iterable[str] = (),
        filter: str = "",
        page: int = 1,
        limit: int = 25,
        fields: Iterable[str] = (),
    ) -> Page[Principal]:
        """One page ordered by name from Z to A.

        Stalwart only lists in ascending order, so this counts the matches, then
        reads the one or two ascending pages that hold the wanted range.
        """
        types, fields = list(types), list(fields)
        total = await self.count(types=types, filter=filter)
        end = total - (page - 1) * limit
        if end <= 0:
            return Page(items=(), total=total)
        start = max(0, end - limit)
        items: list[Principal] = []
        for number in range(start // limit + 1, (end - 1) // limit + 2):
            chunk = await self.list(types=types, filter=filter, page=number, limit=limit, fields=fields)
            offset = (number - 1) * limit
            items += [item for index, item in enumerate(chunk.items, offset) if start <= index < end]
        return Page(items=tuple(reversed(items)), total=total)

    async def count(self, *, types: Iterable[str] = (), filter: str = "") -> int:
        data = await self._client.request(
            "GET", api_path("principal"), params={"types": ",".join(types), "filter": filter.strip(), "count": 1}
        )
        return page_from_api(data, Principal.from_api).total

    async def get(self, name: str) -> Principal:
        return Principal.from_api(await self._client.request("GET", api_path("principal", name)))

    async def create(self, principal: NewPrincipal) -> int:
        """Create a principal; Stalwart answers with its new id."""
        data = await self._client.request("POST", api_path("principal"), json_body=create_body(principal))
        if not isinstance(data, int):
            raise StalwartBadResponse(
                "Stalwart did not return the new principal's id.", operation="POST /api/principal"
            )
        return data

    async def update(self, name: str, change: PrincipalChange) -> None:
        """Apply `change` as one PATCH (set/addItem/removeItem operations), atomically."""
        ops = update_ops(change)
        if ops:
            await self._client.request("PATCH", api_path("principal", name), json_body=ops)

    async def delete(self, name: str) -> None:
        await self._client.request("DELETE", api_path("principal", name))

    async def delete_matching(self, principal_type: str, filter: str = "") -> bool:
        """Delete every principal of one type matching `filter` (Stalwart works in the background).

        Returns whether anything matched.
        """
        data = await self._client.request(
            "DELETE",
            api_path("principal"),
            params={"type": principal_type, "confirm": "true", "filter": filter.strip()},
        )
        return bool(data)
