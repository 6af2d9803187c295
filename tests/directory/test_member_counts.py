"""Member counts on the directory's list pages: up to 0.15 each group, domain and tenant of a list
comes with its members (or their number); 0.16 keeps no member list on a group and no count on a
domain or tenant, so the list pages show no such column rather than a column of zeros (a domain's
or tenant's own page asks the server to count)."""

from __future__ import annotations

import csv
import io
import re

from django.urls import reverse

from tests.directory.test_csv import read_stream


def cells(page: str, label: str) -> list[str]:
    return re.findall(rf'<td data-label="{label}">([^<]*)</td>', page)


def test_groups_and_domains_are_counted_only_where_the_server_says_how_many(signed_in, generation):
    client = signed_in("admin")
    groups = client.get(reverse("directory:list", kwargs={"kind": "groups"})).content.decode()
    domains = client.get(reverse("directory:list", kwargs={"kind": "domains"})).content.decode()
    lists = client.get(reverse("directory:list", kwargs={"kind": "lists"})).content.decode()
    assert any(int(count) > 0 for count in cells(lists, "Members"))  # a list's recipients: both
    if generation.jmap:
        assert cells(groups, "Members") == [] and '<th scope="col">Members</th>' not in groups
        assert cells(domains, "Addresses") == [] and '<th scope="col">Addresses</th>' not in domains
    else:
        assert any(int(count) > 0 for count in cells(groups, "Members"))
        assert any(int(count) > 0 for count in cells(domains, "Addresses"))
    detail = client.get(reverse("directory:detail", kwargs={"kind": "domains", "name": "example.org"})).content.decode()
    # A domain's own page counts: its addresses up to 0.15, its accounts and groups on 0.16
    # (one more request).
    label = "Accounts and groups" if generation.jmap else "Addresses"
    shown = re.search(rf"<dt>{label}</dt><dd>(\d+)</dd>", detail)
    assert shown is not None and int(shown.group(1)) > 0


def test_the_groups_export_has_members_only_where_the_list_says_them(signed_in, generation):
    client = signed_in("admin")
    response = client.get(reverse("directory:export", kwargs={"kind": "groups"}))
    body = read_stream(response)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and ("members" in rows[0]) is not generation.jmap
    if not generation.jmap:
        assert any(row["members"] for row in rows)


def test_a_tenants_page_counts_its_accounts(signed_in, generation):
    page = signed_in("admin").get(reverse("directory:detail", kwargs={"kind": "tenants", "name": "acme"}))
    assert page.status_code == 200
    shown = re.search(r"<dt>Accounts</dt><dd>(\d+)</dd>", page.content.decode())
    assert shown is not None and int(shown.group(1)) >= 4  # its administrator and three people
