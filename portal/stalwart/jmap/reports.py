"""Incoming DMARC, TLS and ARF reports on Stalwart 0.16+: `x:DmarcExternalReport`,
`x:TlsExternalReport` and `x:ArfExternalReport` (v0.16 objects.md §13, rest-to-jmap.md 15-17).

The results are the REST area's (`portal.stalwart.reports`): `IncomingReportId` (here the
object's id, with its `expiresAt`) and `IncomingReport` with the same typed reports. The 0.16
objects carry the reports in camelCase with lower-case enum values, index-keyed lists and
sets as objects; `_rest_shape()` turns each into the shape the REST API returned, once
(`report_shapes`, shared with the outgoing reports of the queue), so both generations share
one parser.

A list page is one round trip: `/query` (sorted by expiry, newest first, with a total) and
`/get` by back-reference; the reports of that answer are kept for the rest of the request, so
`details()` after `ids()` asks nothing more, and the last reports parsed stay parsed in the
process (`reports.parsed`: a report met again is not converted again). As a list brings the
reports with it, the
"reports" cache (shared with the REST area, under keys naming the generation and the server:
`reports.cache_key`) only keeps what `get()` and `details()` fetched by id, and the portal's
deletions forget their entries. Tenant administrators see only their tenant's reports: the
server scopes the objects (a report of another tenant is `notFound`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from .. import errors
from ..report_types import KINDS, IncomingReport, IncomingReportId
from ..reports import cache_key, forget, keep_parsed, parsed, recall, remember
from ..types import Page
from . import report_shapes as shapes
from . import wire
from .client import Call, JmapClient, ref, set_error

GENERATION = "jmap"
OBJECTS = {"dmarc": "DmarcExternalReport", "tls": "TlsExternalReport", "arf": "ArfExternalReport"}
#: Properties of a report object the portal reads (`memberTenantId` is not shown).
PROPERTIES = ("id", "expiresAt", "receivedAt", "from", "to", "subject", "report")


def _object(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown report class {kind!r}.")
    return OBJECTS[kind]


def _key(kind: str, report_id: str) -> str:
    return cache_key(kind, report_id, generation=GENERATION)


def _rest_shape(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope and report of a 0.16 object as `GET /api/reports/{kind}/{id}` answered."""
    return {
        "from": obj.get("from"),
        "to": wire.members(obj.get("to")),
        "subject": obj.get("subject"),
        "report": shapes.rest_report(kind, obj.get("report")),
    }


def report_id(obj: Mapping[str, Any]) -> IncomingReportId:
    return IncomingReportId(str(obj.get("id") or ""), wire.when(obj.get("expiresAt")))


def to_report(kind: str, obj: Mapping[str, Any]) -> IncomingReport:
    """An `x:<Kind>ExternalReport` object as the portal's `IncomingReport`."""
    if not isinstance(obj.get("id"), str):
        raise errors.StalwartBadResponse(gettext("Unexpected report."), operation=f"x:{_object(kind)}/get")
    parsed = IncomingReport.from_api(kind, obj["id"], _rest_shape(kind, obj))
    return IncomingReport(
        kind=kind,
        id=report_id(obj),
        sender=parsed.sender,
        recipients=parsed.recipients,
        subject=parsed.subject,
        report=parsed.report,
        received=wire.when(obj.get("receivedAt")),
    )


def _not_found(operation: str) -> errors.NotFound:
    return errors.NotFound(gettext("Not found."), status=404, title="notFound", operation=operation)


