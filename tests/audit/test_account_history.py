"""A directory entry's page links to its changes in the audit trail (the trail filtered by it as
the target), on both generations."""

from __future__ import annotations

import re
from html import unescape

from django.urls import reverse

from portal.models import AuditEntry


def test_an_accounts_page_links_to_the_changes_made_to_it(signed_in, generation):
    client = signed_in("admin")
    name = "jane.doe@example.org" if generation.jmap else "jane.doe"
    other = "bruno.moreau@example.org" if generation.jmap else "bruno.moreau"
    for who in (name, other):
        url = reverse("directory:account-sign-in", kwargs={"name": who})
        assert client.post(url, {"enable": "0"}).status_code == 302
    assert AuditEntry.objects.filter(action="principal.update", target=name, outcome="success").exists()
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name})).content.decode()
    link = re.search(r'<a class="button" href="([^"]+)">Change history</a>', page)
    assert link is not None
    history = client.get(unescape(link.group(1))).content.decode()
    assert f'value="{name}"' in history  # the filter, filled in
    rows = re.findall(r'<td data-label="Target">(?:<bdi>)?([^<]*)', history)
    assert rows and set(rows) == {name}  # its own changes, not the other account's
