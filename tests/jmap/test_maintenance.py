"""Maintenance, the task queue and blocked IPs on Stalwart 0.16: x:Task, x:Action, x:BlockedIp."""

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
from tests.conftest import persona


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


def test_the_maintenance_page_offers_what_0_16_has(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/tools/maintenance/")
    assert response.status_code == 200
    page = response.content.decode()
    for title in ("Reset stored state", "Spam classifier", "Clear caches", "Recount the used quota of an account",
                  "DKIM keys, DNS records and certificates of a domain", "Rebuild the search index"):
        assert title in page, title
    assert "no restart command" in page  # not offered, and says why
    assert "no general purge of the in-memory store" in page
    assert "Check only" not in page  # no dry run on 0.16
    assert 'href="/tools/maintenance/tasks/"' in page and 'href="/tools/blocked-ips/"' in page


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


def test_blocked_ips_list_block_and_unblock(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get("/tools/blocked-ips/")
    assert response.status_code == 200
    assert len(sandbox.requests) == 1  # query and get in one request
    page = response.content.decode()
    assert "203.0.113.66" in page and "Failed sign-ins" in page and "Port scanning" in page
    data = {"address": "192.0.2.7/24", "reason": "other", "expires": "1d"}
    response = client.post("/tools/blocked-ips/", data, follow=True)
    assert "192.0.2.0/24 is blocked." in response.content.decode()
    entry = next(v for v in ops_state(sandbox).blocked.values() if v["address"] == "192.0.2.0/24")
    assert entry["reason"] == "other" and entry["expiresAt"] is not None
    again = client.post("/tools/blocked-ips/", {"address": "192.0.2.0/24", "reason": "manual"})
    assert again.status_code == 422 and "192.0.2.0/24 is already blocked." in again.content.decode()
    bad = client.post("/tools/blocked-ips/", {"address": "not-an-ip", "reason": "manual"})
    assert bad.status_code == 422 and "not-an-ip" in bad.content.decode()  # the form keeps what was typed
    number = next(k for k, v in ops_state(sandbox).blocked.items() if v["address"] == "203.0.113.66")
    data = {"entry": ids.encode(number), "address": "203.0.113.66"}
    response = client.post("/tools/blocked-ips/unblock", data, follow=True)
    assert "203.0.113.66 is unblocked." in response.content.decode()
    assert all(v["address"] != "203.0.113.66" for v in ops_state(sandbox).blocked.values())


def test_a_person_without_the_permissions_is_refused_before_any_call(signed_in, sandbox):
    client = signed_in("user")
    sandbox.requests.clear()
    for url in ("/tools/maintenance/", "/tools/maintenance/tasks/", "/tools/blocked-ips/"):
        assert client.get(url).status_code == 403, url
    assert client.post("/tools/blocked-ips/unblock", {"entry": "b"}).status_code == 403
    assert client.post("/tools/maintenance/tasks/cancel", {"task": "b"}).status_code == 403
    assert sandbox.requests == []


def test_blocked_ips_take_the_settings_permissions(signed_in, sandbox):
    client = signed_in("helpdesk")  # maintenance actions, but not the server's settings
    sandbox.requests.clear()
    assert client.get("/tools/blocked-ips/").status_code == 403
    assert client.post("/tools/blocked-ips/", {"address": "192.0.2.1"}).status_code == 403
    assert sandbox.requests == []


def test_an_upstream_failure_gives_the_explanatory_page(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    for url in ("/tools/maintenance/tasks/", "/tools/blocked-ips/"):
        response = client.get(url)
        assert response.status_code == 502, url
        assert persona("admin").password not in response.content.decode()
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.9", "reason": "manual"})
    assert response.status_code == 502
    assert "192.0.2.9" in response.content.decode()  # the form keeps what was typed


def test_an_address_the_auto_ban_blocked_is_listed_and_unblocking_lets_it_in(signed_in, sandbox):
    from sandbox import limits

    sandbox.settings["server.blocked-ip.198.51.100.99"] = ""  # as the auto-ban writes it
    client = signed_in("admin")
    page = client.get("/tools/blocked-ips/").content.decode()
    assert "198.51.100.99" in page
    number = next(k for k, v in ops_state(sandbox).blocked.items() if v["address"] == "198.51.100.99")
    assert ops_state(sandbox).blocked[number]["reason"] == "authFailure"
    sandbox.rate_limits = True
    assert limits.is_blocked(sandbox, "198.51.100.99")
    client.post("/tools/blocked-ips/unblock", {"entry": ids.encode(number), "address": "198.51.100.99"})
    assert not limits.is_blocked(sandbox, "198.51.100.99")
    client.post("/tools/blocked-ips/", {"address": "198.51.100.98", "reason": "manual"})
    assert limits.is_blocked(sandbox, "198.51.100.98")


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
    ["/tools/maintenance/reindex", "/tools/maintenance/reset-uids", "/tools/maintenance/recalculate-quota",
     "/tools/spam-filter/train", "/tools/spam-filter/", "/undelete/"],
)
def test_account_fields_ask_for_an_address_on_0_16(signed_in, sandbox, url):
    response = signed_in("admin").get(url)
    assert response.status_code == 200, url
    page = response.content.decode()
    assert 'placeholder="jane.doe@example.org"' in page and 'placeholder="jane.doe"' not in page