class JmapReports:
    """The `reports` area of `JmapBackend` (one per request)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client
        # Reports this request has read, by (kind, id): details() after ids() costs nothing.
        self._seen: dict[tuple[str, str], IncomingReport] = {}

    async def ids(
        self, kind: str, *, text: str = "", page: int = 1, limit: int = 25, max_total: int = 0
    ) -> Page[IncomingReportId]:
        """One page of reports, newest expiry first, with their contents (one request)."""
        obj = _object(kind)
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        conditions: dict[str, Any] = {"text": text.strip()} if text.strip() else {}
        query = {
            "filter": conditions,
            "sort": [{"property": "expiresAt", "isAscending": False}],
            "position": (page - 1) * limit,
            "limit": limit,
            "calculateTotal": True,
        }
        limits = await self._client.limits()
        query_id, get_id = self._client.next_id(), self._client.next_id()
        calls = [Call(f"x:{obj}/query", query, query_id)]
        by_reference = limit <= limits.max_get  # else the ids are read in a second request, split to the limit
        if by_reference:
            by_ref = {"#ids": ref(query_id, f"x:{obj}/query"), "properties": list(PROPERTIES)}
            calls.append(Call(f"x:{obj}/get", by_ref, get_id))
        results = await self._client.call(calls)
        answer = results[query_id]
        found = [str(item) for item in answer.get("ids") or [] if isinstance(item, str)]
        total = answer.get("total")
        if isinstance(total, bool) or not isinstance(total, int):
            total = len(found) + (page - 1) * limit
        if max_total:
            total = min(total, max_total)
        try:
            if by_reference:
                objects = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
            else:
                objects = await self._client.get(obj, found, PROPERTIES)
        except errors.Forbidden:
            objects = []  # allowed to list, not to read: only the ids are shown
        for item in objects:
            self._seen[(kind, str(item.get("id")))] = self._report(kind, item)
        items = tuple(
            self._seen[(kind, raw)].id if (kind, raw) in self._seen else IncomingReportId(raw, None) for raw in found
        )
        return Page(items=items, total=total)

    async def get(self, kind: str, report_id: str) -> IncomingReport:
        """One report, always fresh from Stalwart (which checks the person's tenant)."""
        obj = _object(kind)
        if not IncomingReportId(report_id, None).valid_object_id:
            raise _not_found(f"x:{obj}/get")
        found = await self._client.get(obj, [report_id], PROPERTIES)
        item = next((item for item in found if item.get("id") == report_id), None)
        if item is None:
            raise _not_found(f"x:{obj}/get")
        report = to_report(kind, item)
        self._seen[(kind, report_id)] = report
        await remember({_key(kind, report_id): (item, report)})
        return report

    @staticmethod
    def _report(kind: str, item: Mapping[str, Any]) -> IncomingReport:
        """A report of a list answer: parsed in this process before (reports never change), or now."""
        key = _key(kind, str(item.get("id")))
        report = parsed(key)
        if report is None:
            report = to_report(kind, item)
            keep_parsed(key, report)
        return report

    async def details(
        self, kind: str, ids: list[IncomingReportId], *, concurrency: int = 0
    ) -> dict[str, IncomingReport | None]:
        """The reports behind `ids` (from this person's own list): read with the list, or
        cached, or fetched in one request; a report gone in the meantime maps to None.
        (`concurrency` is the REST area's; one JMAP request carries every id.)"""
        obj = _object(kind)
        wanted = [item.raw for item in ids if item.valid_object_id]
        result: dict[str, IncomingReport | None] = {}
        keys = {raw: _key(kind, raw) for raw in wanted if (kind, raw) not in self._seen}
        found, fetch = await recall(keys, lambda _raw, data: to_report(kind, data))
        self._seen.update(((kind, raw), report) for raw, report in found.items())
        if fetch:
            items = await self._client.get(obj, fetch, PROPERTIES)
            to_keep = {}
            for item in items:
                raw = str(item.get("id"))
                if raw in fetch:
                    self._seen[(kind, raw)] = report = to_report(kind, item)
                    to_keep[_key(kind, raw)] = (item, report)
            await remember(to_keep)
        for raw in wanted:
            result[raw] = self._seen.get((kind, raw))
        return {item.raw: result.get(item.raw) for item in ids}

    async def delete(self, kind: str, report_id: str) -> bool:
        obj = _object(kind)
        if not IncomingReportId(report_id, None).valid_object_id:
            raise _not_found(f"x:{obj}/set")
        try:
            done = await self._client.set(obj, destroy=[report_id])
        except errors.ItemNotFound:
            raise _not_found(f"x:{obj}/set") from None
        finally:
            self._seen.pop((kind, report_id), None)
            await forget(_key(kind, report_id))
        return report_id in done["destroyed"]

    async def delete_matching(self, kind: str, *, text: str = "") -> bool:
        """Delete every report of a class matching `text` (all of them without), at once.

        0.16 has no background deletion by search: each round is one request, a `/query` of
        at most `maxObjectsInSet` ids and a `/set` destroying them by back-reference, until
        nothing matches (or a round deletes nothing, so a refusal cannot loop)."""
        obj = _object(kind)
        limits = await self._client.limits()
        conditions: dict[str, Any] = {"text": text.strip()} if text.strip() else {}
        while True:
            query_id, set_id = self._client.next_id(), self._client.next_id()
            results = await self._client.call(
                [
                    Call(
                        f"x:{obj}/query",
                        {"filter": conditions, "position": 0, "limit": limits.max_set, "calculateTotal": True},
                        query_id,
                    ),
                    Call(f"x:{obj}/set", {"#destroy": ref(query_id, f"x:{obj}/query")}, set_id),
                ]
            )
            total = results[query_id].get("total")
            answer = results[set_id]
            destroyed = [str(raw) for raw in answer.get("destroyed") or []]
            for raw in destroyed:
                self._seen.pop((kind, raw), None)
            await forget(*(_key(kind, raw) for raw in destroyed))
            refused = [item for item in (answer.get("notDestroyed") or {}).values() if isinstance(item, dict)]
            if refused and not destroyed:
                raise set_error(refused[0], operation=f"x:{obj}/set")
            if not destroyed or not isinstance(total, int) or total <= len(destroyed):
                return True
