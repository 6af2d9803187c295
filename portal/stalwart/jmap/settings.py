"""Settings on Stalwart 0.16+: the `x:` singletons and collections described by the server's schema.

Stalwart 0.16 keeps its configuration in typed objects (`x:SystemSettings`, `x:NetworkListener`,
`x:SpamRule`, ...) instead of ≤0.15's key/value store, and describes every one of them in its
schema (`GET /api/schema` redirects to `/api/schema/<hash>`, the hash changing with the release).
This area reads that schema (`schema()`: the redirect is kept a few minutes per server, the
parsed schema per hash for the life of the process) and reads and writes the objects it
describes through `x:<Object>/get|query|set`:

* `list` is one round trip: `/query` (with the list's fixed filter and its text filter, paged,
  `calculateTotal` for the store's paging to follow RFC 8620) and `/get` of the page by `#ids`;
* `read` gets one object and, in the same request, the names of the objects its id fields can
  point at (for the form's choices);
* `create`/`update`/`destroy` send one `/set` and return a `SetOutcome`: the new id, or what
  the server refused with the property paths it named (`invalidPatch`/`invalidProperties`
  `properties`, `validationFailed` `validationErrors[].property`), for the form to show next
  to its fields. A refusal that is not about the values (`forbidden`, `overQuota`,
  `notFound`) is raised as the portal's error;
* `reload` is the `x:Action` `ReloadSettings`.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from .. import errors
from ..settings_types import (
    MAX_CHOICES,
    Problem,
    SetOutcome,
    SettingsItem,
    SettingsPage,
    SettingsRecord,
    SettingsSchema,
)
from ..transport import api_url, failure, shared_client, status_failure
from ..transport import json_or_none as _json_or_none
from ..types import Page
from .client import Call, JmapClient, Results, ref, set_error

SCHEMA_PATH = "/api/schema"
#: How long the address of the current schema is trusted before `/api/schema` is asked again.
LOCATION_SECONDS = 300
#: Parsed schemas kept per process (by their hash address): a handful of releases at most.
_PARSED: dict[str, SettingsSchema] = {}
_KEEP = 4


def _location_key() -> str:
    return "jmap-schema-location:" + hashlib.sha256(settings.STALWART_URL.encode()).hexdigest()[:32]


def _number(value: Any) -> str:
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else "?"


def problems_of(error: Mapping[str, Any]) -> tuple[Problem, ...]:
    """The value problems a SetError names, one per property path (empty: not about the values)."""
    kind = str(error.get("type") or "")
    description = str(error.get("description") or "")
    names = [str(name) for name in error.get("properties") or [] if isinstance(name, str)]
    if kind in ("invalidPatch", "invalidProperties"):
        message = description or gettext("This value is not valid.")
        return tuple(Problem(name, message) for name in names) or (Problem("", message),)
    if kind == "validationFailed":
        found = []
        for item in error.get("validationErrors") or []:
            if not isinstance(item, dict):
                continue
            reason = str(item.get("type") or "")
            required = _number(item.get("required"))
            messages = {
                "Required": gettext("This field is required."),
                "MinValue": gettext("The smallest value allowed is %(n)s.") % {"n": required},
                "MaxValue": gettext("The largest value allowed is %(n)s.") % {"n": required},
                "MinLength": gettext("At least %(n)s needed.") % {"n": required},
                "MaxLength": gettext("At most %(n)s allowed.") % {"n": required},
            }
            message = messages.get(reason, gettext("This value is not valid."))
            found.append(Problem(str(item.get("property") or ""), message))
        return tuple(found) or (Problem("", description or gettext("Stalwart refused the values.")),)
    if kind == "primaryKeyViolation":
        message = gettext("This value is already in use.")
        return tuple(Problem(name, message) for name in names) or (Problem("", message),)
    if kind == "invalidForeignKey":
        return (Problem("", gettext("It refers to something that does not exist.")),)
    if kind == "objectIsLinked":
        return (Problem("", gettext("It is still in use: remove what refers to it first.")),)
    if kind in ("forbidden", "overQuota", "notFound"):
        return ()
    return (Problem("", description or gettext("Stalwart refused the change (%(code)s).") % {"code": kind or "?"}),)


class JmapSettings:
    """The schema-described settings objects of Stalwart 0.16+ (`request.stalwart.registry`)."""

    def __init__(self, client: JmapClient) -> None:
        self._client = client

    # --- the schema ---------------------------------------------------------------------------
    async def schema(self) -> SettingsSchema:
        location = await cache.aget(_location_key())
        if not isinstance(location, str) or location not in _PARSED:
            location = await self._location()
        known = _PARSED.get(location)
        if known is None:
            known = SettingsSchema(await self._download(location), hash=location.rsplit("/", 1)[-1])
            while len(_PARSED) >= _KEEP:
                _PARSED.pop(next(iter(_PARSED)))
            _PARSED[location] = known
        return known

    async def _fetch(self, path: str) -> httpx.Response:
        headers = {"Authorization": self._client.authorization, "Accept": "application/json"}
        operation = f"GET {path}"
        try:
            response = await shared_client().get(api_url(path, {}), headers=headers)
        except httpx.HTTPError as exc:
            raise failure(exc, operation) from exc
        if response.status_code >= 400:
            raise status_failure(response, operation, body=_json_or_none(response))
        return response

    async def _location(self) -> str:
        response = await self._fetch(SCHEMA_PATH)
        location = response.headers.get("location", "") if 300 <= response.status_code < 400 else ""
        if not location.startswith(SCHEMA_PATH + "/") or "?" in location or ".." in location:
            raise errors.StalwartBadResponse(
                gettext("Stalwart did not say where its schema is."), operation=f"GET {SCHEMA_PATH}"
            )
        await cache.aset(_location_key(), location, timeout=LOCATION_SECONDS)
        return location

    async def _download(self, location: str) -> dict[str, Any]:
        response = await self._fetch(location)
        data = _json_or_none(response)
        if response.status_code != 200 or not isinstance(data, dict) or not isinstance(data.get("objects"), dict):
            raise errors.StalwartBadResponse(gettext("Stalwart's schema is unreadable."), operation=f"GET {location}")
        return data

    # --- reading ------------------------------------------------------------------------------
    async def list(
        self,
        page: SettingsPage,
        *,
        text: str = "",
        position: int = 0,
        limit: int = 25,
        properties: Iterable[str] = (),
        references: Mapping[str, tuple[str, str]] | None = None,
    ) -> Page[SettingsItem]:
        """One page of a collection (one round trip: `/query` and `/get` by back-reference).

        `references` (id property -> (object name, its label property)) names the objects the
        items point at, in the same request: a `/get` of the referred ids (by back-reference to
        the property) with only the label; each item's `names` maps the property to that name.
        A collection the person may not read leaves the ids bare."""
        condition: dict[str, Any] = dict(page.static)
        if text and page.text_filter:
            condition[page.text_filter] = text
        query_id, get_id = self._client.next_id(), self._client.next_id()
        query_name = f"x:{page.method}/query"
        arguments: dict[str, Any] = {"position": max(position, 0), "limit": limit, "calculateTotal": True}
        if condition:
            arguments["filter"] = condition
        get_name = f"x:{page.method}/get"
        calls = [
            Call(query_name, arguments, query_id),
            Call(get_name, {"#ids": ref(query_id, query_name), "properties": sorted(set(properties))}, get_id),
        ]
        lookups: dict[str, tuple[str, str]] = {}
        for prop, (object_name, label) in sorted((references or {}).items()):
            call_id = self._client.next_id()
            lookups[prop] = (call_id, label)
            by_ref = {"#ids": ref(get_id, get_name, f"/list/*/{prop}"), "properties": [label] if label else []}
            calls.append(Call(f"{object_name}/get", by_ref, call_id))
        results = await self._client.call(calls)
        found = results[query_id]
        order = [str(i) for i in found.get("ids") or []]
        by_id = {str(item.get("id")): item for item in results[get_id].get("list") or [] if isinstance(item, dict)}
        named: dict[str, dict[str, str]] = {}
        for prop, (call_id, label) in lookups.items():
            try:  # a collection the person may not read (or nothing referred): the ids stay bare
                listed = results[call_id].get("list") or []
            except errors.StalwartError:
                listed = []
            named[prop] = {
                str(entry["id"]): _label(entry.get(label)) or str(entry["id"])
                for entry in listed
                if isinstance(entry, dict) and entry.get("id") is not None
            }
        items = tuple(
            SettingsItem(
                i,
                by_id[i],
                names={
                    prop: names[str(by_id[i][prop])]
                    for prop, names in named.items()
                    if by_id[i].get(prop) is not None and str(by_id[i][prop]) in names
                },
            )
            for i in order
            if i in by_id
        )
        total = found.get("total")
        return Page(items=items, total=total if isinstance(total, int) else len(items))

    async def read(
        self, page: SettingsPage, object_id: str, *, targets: Mapping[str, str] | None = None
    ) -> SettingsRecord:
        """One object, and `{object name: ((id, label), ...)}` of the collections `targets`
        (object name -> its label property) its id fields refer to, in one request.

        A target the person may not read gives no choices (the form then takes an id)."""
        get_id = self._client.next_id()
        extra = self._target_calls(targets or {})
        results = await self._client.call(
            [Call(f"x:{page.method}/get", {"ids": [object_id]}, get_id), *(call for _, _, call in extra)]
        )
        found = [item for item in results[get_id].get("list") or [] if isinstance(item, dict)]
        if not found:
            raise errors.ItemNotFound(
                gettext("Not found."), body={"error": "notFound"}, operation=f"x:{page.method}/get"
            )
        item = SettingsItem(str(found[0].get("id") or object_id), found[0])
        return SettingsRecord(item=item, choices=await self._whole(_choices(results, extra), targets or {}))

    async def choices(
        self, targets: Mapping[str, str], *, ids: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, tuple[tuple[str, str], ...]]:
        """The names of the objects of the collections `targets` (for a new object's form): the
        first `maxObjectsInGet` of each, or those of `ids` where a collection has them (the
        ones a form holds that those did not include)."""
        extra = self._target_calls(targets, ids or {})
        if not extra:
            return {}
        found = _choices(await self._client.call([call for _, _, call in extra]), extra)
        return await self._whole(found, {name: label for name, label in targets.items() if name not in (ids or {})})

    async def _whole(
        self, choices: dict[str, tuple[tuple[str, str], ...]], targets: Mapping[str, str]
    ) -> dict[str, tuple[tuple[str, str], ...]]:
        """`choices` with every object of the collections of which a `/get` gave a full answer
        (`maxObjectsInGet`: the server stops there), up to `MAX_CHOICES`, read a page a request:
        a server with 2,000 domains offers all of them for its default domain. Past that, the
        form keeps what it holds (schema_views._with_held) and says the list is cut. A person who
        may get the objects but not query them (`sys<Object>Query`) keeps the first ones."""
        limits = await self._client.limits()
        for name, label in sorted(targets.items()):
            if len(choices.get(name, ())) < limits.max_get:
                continue
            try:
                found = await self._client.every(
                    name.removeprefix("x:"), properties=[label] if label else [], at_most=MAX_CHOICES
                )
            except errors.Forbidden:
                continue
            options = {str(item["id"]): _label(item.get(label)) or str(item["id"]) for item in found if "id" in item}
            choices[name] = tuple(sorted(options.items(), key=lambda option: option[1].lower()))
        return choices

    def _target_calls(
        self, targets: Mapping[str, str], ids: Mapping[str, Sequence[str]] | None = None
    ) -> builtins.list[tuple[str, str, Call]]:
        return [
            (name, label, Call(f"{name}/get", {"ids": wanted, "properties": [label] if label else []}, call_id))
            for name, label in sorted(targets.items())
            for wanted in ((list((ids or {})[name]) if name in (ids or {}) else None),)
            for call_id in (self._client.next_id(),)
        ]

    # --- writing ------------------------------------------------------------------------------
    async def _set(self, method: str, arguments: dict[str, Any]) -> dict[str, Any]:
        call_id = self._client.next_id()
        return (await self._client.call([Call(f"{method}/set", arguments, call_id)]))[call_id]

    def _outcome(self, answer: Mapping[str, Any], bucket: str, key: str, operation: str) -> SetOutcome:
        refused = (answer.get(bucket) or {}).get(key)
        if isinstance(refused, dict):
            problems = problems_of(refused)
            if not problems:
                raise set_error(refused, operation=operation)
            return SetOutcome(id=key if bucket != "notCreated" else "", problems=problems)
        return SetOutcome(id=key)

    async def update(self, page: SettingsPage, object_id: str, patch: Mapping[str, Any]) -> SetOutcome:
        method = f"x:{page.method}"
        answer = await self._set(method, {"update": {object_id: dict(patch)}})
        return self._outcome(answer, "notUpdated", object_id, f"{method}/set")

    async def create(self, page: SettingsPage, values: Mapping[str, Any]) -> SetOutcome:
        method = f"x:{page.method}"
        answer = await self._set(method, {"create": {"new": {**page.static, **values}}})
        outcome = self._outcome(answer, "notCreated", "new", f"{method}/set")
        if not outcome.ok:
            return outcome
        created = (answer.get("created") or {}).get("new")
        if not isinstance(created, dict) or created.get("id") is None:
            raise errors.StalwartBadResponse(
                gettext("Stalwart did not say what it created."), operation=f"{method}/set"
            )
        return SetOutcome(id=str(created["id"]))

    async def destroy(self, page: SettingsPage, object_id: str) -> SetOutcome:
        method = f"x:{page.method}"
        answer = await self._set(method, {"destroy": [object_id]})
        return self._outcome(answer, "notDestroyed", object_id, f"{method}/set")

    async def reload(self) -> SetOutcome:
        """`x:Action` `ReloadSettings`: the saved settings take effect."""
        answer = await self._set("x:Action", {"create": {"reload": {"@type": "ReloadSettings"}}})
        return self._outcome(answer, "notCreated", "reload", "x:Action/set")


def _choices(results: Results, calls: list[tuple[str, str, Call]]) -> dict[str, tuple[tuple[str, str], ...]]:
    choices: dict[str, tuple[tuple[str, str], ...]] = {}
    for object_name, label, call in calls:
        try:
            answer = results[call.call_id]
        except errors.StalwartError:
            continue
        options = [
            (str(item["id"]), _label(item.get(label)) or str(item["id"]))
            for item in answer.get("list") or []
            if isinstance(item, dict) and item.get("id") is not None
        ]
        choices[object_name] = tuple(sorted(options, key=lambda option: option[1].lower()))
    return choices


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):  # a set: {"a": true, ...}
        return ", ".join(sorted(str(key) for key in value))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)
