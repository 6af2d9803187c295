"""Maintenance and the task queue on Stalwart 0.16 only: x:Task and x:Action. Blocked IPs and
what else behaves alike on both generations are tested once, against each, in tests/tools/."""

from __future__ import annotations

import inspect

import pytest

from portal.stalwart import backend
from portal.stalwart.jmap.backend import JmapBackend
from portal.stalwart.jmap.maintenance import JmapMaintenance
from portal.stalwart.maintenance import MaintenanceApi
from sandbox.jmap import ids
from sandbox.jmap.ops import ops_state
from sandbox.toolstate import tools_state


def _methods(protocol):
    return [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]


@pytest.mark.parametrize("area", [MaintenanceApi, JmapMaintenance])
def test_maintenance_areas_share_one_protocol(area):
    for name in _methods(backend.MaintenanceArea):
        wanted = list(inspect.signature(getattr(backend.MaintenanceArea, name)).parameters)
        offered = list(inspect.signature(getattr(area, name)).parameters)
        assert offered[: len(wanted)] == wanted, (area, name)
        assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)
    assert isinstance(JmapBackend("token").maintenance, backend.MaintenanceArea)


def queued(sandbox) -> list[dict]:
    """Every task the sandbox was given: those still queued and those that ran."""
    waiting = [{k: v for k, v in task.items() if not k.startswith("_")} for task in ops_state(sandbox).tasks.values()]
    ran = [{"@type": a["type"], **a} for a in tools_state(sandbox).actions if a.get("kind") == "task"]
    return waiting + ran


def account_id(sandbox, address: str) -> str:
    for number, principal in sandbox.principals.items():
        if principal.emails and principal.emails[0] == address:
            return ids.encode(number)
    raise AssertionError(address)


@pytest.mark.parametrize(
    ("slug", "data", "expected"),
    [
        ("purge-blobs", {"confirmed": "yes"}, {"@type": "StoreMaintenance", "maintenanceType": "purgeBlob"}),
        ("purge-data", {"confirmed": "yes"}, {"@type": "StoreMaintenance", "maintenanceType": "purgeData"}),
        ("purge-accounts", {"confirmed": "yes"}, {"@type": "StoreMaintenance", "maintenanceType": "purgeAccounts"}),
        ("reindex", {}, {"@type": "StoreMaintenance", "maintenanceType": "reindexAccounts"}),
        ("update-spam-rules", {}, {"@type": "SpamFilterMaintenance", "maintenanceType": "updateRules"}),
        ("store-task", {"task": "resetBlobQuotas"}, {"maintenanceType": "resetBlobQuotas"}),
        ("spam-classifier", {"task": "train"}, {"@type": "SpamFilterMaintenance", "maintenanceType": "train"}),
    ],
)
def test_a_maintenance_action_queues_its_task(signed_in, sandbox, slug, data, expected):
    client = signed_in("admin")
    response = client.post(f"/tools/maintenance/{slug}", data)
    assert response.status_code == 302, response.content[:2000]
    tasks = queued(sandbox)
    assert any(expected.items() <= task.items() for task in tasks), tasks


def test_account_tasks_name_the_account_by_id(signed_in, sandbox):
    client = signed_in("admin")
    alice = account_id(sandbox, "alice.novak@example.com")
    assert client.post("/tools/maintenance/reindex", {"account": "alice.novak@example.com"}).status_code == 302
    data = {"account": "alice.novak@example.com", "confirmed": "yes"}
    response = client.post("/tools/maintenance/reset-uids", data, follow=True)
    assert "resetting the IMAP UIDs of alice.novak@example.com in the background" in response.content.decode()
    response = client.post("/tools/maintenance/recalculate-quota", {"account": "alice.novak@example.com"})
    assert response.status_code == 302
    kinds = {(t["@type"], t.get("maintenanceType"), t.get("accountId")) for t in queued(sandbox)}
    for kind in ("reindex", "recalculateImapUid", "recalculateQuota"):
        assert ("AccountMaintenance", kind, alice) in kinds, kinds


