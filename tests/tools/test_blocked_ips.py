"""Blocked IP addresses up to Stalwart 0.15: the settings keys `server.blocked-ip.<address>`."""

from __future__ import annotations

from tests.conftest import persona

KEY = "server.blocked-ip."


def test_the_list_shows_the_blocked_keys(signed_in, sandbox):
    sandbox.settings[KEY + "203.0.113.9"] = ""  # as the auto-ban writes it
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get("/tools/blocked-ips/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "198.51.100.23" in page and "203.0.113.9" in page
    assert "keeps no reason or expiry" in page  # no reason or expiry fields before 0.16
    assert 'name="reason"' not in page
    assert [r.path for r in sandbox.requests] == ["/api/settings/list"]


def test_block_writes_the_key_and_reloads(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.post("/tools/blocked-ips/", {"address": " 2001:db8:0:0::5 "}, follow=True)
    assert "2001:db8::5 is blocked." in response.content.decode()
    assert sandbox.settings[KEY + "2001:db8::5"] == ""
    paths = [r.path for r in sandbox.requests]
    assert "/api/settings" in paths and "/api/reload/server.blocked-ip" in paths
    again = client.post("/tools/blocked-ips/", {"address": "2001:db8::5"})
    assert again.status_code == 422 and "2001:db8::5 is already blocked." in again.content.decode()
    bad = client.post("/tools/blocked-ips/", {"address": "999.1.1.1"})
    assert bad.status_code == 422 and "999.1.1.1" in bad.content.decode()


def test_unblock_deletes_the_key_and_reloads(signed_in, sandbox):
    sandbox.settings[KEY + "192.0.2.0/24"] = ""
    client = signed_in("admin")
    assert "192.0.2.0/24" in client.get("/tools/blocked-ips/").content.decode()
    sandbox.requests.clear()
    data = {"entry": "192.0.2.0/24", "address": "192.0.2.0/24"}
    response = client.post("/tools/blocked-ips/unblock", data, follow=True)
    assert "192.0.2.0/24 is unblocked." in response.content.decode()
    assert KEY + "192.0.2.0/24" not in sandbox.settings
    assert "/api/reload/server.blocked-ip" in [r.path for r in sandbox.requests]


def test_an_auto_banned_address_can_sign_in_again_once_unblocked(signed_in, sandbox):
    from sandbox import limits

    sandbox.rate_limits = True
    sandbox.settings[KEY + "198.51.100.77"] = ""
    assert limits.is_blocked(sandbox, "198.51.100.77")
    client = signed_in("admin")
    client.post("/tools/blocked-ips/unblock", {"entry": "198.51.100.77", "address": "198.51.100.77"})
    assert not limits.is_blocked(sandbox, "198.51.100.77")


def test_the_page_takes_the_settings_permissions(signed_in, sandbox):
    client = signed_in("helpdesk")
    sandbox.requests.clear()
    assert client.get("/tools/blocked-ips/").status_code == 403
    assert client.post("/tools/blocked-ips/", {"address": "192.0.2.1"}).status_code == 403
    assert client.post("/tools/blocked-ips/unblock", {"entry": "198.51.100.23"}).status_code == 403
    assert sandbox.requests == []


def test_the_maintenance_and_throttle_pages_link_to_it(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/tools/maintenance/").content.decode()
    assert 'href="/tools/blocked-ips/"' in page
    assert "Reset stored state" not in page  # the 0.16 tasks are not listed here
    assert 'href="/tools/maintenance/tasks/"' not in page
    assert 'href="/tools/blocked-ips/"' in client.get("/auth/throttle/").content.decode()


def test_the_task_queue_is_only_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get("/tools/maintenance/tasks/")
    assert response.status_code == 404 and "Only Stalwart 0.16" in response.content.decode()
    assert client.get("/tools/maintenance/store-task").status_code == 404
    assert sandbox.requests == []


def test_an_upstream_failure_keeps_the_form(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/tools/blocked-ips/").status_code == 502
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.44"})
    assert response.status_code == 502
    page = response.content.decode()
    assert "192.0.2.44" in page and persona("admin").password not in page
