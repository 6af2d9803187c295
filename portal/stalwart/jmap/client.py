"""`JmapClient`: method calls to Stalwart 0.16+ (`POST /jmap/`), with the server's limits.

A request carries `using` (core and `urn:stalwart:jmap`) and several method calls; later calls
may refer to earlier results (`ref()`: `query` + `get` by `#ids` in one round trip). Calls are
split to `maxCallsInRequest` per request, `/get` ids to `maxObjectsInGet` and `/set`
operations to `maxObjectsInSet` per call. The limits are read from the JMAP session once per
server URL (at sign-in) and kept in the cache.

Failures come out as the portal's one error tree (`portal.stalwart.errors`): transport faults
and HTTP errors as for REST; method errors (`forbidden` -> `Forbidden`, `notFound` ->
`ItemNotFound`, `unknownMethod` -> `UnknownMethod`, the argument errors -> `BadRequest`,
`serverUnavailable` -> `ServerError`); SetErrors with the property they name translated into
the field name the portal's forms use (`field_map`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from .. import changes, errors
from ..transport import api_url, authorization, failure, parsed, shared_client, status_failure
from ..transport import json_or_none as _json_or_none

log = logging.getLogger("portal.stalwart")

CORE = "urn:ietf:params:jmap:core"
STALWART = "urn:stalwart:jmap"
USING = (CORE, STALWART)
API_PATH = "/jmap/"
SESSION_PATH = "/jmap/session"
LIMITS_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Limits:
    max_calls: int = 16
    max_get: int = 500
    max_set: int = 500

    @classmethod
    def from_session(cls, session: Any) -> Limits:
        core = session.get("capabilities", {}).get(CORE, {}) if isinstance(session, dict) else {}

        def positive(key: str, default: int) -> int:
            value = core.get(key) if isinstance(core, dict) else None
            return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default

        return cls(
            max_calls=positive("maxCallsInRequest", 16),
            max_get=positive("maxObjectsInGet", 500),
            max_set=positive("maxObjectsInSet", 500),
        )


def ref(call_id: str, name: str, path: str = "/ids") -> dict[str, str]:
    """A result reference to an earlier call of the same request."""
    return {"resultOf": call_id, "name": name, "path": path}


def pointer(*parts: str) -> str:
    """A JSON-pointer patch key (`memberGroupIds/<id>`), each part escaped."""
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def patch(changes: Mapping[str, Any], read_only: Iterable[str] = ()) -> dict[str, Any]:
    """A PatchObject from `changes`, without the server-set properties (echoing them is `invalidPatch`)."""
    skip = frozenset(read_only) | {"id"}
    return {key: value for key, value in changes.items() if key.split("/", 1)[0] not in skip}


def set_patch(prop: str, before: Iterable[str], after: Iterable[str]) -> dict[str, Any]:
    """Patch keys that turn the set `prop` from `before` into `after`, member by member."""
    old, new = set(before), set(after)
    keys: dict[str, Any] = {pointer(prop, item): True for item in sorted(new - old)}
    keys.update({pointer(prop, item): None for item in sorted(old - new)})
    return keys


@dataclass(slots=True)
class Call:
    name: str
    arguments: dict[str, Any]
    call_id: str


@dataclass(slots=True)
class Results:
    """The answers of one batch, by call id (a method error is `("error", {...})`)."""

    answers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def __getitem__(self, call_id: str) -> dict[str, Any]:
        """The arguments of a call's answer; raises its method error as a portal error."""
        name, arguments = self.answers.get(call_id, ("", {}))
        if not name:
            raise errors.StalwartBadResponse(gettext("Stalwart's answer lacks a method response."), operation=call_id)
        if name == "error":
            if arguments.get("type") == "invalidResultReference":
                # A call whose back-reference failed because the call it refers to failed: that
                # failure is the one to explain (a refused /query, not the /get naming its ids).
                for earlier_id, (earlier, cause) in self.answers.items():
                    if earlier_id == call_id:
                        break
                    if earlier == "error" and cause.get("type") != "invalidResultReference":
                        raise method_error(cause, operation=earlier_id)
            raise method_error(arguments, operation=call_id)
        return arguments