def test_an_unknown_account_or_domain_is_shown_at_its_field(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post("/tools/maintenance/reindex", {"account": "nobody@example.org"})
    assert response.status_code == 422
    assert "There is no account called nobody@example.org" in response.content.decode()
    response = client.post("/tools/maintenance/domain-task", {"domain": "no-such.test", "task": "DkimManagement"})
    assert response.status_code == 422
    assert "There is no domain called no-such.test" in response.content.decode()
    assert queued(sandbox) == []


def test_domain_tasks_and_cache_actions(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post("/tools/maintenance/domain-task", {"domain": "example.org", "task": "DkimManagement"})
    assert response.status_code == 302
    assert any(t["@type"] == "DkimManagement" and t.get("domainId") for t in queued(sandbox))
    sandbox.requests.clear()
    response = client.post("/tools/maintenance/invalidate-caches", {"action": "InvalidateCaches"}, follow=True)
    assert "The caches were cleared." in response.content.decode()


def test_reload_runs_the_action_and_the_dry_run_is_not_offered(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post("/tools/maintenance/reload", {"scope": "lookup"})
    assert response.status_code == 200
    assert "Configuration reloaded" in response.content.decode()
    response = client.post("/tools/maintenance/reload", {"scope": "", "dry_run": "on"})
    assert response.status_code == 200  # the dry-run field does not exist here: a plain reload
    assert "Configuration reloaded" in response.content.decode()


def test_actions_0_16_lacks_say_why_without_a_call(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.requests.clear()
    for slug in ("restart", "purge-in-memory", "delete-bayes-global"):
        response = client.get(f"/tools/maintenance/{slug}", follow=True)
        assert response.status_code == 200
        assert "Stalwart 0.16" in response.content.decode(), slug
    assert [r for r in sandbox.requests if r.path == "/jmap/"] == []


def test_the_task_list_shows_failures_and_reruns_and_cancels(signed_in, sandbox):
    client = signed_in("admin")
    ops_state(sandbox).failing["StoreMaintenance"] = "Disk full"
    assert client.post("/tools/maintenance/purge-blobs", {"confirmed": "yes"}).status_code == 302
    for _ in range(3):  # each request runs the due task once more: retry, retry, failed
        client.get("/tools/maintenance/tasks/")
    sandbox.requests.clear()
    response = client.get("/tools/maintenance/tasks/?failed=1")
    assert response.status_code == 200
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]  # one round trip
    page = response.content.decode()
    assert "StoreMaintenance" in page and "purgeBlob" in page and "Disk full" in page and "Failed" in page
    (number, task), = ops_state(sandbox).tasks.items()
    assert task["status"]["@type"] == "Failed"
    del ops_state(sandbox).failing["StoreMaintenance"]
    response = client.post("/tools/maintenance/tasks/rerun", {"task": ids.encode(number)}, follow=True)
    assert "The task runs again now." in response.content.decode()
    assert number not in ops_state(sandbox).tasks  # it ran at the next call and left the queue
    assert any(t["@type"] == "StoreMaintenance" for t in queued(sandbox))


def test_a_waiting_task_can_be_cancelled(signed_in, sandbox):
    from sandbox.jmap.ops import new_task

    client = signed_in("admin")
    number = new_task(sandbox, {"@type": "StoreMaintenance", "maintenanceType": "purgeData"}, sandbox.now() + 3600)
    page = client.get("/tools/maintenance/tasks/").content.decode()
    assert "purgeData" in page and "Waiting" in page
    response = client.post("/tools/maintenance/tasks/cancel", {"task": ids.encode(number)}, follow=True)
    assert "The task was cancelled." in response.content.decode()
    assert number not in ops_state(sandbox).tasks
    response = client.post("/tools/maintenance/tasks/cancel", {"task": ids.encode(number)}, follow=True)
    assert "no longer queued" in response.content.decode()


def test_the_task_queue_names_tasks_with_the_servers_labels(signed_in, sandbox):
    from sandbox.jmap.ops import new_task

    client = signed_in("admin")
    later = sandbox.now() + 3600
    new_task(sandbox, {"@type": "StoreMaintenance", "maintenanceType": "purgeBlob"}, later)
    new_task(sandbox, {"@type": "DkimManagement", "domainId": ids.encode(0)}, later)
    page = client.get("/tools/maintenance/tasks/").content.decode()
    # the maintenance type's label (enum TaskStoreMaintenanceType), the raw names small beside it
    assert "<bdi>Purge blob store</bdi> <code" in page
    assert "<bdi>StoreMaintenance</bdi> · <bdi>purgeBlob</bdi></code>" in page
    assert "<bdi>Perform DKIM key rotation for a domain</bdi> <code" in page
    assert "<bdi>DkimManagement</bdi></code>" in page


def test_the_task_queue_keeps_the_bare_names_when_the_schema_cannot_be_read(signed_in, sandbox, monkeypatch):
    from django.core.cache import cache

    from portal.stalwart.jmap import settings as jmap_settings
    from sandbox.jmap.ops import new_task

    client = signed_in("admin")
    new_task(sandbox, {"@type": "StoreMaintenance", "maintenanceType": "purgeData"}, sandbox.now() + 3600)
    monkeypatch.setattr(jmap_settings, "_PARSED", {})
    cache.delete(jmap_settings._location_key())
    sandbox.faults.server_error(503, prefix="/api/schema")
    response = client.get("/tools/maintenance/tasks/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "StoreMaintenance" in page and "purgeData" in page and "Purge data store" not in page


@pytest.mark.parametrize(
    "url",
    ["/tools/maintenance/reindex", "/tools/maintenance/recalculate-quota", "/tools/spam-filter/"],
)
def test_account_fields_ask_for_an_address_on_0_16(signed_in, sandbox, url):
    """(Those of pages both generations have: tests/tools/test_account_examples.py.)"""
    response = signed_in("admin").get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    assert 'placeholder="jane.doe@example.org"' in page and 'placeholder="jane.doe"' not in page
