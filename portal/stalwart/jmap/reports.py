"""Incoming DMARC, TLS and ARF reports on Stalwart 0.16+: `x:DmarcExternalReport`,
`x:TlsExternalReport` and `x:ArfExternalReport` (v0.16 objects.md §13, rest-to-jmap.md 15-17).

The results are the REST area's (`portal.stalwart.reports`): `IncomingReportId` (here the
object's id, with its `expiresAt`) and `IncomingReport` with the same typed reports. The 0.16
objects carry the reports in camelCase with lower-case enum values, index-keyed lists and
sets as objects; `_rest_shape()` turns each into the shape the REST API returned, once, so
both generations share one parser.

A list page is one round trip: `/query` (sorted by expiry, newest first, with a total) and
`/get` by back-reference; the reports of that answer are kept for the rest of the request, so
`details()` after `ids()` asks nothing more. As a list brings the reports with it, the
"reports" cache (shared with the REST area, under keys naming the generation and the server:
`reports.cache_key`) only keeps what `get()` and `details()` fetched by id, and the portal's
deletions forget their entries. Tenant administrators see only their tenant's reports: the
server scopes the objects (a report of another tenant is `notFound`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.utils.translation import gettext

from .. import errors
from ..queue_types import parse_time
from ..report_types import KINDS, IncomingReport, IncomingReportId
from ..reports import cache_key
from ..types import Page
from .client import Call, JmapClient, ref, set_error

GENERATION = "jmap"
OBJECTS = {"dmarc": "DmarcExternalReport", "tls": "TlsExternalReport", "arf": "ArfExternalReport"}
#: Properties of a report object the portal reads (`memberTenantId` is not shown).
PROPERTIES = ("id", "expiresAt", "receivedAt", "from", "to", "subject", "report")


def _cache() -> BaseCache:
    return caches["reports"]


def _object(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"Unknown report class {kind!r}.")
    return OBJECTS[kind]


def _key(kind: str, report_id: str) -> str:
    return cache_key(kind, report_id, generation=GENERATION)


# --------------------------------------------------------------------------- wire -> REST shape
def _entries(value: Any) -> list[dict[str, Any]]:
    """A JMAP list (`{"0": {...}, "1": {...}}`) in index order."""
    if isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
        return [item for _, item in pairs if isinstance(item, dict)]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _members(value: Any) -> list[str]:
    """A JMAP set (`{"a": true}`) as its members."""
    if isinstance(value, dict):
        return [str(key) for key, on in value.items() if on]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _cap(value: Any) -> Any:
    """`pass` -> `Pass`, `tempError` -> `TempError`: the enum spelling of the REST API."""
    return value[:1].upper() + value[1:] if isinstance(value, str) else value


def _stamp(value: Any) -> int | None:
    """A UTCDate as the seconds the REST API gave."""
    try:
        moment = parse_time(value, field="date") if isinstance(value, str) else None
    except errors.StalwartBadResponse:
        return None
    return int(moment.timestamp()) if moment else None


def _when(value: Any) -> datetime | None:
    try:
        return parse_time(value, field="date") if isinstance(value, str) else None
    except errors.StalwartBadResponse:
        return None


# RFC 7489 `fo` tags of the 0.16 set `policyFailureReportingOptions`.
_FO = {"all": "0", "any": "1", "dkimFailure": "d", "spfFailure": "s"}
# TLS result types whose REST (RFC 8460) spelling is not the camelCase split at capitals.
_TLS_RESULT = {"startTlsNotSupported": "starttls-not-supported", "stsWebpkiInvalid": "sts-webpki-invalid"}
_TLS_POLICY = {"noPolicyFound": "no-policy-found"}


def _kebab(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value in _TLS_RESULT:
        return _TLS_RESULT[value]
    return "".join(f"-{ch.lower()}" if ch.isupper() else ch for ch in value)


def _dmarc(report: Mapping[str, Any]) -> dict[str, Any]:
    records = []
    for record in _entries(report.get("records")):
        records.append(
            {
                "row": {
                    "source_ip": record.get("sourceIp"),
                    "count": record.get("count"),
                    "policy_evaluated": {
                        "disposition": _cap(record.get("evaluatedDisposition")),
                        "dkim": _cap(record.get("evaluatedDkim")),
                        "spf": _cap(record.get("evaluatedSpf")),
                        "reason": [
                            {"type_": _cap(reason.get("overrideType")), "comment": reason.get("comment")}
                            for reason in _entries(record.get("policyOverrideReasons"))
                        ],
                    },
                },
                "identifiers": {
                    "envelope_to": record.get("envelopeTo"),
                    "envelope_from": record.get("envelopeFrom"),
                    "header_from": record.get("headerFrom"),
                },
                "auth_results": {
                    "dkim": [
                        {
                            "domain": item.get("domain"),
                            "selector": item.get("selector"),
                            "result": _cap(item.get("result")),
                            "human_result": item.get("humanResult"),
                        }
                        for item in _entries(record.get("dkimResults"))
                    ],
                    "spf": [
                        {
                            "domain": item.get("domain"),
                            "scope": _cap(item.get("scope")),
                            "result": _cap(item.get("result")),
                            "human_result": item.get("humanResult"),
                        }
                        for item in _entries(record.get("spfResults"))
                    ],
                },
            }
        )
    fo = ":".join(_FO.get(option, option) for option in _members(report.get("policyFailureReportingOptions")))
    return {
        "report_metadata": {
            "org_name": report.get("orgName"),
            "email": report.get("email"),
            "extra_contact_info": report.get("extraContactInfo"),
            "report_id": report.get("reportId"),
            "date_range": {"begin": _stamp(report.get("dateRangeBegin")), "end": _stamp(report.get("dateRangeEnd"))},
            "error": _members(report.get("errors")),
        },
        "policy_published": {
            "domain": report.get("policyDomain"),
            "adkim": _cap(report.get("policyAdkim")),
            "aspf": _cap(report.get("policyAspf")),
            "p": _cap(report.get("policyDisposition")),
            "sp": _cap(report.get("policySubdomainDisposition")),
            "testing": report.get("policyTestingMode") is True,
            "fo": fo or None,
        },
        "record": records,
    }


def _tls(report: Mapping[str, Any]) -> dict[str, Any]:
    policies = []
    for policy in _entries(report.get("policies")):
        policy_type = policy.get("policyType")
        policies.append(
            {
                "policy": {
                    "policy-type": _TLS_POLICY.get(policy_type, policy_type) if isinstance(policy_type, str) else None,
                    "policy-string": _members(policy.get("policyStrings")),
                    "policy-domain": policy.get("policyDomain"),
                    "mx-host": _members(policy.get("mxHosts")),
                },
                "summary": {
                    "total-successful-session-count": policy.get("totalSuccessfulSessions"),
                    "total-failure-session-count": policy.get("totalFailedSessions"),
                },
                "failure-details": [
                    {
                        "result-type": _kebab(failure.get("resultType")),
                        "sending-mta-ip": failure.get("sendingMtaIp"),
                        "receiving-mx-hostname": failure.get("receivingMxHostname"),
                        "receiving-mx-helo": failure.get("receivingMxHelo"),
                        "receiving-ip": failure.get("receivingIp"),
                        "failed-session-count": failure.get("failedSessionCount"),
                        "additional-information": failure.get("additionalInformation"),
                        "failure-reason-code": failure.get("failureReasonCode"),
                    }
                    for failure in _entries(policy.get("failureDetails"))
                ],
            }
        )
    return {
        "organization-name": report.get("organizationName"),
        "contact-info": report.get("contactInfo"),
        "report-id": report.get("reportId"),
        "date-range": {"start-datetime": report.get("dateRangeStart"), "end-datetime": report.get("dateRangeEnd")},
        "policies": policies,
    }


_ARF_STRINGS = (
    "originalEnvelopeId originalMailFrom originalRcptTo reportingMta sourceIp userAgent dkimAdspDns "
    "dkimCanonicalizedBody dkimCanonicalizedHeader dkimDomain dkimIdentity dkimSelector dkimSelectorDns spfDns "
    "message headers"
).split()


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def _arf(report: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {_snake(name): report.get(name) for name in _ARF_STRINGS}
    shaped.update(
        feedback_type=_cap(report.get("feedbackType")),
        version=report.get("version"),
        arrival_date=_stamp(report.get("arrivalDate")),
        incidents=report.get("incidents"),
        authentication_results=_members(report.get("authenticationResults")),
        reported_domain=_members(report.get("reportedDomains")),
        reported_uri=_members(report.get("reportedUris")),
        source_port=report.get("sourcePort"),
        auth_failure=_cap(report.get("authFailure")),
        delivery_result=_cap(report.get("deliveryResult")),
        identity_alignment=_cap(report.get("identityAlignment")),
    )
    return shaped


_SHAPES = {"dmarc": _dmarc, "tls": _tls, "arf": _arf}


def _rest_shape(kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope and report of a 0.16 object as `GET /api/reports/{kind}/{id}` answered."""
    return {
        "from": obj.get("from"),
        "to": _members(obj.get("to")),
        "subject": obj.get("subject"),
        "report": _SHAPES[kind](_dict(obj.get("report"))),
    }


