"""Every change the portal sends to Stalwart leaves an audit record.

Walks every URL, posts to it as an administrator with plausible data, and
compares what reached the sandbox with the audit trail: each changing request
(POST/PATCH/DELETE, and the GETs that purge, reload or reindex) must have an
entry with the same method and path.
"""

from __future__ import annotations

from portal.audit.display import ACTIONS
from portal.models import AuditEntry
from portal.stalwart.changes import is_change
from tests.test_url_walk import ROUTES

FORM = {
    "confirmed": "yes",
    "names": ["sales"],
    "name": "audit-walk",
    "description": "made by the audit walk",
    "enable": "0",
    "password": "Audit-Walk-Password-1",
    "confirm": "Audit-Walk-Password-1",
    "action": "save",
    "count": "0",
    "algorithm": "Ed25519",
    "label": "Audit walk",
}


def test_no_change_reaches_stalwart_unrecorded(signed_in, sandbox):
    client = signed_in("admin")
    checked = 0
    actions: set[str] = set()
    for name, url, _, rule in ROUTES:
        if rule is None:
            continue
        sandbox.requests.clear()
        AuditEntry.objects.all().delete()
        client.post(url, FORM)
        changes = [
            (r.method, r.path) for r in sandbox.requests if r.path.startswith("/api/") and is_change(r.method, r.path)
        ]
        recorded = sorted(AuditEntry.objects.values_list("method", "path"))
        actions.update(AuditEntry.objects.values_list("action", flat=True))
        for change in changes:
            assert change in recorded, f"{name}: {change} reached Stalwart without an audit entry"
        checked += len(changes)
    assert checked >= 5, "the walk should have made some changes"
    # The audit page shows each of these actions by a label (portal.audit.display.ACTIONS).
    assert sorted(action for action in actions if action not in ACTIONS) == []
