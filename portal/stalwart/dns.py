"""`/api/dns/records/{domain}`: the records Stalwart suggests for a domain (api-behaviour §11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import StalwartBadResponse
from .paths import api_path
from .types import DnsRecord

if TYPE_CHECKING:
    from .transport import Caller


class DnsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def records(self, domain: str) -> tuple[DnsRecord, ...]:
        """Stalwart does not check that the domain exists: ask `principals.get()` for that."""
        data = await self._client.request("GET", api_path("dns", "records", domain))
        if not isinstance(data, list):
            raise StalwartBadResponse("Unexpected DNS records answer.", operation="GET /api/dns/records")
        return tuple(DnsRecord.from_api(item) for item in data)
