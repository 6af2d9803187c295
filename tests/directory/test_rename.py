"""Renaming an account through its edit form keeps what it belongs to, on both generations (on
0.16 a mailing list's recipients are addresses, which the portal moves to the new one:
tests/jmap/test_directory_writes.py)."""

from __future__ import annotations

import re

from django.urls import reverse

from tests.jmap.test_directory_names_at_scale import form_values


def test_a_renamed_account_keeps_its_groups_and_lists(signed_in, generation):
    client = signed_in("admin")
    old, new = ("jane.doe@example.org", "jane.d@example.org") if generation.jmap else ("jane.doe", "jane.d")
    newsletter = "newsletter@example.com" if generation.jmap else "newsletter"
    sales = "sales@example.org" if generation.jmap else "sales"
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": old})
    values = form_values(client.get(url).content.decode())
    assert newsletter in values["lists"] and sales in values["memberOf"]
    values["name"] = new
    if generation.jmap:
        values["email"] = new  # the login is the address
    response = client.post(url, values)
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    renamed = form_values(
        client.get(reverse("directory:edit", kwargs={"kind": "accounts", "name": new})).content.decode()
    )
    assert newsletter in renamed["lists"].split() and sales in renamed["memberOf"].split()
    gone = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": old}))
    assert gone.status_code == 404


def test_a_deleted_account_leaves_its_lists(signed_in, generation):
    """On 0.16 the portal takes the deleted account's address off the lists it was on (Stalwart
    would leave it there to bounce); up to 0.15 the server does it."""
    client = signed_in("admin")
    old = "jane.doe@example.org" if generation.jmap else "jane.doe"
    newsletter = "newsletter@example.com" if generation.jmap else "newsletter"
    listing = reverse("directory:detail", kwargs={"kind": "lists", "name": newsletter})
    assert "jane.doe" in client.get(listing).content.decode()
    response = client.post(reverse("directory:delete", kwargs={"kind": "accounts", "name": old}), follow=True)
    assert "deleted." in response.content.decode()  # the message, shown on the page it went back to
    page = client.get(listing).content.decode()
    assert "jane.doe" not in page and "partner@fabrikam.com" in page


def test_accounts_deleted_by_a_search_leave_their_lists(signed_in, generation):
    client = signed_in("admin")
    newsletter = "newsletter@example.com" if generation.jmap else "newsletter"
    listing = reverse("directory:detail", kwargs={"kind": "lists", "name": newsletter})
    url = reverse("directory:delete-matching", kwargs={"kind": "accounts"})
    preview = client.get(url, {"q": "jane.doe"}).content.decode()
    count = int(re.search(r"Delete (\d+) accounts? matching", preview).group(1))
    assert count >= 1
    assert client.post(url, {"q": "jane.doe", "count": count}).status_code == 302
    client.get(listing)  # the deletion's message is shown here
    page = client.get(listing).content.decode()
    assert "jane.doe" not in page and "partner@fabrikam.com" in page


def test_the_delete_page_names_the_lists_it_leaves(signed_in, generation):
    client = signed_in("admin")
    old = "jane.doe@example.org" if generation.jmap else "jane.doe"
    newsletter = "newsletter@example.com" if generation.jmap else "newsletter"
    page = client.get(reverse("directory:delete", kwargs={"kind": "accounts", "name": old})).content.decode()
    sentence = re.search(
        r"It is also taken off its (?:(\d+) mailing lists|mailing list):</p>\s*<ul class=\"chips\">(.*?)</ul>",
        page,
        re.S,
    )
    assert sentence and f"<li>{newsletter}</li>" in sentence.group(2).replace("<bdi>", "").replace("</bdi>", "")
