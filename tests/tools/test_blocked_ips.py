"""Blocked IP addresses: up to Stalwart 0.15 the settings keys `server.blocked-ip.<address>`,
from 0.16 the x:BlockedIp objects (with a reason and an expiry)."""

from __future__ import annotations

import re

from sandbox.jmap import ids
from sandbox.jmap.ops import ops_state
from tests.conftest import persona

KEY = "server.blocked-ip."


def blocked(generation) -> set[str]:
    """The addresses the server blocks."""
    if generation.jmap:
        return {entry["address"] for entry in ops_state(generation.sandbox).blocked.values()}
    return {key.removeprefix(KEY) for key in generation.sandbox.settings if key.startswith(KEY)}


def entry(generation, address: str) -> str:
    """The unblock form's entry for `address`: the settings key's address, or the x:BlockedIp id."""
    if not generation.jmap:
        return address
    return ids.encode(next(k for k, v in ops_state(generation.sandbox).blocked.items() if v["address"] == address))


def test_the_list_shows_the_blocked_keys(signed_in, generation):
    sandbox = generation.sandbox
    sandbox.settings[KEY + "203.0.113.9"] = ""  # as the auto-ban writes it
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get("/tools/blocked-ips/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "198.51.100.23" in page and "203.0.113.9" in page
    if generation.jmap:
        assert "Failed sign-ins" in page and "Port scanning" in page and 'name="reason"' in page
        assert len(sandbox.requests) == 1  # query and get in one request
    else:
        assert "keeps no reason or expiry" in page  # no reason or expiry fields before 0.16
        assert 'name="reason"' not in page
        assert [r.path for r in sandbox.requests] == ["/api/settings/list"]


def test_block_writes_the_key_and_reloads(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    sandbox.requests.clear()
    reason = {"reason": "manual"} if generation.jmap else {}  # 0.16 keeps why
    response = client.post("/tools/blocked-ips/", {"address": " 2001:db8:0:0::5 ", **reason}, follow=True)
    assert "2001:db8::5 is blocked." in response.content.decode()
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.7/24", "reason": "other", "expires": "1d"})
    assert response.status_code == 302
    assert {"2001:db8::5", "192.0.2.0/24"} <= blocked(generation)
    if generation.jmap:
        (network,) = [v for v in ops_state(sandbox).blocked.values() if v["address"] == "192.0.2.0/24"]
        assert network["reason"] == "other" and network["expiresAt"] is not None
    else:
        assert sandbox.settings[KEY + "2001:db8::5"] == ""
        paths = [r.path for r in sandbox.requests]
        assert "/api/settings" in paths and "/api/reload/server.blocked-ip" in paths
    again = client.post("/tools/blocked-ips/", {"address": "2001:db8::5", **reason})
    assert again.status_code == 422 and "2001:db8::5 is already blocked." in again.content.decode()
    bad = client.post("/tools/blocked-ips/", {"address": "999.1.1.1", **reason})
    assert bad.status_code == 422 and "999.1.1.1" in bad.content.decode()  # the form keeps what was typed


def test_unblock_deletes_the_key_and_reloads(signed_in, generation):
    sandbox = generation.sandbox
    sandbox.settings[KEY + "192.0.2.0/24"] = ""
    client = signed_in("admin")
    assert "192.0.2.0/24" in client.get("/tools/blocked-ips/").content.decode()
    sandbox.requests.clear()
    data = {"entry": entry(generation, "192.0.2.0/24"), "address": "192.0.2.0/24"}
    response = client.post("/tools/blocked-ips/unblock", data, follow=True)
    assert "192.0.2.0/24 is unblocked." in response.content.decode()
    assert "192.0.2.0/24" not in blocked(generation) and "198.51.100.23" in blocked(generation)
    if not generation.jmap:
        assert KEY + "192.0.2.0/24" not in sandbox.settings
        assert "/api/reload/server.blocked-ip" in [r.path for r in sandbox.requests]


def test_an_auto_banned_address_can_sign_in_again_once_unblocked(signed_in, generation):
    from sandbox import limits

    sandbox = generation.sandbox
    sandbox.settings[KEY + "198.51.100.77"] = ""
    client = signed_in("admin")
    if generation.jmap:
        assert "198.51.100.77" in client.get("/tools/blocked-ips/").content.decode()
        number = next(k for k, v in ops_state(sandbox).blocked.items() if v["address"] == "198.51.100.77")
        assert ops_state(sandbox).blocked[number]["reason"] == "authFailure"
    sandbox.rate_limits = True
    assert limits.is_blocked(sandbox, "198.51.100.77")
    client.post("/tools/blocked-ips/unblock", {"entry": entry(generation, "198.51.100.77"), "address": "198.51.100.77"})
    assert not limits.is_blocked(sandbox, "198.51.100.77")
    client.post("/tools/blocked-ips/", {"address": "198.51.100.98", "reason": "manual"})
    assert limits.is_blocked(sandbox, "198.51.100.98")


def test_the_page_takes_the_settings_permissions(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    sandbox.requests.clear()
    assert client.get("/tools/blocked-ips/").status_code == 403
    assert client.post("/tools/blocked-ips/", {"address": "192.0.2.1"}).status_code == 403
    assert client.post("/tools/blocked-ips/unblock", {"entry": "198.51.100.23"}).status_code == 403
    assert sandbox.requests == []


def test_the_maintenance_and_throttle_pages_link_to_it(signed_in, generation):
    client = signed_in("admin")
    response = client.get("/tools/maintenance/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/tools/blocked-ips/"' in page
    # the 0.16 tasks are listed only there
    assert ("Reset stored state" in page) is generation.jmap
    assert ('href="/tools/maintenance/tasks/"' in page) is generation.jmap
    assert 'href="/tools/blocked-ips/"' in client.get("/auth/throttle/").content.decode()
    if generation.jmap:
        titles = (
            "Spam classifier",
            "Clear caches",
            "Recount the used quota of an account",
            "DKIM keys, DNS records and certificates of a domain",
            "Rebuild the search index",
        )
        for title in titles:
            assert title in page, title
        assert "no restart command" in page  # not offered, and says why
        assert "no general purge of the in-memory store" in page
        assert "Check only" not in page  # no dry run on 0.16


def test_a_person_without_the_permissions_is_refused_before_any_call(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("user")
    sandbox.requests.clear()
    urls = ["/tools/maintenance/", "/tools/blocked-ips/"]
    if generation.jmap:
        urls.append("/tools/maintenance/tasks/")
        assert client.post("/tools/maintenance/tasks/cancel", {"task": "b"}).status_code == 403
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post("/tools/blocked-ips/unblock", {"entry": "b"}).status_code == 403
    assert sandbox.requests == []


def test_the_task_queue_is_only_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get("/tools/maintenance/tasks/")
    assert response.status_code == 404 and "Only Stalwart 0.16" in response.content.decode()
    assert client.get("/tools/maintenance/store-task").status_code == 404
    assert sandbox.requests == []


def test_an_upstream_failure_keeps_the_form(signed_in, generation, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    urls = ("/tools/blocked-ips/", "/tools/maintenance/tasks/") if generation.jmap else ("/tools/blocked-ips/",)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 502, url
        assert persona("admin").password not in response.content.decode()
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.44", "reason": "manual"})
    assert response.status_code == 502
    page = response.content.decode()
    assert "192.0.2.44" in page and persona("admin").password not in page


def test_thousands_are_read_whole_and_shown_a_page_at_a_time(signed_in, generation):
    """A busy server blocks thousands of addresses (on 0.16 more than one `/get` may return):
    every one is read, shown 25 at a time in address order, and found by part of its address."""
    from tests.jmap.test_directory_names_at_scale import MANY, create

    addresses = [f"198.51.{i // 250}.{i % 250 + 1}" for i in range(MANY)]
    if generation.jmap:
        create("BlockedIp", {f"b{i}": {"address": a, "reason": "authFailure"} for i, a in enumerate(addresses)})
    else:
        generation.sandbox.settings.update({KEY + address: "" for address in addresses})
    client = signed_in("admin")
    listed = re.compile(r"198\.51\.[012]\.\d+(?=<)")

    def shown(page: str) -> list[str]:
        return list(dict.fromkeys(listed.findall(page)))  # each address is named twice in its row

    total = len(blocked(generation))
    first = client.get("/tools/blocked-ips/").content.decode()
    assert len(shown(first)) == 25 and f"1–25 of {total}" in first and 'rel="next"' in first
    assert f"{total} blocked addresses or networks." in first
    pages = [first] + [
        client.get("/tools/blocked-ips/", {"page": n}).content.decode() for n in range(2, (total + 24) // 25 + 1)
    ]
    seen = [address for page in pages for address in shown(page)]
    assert len(seen) == MANY and set(seen) == set(addresses)  # each once, in the server's order
    found = client.get("/tools/blocked-ips/", {"q": "198.51.2."}).content.decode()
    assert sorted(shown(found)) == sorted(a for a in addresses if a.startswith("198.51.2.")) and "of 5" in found
    assert 'value="198.51.2."' in found and "Show all" in found
    none = client.get("/tools/blocked-ips/", {"q": "<b>10.9.9.9</b>"}).content.decode()
    assert "No blocked address matches" in none and "&lt;b&gt;10.9.9.9&lt;/b&gt;" in none and "<b>10.9" not in none
    beyond = client.get("/tools/blocked-ips/", {"q": "198.51.2.", "page": 9}).content.decode()
    assert not shown(beyond) and "This page is empty" in beyond
    assert 'href="?q=198.51.2."' in beyond and "No blocked address matches" not in beyond
