"""The blocked-IP page on Stalwart 0.16 with expired entries: 0.16 stops applying an entry once
its expiry has passed but lists it until its blocked list is built again (the reload after a
block or unblock), so the page marks it expired and says so."""

from __future__ import annotations

import html
import re

from django.urls import reverse

from sandbox.jmap.ops import ops_state


def _row(page: str, address: str) -> str:
    pattern = r"<tr>\s*<th scope=\"row\"><code[^>]*>(?:<bdi>)?" + re.escape(address) + r".*?</tr>"
    return re.search(pattern, page, re.S).group(0)


def test_an_expired_entry_is_marked_until_the_next_reload_removes_it(signed_in, sandbox):
    now = sandbox.now()
    blocked = ops_state(sandbox).blocked
    blocked[900] = {"address": "192.0.2.70", "createdAt": now - 7200, "expiresAt": now - 60, "reason": "manual"}
    blocked[901] = {"address": "192.0.2.71", "createdAt": now - 60, "expiresAt": now + 3600, "reason": "manual"}
    client = signed_in("admin")
    page = html.unescape(client.get(reverse("tools:blocked-ips")).content.decode())
    assert "Expired" in _row(page, "192.0.2.70")
    assert "Expired" not in _row(page, "192.0.2.71") and "Until unblocked" not in _row(page, "192.0.2.71")
    assert "1 entry has expired: it no longer blocks anyone" in page
    response = client.post(reverse("tools:blocked-ips"), {"address": "192.0.2.72", "reason": "manual"}, follow=True)
    page = html.unescape(response.content.decode())
    assert "192.0.2.72 is blocked." in page
    assert "192.0.2.70" not in page and "192.0.2.71" in page  # the reload deleted the expired entry
    assert "has expired" not in page
