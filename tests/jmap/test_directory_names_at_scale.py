"""Names on a big 0.16 server: more domains, groups and mailing lists than one `/get` returns.

Stalwart answers `x:<Object>/get` with `ids: null` with the first `maxObjectsInGet` (500)
objects, and refuses more ids than that (`requestTooLarge`). An account in the 501st domain,
a member of the 501st group or on the 501st list must still show those names, be created and
be edited without losing anything it has; a settings form must keep a domain past the 500th;
a group of 505 members and an address whose local part 505 accounts share must work.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.urls import reverse

from portal.stalwart.jmap.client import USING
from tests.conftest import persona

MANY = 505  # past the sandbox's (and Stalwart's default) maxObjectsInGet of 500


def jmap(calls: list) -> dict:
    who = persona("admin")
    response = httpx.post(
        settings.STALWART_URL + "/jmap/",
        json={"using": list(USING), "methodCalls": calls},
        auth=(who.name, who.password),
        timeout=60,
    )
    assert response.status_code == 200, response.text[:500]
    answers = {call_id: (name, body) for name, body, call_id in response.json()["methodResponses"]}
    for name, body in answers.values():
        assert name != "error", body
    return {call_id: body for call_id, (_name, body) in answers.items()}


def create(obj: str, values: dict[str, dict]) -> dict[str, str]:
    """Creates in calls of 250; returns creation key -> id."""
    created: dict[str, str] = {}
    keys = list(values)
    for start in range(0, len(keys), 250):
        chunk = {key: values[key] for key in keys[start : start + 250]}
        answer = jmap([[f"x:{obj}/set", {"create": chunk}, "s"]])["s"]
        assert not answer.get("notCreated"), list((answer.get("notCreated") or {}).values())[:2]
        created.update({key: value["id"] for key, value in answer["created"].items()})
    return created


def domain_id(name: str) -> str:
    answer = jmap([["x:Domain/query", {"filter": {"name": name}}, "q"]])["q"]
    return answer["ids"][0]


def seed_many() -> dict[str, Any]:
    """MANY more domains, groups and mailing lists; returns the ids of the newest of each, which
    lie past the first 500."""
    manual = {"@type": "Manual"}  # no DKIM key made for each
    domains = create("Domain", {f"d{i}": {"name": f"d{i:03}.example", "dkimManagement": manual} for i in range(MANY)})
    home = domain_id("example.org")
    groups = create(
        "Account", {f"g{i}": {"@type": "Group", "name": f"team{i:03}", "domainId": home} for i in range(MANY)}
    )
    lists = create(
        "MailingList", {f"l{i}": {"name": f"list{i:03}", "domainId": home, "recipients": {}} for i in range(MANY)}
    )
    last = MANY - 1
    return {
        "last_domain": domains[f"d{last}"],
        "last_group": groups[f"g{last}"],
        "last_list": lists[f"l{last}"],
        "domains": [domains[f"d{i}"] for i in range(MANY)],
    }


@pytest.fixture
def big(sandbox) -> dict[str, Any]:
    return seed_many()


def detail(client, name: str) -> str:
    response = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    assert response.status_code == 200, response.content[-2000:]
    return response.content.decode()


def jmap_posts(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.method == "POST" and r.path == "/jmap/")


def form_values(page: str) -> dict[str, str]:
    """What the edit form holds: its inputs, textareas and selected options."""
    values = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    values.update({k: v.strip() for k, v in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page)})
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = chosen.group(1) if chosen else ""
    return values


def test_editing_an_account_keeps_what_lies_past_the_first_500(signed_in, sandbox, big):
    """An alias in the 505th domain, the 505th group and list: a rename and a new description keep
    them all (the form shows them, so saving it does not drop them), and a group and a list past
    the first 500 can be left."""
    client = signed_in("admin")
    last = MANY - 1
    account = "jane.doe@example.org"
    jane = jmap([["x:Account/query", {"filter": {"name": "jane.doe"}}, "q"]])["q"]["ids"][0]
    jmap(
        [
            [
                "x:Account/set",
                {
                    "update": {
                        jane: {
                            f"memberGroupIds/{big['last_group']}": True,
                            "aliases/0": {"name": "jd", "domainId": big["last_domain"]},
                        }
                    }
                },
                "u",
            ]
        ]
    )
    jmap([["x:MailingList/set", {"update": {big["last_list"]: {f"recipients/{account}": True}}}, "u"]])
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": account})
    values = form_values(client.get(url).content.decode())
    assert f"jd@d{last:03}.example" in values["aliases"]
    assert f"team{last:03}@example.org" in values["memberOf"]
    assert f"list{last:03}@example.org" in values["lists"]
    response = client.post(url, {**values, "description": "Jane, renamed", "email": "jane.d@example.org"})
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    page = detail(client, "jane.d@example.org")
    assert "Jane, renamed" in page
    assert f"jd@d{last:03}.example" in page and f"team{last:03}@example.org" in page
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": "jane.d@example.org"})
    values = form_values(client.get(url).content.decode())
    left = {
        "memberOf": "\n".join(g for g in values["memberOf"].split() if not g.startswith("team")),
        "lists": "\n".join(m for m in values["lists"].split() if not m.startswith("list")),
    }
    response = client.post(url, {**values, **left})
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    page = detail(client, "jane.d@example.org")
    assert f"team{last:03}@example.org" not in page and f"list{last:03}@example.org" not in page
    assert f"jd@d{last:03}.example" in page


def test_a_list_page_costs_one_more_request_only_past_the_first_500(signed_in, sandbox):
    """Up to 500 of each, the names come with the page (one request); past that, one more
    request reads the missing ones by id."""
    client = signed_in("admin")
    listing = reverse("directory:list", kwargs={"kind": "accounts"})
    sandbox.requests.clear()
    assert client.get(listing).status_code == 200
    assert jmap_posts(sandbox) == 1
    home = domain_id("example.org")
    create("Account", {f"g{i}": {"@type": "Group", "name": f"team{i:03}", "domainId": home} for i in range(MANY)})
    jane = jmap([["x:Account/query", {"filter": {"name": "jane.doe"}}, "q"]])["q"]["ids"][0]
    newest = jmap([["x:Account/query", {"filter": {"@type": "Group", "name": f"team{MANY - 1:03}"}}, "q"]])["q"]
    jmap([["x:Account/set", {"update": {jane: {f"memberGroupIds/{newest['ids'][0]}": True}}}, "u"]])
    sandbox.requests.clear()
    page = client.get(listing, {"size": "50"}).content.decode()
    assert jmap_posts(sandbox) == 2
    assert f"team{MANY - 1:03}@example.org" in page


def test_a_settings_form_offers_every_domain_past_the_first_500(signed_in, sandbox, big):
    """The network settings' default domain is a select of the domains: all of them are offered
    (a page of 500 a request), one past the first 500 is named and selected, and saving the form
    unchanged keeps it (it was not among the choices before, so the browser sent the first one
    instead)."""
    from sandbox.jmap.ops import ops_state
    from tests.jmap.test_settings import NETWORK, preview_then_save

    jmap([["x:SystemSettings/set", {"update": {"singleton": {"defaultDomainId": big["last_domain"]}}}, "u"]])
    client = signed_in("admin")
    page = client.get(NETWORK).content.decode()
    assert f'<option value="{big["last_domain"]}" selected>d{MANY - 1:03}.example</option>' in page
    offered = re.findall(r'<option value="[^"]+"(?: selected)?>(d\d{3}\.example)</option>', page)
    assert offered == [f"d{i:03}.example" for i in range(MANY)]  # each once, by name
    assert "only the first" not in page
    values = form_values(page)
    assert values["defaultDomainId"] == big["last_domain"]
    _preview, saved = preview_then_save(client, NETWORK, {**values, "defaultHostname": "mx.example.org"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    stored = ops_state(sandbox).singletons["SystemSettings"]
    assert stored["defaultHostname"] == "mx.example.org" and stored["defaultDomainId"] == big["last_domain"]


def test_a_settings_form_says_when_it_offers_only_some(signed_in, sandbox, big, monkeypatch):
    """Past `MAX_CHOICES` objects the select offers the first the server lists, says so, and
    still holds (and keeps) the one the setting names."""
    from portal.settings_pages import schema_forms
    from portal.stalwart.jmap import settings as jmap_settings
    from tests.jmap.test_settings import NETWORK

    monkeypatch.setattr(jmap_settings, "MAX_CHOICES", 500)
    monkeypatch.setattr(schema_forms, "MAX_CHOICES", 500)
    jmap([["x:SystemSettings/set", {"update": {"singleton": {"defaultDomainId": big["last_domain"]}}}, "u"]])
    page = signed_in("admin").get(NETWORK).content.decode()
    assert "This server has at least 500 of these: only the first 500 it lists are offered." in page
    assert f'<option value="{big["last_domain"]}" selected>d{MANY - 1:03}.example</option>' in page
    assert len(re.findall(r'<option value="[^"]+"(?: selected)?>d\d{3}\.example</option>', page)) < MANY


def test_a_settings_form_keeps_the_first_500_for_someone_who_may_not_query_them(signed_in, sandbox, big):
    """Reading every domain takes `/query`: without `sysDomainQuery` the select offers the first
    500 (what `/get` gave) and the one held, and the page still shows."""
    from tests.jmap.test_api_keys import account_id, admin
    from tests.jmap.test_api_keys import jmap as jmap_as
    from tests.jmap.test_settings import NETWORK

    jmap([["x:SystemSettings/set", {"update": {"singleton": {"defaultDomainId": big["last_domain"]}}}, "u"]])
    who = account_id(persona("helpdesk").name)
    grant = {"sysSystemSettingsGet": True, "sysSystemSettingsUpdate": True, "sysDomainGet": True}
    permissions = {"@type": "Merge", "enabledPermissions": grant, "disabledPermissions": {"sysDomainQuery": True}}
    ((_n, answer, _i),) = jmap_as(
        [["x:Account/set", {"update": {who: {"permissions": permissions}}}, "u"]], auth=admin()
    )
    assert answer.get("updated"), answer
    page = signed_in("helpdesk").get(NETWORK)
    assert page.status_code == 200, page.content.decode()[-2000:]
    content = page.content.decode()
    assert f'<option value="{big["last_domain"]}" selected>d{MANY - 1:03}.example</option>' in content
    assert len(re.findall(r'<option value="[^"]+"(?: selected)?>d\d{3}\.example</option>', content)) < MANY


def test_a_group_with_more_members_than_one_get_returns(signed_in, sandbox):
    """A group's members are the accounts naming it: 505 of them are shown and kept when the
    group gains one more through its edit form."""
    home = domain_id("example.org")
    group = create("Account", {"g": {"@type": "Group", "name": "everyone", "domainId": home}})["g"]
    create(
        "Account",
        {
            f"u{i}": {"@type": "User", "name": f"member{i:03}", "domainId": home, "memberGroupIds": {group: True}}
            for i in range(MANY)
        },
    )
    client = signed_in("admin")
    page = client.get(reverse("directory:detail", kwargs={"kind": "groups", "name": "everyone@example.org"}))
    assert page.status_code == 200, page.content.decode()[-2000:]
    shown = page.content.decode()
    assert all(f"member{i:03}@example.org" in shown for i in range(MANY))
    # The first 40 (by address) as chips, the others folded under a line that counts them.
    fold = shown.index(f"<summary>Show {MANY - 40} more</summary>")
    assert shown.index("member039@example.org") < fold < shown.index("member040@example.org")
    url = reverse("directory:edit", kwargs={"kind": "groups", "name": "everyone@example.org"})
    values = form_values(client.get(url).content.decode())
    assert len(values["members"].split()) == MANY
    response = client.post(url, {**values, "members": values["members"] + "\njane.doe@example.org"})
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    found = jmap([["x:Account/query", {"filter": {"memberGroupIds": group}, "calculateTotal": True}, "q"]])["q"]
    assert found["total"] == MANY + 1


def test_a_groups_members_are_shown_by_address(signed_in, sandbox):
    """The server lists the accounts naming a group in the order they were made; the page and
    the edit form list them by address."""
    home = domain_id("example.org")
    group = create("Account", {"g": {"@type": "Group", "name": "crew", "domainId": home}})["g"]
    made = ["zoe", "Adam", "mia", "bob"]
    create(
        "Account",
        {n: {"@type": "User", "name": n, "domainId": home, "memberGroupIds": {group: True}} for n in made},
    )
    client = signed_in("admin")
    shown = client.get(reverse("directory:detail", kwargs={"kind": "groups", "name": "crew@example.org"}))
    page = shown.content.decode()
    addresses = [f"{n}@example.org" for n in ("adam", "bob", "mia", "zoe")]  # names are kept in lower case
    assert [page.index(a) for a in addresses] == sorted(page.index(a) for a in addresses)
    url = reverse("directory:edit", kwargs={"kind": "groups", "name": "crew@example.org"})
    assert form_values(client.get(url).content.decode())["members"].split() == addresses


def test_a_local_part_shared_by_more_accounts_than_one_get_returns(signed_in, sandbox, big):
    """postmaster@ in each of 505 domains: the one of the last domain is found by its address
    (its page, a group's members, its deleted items, a maintenance task for it), and a bare
    `postmaster` stays ambiguous."""
    from portal.stalwart.jmap import lookup
    from portal.stalwart.jmap.client import JmapClient
    from portal.stalwart.jmap.maintenance import JmapMaintenance

    created = create(
        "Account",
        {
            f"p{i}": {"@type": "User", "name": "postmaster", "domainId": domain}
            for i, domain in enumerate(big["domains"])
        },
    )
    address = f"postmaster@d{MANY - 1:03}.example"
    client = signed_in("admin")
    assert address in detail(client, address)
    url = reverse("directory:edit", kwargs={"kind": "groups", "name": "sales@example.org"})
    values = form_values(client.get(url).content.decode())
    response = client.post(url, {**values, "members": values["members"] + "\n" + address})
    assert response.status_code == 302, re.findall(r"error[^<]{0,200}", response.content.decode())
    member = jmap([["x:Account/get", {"ids": [created[f"p{MANY - 1}"]], "properties": ["memberGroupIds"]}, "g"]])
    assert member["g"]["list"][0]["memberGroupIds"]
    response = client.get(reverse("undelete:list", kwargs={"account": address}))
    assert response.status_code == 200, response.content.decode()[-1500:]
    who = persona("admin")
    backend = JmapClient(basic=(who.name, who.password))
    found = asyncio.run(lookup.find_accounts(backend, [address, "postmaster", "nobody@example.org"]))
    assert {name: item["id"] for name, item in found.items()} == {address: created[f"p{MANY - 1}"]}
    task = asyncio.run(JmapMaintenance(backend)._find_id("Account", address, "account"))
    assert task == created[f"p{MANY - 1}"]
