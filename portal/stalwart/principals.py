"""`/api/principal`: accounts, groups, lists, domains, tenants, roles, keys, clients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .paths import api_path
from .types import Page, Principal, page_from_api

if TYPE_CHECKING:
    from .client import StalwartClient


class PrincipalsApi:
    def __init__(self, client: StalwartClient) -> None:
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

    async def count(self, *, types: Iterable[str] = (), filter: str = "") -> int:
        data = await self._client.request(
            "GET", api_path("principal"), params={"types": ",".join(types), "filter": filter.strip(), "count": 1}
        )
        return page_from_api(data, Principal.from_api).total

    async def get(self, name: str) -> Principal:
        return Principal.from_api(await self._client.request("GET", api_path("principal", name)))
