"""The changes a person's calls make, as both backends report them to the audit trail.

Each backend decides what counts as a change in its own protocol and names it with one
generation-neutral action code (`principal.update`, `queue.messages.delete`, ...), so the audit
trail, its filters and its labels read the same on every server:

* the REST client (`client.py`) reports every POST, PATCH, PUT and DELETE under `/api/`, and
  the GETs that purge, reindex, reload or update (`rest_change`);
* the JMAP client (`jmap/client.py`) reports every operation of every `x:<Object>/set` call,
  one change per created, updated or destroyed object, with its own outcome (`jmap_action`).

A change is reported whether the server accepted it or not (`error`). The portal sets the
observer around a signed-in person's request (`portal.audit.recording`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote


@dataclass(frozen=True, slots=True)
class Change:
    """One change sent to Stalwart, as the audit trail records it."""

    action: str  # e.g. "principal.update"
    target: str  # what it was done to, as a person reads it (a name, an id)
    method: str  # "PATCH", or the JMAP method "x:Account/set"
    path: str  # "/api/principal/jane", or "/jmap/"
    query: dict[str, str]
    body: Any  # what was sent (the audit trail redacts secrets)
    error: Exception | None  # None when Stalwart answered with success


#: Set by the portal around a person's request; awaited with the changes of every call.
observer: ContextVar[Callable[[Sequence[Change]], Awaitable[None]] | None] = ContextVar(
    "stalwart_observer", default=None
)


async def report(changes: Sequence[Change]) -> None:
    watcher = observer.get()
    if watcher is not None and changes:
        await watcher(changes)


# --- REST (/api/*) ----------------------------------------------------------------------------
# GET endpoints that change something.
_MUTATING_GETS = ("/api/store/purge", "/api/store/reindex", "/api/reload", "/api/update", "/api/restart")
# POSTs that only ask a question.
_READ_ONLY_POSTS = ("/api/spam-filter/classify", "/api/troubleshoot/dmarc", "/api/oauth")
# Areas whose second path segment is part of the action ("queue.messages.update").
_TWO_PART_AREAS = frozenset(
    {"store", "telemetry", "troubleshoot", "spam-filter", "queue", "reports", "account", "update"}
)


def is_change(method: str, path: str) -> bool:
    if method == "GET":
        return path.startswith(_MUTATING_GETS)
    if method == "POST" and path.startswith(_READ_ONLY_POSTS):
        return False
    return method in {"POST", "PATCH", "PUT", "DELETE"}


def action_and_target(method: str, path: str) -> tuple[str, str]:
    """("principal.update", "jane.doe") from "PATCH /api/principal/jane%2Edoe"."""
    parts = [unquote(part) for part in path.removeprefix("/api/").split("/") if part]
    area = parts[0] if parts else "api"
    verb = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete", "GET": "run"}.get(method, method)
    if area in _TWO_PART_AREAS and len(parts) > 1:
        area = f"{area}.{parts[1]}"
        target = "/".join(parts[2:])
    else:
        target = "/".join(parts[1:])
    if method == "DELETE" and not target:
        verb = "delete-matching"
    return f"{area}.{verb}", target


def rest_change(method: str, path: str, query: dict[str, str], body: Any, error: Exception | None) -> Change | None:
    if not is_change(method, path):
        return None
    action, target = action_and_target(method, path)
    return Change(action, target, method, path, query, body, error)


# --- JMAP (x:<Object>/set) --------------------------------------------------------------------
# The directory objects of 0.16: what <= 0.15 calls principals.
_PRINCIPAL_OBJECTS = frozenset({"Account", "MailingList", "Domain", "Tenant", "Role", "OAuthClient"})
# Objects whose operations are the same actions as a <= 0.15 endpoint: {object: {verb: action}}.
_SAME_AS_REST: dict[str, dict[str, str]] = {
    "QueuedMessage": {"update": "queue.messages.update", "destroy": "queue.messages.delete"},
    "DmarcInternalReport": {"update": "queue.reports.update", "destroy": "queue.reports.delete"},
    "TlsInternalReport": {"update": "queue.reports.update", "destroy": "queue.reports.delete"},
    "DmarcExternalReport": {"destroy": "reports.dmarc.delete"},
    "TlsExternalReport": {"destroy": "reports.tls.delete"},
    "ArfExternalReport": {"destroy": "reports.arf.delete"},
    "ArchivedItem": {"update": "store.undelete.create"},
    "SpamTrainingSample": {"create": "spam-filter.train.create"},
    "AppPassword": {verb: "account.auth.create" for verb in ("create", "update", "destroy")},
    "ApiKey": {verb: "account.auth.create" for verb in ("create", "update", "destroy")},
    "AccountPassword": {verb: "account.auth.create" for verb in ("create", "update", "destroy")},
}
_VERBS = {"create": "create", "update": "update", "destroy": "delete"}


def jmap_action(obj: str, operation: str, value: Any = None) -> str:
    """The action code of one operation (`create`, `update`, `destroy`) on `x:<obj>`.

    Directory objects are `principal.*`, objects with a <= 0.15 counterpart take its code,
    actions and tasks name their type (`action.ReloadSettings`, `task.create`), and every
    other object is a setting (`settings.*`)."""
    verb = _VERBS.get(operation, operation)
    if obj in _PRINCIPAL_OBJECTS:
        return f"principal.{verb}"
    if obj in _SAME_AS_REST and operation in _SAME_AS_REST[obj]:
        return _SAME_AS_REST[obj][operation]
    if obj == "Action" and isinstance(value, dict) and isinstance(value.get("@type"), str):
        return f"action.{value['@type'][:60]}"
    if obj == "Task":
        return f"task.{verb}"
    if obj == "BlockedIp":
        return f"blocked-ip.{verb}"
    return f"settings.{verb}"
