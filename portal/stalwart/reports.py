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
from collections.abc import Callable
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


def _parsed() -> BaseCache:
    """The last reports parsed, kept in this process as they are ("parsed_reports": bounded,
    as long as the "reports" cache keeps the raw answers, nothing with REPORT_CACHE_SECONDS=0).
    A list page seen a moment ago then neither unpickles nor parses its reports again (a big
    sender's DMARC report has hundreds of records): 40 % of a warm DMARC list's CPU time."""
    return caches["parsed_reports"]


def parsed(key: str) -> IncomingReport | None:
    """The report parsed under `key` in this process, if it is still kept."""
    report: IncomingReport | None = _parsed().get(key)
    return report


def keep_parsed(key: str, report: IncomingReport) -> None:
    _parsed().set(key, report, settings.REPORT_CACHE_SECONDS)


def clear_parsed() -> None:
    """Forget every parsed report (as clearing the "reports" cache forgets the raw ones)."""
    _parsed().clear()


async def recall(
    keys: dict[str, str], parse: Callable[[str, Any], IncomingReport]
) -> tuple[dict[str, IncomingReport], list[str]]:
    """For `keys` (report id -> cache key; ids from the person's own list only): the reports
    parsed before in this process, else kept raw in the "reports" cache (parsed now by
    `parse(id, raw)`, and kept parsed), and the ids found in neither, in order."""
    found: dict[str, IncomingReport] = {}
    wanted: dict[str, str] = {}
    for raw, key in keys.items():
        report = parsed(key)
        if report is None:
            wanted[raw] = key
        else:
            found[raw] = report
    cached = await _cache().aget_many(list(wanted.values())) if wanted else {}
    missing = []
    for raw, key in wanted.items():
        data = cached.get(key)
        if isinstance(data, dict):
            try:
                found[raw] = report = parse(raw, data)
            except errors.StalwartBadResponse:
                pass
            else:
                keep_parsed(key, report)
                continue
        missing.append(raw)
    return found, missing


async def remember(entries: dict[str, tuple[Any, IncomingReport]]) -> None:
    """Reports fresh from Stalwart, by cache key: the raw answer in the "reports" cache, the
    parsed report in this process."""
    if entries:
        _parsed().set_many({key: report for key, (_, report) in entries.items()}, settings.REPORT_CACHE_SECONDS)
        await _cache().aset_many({key: data for key, (data, _) in entries.items()}, settings.REPORT_CACHE_SECONDS)


async def forget(*keys: str) -> None:
    """Reports the portal deleted: out of the cache and out of this process."""
    if keys:
        _parsed().delete_many(keys)
        await _cache().adelete_many(list(keys))


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
        keys = {item.raw: cache_key(kind, item.raw) for item in ids if item.valid}
        found, missing = await recall(keys, functools.partial(IncomingReport.from_api, kind))
        result: dict[str, IncomingReport | None] = dict(found)
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
        to_keep = {}
        for raw, data in fresh.items():
            if data is None:
                result[raw] = None
                continue
            result[raw] = report = IncomingReport.from_api(kind, raw, data)
            to_keep[cache_key(kind, raw)] = (data, report)
        await remember(to_keep)
        return {item.raw: result.get(item.raw) for item in ids}

    async def delete(self, kind: str, report_id: str) -> bool:
        _check_kind(kind)
        data = await self._client.request("DELETE", api_path("reports", kind, report_id))
        await forget(cache_key(kind, report_id))
        return data is True

    async def delete_matching(self, kind: str, *, text: str = "") -> bool:
        """Delete every report of a class matching `text` (Stalwart works in the background)."""
        _check_kind(kind)
        data = await self._client.request("DELETE", api_path("reports", kind), params={"text": text})
        return data is True