_METHOD_BAD_REQUEST = {
    "invalidArguments",
    "unsupportedFilter",
    "unsupportedSort",
    "anchorNotFound",
    "requestTooLarge",
    "invalidResultReference",
    "cannotCalculateChanges",
}


def method_error(arguments: Mapping[str, Any], *, operation: str) -> errors.StalwartError:
    kind = str(arguments.get("type") or "")
    description = str(arguments.get("description") or "")
    body = dict(arguments)
    if kind == "forbidden":
        message = description or gettext("Forbidden.")
        return errors.Forbidden(message, status=403, title=kind, body=body, operation=operation)
    if kind in ("notFound", "accountNotFound"):
        return errors.ItemNotFound(gettext("Not found."), body={"error": "notFound"}, operation=operation)
    if kind == "unknownMethod":
        return errors.UnknownMethod(gettext("Stalwart does not know this method."), operation=operation)
    if kind in _METHOD_BAD_REQUEST:
        return errors.BadRequest(
            description or kind, status=400, title=kind, detail=description, body=body, operation=operation
        )
    if kind.startswith("server"):
        return errors.MethodFailed(
            description or kind, status=503, title=kind, detail=description, body=body, operation=operation
        )
    return errors.StalwartBadResponse(
        gettext("Stalwart refused the request (%(code)s).") % {"code": kind or "?"}, operation=operation
    )


def set_error(
    error: Mapping[str, Any], *, field_map: Mapping[str, str] | None = None, operation: str = ""
) -> errors.StalwartError:
    """A SetError (`notCreated`/`notUpdated`/`notDestroyed` entry) as a portal error.

    The property it names becomes the portal's field name through `field_map`.
    """
    kind = str(error.get("type") or "")
    description = str(error.get("description") or "")
    names = error.get("properties")
    prop = str(names[0]) if isinstance(names, list) and names else ""
    if kind == "validationFailed":
        problems = error.get("validationErrors")
        first = problems[0] if isinstance(problems, list) and problems and isinstance(problems[0], dict) else {}
        prop = str(first.get("property") or "")
        if first.get("type") == "Required":
            return errors.FieldMissing(
                gettext("This field is required."),
                body={"error": "fieldMissing", "field": _field(prop, field_map)},
                operation=operation,
            )
        description = description or gettext("The value is not valid (%(kind)s).") % {
            "kind": str(first.get("type") or "?")
        }
    mapped = _field(prop.split("/")[0], field_map)
    if kind == "primaryKeyViolation":
        return errors.FieldAlreadyExists(
            gettext("The %(field)s is already in use.") % {"field": mapped or gettext("value")},
            body={"error": "fieldAlreadyExists", "field": mapped, "value": ""},
            operation=operation,
        )
    if kind in ("notFound", "invalidForeignKey"):
        return errors.ItemNotFound(
            gettext("Not found."), body={"error": "notFound", "field": mapped}, operation=operation
        )
    if kind == "forbidden":
        return errors.Forbidden(
            description or gettext("Forbidden."), status=403, title=kind, detail=description, body=dict(error),
            operation=operation,
        )
    if kind == "overQuota":
        return errors.TenantQuotaExceeded(
            description or gettext("Quota exceeded."), status=403, title="Tenant quota exceeded",
            detail=description, body=dict(error), operation=operation,
        )
    if kind == "objectIsLinked":
        description = gettext("It is still in use: remove what refers to it first.")
    details = description or gettext("Stalwart refused the change (%(code)s).") % {"code": kind or "?"}
    return errors.OtherError(
        details, body={"error": "other", "field": mapped, "details": details, "reason": ""}, operation=operation
    )


def _field(prop: str, field_map: Mapping[str, str] | None) -> str:
    if not prop:
        return ""
    return (field_map or {}).get(prop, prop)


