"""The audit trail on Stalwart 0.16: every operation of an `x:<Object>/set` is one entry,
with the same action codes as on <= 0.15, its own outcome, and no secret in what it keeps."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.http import HttpRequest
from django.urls import reverse

from portal.audit.display import action_label
from portal.models import AuditEntry
from portal.stalwart.changes import jmap_action
from portal.stalwart.jmap.client import Call, JmapClient
from tests.jmap.test_directory import account

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 7"


def _create(client, name: str):
    return client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {
            "name": name,
            "description": "Audited Person",
            "email": f"{name}@example.org",
            "password": PASSWORD,
            "roles": "user",
        },
    )


def test_a_created_account_is_recorded_under_its_address_without_its_password(signed_in, sandbox):
    client = signed_in("admin")
    assert _create(client, "audited.person").status_code == 302
    assert account(sandbox, "audited.person@example.org") is not None

    entry = AuditEntry.objects.get(action="principal.create")
    assert entry.target == "audited.person@example.org"
    assert entry.actor == "admin@example.org"
    assert entry.outcome == AuditEntry.SUCCESS and entry.status == 200
    assert entry.method == "x:Account/set" and entry.path == "/jmap/"
    assert PASSWORD not in json.dumps(entry.params)


def test_a_refused_operation_is_recorded_as_a_failure(signed_in, sandbox):
    client = signed_in("admin")
    assert _create(client, "admin").status_code == 422  # admin@example.org is taken
    entry = AuditEntry.objects.get(action="principal.create")
    assert entry.outcome == AuditEntry.FAILURE and entry.error


def test_an_update_and_a_delete_are_recorded(signed_in, sandbox):
    client = signed_in("admin")
    assert _create(client, "short.lived").status_code == 302
    name = "short.lived@example.org"
    deleted = client.post(reverse("directory:delete", kwargs={"kind": "accounts", "name": name}))
    assert deleted.status_code == 302 and account(sandbox, name) is None
    entries = AuditEntry.objects.exclude(action__startswith="portal.").order_by("id")
    codes = list(entries.values_list("action", "outcome"))
    assert codes == [("principal.create", "success"), ("principal.delete", "success")]


def test_reads_are_not_recorded(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get(reverse("directory:list", kwargs={"kind": "accounts"})).status_code == 200
    assert client.get(reverse("directory:list", kwargs={"kind": "domains"})).status_code == 200
    assert not AuditEntry.objects.exclude(action__startswith="portal.").exists()  # sign-in is recorded


def test_a_batch_records_each_operation_with_its_own_outcome(sandbox):
    """One `/set` with two creations, one refused: two entries, one success, one failure."""
    from portal.audit.recording import recording
    from tests.conftest import persona

    admin = persona("admin")
    jmap = JmapClient(basic=(admin.name, admin.password))
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    call = Call("x:Domain/set", {"create": {"a": {"name": "audit-one.example"}, "b": {"name": "example.org"}}}, "c1")

    async def run() -> None:
        with recording(request, admin.name):
            await jmap.call([call])

    asyncio.run(run())
    entries = AuditEntry.objects.order_by("target")
    assert [(e.action, e.target, e.outcome) for e in entries] == [
        ("principal.create", "audit-one.example", "success"),
        ("principal.create", "example.org", "failure"),
    ]


@pytest.mark.parametrize(
    ("obj", "operation", "value", "code"),
    [
        ("Account", "update", None, "principal.update"),
        ("MailingList", "destroy", None, "principal.delete"),
        ("QueuedMessage", "destroy", None, "queue.messages.delete"),
        ("ArchivedItem", "update", None, "store.undelete.create"),
        ("DmarcExternalReport", "destroy", None, "reports.dmarc.delete"),
        ("Action", "create", {"@type": "ReloadSettings"}, "action.ReloadSettings"),
        ("Task", "create", {"@type": "StoreMaintenance"}, "task.create"),
        ("SystemSettings", "update", None, "settings.update"),
    ],
)
def test_action_codes_match_the_rest_generation_and_read_as_sentences(obj, operation, value, code):
    assert jmap_action(obj, operation, value) == code
    assert action_label(code) != code
