"""`/api/reports/{dmarc|tls|arf}`: reports received from other mail systems.

The list answers with ids only, so a page of summaries needs one detail request per id.
`details()` fetches them concurrently but bounded (Stalwart allows few requests in flight
per account, api-behaviour §2.5), retries once sequentially on the concurrency-limit
answer, and keeps the raw answers in the "reports" cache (a report never changes once
received: REPORT_CACHE_SECONDS, a day by default; bounded per process, or shared through
Redis), keyed by server, class and report id, and forgotten when the portal deletes it; the
last ones parsed are also kept parsed in the process (`parsed`). Only pages
that list ids the person's own list returned use the cache, so a tenant administrator
never gets a report Stalwart would not show them.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache

from . import errors
from .paths import api_path
from .report_types import KINDS, IncomingReport, IncomingReportId
from .types import Page

if TYPE_CHECKING:
    from .transport import Caller

DEFAULT_CONCURRENCY = 4


def _cache() -> BaseCache:
    return caches["reports"]


@functools.lru_cache(maxsize=8)
def _server(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def cache_key(kind: str, report_id: str, *, generation: str = "rest") -> str:
    """The cache key of one report: its server (a hash of the URL), API generation, class and id,
    so a 0.16 object id and a REST id, or two servers' reports, never share an entry."""
    return f"portal.report.{_server(settings.STALWART_URL)}.{generation}.{kind}.{report_id}"


#: Reports parsed in this process, by cache key, the most recently used last. A list page
#: seen a moment ago then neither unpickles nor parses its reports again (a big sender's
#: DMARC report has hundreds of records): 40 % of a warm DMARC list's CPU time. Bounded by
#: count; an entry lives as long as the cache keeps the raw answer (REPORT_CACHE_SECONDS),
#: and nothing is kept when that is 0. Like the cache, only ids from the person's own list
#: are looked up here.
PARSED_ENTRIES = 128
_parsed: OrderedDict[str, tuple[float, IncomingReport]] = OrderedDict()


def parsed(key: str) -> IncomingReport | None:
    """The report parsed under `key` in this process, if it is still kept."""
    entry = _parsed.get(key)
    if entry is None:
        return None
    if entry[0] <= time.monotonic():
        del _parsed[key]
        return None
    _parsed.move_to_end(key)
    return entry[1]


def keep_parsed(key: str, report: IncomingReport) -> None:
    if settings.REPORT_CACHE_SECONDS <= 0:
        return
    _parsed[key] = (time.monotonic() + settings.REPORT_CACHE_SECONDS, report)
    _parsed.move_to_end(key)
    while len(_parsed) > PARSED_ENTRIES:
        _parsed.popitem(last=False)


def forget_parsed(*keys: str) -> None:
    """Forget the given reports (deleted)."""
    for key in keys:
        _parsed.pop(key, None)


def clear_parsed() -> None:
    """Forget every parsed report (as clearing the "reports" cache forgets the raw ones)."""
    _parsed.clear()


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"Unknown report class {kind!r}.")


class ReportsApi:
    def __init__(self, client: Caller) -> None:
        self._client = client

    async def ids(
        self, kind: str, *, text: str = "", page: int = 1, limit: int = 25, max_total: int = 0
    ) -> Page[IncomingReportId]:
        """One page of report ids, newest expiry first; `text` is Stalwart's case-sensitive search."""
        _check_kind(kind)
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        params: dict[str, Any] = {"text": text, "page": page, "limit": limit, "max-total": max_total or None}
        data = await self._client.request("GET", api_path("reports", kind), params=params)
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise errors.StalwartBadResponse("Unexpected list answer.", operation=f"GET /api/reports/{kind}")
        total = data.get("total")
        if isinstance(total, bool) or not isinstance(total, int):
            raise errors.StalwartBadResponse("Unexpected list answer.", operation=f"GET /api/reports/{kind}")
        items = tuple(IncomingReportId.parse(item) for item in data["items"] if isinstance(item, str))
        return Page(items=items, total=total)

    async def get(self, kind: str, report_id: str) -> IncomingReport:
        """One report, always fresh from Stalwart (which checks the person's tenant)."""
        _check_kind(kind)
        data = await self._client.request("GET", api_path("reports", kind, report_id))
        report = IncomingReport.from_api(kind, report_id, data)
        if IncomingReportId.parse(report_id).valid:
            await _cache().aset(cache_key(kind, report_id), data, settings.REPORT_CACHE_SECONDS)
        return report

    async def details(
        self, kind: str, ids: list[IncomingReportId], *, concurrency: int = DEFAULT_CONCURRENCY
    ) -> dict[str, IncomingReport | None]:
        """The reports behind `ids` (from this person's own list): cached, else fetched concurrently.

        A report that disappeared in the meantime (404) maps to None.
        """
        _check_kind(kind)
        result: dict[str, IncomingReport | None] = {}
        wanted = []
        for item in ids:
            if item.valid:
                report = parsed(cache_key(kind, item.raw))
                if report is None:
                    wanted.append(item.raw)
                else:
                    result[item.raw] = report
        cached = await _cache().aget_many([cache_key(kind, raw) for raw in wanted]) if wanted else {}
        missing = []
        for raw in wanted:
            key = cache_key(kind, raw)
            data = cached.get(key)
            if data is None:
                missing.append(raw)
                continue
            try:
                result[raw] = report = IncomingReport.from_api(kind, raw, data)
            except errors.StalwartBadResponse:
                missing.append(raw)
            else:
                keep_parsed(key, report)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def fetch(raw: str) -> tuple[str, Any]:
            async with gate:
                try:
                    return raw, await self._client.request("GET", api_path("reports", kind, raw))
                except errors.ConcurrencyLimited:
                    return raw, errors.ConcurrencyLimited
                except errors.NotFound:
                    return raw, None

        fresh = dict(await asyncio.gather(*(fetch(raw) for raw in missing)))
        # Anything refused for concurrency is fetched again, one at a time.
        for raw, data in list(fresh.items()):
            if data is errors.ConcurrencyLimited:
                try:
                    fresh[raw] = await self._client.request("GET", api_path("reports", kind, raw))
                except errors.NotFound:
                    fresh[raw] = None
        to_cache = {}
        for raw, data in fresh.items():
            if data is None:
                result[raw] = None
                continue
            result[raw] = report = IncomingReport.from_api(kind, raw, data)
            to_cache[cache_key(kind, raw)] = data
            keep_parsed(cache_key(kind, raw), report)
        if to_cache:
            await _cache().aset_many(to_cache, settings.REPORT_CACHE_SECONDS)
        return {item.raw: result.get(item.raw) for item in ids}

    async def delete(self, kind: str, report_id: str) -> bool:
        _check_kind(kind)
        data = await self._client.request("DELETE", api_path("reports", kind, report_id))
        forget_parsed(cache_key(kind, report_id))
        await _cache().adelete(cache_key(kind, report_id))
        return data is True

    async def delete_matching(self, kind: str, *, text: str = "") -> bool:
        """Delete every report of a class matching `text` (Stalwart works in the background)."""
        _check_kind(kind)
        data = await self._client.request("DELETE", api_path("reports", kind), params={"text": text})
        return data is True
