"""The audit trail reads as sentences: a label per action, the recorded request as changes."""

from __future__ import annotations

import re

from portal.audit.display import ACTIONS, Change, action_label, changes
from portal.audit.recording import REDACTED, redact
from portal.models import AuditEntry
from portal.stalwart.changes import action_and_target

SCRIPT = "<script>alert(1)</script>"


def test_every_action_has_a_label_and_an_unknown_one_shows_its_code():
    assert action_label("portal.sign-in") == "Signed in to the portal"
    assert action_label("principal.update") == "Changed a directory entry"
    assert action_label("made.up.code") == "made.up.code"
    derived = [
        action_and_target(method, path)[0]
        for method, path in [
            ("POST", "/api/principal"),
            ("PATCH", "/api/principal/jane"),
            ("DELETE", "/api/principal/jane"),
            ("POST", "/api/settings"),
            ("DELETE", "/api/settings/server.x"),
            ("GET", "/api/reload"),
            ("GET", "/api/store/purge/blob"),
            ("PATCH", "/api/queue/messages/7"),
            ("DELETE", "/api/queue/messages"),
            ("DELETE", "/api/reports/dmarc/1_2"),
            ("DELETE", "/api/reports/tls"),
            ("POST", "/api/store/undelete/jane"),
            ("POST", "/api/spam-filter/train/spam"),
            ("POST", "/api/account/auth"),
            ("POST", "/api/dkim"),
        ]
    ]
    assert [code for code in derived if code not in ACTIONS] == []


def test_a_principal_patch_reads_field_by_field():
    params = redact(
        {
            "query": {},
            "body": [
                {"action": "set", "field": "description", "value": "Sales team"},
                {"action": "removeItem", "field": "emails", "value": "old@example.org"},
                {"action": "addItem", "field": "emails", "value": "new@example.org"},
                {"action": "addItem", "field": "memberOf", "value": "sales"},
                {"action": "removeItem", "field": "roles", "value": "admin"},
                {"action": "removeItem", "field": "secrets", "value": ""},
                {"action": "addItem", "field": "secrets", "value": "$6$rounds=5000$x$y"},
            ],
        }
    )
    assert changes(params) == [
        Change("description", "set", new=("Sales team",)),
        Change("emails", "replace", old=("old@example.org",), new=("new@example.org",)),
        Change("memberOf", "add", new=("sales",)),
        Change("roles", "remove", old=("admin",)),
        Change("secrets", "replace", old=(REDACTED,), new=(REDACTED,)),
    ]


def test_settings_operations_and_plain_bodies():
    body = [
        {"type": "clear", "prefix": "server.listener.smtp."},
        {"type": "insert", "prefix": "server.listener.smtp", "values": [["bind", "0.0.0.0:25"]], "assert_empty": True},
        {"type": "delete", "keys": ["server.old"]},
    ]
    assert changes({"query": {}, "body": body}) == [
        Change("server.listener.smtp.*", "clear"),
        Change("server.listener.smtp.bind", "set", new=("0.0.0.0:25",)),
        Change("server.old", "remove"),
    ]
    created = changes({"query": {"force": "1"}, "body": {"type": "individual", "emails": ["a@x.org", "b@x.org"]}})
    assert created == [
        Change("type", "value", new=("individual",)),
        Change("emails", "value", new=("a@x.org", "b@x.org")),
        Change("force", "value", new=("1",)),
    ]
    assert changes({"query": {}, "body": None}) == [] and changes(None) == []


def test_the_page_shows_labels_and_changes_not_dict_reprs(signed_in, sandbox):
    client = signed_in("admin")
    AuditEntry.objects.create(
        actor="admin",
        action="principal.update",
        target=SCRIPT,
        method="PATCH",
        path="/api/principal/x",
        outcome="success",
        params={
            "query": {},
            "body": [
                {"action": "set", "field": "description", "value": SCRIPT},
                {"action": "removeItem", "field": "emails", "value": "old@example.org"},
                {"action": "addItem", "field": "emails", "value": "new@example.org"},
            ],
        },
    )
    AuditEntry.objects.create(actor="admin", action="future.thing", method="POST", path="/api/y", outcome="success")
    page = client.get("/audit/").content.decode()
    row = page[page.index("Changed a directory entry") - 200 :]
    row = row[: row.index("</tr>")]
    assert '<span class="cell-title">Changed a directory entry</span>' in row
    results = page[page.index('<div id="results"') :]
    assert "{&#x27;" not in results and "[{" not in results and "&#x27;action&#x27;" not in results  # no reprs
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in row
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "description : set to &lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "emails : old@example.org → replaced by new@example.org" in text
    # The code is still shown (the filter searches it), and an unknown code is its own label.
    assert "<bdi>principal.update</bdi>" in row
    assert '<span class="cell-title">future.thing</span>' in page
    # Sign-in entries read as such.
    assert "Signed in to the portal" in page
