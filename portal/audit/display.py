"""How the audit trail reads: a label for every action code, and the recorded request
(query and body, secrets already redacted) as a list of changes a person can read.

Entries store the action as a code (`principal.update`, `portal.sign-in`): filters and the CSV
export use it as it is; the page shows its label, and an unknown code as itself. What an entry
records is what the portal sent to Stalwart, so a change reads as the new value, except for
lists, where Stalwart is sent the items taken out and the items put in (old → new).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

#: Action codes (`portal.stalwart.changes`: `action_and_target` for REST, `jmap_action` for JMAP) and what they mean.
ACTIONS: dict[str, Promise] = {
    "portal.sign-in": _("Signed in to the portal"),
    "portal.sign-out": _("Signed out of the portal"),
    "portal.sign-in-throttle-clear": _("Cleared a sign-in throttle"),
    "principal.create": _("Created a directory entry"),
    "principal.update": _("Changed a directory entry"),
    "principal.delete": _("Deleted a directory entry"),
    "principal.delete-matching": _("Deleted every matching directory entry"),
    "dkim.create": _("Created a DKIM key"),
    "settings.create": _("Changed settings"),
    "settings.update": _("Changed settings"),
    "settings.delete": _("Deleted a setting"),
    "reload.run": _("Reloaded the configuration"),
    "update.spam-filter.run": _("Updated the spam filter rules"),
    "update.webadmin.run": _("Updated the web admin"),
    "restart.run": _("Restarted the server"),
    "account.auth.create": _("Changed own sign-in methods"),
    "account.crypto.create": _("Changed own encryption at rest"),
    "queue.messages.update": _("Retried queued mail"),
    "queue.messages.delete": _("Cancelled queued mail"),
    "queue.messages.delete-matching": _("Cancelled every matching queued message"),
    "queue.reports.delete": _("Cancelled an outgoing report"),
    "queue.reports.delete-matching": _("Cancelled every matching outgoing report"),
    "queue.status.update": _("Started or stopped the queue"),
    "reports.dmarc.delete": _("Deleted a DMARC report"),
    "reports.dmarc.delete-matching": _("Deleted every matching DMARC report"),
    "reports.tls.delete": _("Deleted a TLS report"),
    "reports.tls.delete-matching": _("Deleted every matching TLS report"),
    "reports.arf.delete": _("Deleted a failure report"),
    "reports.arf.delete-matching": _("Deleted every matching failure report"),
    "store.undelete.create": _("Restored deleted mail"),
    "store.purge.run": _("Started a store purge"),
    "store.reindex.run": _("Started a reindex"),
    "store.quota.delete": _("Recalculated a quota"),
    "store.uids.delete": _("Reset an account's message ids"),
    "spam-filter.train.create": _("Trained the spam filter"),
    # Stalwart 0.16+ (JMAP objects without a <= 0.15 endpoint of their own)
    "queue.reports.update": _("Rescheduled an outgoing report"),
    "task.create": _("Scheduled a maintenance task"),
    "task.update": _("Changed a maintenance task"),
    "task.delete": _("Cancelled a maintenance task"),
    "blocked-ip.create": _("Blocked an IP address"),
    "blocked-ip.update": _("Changed a blocked IP address"),
    "blocked-ip.delete": _("Unblocked an IP address"),
}


def action_label(code: str) -> str:
    """The label of an action code; the code itself when it has none.

    Stalwart 0.16's actions are `action.<type>`: "Ran the server action <type>"."""
    label = ACTIONS.get(code)
    if label is None and code.startswith("action.") and len(code) > len("action."):
        return gettext("Ran the server action %(type)s") % {"type": code.removeprefix("action.")}
    return str(label) if label is not None else code


@dataclass(frozen=True)
class Change:
    """One line of an entry's changes. `kind`: "set" (field → new), "replace" (old → new),
    "add" (+ new), "remove" (− old), "clear" (emptied) or "value" (a parameter of the request)."""

    field: str
    kind: str
    old: tuple[str, ...] = ()
    new: tuple[str, ...] = ()


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _flatten(value: Any, prefix: str = "") -> list[Change]:
    """A request body of objects and lists as one line per scalar or list of scalars."""
    if isinstance(value, dict):
        lines: list[Change] = []
        for key, item in value.items():
            lines += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return lines
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return [Change(prefix or "—", "value", new=tuple(_text(item) for item in value) or ("—",))]
        lines = []
        for index, item in enumerate(value, start=1):
            lines += _flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]")
        return lines
    return [Change(prefix or "—", "value", new=(_text(value),))]


def _principal_patch(operations: list[dict[str, Any]]) -> list[Change]:
    """set/addItem/removeItem/clear operations, one line per field in the order sent."""
    fields: dict[str, dict[str, list[str]]] = {}
    for op in operations:
        slot = fields.setdefault(str(op.get("field", "")), {"set": [], "add": [], "remove": [], "clear": []})
        action = op.get("action")
        value = op.get("value")
        if action == "set":
            slot["set"] += [_text(item) for item in value] if isinstance(value, list) else [_text(value)]
        elif action == "addItem":
            slot["add"].append(_text(value))
        elif action == "removeItem":
            slot["remove"].append(_text(value))
        else:
            slot["clear"].append("")
    lines = []
    for field, slot in fields.items():
        if slot["set"]:
            lines.append(Change(field, "set", new=tuple(slot["set"])))
        elif slot["add"] and slot["remove"]:
            lines.append(Change(field, "replace", old=tuple(slot["remove"]), new=tuple(slot["add"])))
        elif slot["add"]:
            lines.append(Change(field, "add", new=tuple(slot["add"])))
        elif slot["remove"]:
            lines.append(Change(field, "remove", old=tuple(slot["remove"])))
        else:
            lines.append(Change(field, "clear"))
    return lines


def _settings_operations(operations: list[dict[str, Any]]) -> list[Change]:
    """The settings editor's clear/insert/delete operations, one line per key."""
    lines = []
    for op in operations:
        kind = op.get("type")
        prefix = str(op.get("prefix") or "")
        if kind == "clear":
            lines.append(Change(f"{prefix}*", "clear"))
        elif kind == "delete":
            lines += [Change(str(key), "remove") for key in op.get("keys") or []]
        elif kind == "insert":
            for pair in op.get("values") or []:
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    key = f"{prefix}.{pair[0]}" if prefix and pair[0] else prefix or str(pair[0])
                    lines.append(Change(key, "set", new=(_text(pair[1]),)))
        else:
            lines += _flatten(op)
    return lines


def changes(params: Any) -> list[Change]:
    """What an entry's request changed or asked for, readable: `params` is
    `{"query": {...}, "body": ...}` as recorded (secrets already replaced)."""
    if not isinstance(params, dict):
        return _flatten(params) if params not in (None, "", [], {}) else []
    body, query = params.get("body"), params.get("query") or {}
    lines: list[Change] = []
    if isinstance(body, list) and body and all(isinstance(op, dict) and "action" in op for op in body):
        lines += _principal_patch(body)
    elif isinstance(body, list) and body and all(isinstance(op, dict) and "type" in op for op in body):
        if all(op.get("type") in {"clear", "insert", "delete"} for op in body):
            lines += _settings_operations(body)
        else:
            lines += _flatten(body)
    elif body not in (None, "", [], {}):
        lines += _flatten(body)
    if isinstance(query, dict):
        lines += [Change(str(key), "value", new=(_text(value),)) for key, value in query.items()]
    return lines