def _limits_key() -> str:
    return "jmap-limits:" + hashlib.sha256(settings.STALWART_URL.encode()).hexdigest()[:32]


class JmapClient:
    """Sends JMAP method calls as one person (bearer token, or Basic credentials)."""

    def __init__(
        self, access_token: str | None = None, *, basic: tuple[str, str] | None = None, client_ip: str | None = None
    ) -> None:
        self._authorization = authorization(access_token, basic)
        self._forwarded_for = client_ip if basic is not None else None
        self._counter = 0
        self._limits: Limits | None = None  # read once per client (one request's)

    def __repr__(self) -> str:  # never show the credential
        return "<JmapClient>"

    @property
    def authorization(self) -> str:
        return self._authorization

    def next_id(self) -> str:
        self._counter += 1
        return f"c{self._counter}"

    # --- transport ------------------------------------------------------------------------
    async def _http(self, method: str, path: str, body: Any = None) -> Any:
        operation = f"{method} {path}"
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        if self._forwarded_for:
            headers["X-Forwarded-For"] = self._forwarded_for
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            url = parsed(api_url(path, {}))
            response = await shared_client().request(method, url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise failure(exc, operation, started=started) from exc
        decoded = _json_or_none(response)
        if response.status_code >= 300:
            raise status_failure(response, operation, body=decoded, started=started)
        if not isinstance(decoded, dict):
            raise errors.StalwartBadResponse(
                gettext("Stalwart sent an answer the portal cannot read."), operation=operation
            )
        return decoded

    async def session(self) -> dict[str, Any]:
        """The JMAP session of this credential (limits, account ids); it also stores the limits."""
        data: dict[str, Any] = await self._http("GET", SESSION_PATH)
        self._limits = Limits.from_session(data)
        await cache.aset(_limits_key(), self._limits, timeout=LIMITS_SECONDS)
        return data

    async def limits(self) -> Limits:
        """The server's limits: kept per server for an hour, and read once per client (a
        client serves one request), however many calls it sends."""
        if self._limits is None:
            known = await cache.aget(_limits_key())
            self._limits = known if isinstance(known, Limits) else Limits.from_session(await self.session())
        return self._limits

    # --- method calls ---------------------------------------------------------------------
    async def call(self, calls: Sequence[Call], *, labels: Mapping[str, str] | None = None) -> Results:
        """Send the calls, as few requests as the server's `maxCallsInRequest` allows.

        A call may refer only to calls of the same request: back-references never cross a split
        (a call moves to the next request with the calls it refers to; what cannot fit is refused).
        Every `/set` operation is reported to the audit trail (`changes`); `labels` names what an
        id or creation key stands for there (an account's address rather than its id).
        """
        limits = await self.limits()
        chunks: list[list[Call]] = []
        for call in calls:
            if chunks and len(chunks[-1]) < limits.max_calls:
                chunks[-1].append(call)
                continue
            # A new request, which the calls at the end of the full one that this call refers to
            # join (a query and its get stay together whatever maxCallsInRequest is), if they fit.
            chunk = [call]
            wanted = set(_references(call.arguments))
            last = chunks[-1] if chunks else []
            while last and last[-1].call_id in wanted and len(chunk) < limits.max_calls:
                wanted |= set(_references(last[-1].arguments))
                chunk.insert(0, last.pop())
            chunks.append(chunk)
        chunks = [chunk for chunk in chunks if chunk]
        for chunk in chunks:
            inside = {call.call_id for call in chunk}
            for call in chunk:
                for referred in _references(call.arguments):
                    if referred not in inside:
                        raise ValueError(f"{call.name} refers to {referred}, sent in another request")
        results = Results()
        for chunk in chunks:
            await self._send(chunk, results, labels or {})
        return results

    async def _send(self, calls: Sequence[Call], results: Results, labels: Mapping[str, str]) -> None:
        names = ",".join(sorted({call.name for call in calls}))
        body = {"using": list(USING), "methodCalls": [[c.name, c.arguments, c.call_id] for c in calls]}
        try:
            data = await self._http("POST", API_PATH, body)
            responses = data.get("methodResponses")
            if not isinstance(responses, list):
                raise errors.StalwartBadResponse(gettext("Stalwart's JMAP answer is unreadable."), operation=names)
        except Exception as exc:  # the changes may or may not have been made: recorded with the failure
            await changes.report(_changes(calls, None, labels, failure=exc))
            raise
        for item in responses:
            if isinstance(item, list) and len(item) == 3 and isinstance(item[1], dict):
                results.answers[str(item[2])] = (str(item[0]), item[1])
        await changes.report(_changes(calls, results, labels))

    async def one(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        call_id = self.next_id()
        return (await self.call([Call(name, arguments, call_id)]))[call_id]

    async def get(
        self, obj: str, ids: Sequence[str] | None, properties: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        """`x:<obj>/get`, split into calls of `maxObjectsInGet` ids (sent together)."""
        limits = await self.limits()
        arguments: dict[str, Any] = {"properties": list(properties)} if properties is not None else {}
        if ids is None:
            return list((await self.one(f"x:{obj}/get", {"ids": None, **arguments})).get("list") or [])
        unique = list(dict.fromkeys(ids))
        if not unique:
            return []
        calls = [
            Call(f"x:{obj}/get", {"ids": unique[i : i + limits.max_get], **arguments}, self.next_id())
            for i in range(0, len(unique), limits.max_get)
        ]
        results = await self.call(calls)
        found: list[dict[str, Any]] = []
        for call in calls:
            found += [item for item in results[call.call_id].get("list") or [] if isinstance(item, dict)]
        return found

    async def every(
        self,
        obj: str,
        condition: Mapping[str, Any] | None = None,
        *,
        properties: Sequence[str] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        at_most: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every `x:<obj>` a `/query` finds, in its order (the first `at_most` or a little more:
        whole pages): a request per `maxObjectsInGet` of them (the query of a page and a get of
        its ids by back-reference), one for most. A query without a limit gives up to the
        server's `queryMaxResults`, more ids than one `/get` may ask for (`requestTooLarge`)."""
        limits = await self.limits()
        found: list[dict[str, Any]] = []
        position, total = 0, None
        while (total is None or position < total) and (at_most is None or position < at_most):
            query_id, get_id = self.next_id(), self.next_id()
            query: dict[str, Any] = {"position": position, "limit": limits.max_get, "calculateTotal": True}
            if condition:
                query["filter"] = dict(condition)
            if sort:
                query["sort"] = [dict(comparator) for comparator in sort]
            by_ref: dict[str, Any] = {"#ids": ref(query_id, f"x:{obj}/query")}
            if properties is not None:
                by_ref["properties"] = list(properties)
            results = await self.call([Call(f"x:{obj}/query", query, query_id), Call(f"x:{obj}/get", by_ref, get_id)])
            answer = results[query_id]
            total = answer.get("total") if isinstance(answer.get("total"), int) else 0
            ids = [str(ident) for ident in answer.get("ids") or []]
            items = {str(i.get("id")): i for i in results[get_id].get("list") or [] if isinstance(i, dict)}
            found += [items[ident] for ident in ids if ident in items]
            if not ids:
                break
            position += len(ids)
        return found

    async def set_calls(
        self,
        obj: str,
        *,
        create: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        destroy: Sequence[str] | None = None,
    ) -> list[Call]:
        """The `x:<obj>/set` calls of these operations, at most `maxObjectsInSet` in each (none
        for no operation)."""
        limits = await self.limits()
        operations: list[tuple[str, str, Any]] = [("create", key, value) for key, value in (create or {}).items()]
        operations += [("update", key, value) for key, value in (update or {}).items()]
        operations += [("destroy", key, None) for key in destroy or ()]
        calls = []
        for start in range(0, len(operations), limits.max_set):
            arguments: dict[str, Any] = {}
            for kind, key, value in operations[start : start + limits.max_set]:
                if kind == "destroy":
                    arguments.setdefault("destroy", []).append(key)
                else:
                    arguments.setdefault(kind, {})[key] = value
            calls.append(Call(f"x:{obj}/set", arguments, self.next_id()))
        return calls

    async def set(
        self,
        obj: str,
        *,
        create: Mapping[str, Any] | None = None,
        update: Mapping[str, Any] | None = None,
        destroy: Sequence[str] | None = None,
        field_map: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """`x:<obj>/set`, split into calls of `maxObjectsInSet` operations (`labels`: see `call`).

        Returns `{"created": {...}, "updated": {...}, "destroyed": [...]}`; the first SetError
        is raised as a portal error (what the other operations did is applied nonetheless).
        """
        calls = await self.set_calls(obj, create=create, update=update, destroy=destroy)
        results = await self.call(calls, labels=labels)
        merged: dict[str, Any] = {"created": {}, "updated": {}, "destroyed": []}
        failure: errors.StalwartError | None = None
        operation = f"x:{obj}/set"
        for call in calls:
            answer = results[call.call_id]
            merged["created"].update(answer.get("created") or {})
            merged["updated"].update(answer.get("updated") or {})
            merged["destroyed"] += answer.get("destroyed") or []
            for key in ("notCreated", "notUpdated", "notDestroyed"):
                for item in (answer.get(key) or {}).values():
                    if failure is None and isinstance(item, dict):
                        failure = set_error(item, field_map=field_map, operation=operation)
        if failure is not None:
            raise failure
        return merged


def _references(arguments: Mapping[str, Any]) -> Iterable[str]:
    for key, value in arguments.items():
        if key.startswith("#") and isinstance(value, dict) and isinstance(value.get("resultOf"), str):
            yield value["resultOf"]


def _label(key: str, value: Any, labels: Mapping[str, str]) -> str:
    if key in labels:
        return labels[key]
    if isinstance(value, dict):
        for prop in ("emailAddress", "name", "description", "@type"):
            if isinstance(value.get(prop), str) and value[prop]:
                return str(value[prop])
    return key


def _changes(
    calls: Sequence[Call], results: Results | None, labels: Mapping[str, str], *, failure: Exception | None = None
) -> list[changes.Change]:
    """One audit change per operation of every `/set` call, each with its own outcome."""
    found: list[changes.Change] = []
    for call in calls:
        if not (call.name.startswith("x:") and call.name.endswith("/set")):
            continue
        obj = call.name[2:-4]
        name, answer = results.answers.get(call.call_id, ("", {})) if results is not None else ("", {})
        call_error: Exception | None = failure
        if results is not None and name == "error":
            call_error = method_error(answer, operation=call.name)
        elif results is not None and not name:
            call_error = errors.StalwartBadResponse(
                gettext("Stalwart's answer lacks a method response."), operation=call.name
            )
        arguments = call.arguments
        operations: list[tuple[str, str, Any]] = [("create", k, v) for k, v in (arguments.get("create") or {}).items()]
        operations += [("update", k, v) for k, v in (arguments.get("update") or {}).items()]
        destroyed = arguments.get("destroy") or ()
        if "#destroy" in arguments:  # by back-reference: the ids are in the answer
            destroyed = [*(answer.get("destroyed") or ()), *(answer.get("notDestroyed") or {})]
        operations += [("destroy", k, None) for k in destroyed if isinstance(k, str)]
        refused_in = {"create": "notCreated", "update": "notUpdated", "destroy": "notDestroyed"}
        for operation, key, value in operations:
            error = call_error
            refused = (answer.get(refused_in[operation]) or {}).get(key) if error is None else None
            if isinstance(refused, dict):
                error = set_error(refused, operation=call.name)
            found.append(
                changes.Change(
                    action=changes.jmap_action(obj, operation, value),
                    target=_label(key, value, labels),
                    method=call.name,
                    path=API_PATH,
                    query={"operation": operation, "id": key},
                    body=value,
                    error=error,
                )
            )
    return found
