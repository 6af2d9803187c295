import json

import pytest
from django.urls import reverse

from portal.audit.recording import REDACTED, redact
from portal.models import AuditEntry
from portal.stalwart.changes import action_and_target, is_change
from tests.audit.test_audit_export import read_stream
from tests.conftest import persona, sign_in


def test_sign_in_and_failures_are_recorded(client, sandbox):
    client.post("/auth/sign-in", {"username": "admin", "password": "wrong"})
    sign_in(client, "admin")
    entries = list(AuditEntry.objects.order_by("id"))
    assert [(e.action, e.outcome) for e in entries] == [("portal.sign-in", "failure"), ("portal.sign-in", "success")]
    assert entries[0].status == 401 and entries[0].ip == "127.0.0.1"
    client.post("/auth/sign-out")
    assert AuditEntry.objects.filter(action="portal.sign-out", actor="admin").exists()


def test_changes_are_recorded_with_secrets_redacted(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    url = reverse("directory:account-password", kwargs={"name": name})
    client.post(url, {"password": "a brand new password", "confirm": "a brand new password"})
    entry = AuditEntry.objects.get(action="principal.update")
    assert entry.actor == "admin" and entry.target == name and entry.outcome == "success"
    stored = json.dumps(entry.params)
    assert "$6$" not in stored and "$argon2" not in stored and "a brand new password" not in stored
    assert REDACTED in stored


def test_refused_changes_are_recorded_too(signed_in, sandbox):
    client = signed_in("admin")
    client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}), {"name": persona("user").name, "roles": "user"}
    )
    entry = AuditEntry.objects.get(action="principal.create")
    assert entry.outcome == "failure" and "already" in entry.error


def test_reading_is_not_recorded(signed_in, sandbox):
    client = signed_in("admin")
    AuditEntry.objects.all().delete()
    client.get("/directory/accounts/")
    client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": persona("user").name}))
    assert AuditEntry.objects.count() == 0


