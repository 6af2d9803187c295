"""An account in the 505th domain, a member of the 505th group and on the 505th mailing list is
created from the form and shown with those names, on both generations (on 0.16 past the 500
names one `/get` returns: tests/jmap/test_directory_names_at_scale.py)."""

from __future__ import annotations

import re

import httpx
from django.conf import settings
from django.urls import reverse

from tests.conftest import persona, sign_in
from tests.jmap.test_directory_names_at_scale import MANY, seed_many


def seed(generation) -> None:
    """MANY more domains, groups and mailing lists, through the server's own API."""
    if generation.jmap:
        seed_many()
        return
    who = persona("admin")
    with httpx.Client(base_url=settings.STALWART_URL, auth=(who.name, who.password)) as api:
        for i in range(MANY):
            for principal in (
                {"type": "domain", "name": f"d{i:03}.example"},
                {"type": "group", "name": f"team{i:03}", "emails": [f"team{i:03}@example.org"]},
                {"type": "list", "name": f"list{i:03}", "emails": [f"list{i:03}@example.org"]},
            ):
                response = api.post("/api/principal", json=principal)
                assert response.status_code == 200 and "error" not in response.json(), response.text


def test_an_account_past_the_first_500_of_everything_is_created_and_shown(client, generation):
    seed(generation)
    assert sign_in(client, "admin").status_code == 302
    last = MANY - 1
    address = f"zed@d{last:03}.example"
    # On 0.16 a group or list is named by its address; on <= 0.15 by its name.
    group = f"team{last:03}@example.org" if generation.jmap else f"team{last:03}"
    mailing_list = f"list{last:03}@example.org" if generation.jmap else f"list{last:03}"
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {
            "name": address if generation.jmap else "zed",
            "description": "Zed",
            "email": address,
            "aliases": f"zed@d{last - 1:03}.example",
            "password": "Correct-Horse-Battery-9",
            "roles": "user",
            "memberOf": group,
            "lists": mailing_list,
            "quota_amount": "",
            "quota_unit": "GiB",
        },
    )
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    shown = client.get(
        reverse("directory:detail", kwargs={"kind": "accounts", "name": address if generation.jmap else "zed"})
    ).content.decode()
    for name in (f"zed@d{last - 1:03}.example", group, mailing_list):
        assert name in shown, name
    listed = client.get(reverse("directory:list", kwargs={"kind": "accounts"}), {"q": "zed"}).content.decode()
    assert group in listed and f"zed@d{last - 1:03}.example" in listed