def report_id(obj: Mapping[str, Any]) -> IncomingReportId:
    return IncomingReportId(str(obj.get("id") or ""), _when(obj.get("expiresAt")))


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
        received=_when(obj.get("receivedAt")),
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
            self._seen[(kind, str(item.get("id")))] = to_report(kind, item)
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
        await _cache().aset(_key(kind, report_id), item, settings.REPORT_CACHE_SECONDS)
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
        missing = [raw for raw in wanted if (kind, raw) not in self._seen]
        cached = await _cache().aget_many([_key(kind, raw) for raw in missing]) if missing else {}
        fetch = []
        for raw in missing:
            data = cached.get(_key(kind, raw))
            if isinstance(data, dict):
                try:
                    self._seen[(kind, raw)] = to_report(kind, data)
                    continue
                except errors.StalwartBadResponse:
                    pass
            fetch.append(raw)
        if fetch:
            found = await self._client.get(obj, fetch, PROPERTIES)
            to_cache = {}
            for item in found:
                raw = str(item.get("id"))
                if raw in fetch:
                    self._seen[(kind, raw)] = to_report(kind, item)
                    to_cache[_key(kind, raw)] = item
            if to_cache:
                await _cache().aset_many(to_cache, settings.REPORT_CACHE_SECONDS)
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
            await _cache().adelete(_key(kind, report_id))
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
            if destroyed:
                await _cache().adelete_many([_key(kind, raw) for raw in destroyed])
            refused = [item for item in (answer.get("notDestroyed") or {}).values() if isinstance(item, dict)]
            if refused and not destroyed:
                raise set_error(refused[0], operation=f"x:{obj}/set")
            if not destroyed or not isinstance(total, int) or total <= len(destroyed):
                return True