def test_upstream_failure_is_recorded(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.post(reverse("directory:delete", kwargs={"kind": "groups", "name": "sales"}))
    assert response.status_code == 502
    entry = AuditEntry.objects.get(action="principal.delete")
    assert entry.outcome == "failure" and entry.status is None and "could not be reached" in entry.error


def test_visibility(signed_in, client, sandbox):
    AuditEntry.objects.create(
        actor="someone.else", action="principal.update", method="PATCH", path="/x", outcome="success"
    )
    AuditEntry.objects.create(
        actor="jane.doe", action="account.auth.create", method="POST", path="/y", outcome="success"
    )
    AuditEntry.objects.create(
        actor="daisy.duck@acme.org",
        actor_tenant="acme",
        action="principal.update",
        method="PATCH",
        path="/z",
        outcome="success",
    )
    user = signed_in("user")
    content = user.get("/audit/").content.decode()
    assert "someone.else" not in content and "daisy.duck" not in content and "account.auth.create" in content
    user.post("/auth/sign-out")
    signed_in("tenant_admin")
    content = client.get("/audit/").content.decode()
    assert "daisy.duck@acme.org" in content and "someone.else" not in content
    client.post("/auth/sign-out")
    signed_in("admin")
    content = client.get("/audit/").content.decode()
    assert "someone.else" in content and "daisy.duck" in content


def test_the_trail_is_filled_in_around_its_rows(signed_in, sandbox):
    """The page around the entries is kept per person, filters and count (portal/skeleton.py);
    the entries themselves are written on every view."""
    from tests.directory import test_list_skeleton as kept

    client = signed_in("admin")
    first, second = client.get("/audit/"), client.get("/audit/")
    assert len(first.templates) > 1 and [template.name for template in second.templates] == ["rows"]
    before, after = first.content.decode(), second.content.decode()
    assert kept.shell(after) == kept.shell(before) and "portal.sign-in" in kept.rows(after)

    # One entry more: another count, so the page is written again, the entry among the rows.
    AuditEntry.objects.create(
        actor="robin.hood", action="principal.update", target="sales", method="PATCH", path="/x", outcome="success"
    )
    third = client.get("/audit/")
    assert len(third.templates) > 1 and "robin.hood" in kept.rows(third.content.decode())
    assert "robin.hood" in kept.rows(client.get("/audit/").content.decode())

    # The filters as typed, a wrong date told next to its field, kept or not.
    for _ in range(2):
        page = client.get("/audit/", {"actor": "robin", "since": "not-a-date"}).content.decode()
        assert 'value="robin"' in page and 'value="not-a-date"' in page and "Enter a valid date." in page
    filtered = client.get("/audit/", {"actor": "robin"}).content.decode()
    assert "robin.hood" in filtered and "portal.sign-in" not in kept.rows(filtered)
    # Nothing matches: the empty state, not an empty table.
    none = client.get("/audit/", {"actor": "nobody-at-all"}).content.decode()
    assert "Nothing recorded for these filters" in none and "<tbody>" not in none


@pytest.mark.django_db(transaction=True)  # the export reads through a connection of its own
def test_filters_and_csv(signed_in, sandbox):
    client = signed_in("admin")
    AuditEntry.objects.create(
        actor="=cmd|' /C calc'!A0", action="principal.update", target="x", method="PATCH", path="/x", outcome="success"
    )
    page = client.get("/audit/", {"actor": "cmd"}).content.decode()
    assert "principal.update" in page and "portal.sign-in" not in page
    response = client.get("/audit/export.csv", {"actor": "cmd"})
    _, body = read_stream(response)
    assert body.splitlines()[0].startswith("at,actor")
    assert "'=cmd" in body  # never a live formula


def test_filters_that_cannot_be_used_show_nothing_but_why(signed_in, sandbox):
    """A date that is not one, or a range that ends before it starts, lists no entries (not
    every entry, as if unfiltered) and says why, next to the field and in the results; the
    export refuses them too."""
    client = signed_in("admin")
    AuditEntry.objects.create(actor="someone", action="principal.update", target="x", method="PATCH", path="/x")
    for query, field, error in (
        ({"since": "yesterday"}, "since", "Enter a valid date."),
        ({"since": "2026-12-08", "until": "2026-12-01"}, "until", "The end date is before the start date."),
    ):
        page = client.get("/audit/", query).content.decode()
        assert "principal.update" not in page and "These filters cannot be used" in page
        assert f'id="id_{field}_error">{error}<' in page
        assert 'aria-disabled="true">Export CSV<' in page and "export.csv" not in page
        partial = client.get("/audit/", query, headers={"HX-Request": "true"}).content.decode()
        assert "<form" not in partial and error in partial and "principal.update" not in partial
        assert 'id="export-link" class="button" aria-disabled="true" hx-swap-oob="true"' in partial
        refused = client.get("/audit/export.csv", query)
        assert refused.status_code == 400 and error in refused.content.decode()


def test_the_export_follows_filters_chosen_in_place(signed_in, sandbox):
    """Filtering without reloading the page replaces the results; the export link beside the
    heading comes with them (out of band), so it exports what is shown."""
    client = signed_in("admin")
    partial = client.get("/audit/", {"actor": "a&b", "outcome": "failure"}, headers={"HX-Request": "true"})
    assert '<a id="export-link" class="button" download href="/audit/export.csv?actor=a%26b' in partial.content.decode()
    assert 'hx-swap-oob="true"' in partial.content.decode()
    whole = client.get("/audit/", {"actor": "a&b"}).content.decode()
    assert whole.count('id="export-link"') == 1 and "hx-swap-oob" not in whole


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/api/principal", False),
        ("GET", "/api/store/purge/blob", True),
        ("GET", "/api/reload", True),
        ("POST", "/api/spam-filter/classify", False),
        ("POST", "/api/spam-filter/train/spam", True),
        ("PATCH", "/api/principal/x", True),
        ("DELETE", "/api/queue/messages", True),
    ],
)
def test_what_counts_as_a_change(method, path, expected):
    assert is_change(method, path) is expected


def test_redaction():
    body = [
        {"action": "addItem", "field": "secrets", "value": "$6$rounds=1$x$y"},
        {"action": "set", "field": "description", "value": "ok"},
    ]
    assert redact(body)[0]["value"] == REDACTED and redact(body)[1]["value"] == "ok"
    assert redact({"type": "addAppPassword", "name": "TmFtZQ==", "password": "$6$x"})["password"] == REDACTED
    assert redact({"certs": "-----BEGIN CERTIFICATE-----"})["certs"] == REDACTED
    assert redact(["otpauth://totp/x?secret=A"]) == [REDACTED]
    assert redact({"query": {"token": "abc"}})["query"]["token"] == REDACTED


def test_action_names():
    assert action_and_target("PATCH", "/api/principal/jane%2Edoe") == ("principal.update", "jane.doe")
    assert action_and_target("DELETE", "/api/principal") == ("principal.delete-matching", "")
    assert action_and_target("GET", "/api/store/purge/account/jane") == ("store.purge.run", "account/jane")


def test_prune_keeps_recent_entries(db):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    old = AuditEntry.objects.create(actor="a", action="x", method="POST", path="/", outcome="success")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=400))
    AuditEntry.objects.create(actor="b", action="x", method="POST", path="/", outcome="success")
    call_command("prune_audit", days=365)
    assert list(AuditEntry.objects.values_list("actor", flat=True)) == ["b"]
