"""Recording every change made through the portal.

Both backends report the changes a person's calls make (`portal.stalwart.changes`: each
decides in its own protocol what is a change and names it with one action code), to the
observer set here for the duration of a signed-in person's request. Each change becomes an
`AuditEntry`, whether Stalwart accepted it or not. Secrets never reach the table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest

from portal.models import AuditEntry
from portal.stalwart import errors
from portal.stalwart.changes import Change, action_and_target, observer

log = logging.getLogger("portal.audit")

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(r"pass|secret|token|hash|cert|key|otp", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"^(\$[0-9a-z-]+\$|\$app\$|otpauth://|\{[A-Z0-9]+\}|api_|-----BEGIN)", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """Replace anything that may be a credential, keeping the shape."""
    if key and _SECRET_KEYS.search(key):
        return REDACTED
    if isinstance(value, dict):
        if value.get("field") in {"secrets"} and "value" in value:
            return {**{k: redact(v, k) for k, v in value.items() if k != "value"}, "value": REDACTED}
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, key) for item in value]
    if isinstance(value, str) and _SECRET_VALUES.match(value):
        return REDACTED
    if isinstance(value, str) and len(value) > 2000:
        return value[:2000] + "…"
    return value


def _status(error: Exception | None) -> int | None:
    if error is None:
        return 200
    if isinstance(error, errors.StalwartStatusError):
        return error.status
    if isinstance(error, errors.ManagementError):
        return 200
    return None


async def write(
    *,
    actor: str,
    actor_tenant: str,
    ip: str | None,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    error: Exception | None,
    action: str = "",
    target: str = "",
) -> None:
    derived_action, derived_target = action_and_target(method, path)
    try:
        await AuditEntry.objects.acreate(
            actor=actor[:512],
            actor_tenant=actor_tenant[:512],
            ip=ip,
            action=(action or derived_action)[:100],
            target=(target or derived_target)[:1024],
            method=method,
            path=path[:2048],
            params=redact({"query": query, "body": body}),
            outcome=AuditEntry.SUCCESS if error is None else AuditEntry.FAILURE,
            status=_status(error),
            error="" if error is None else str(getattr(error, "message", error))[:2000],
        )
    except Exception:  # the change happened; losing its record must be loud, not fatal
        log.exception("could not write the audit entry for %s %s by %s", method, path, actor)


async def write_changes(*, actor: str, actor_tenant: str, ip: str | None, changes: Sequence[Change]) -> None:
    """Record the changes one call made (a JMAP `/set` makes several), in one insert."""
    entries = [
        AuditEntry(
            actor=actor[:512],
            actor_tenant=actor_tenant[:512],
            ip=ip,
            action=change.action[:100],
            target=change.target[:1024],
            method=change.method[:64],
            path=change.path[:2048],
            params=redact({"query": change.query, "body": change.body}),
            outcome=AuditEntry.SUCCESS if change.error is None else AuditEntry.FAILURE,
            status=_status(change.error),
            error="" if change.error is None else str(getattr(change.error, "message", change.error))[:2000],
        )
        for change in changes
    ]
    try:
        await AuditEntry.objects.abulk_create(entries)
    except Exception:  # the change happened; losing its record must be loud, not fatal
        log.exception("could not write %d audit entries by %s", len(entries), actor)


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def recording(request: HttpRequest, actor: str, actor_tenant: str = "") -> Iterator[None]:
    """Record the changes made while handling `request`."""
    ip = client_ip(request)

    async def watch(changes: Sequence[Change]) -> None:
        await write_changes(actor=actor, actor_tenant=actor_tenant, ip=ip, changes=changes)

    token = observer.set(watch)
    try:
        yield
    finally:
        observer.reset(token)
