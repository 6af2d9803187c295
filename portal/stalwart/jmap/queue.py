"""The queue on Stalwart 0.16+: `x:QueuedMessage` and the outgoing report queue
(`x:DmarcInternalReport`, `x:TlsInternalReport`), as the same typed results the REST area
(`portal.stalwart.queue`) returns.

* Ids: a queued message's JMAP id is its queue id in Stalwart's base 32; the portal keeps the
  number (URLs, `QueuedMessage.id`). An outgoing report is `d-<id>` (DMARC) or `t-<id>` (TLS):
  the two objects number their reports separately.
* The 0.16 shapes are read into the REST wire shapes once (`rest_message` here, the report
  documents in `report_shapes`, shared with the incoming reports), so that the typed models
  parse one shape.
* A list page is one request (`/query` with `calculateTotal` and `/get` by back-reference).
* There is no bulk operation on the server: a bulk retry or cancel queries the ids the
  selection matches and the caller may change (`/get` answers only those: a tenant
  administrator's `/query` also lists messages it cannot touch), then updates or destroys
  them in calls of at most `maxObjectsInSet`. The preview counts the same ids.
* 0.16 does not report whether delivery is paused (`running()` is None); pausing and resuming
  are the `x:Action`s `PauseMtaQueue`/`ResumeMtaQueue`, which do not say the state before.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from django.utils.translation import gettext

from .. import errors
from ..blobs import HEADER_LIMIT, header_block
from ..queue_types import OutgoingReportId, QueuedMessage, QueuePage, QueueSelection, rfc3339
from ..report_types import OutgoingReport
from ..transport import api_url, failure, shared_client, status_failure
from ..types import Page
from . import report_shapes as shapes
from . import wire
from .client import Call, JmapClient, pointer, ref, set_error
from .ids import id_number, id_text

MESSAGE = "QueuedMessage"
REPORTS = {"dmarc": "DmarcInternalReport", "tls": "TlsInternalReport"}
MESSAGE_PROPERTIES = ["blobId", "createdAt", "envId", "nextRetry", "priority", "recipients", "returnPath", "size"]
REPORT_SUMMARY = ["domain", "createdAt", "deliverAt"]


def _now() -> str:
    return rfc3339(datetime.now(UTC))


# --- 0.16 shapes as the REST shapes ---------------------------------------------------------
def _status_text(status: Mapping[str, Any]) -> str:
    """An x:RecipientStatus as Stalwart <= 0.15 wrote it (`<where>: Code: …, Message: …`)."""
    host = str(status.get("responseHostname") or "")
    code = status.get("responseCode")
    if isinstance(code, int) and not isinstance(code, bool):
        where = f"Unexpected response from '{host}': " if host else ""
        enhanced = str(status.get("responseEnhanced") or "0.0.0")
        return f"{where}Code: {code}, Enhanced code: {enhanced}, Message: {status.get('responseMessage') or ''}"
    message = str(status.get("errorMessage") or status.get("responseMessage") or status.get("errorType") or "")
    return f"{host}: {message}" if host and message else message


def _rest_status(value: Any) -> Any:
    status = wire.obj(value)
    kind = {"Completed": "completed", "TemporaryFailure": "temp_fail", "PermanentFailure": "perm_fail"}.get(
        str(status.get("@type") or "")
    )
    return {kind: _status_text(status)} if kind else "scheduled"


def rest_message(item: Mapping[str, Any]) -> dict[str, Any]:
    """An x:QueuedMessage in the shape of `GET /api/queue/messages/{id}` (0.13+: flat recipients)."""
    recipients = []
    for address, value in wire.obj(item.get("recipients")).items():
        recipient = wire.obj(value)
        expires = wire.obj(recipient.get("expires"))
        status = _rest_status(recipient.get("status"))
        # A delivered or failed recipient's retry times are history, not its domain's schedule.
        waiting = status == "scheduled" or (isinstance(status, dict) and "temp_fail" in status)
        recipients.append(
            {
                "address": str(address),
                "status": status,
                "retry_num": recipient.get("retryCount") if isinstance(recipient.get("retryCount"), int) else 0,
                "next_retry": recipient.get("retryDue") if waiting else None,
                "next_notify": recipient.get("notifyDue") if waiting else None,
                "expires": expires.get("expiresAt") if waiting and expires.get("@type") == "Ttl" else None,
                "orcpt": recipient.get("orcpt"),
                "queue": recipient.get("queueName"),
            }
        )
    return {
        "id": id_number(item.get("id")),
        "return_path": item.get("returnPath"),
        "created": item.get("createdAt"),
        "size": item.get("size"),
        "priority": item.get("priority"),
        "env_id": item.get("envId"),
        "blob_hash": item.get("blobId"),
        "recipients": recipients,
    }


def to_message(item: Mapping[str, Any]) -> QueuedMessage:
    return QueuedMessage.from_api(rest_message(item))


# --- outgoing report ids --------------------------------------------------------------------
def report_key(kind: str, jmap_id: str) -> str:
    return f"{kind[0]}-{jmap_id}"


def parse_report_key(key: str) -> tuple[str, str] | None:
    """(`dmarc`|`tls`, JMAP id) of a portal report id, None when it is not one."""
    letter, _, jmap_id = key.partition("-")
    kind = {"d": "dmarc", "t": "tls"}.get(letter)
    if kind is None or id_number(jmap_id) is None:
        return None
    return kind, jmap_id


def _report_id(kind: str, item: Mapping[str, Any]) -> OutgoingReportId:
    """The list entry of a queued report: `range_from` is when it was started, `due` when it is sent."""
    return OutgoingReportId(
        raw=report_key(kind, str(item.get("id") or "")),
        kind=kind,
        domain=str(item.get("domain") or ""),
        range_from=wire.when(item.get("createdAt")),
        due=wire.when(item.get("deliverAt")),
    )


def _total(answer: Mapping[str, Any]) -> int:
    total = answer.get("total")
    return total if isinstance(total, int) and not isinstance(total, bool) else 0


def _message_filter(selection: QueueSelection) -> dict[str, Any]:
    """The `/query` filter of a selection: `text` wins over `returnPath`/`to`, as on the server."""
    conditions: dict[str, Any] = {}
    if selection.text:
        conditions["text"] = selection.text
    else:
        if selection.sender:
            conditions["returnPath"] = selection.sender
        if selection.recipient:
            conditions["to"] = selection.recipient.lower()
    if selection.before:
        conditions["dueIsLessThan"] = rfc3339(selection.before)
    if selection.after:
        conditions["dueIsGreaterThan"] = rfc3339(selection.after)
    if selection.queue:
        conditions["queueName"] = selection.queue
    return conditions


_BY_DUE = [{"property": "due", "isAscending": True}]


class JmapQueue:
    """`queue.*` for a 0.16+ server (see the module's docstring)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    # --- messages ---------------------------------------------------------------------------
    async def messages(self, selection: QueueSelection, *, page: int = 1, limit: int = 25) -> QueuePage:
        """One page of queued messages, soonest next attempt first, in one request."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        query_id, get_id = self._client.next_id(), self._client.next_id()
        query = {
            "filter": _message_filter(selection),
            "sort": _BY_DUE,
            "position": (page - 1) * limit,
            "limit": limit,
            "calculateTotal": True,
        }
        results = await self._client.call(
            [
                Call(f"x:{MESSAGE}/query", query, query_id),
                Call(
                    f"x:{MESSAGE}/get",
                    {"#ids": ref(query_id, f"x:{MESSAGE}/query"), "properties": MESSAGE_PROPERTIES},
                    get_id,
                ),
            ]
        )
        total = _total(results[query_id])
        return QueuePage(items=self._ordered(results[query_id], results[get_id]), total=total, running=None)

    @staticmethod
    def _ordered(query: Mapping[str, Any], got: Mapping[str, Any]) -> tuple[QueuedMessage, ...]:
        order = {value: index for index, value in enumerate(query.get("ids") or [])}
        found = [item for item in got.get("list") or [] if isinstance(item, dict)]
        found.sort(key=lambda item: order.get(item.get("id"), len(order)))
        return tuple(to_message(item) for item in found)

    async def _get(self, message_id: int) -> dict[str, Any]:
        found = await self._client.get(MESSAGE, [id_text(message_id)], MESSAGE_PROPERTIES)
        if not found:
            raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation=f"x:{MESSAGE}/get")
        return found[0]

    async def message(self, message_id: int) -> QueuedMessage:
        return to_message(await self._get(message_id))

    async def retry(self, message_id: int, *, domain: str = "") -> bool:
        """Deliver now: every pending recipient (`nextRetry`), or those of the pending domains
        whose name contains `domain` (`recipients/<address>/retryDue`)."""
        message = await self.message(message_id)
        pending = [d for d in message.pending_domains if domain in d.name]
        if not pending:
            return False
        now = _now()
        if not domain:
            changes: dict[str, Any] = {"nextRetry": now}
        else:
            changes = {pointer("recipients", r.address, "retryDue"): now for d in pending for r in d.recipients}
        await self._client.set(MESSAGE, update={id_text(message_id): changes})
        return True

    async def cancel(self, message_id: int, *, recipients: str = "") -> bool:
        """Cancel the pending recipients whose lowercased address contains `recipients`, or the
        whole message (destroy)."""
        if not recipients:
            await self._client.set(MESSAGE, destroy=[id_text(message_id)])
            return True
        message = await self.message(message_id)
        item = recipients.lower()
        chosen = [r for r in message.recipients if item in r.address.lower() and r.effective.pending]
        if not chosen:
            return False
        changes = {pointer("recipients", r.address): None for r in chosen}
        await self._client.set(MESSAGE, update={id_text(message_id): changes})
        return True

    async def matching(self, selection: QueueSelection) -> builtins.list[str]:
        """The ids of every message the selection matches that the caller may change, soonest first."""
        limits = await self._client.limits()
        step = limits.max_get
        position, ids = 0, []
        while True:
            query_id, get_id = self._client.next_id(), self._client.next_id()
            query = {
                "filter": _message_filter(selection),
                "sort": _BY_DUE,
                "position": position,
                "limit": step,
                "calculateTotal": True,
            }
            results = await self._client.call(
                [
                    Call(f"x:{MESSAGE}/query", query, query_id),
                    Call(
                        f"x:{MESSAGE}/get",
                        {"#ids": ref(query_id, f"x:{MESSAGE}/query"), "properties": ["id"]},
                        get_id,
                    ),
                ]
            )
            listed = [str(i) for i in results[query_id].get("ids") or []]
            allowed = {str(item.get("id")) for item in results[get_id].get("list") or [] if isinstance(item, dict)}
            ids += [i for i in listed if i in allowed]
            position += len(listed)
            if not listed or position >= _total(results[query_id]):
                return list(dict.fromkeys(ids))

    async def preview(self, selection: QueueSelection, *, limit: int = 10) -> QueuePage:
        """What a bulk action on `selection` would touch: the exact count and the first `limit`."""
        ids = await self.matching(selection)
        first = await self._client.get(MESSAGE, ids[:limit], MESSAGE_PROPERTIES) if ids else []
        order = {value: index for index, value in enumerate(ids)}
        first.sort(key=lambda item: order.get(str(item.get("id")), len(order)))
        return QueuePage(items=tuple(to_message(item) for item in first), total=len(ids), running=None)

    async def _set_each(self, obj: str, *, update: Mapping[str, Any] | None = None, destroy: Sequence[str] = ()) -> int:
        """`/set` in calls of at most `maxObjectsInSet`; what left the queue meanwhile (`notFound`)
        is skipped. Returns how many were changed; the first other SetError is raised."""
        calls = await self._client.set_calls(obj, update=update, destroy=destroy)
        if not calls:
            return 0
        results = await self._client.call(calls)
        changed = 0
        for call in calls:
            answer = results[call.call_id]
            changed += len(answer.get("updated") or {}) + len(answer.get("destroyed") or [])
            for key in ("notUpdated", "notDestroyed"):
                for error in (answer.get(key) or {}).values():
                    if isinstance(error, dict) and error.get("type") != "notFound":
                        raise set_error(error, operation=f"x:{obj}/set")
        return changed

    async def retry_matching(self, selection: QueueSelection) -> bool:
        """Retry now every message the selection matches. True if any was changed."""
        now = _now()
        ids = await self.matching(selection)
        return await self._set_each(MESSAGE, update={i: {"nextRetry": now} for i in ids}) > 0

    async def cancel_matching(self, selection: QueueSelection) -> bool:
        """Remove every message the selection matches from the queue. True if any was removed."""
        ids = await self.matching(selection)
        return await self._set_each(MESSAGE, destroy=ids) > 0

    async def headers(self, message: QueuedMessage) -> str:
        """The message's headers, from at most its first 10 KiB (a JMAP download; needs
        `fetchAnyBlob`). The download is read as a stream and closed after 10 KiB."""
        if not message.blob_hash:
            raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation="download")
        session = await self._client.session()
        accounts = wire.obj(session.get("primaryAccounts"))
        account = str(accounts.get("urn:stalwart:jmap") or accounts.get("urn:ietf:params:jmap:core") or "")
        if not account:
            account = next(iter(wire.obj(session.get("accounts"))), "")
        path = f"/jmap/download/{quote(account, safe='')}/{quote(message.blob_hash, safe='')}/message.eml"
        operation = "GET /jmap/download"
        headers = {"Authorization": self._client.authorization, "Accept": "message/rfc822"}
        url = api_url(path, {"accept": "message/rfc822"})
        try:
            async with shared_client().stream("GET", url, headers=headers) as response:
                if response.status_code == 404:
                    raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation=operation)
                if response.status_code >= 300:
                    await response.aread()
                    raise status_failure(response, operation, body=None)
                data = b""
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) >= HEADER_LIMIT:
                        break
        except httpx.HTTPError as exc:
            raise failure(exc, operation) from exc
        return header_block(data[:HEADER_LIMIT])

    # --- running state ----------------------------------------------------------------------
    async def running(self) -> bool | None:
        """0.16 does not report whether delivery is paused."""
        return None

    async def set_running(self, running: bool) -> bool | None:
        """Pause or resume delivery (`x:Action`); the state before is not reported (None)."""
        action = "ResumeMtaQueue" if running else "PauseMtaQueue"
        await self._client.set("Action", create={"a": {"@type": action}})
        return None

    # --- outgoing reports -------------------------------------------------------------------
    async def reports(
        self, *, kind: str = "", domain: str = "", page: int = 1, limit: int = 25
    ) -> Page[OutgoingReportId]:
        """Queued reports of one type or both, ordered by domain; `domain` is the whole domain
        name (the only filter 0.16 has). Both types are merged by domain in one request."""
        if page < 1 or limit < 1:
            raise ValueError("page and limit start at 1.")
        kinds = [kind] if kind in REPORTS else list(REPORTS)
        conditions = {"domain": domain.strip().lower()} if domain.strip() else {}
        end = page * limit
        limits = await self._client.limits()
        single = len(kinds) == 1
        window = limit if single else end
        position = (page - 1) * limit if single else 0
        if window > limits.max_get:  # a deep page of both types: the ids first, then their domains
            return await self._deep_reports(kinds, conditions, page=page, limit=limit)
        calls, pairs = [], []
        for name in kinds:
            obj = REPORTS[name]
            query_id, get_id = self._client.next_id(), self._client.next_id()
            query = {
                "filter": conditions,
                "sort": [{"property": "domain", "isAscending": True}],
                "position": position,
                "limit": window,
                "calculateTotal": True,
            }
            calls += [
                Call(f"x:{obj}/query", query, query_id),
                Call(f"x:{obj}/get", {"#ids": ref(query_id, f"x:{obj}/query"), "properties": REPORT_SUMMARY}, get_id),
            ]
            pairs.append((name, query_id, get_id))
        results = await self._client.call(calls)
        total, merged = 0, []
        for name, query_id, get_id in pairs:
            total += _total(results[query_id])
            order = {value: index for index, value in enumerate(results[query_id].get("ids") or [])}
            found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
            found.sort(key=lambda item: order.get(item.get("id"), len(order)))
            merged += [_report_id(name, item) for item in found]
        merged.sort(key=lambda r: (r.domain, r.kind))
        items = merged if single else merged[(page - 1) * limit : end]
        return Page(items=tuple(items), total=total)

    async def _deep_reports(
        self, kinds: builtins.list[str], conditions: dict[str, Any], *, page: int, limit: int
    ) -> Page[OutgoingReportId]:
        merged, total = [], 0
        for name in kinds:
            obj = REPORTS[name]
            answer = await self._client.one(
                f"x:{obj}/query",
                {
                    "filter": conditions,
                    "sort": [{"property": "domain", "isAscending": True}],
                    "position": 0,
                    "limit": page * limit,
                    "calculateTotal": True,
                },
            )
            total += _total(answer)
            found = await self._client.get(obj, [str(i) for i in answer.get("ids") or []], REPORT_SUMMARY)
            merged += [_report_id(name, item) for item in found]
        merged.sort(key=lambda r: (r.domain, r.kind))
        return Page(items=tuple(merged[(page - 1) * limit : page * limit]), total=total)

    async def report(self, report_id: str) -> OutgoingReport:
        parsed = parse_report_key(report_id)
        if parsed is None:
            raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation="report")
        kind, jmap_id = parsed
        found = await self._client.get(REPORTS[kind], [jmap_id])
        if not found:
            raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation="report")
        item = found[0]
        body = shapes.rest_report(kind, item.get("report"))
        if kind == "dmarc":
            rua = wire.members(item.get("rua"))
            begin, end = body["report_metadata"]["date_range"]["begin"], body["report_metadata"]["date_range"]["end"]
        else:
            rua = wire.members(item.get("mailRua")) + wire.members(item.get("httpRua"))
            begin = body["date-range"]["start-datetime"]
            end = body["date-range"]["end-datetime"]

        def moment(value: Any) -> str | None:
            if isinstance(value, int):
                return rfc3339(datetime.fromtimestamp(value, UTC))
            return value if isinstance(value, str) else None

        return OutgoingReport.from_api(
            {
                "type": kind,
                "id": report_id,
                "domain": item.get("domain"),
                "range_from": moment(begin) or item.get("createdAt"),
                "range_to": moment(end) or item.get("deliverAt"),
                "due": item.get("deliverAt"),
                "report": body,
                "rua": [{"uri": uri} for uri in rua],
            }
        )

    async def report_scope(self) -> frozenset[str] | None:
        """The domains the caller's outgoing reports are confined to, None for all.

        0.16's queued reports are not tenant-scoped (objects.md §14): every caller with the
        permission sees every tenant's. A tenant member is confined to their tenant's domains,
        which are the domains the server lists them; it shows a caller of no tenant each domain's
        `memberTenantId` and hides it from tenant members (objects.md "Tenants"), which tells the
        two apart. A caller who may not list domains is confined to none (fails closed)."""
        query_id, get_id = self._client.next_id(), self._client.next_id()
        limit = (await self._client.limits()).max_get
        try:
            results = await self._client.call(
                [
                    Call("x:Domain/query", {"position": 0, "limit": limit}, query_id),
                    Call(
                        "x:Domain/get",
                        {"#ids": ref(query_id, "x:Domain/query"), "properties": ["name", "memberTenantId"]},
                        get_id,
                    ),
                ]
            )
            found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        except errors.Forbidden:
            return frozenset()
        if found and all("memberTenantId" in item for item in found):
            return None
        return frozenset(str(item.get("name") or "").lower() for item in found if item.get("name"))

    async def report_ref(self, report_id: str) -> OutgoingReportId | None:
        """The list entry of one queued report (its domain and due time), None when it is gone."""
        parsed = parse_report_key(report_id)
        if parsed is None:
            return None
        kind, jmap_id = parsed
        found = await self._client.get(REPORTS[kind], [jmap_id], REPORT_SUMMARY)
        return _report_id(kind, found[0]) if found else None

    async def reschedule_report(self, report_id: str, deliver_at: datetime) -> None:
        """Send a queued report at `deliver_at` (objects.md §14: an update of exactly `deliverAt`,
        which must be in the future; a refusal names the portal's field `deliver_at`)."""
        parsed = parse_report_key(report_id)
        if parsed is None:
            raise errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation="report")
        kind, jmap_id = parsed
        await self._client.set(
            REPORTS[kind], update={jmap_id: {"deliverAt": rfc3339(deliver_at)}}, field_map={"deliverAt": "deliver_at"}
        )

    async def delete_report(self, report_id: str) -> bool:
        parsed = parse_report_key(report_id)
        if parsed is None:
            return False
        kind, jmap_id = parsed
        await self._client.set(REPORTS[kind], destroy=[jmap_id])
        return True

    async def delete_reports_matching(self, *, kind: str = "", domain: str = "") -> bool:
        """Cancel every queued report of the type(s) for the domain: the ids first, then destroy."""
        kinds = [kind] if kind in REPORTS else list(REPORTS)
        conditions = {"domain": domain.strip().lower()} if domain.strip() else {}
        changed = 0
        for name in kinds:
            obj = REPORTS[name]
            ids = await self._report_ids(obj, conditions)
            changed += await self._set_each(obj, destroy=ids)
        return changed > 0

    async def _report_ids(self, obj: str, conditions: dict[str, Any]) -> builtins.list[str]:
        limits = await self._client.limits()
        position, ids = 0, []
        while True:
            answer = await self._client.one(
                f"x:{obj}/query",
                {"filter": conditions, "position": position, "limit": limits.max_set, "calculateTotal": True},
            )
            listed = [str(i) for i in answer.get("ids") or []]
            ids += listed
            position += len(listed)
            if not listed or position >= _total(answer):
                return list(dict.fromkeys(ids))
