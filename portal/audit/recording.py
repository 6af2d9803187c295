"""Recording every change made through the portal.

Every call to Stalwart goes through `StalwartClient.request`, which reports it
to the observer set here for the duration of a signed-in person's request. A
call that changes something (any POST, PATCH or DELETE, and the GETs that purge,
reindex, reload or update) becomes an `AuditEntry`, whether Stalwart accepted
it or not. Secrets never reach the table.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

from django.http import HttpRequest

from portal.models import AuditEntry
from portal.stalwart import errors
from portal.stalwart.client import Call, observer

log = logging.getLogger("portal.audit")

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(r"pass|secret|token|hash|cert|key|otp", re.IGNORECASE)
_SECRET_VALUES = re.compile(r"^(\$[0-9a-z-]+\$|\$app\$|otpauth://|\{[A-Z0-9]+\}|api_|-----BEGIN)", re.IGNORECASE)
# GET endpoints that change something.
_MUTATING_GETS = ("/api/store/purge", "/api/store/reindex", "/api/reload", "/api/update", "/api/restart")
# POSTs that only ask a question.
_READ_ONLY_POSTS = ("/api/spam-filter/classify", "/api/troubleshoot/dmarc", "/api/oauth")


def is_change(method: str, path: str) -> bool:
    if method == "GET":
        return path.startswith(_MUTATING_GETS)
    if method == "POST" and path.startswith(_READ_ONLY_POSTS):
        return False
    return method in {"POST", "PATCH", "PUT", "DELETE"}


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


def action_and_target(method: str, path: str) -> tuple[str, str]:
    """("principal.update", "jane.doe") from "PATCH /api/principal/jane%2Edoe"."""
    parts = [unquote(part) for part in path.removeprefix("/api/").split("/") if part]
    area = parts[0] if parts else "api"
    verb = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete", "GET": "run"}.get(method, method)
    if (
        area in {"store", "telemetry", "troubleshoot", "spam-filter", "queue", "reports", "account", "update"}
        and len(parts) > 1
    ):
        area = f"{area}.{parts[1]}"
        target = "/".join(parts[2:])
    else:
        target = "/".join(parts[1:])
    if method == "DELETE" and not target:
        verb = "delete-matching"
    return f"{area}.{verb}", target


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


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@contextmanager
def recording(request: HttpRequest, actor: str, actor_tenant: str = "") -> Iterator[None]:
    """Record the changes made while handling `request`."""
    ip = client_ip(request)

    async def watch(call: Call) -> None:
        if is_change(call.method, call.path):
            await write(
                actor=actor,
                actor_tenant=actor_tenant,
                ip=ip,
                method=call.method,
                path=call.path,
                query=call.query,
                body=call.body,
                error=call.error,
            )

    token = observer.set(watch)
    try:
        yield
    finally:
        observer.reset(token)
