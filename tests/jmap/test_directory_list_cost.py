"""The account list on Stalwart 0.16 reads only what its fields need, and shows the same."""

from __future__ import annotations

import asyncio
from typing import Any

from portal.directory.kinds import KINDS
from portal.stalwart.jmap import principals as area
from portal.stalwart.jmap.client import JmapClient
from portal.stalwart.jmap.ids import id_text
from portal.stalwart.types import NO_SECRETS
from tests.conftest import persona


def admin() -> JmapClient:
    return JmapClient(basic=(persona("admin").name, persona("admin").password))


def listed(fields: tuple[str, ...], **kwargs: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The page, and the arguments of the x:Account/get calls by back-reference it sent (its own first)."""
    client = admin()
    sent: list[dict[str, Any]] = []
    send = client.call

    async def spy(calls, **options):
        sent.extend(call.arguments for call in calls if call.name == "x:Account/get" and "#ids" in call.arguments)
        return await send(calls, **options)

    client.call = spy  # type: ignore[method-assign]
    page = asyncio.run(
        area.JmapPrincipals(client).list(types=["individual"], page=1, limit=50, fields=fields, **kwargs)
    )
    return page, sent


def test_the_list_asks_for_the_properties_of_its_fields(sandbox):
    _page, sent = listed(KINDS["accounts"].fields)
    arguments = sent[0]  # the page's (the next one names the groups)
    properties = set(arguments["properties"])
    assert {"@type", "emailAddress", "memberTenantId", "aliases", "quotas", "roles"} <= properties
    assert not properties & {"credentials", "permissions", "encryptionAtRest", "locale", "createdAt"}


def test_no_fields_or_an_unknown_one_reads_everything(sandbox):
    assert area.list_properties(area.SPECS["individual"], ()) is None
    assert area.list_properties(area.SPECS["individual"], ("name", "picture")) is None
    assert area.list_properties(area.SPECS["domain"], ("name",)) is None
    _page, sent = listed(())
    assert "properties" not in sent[0]


def test_the_fields_it_asks_for_are_the_same_as_from_a_full_read(sandbox):
    """Every field the list shows is what the full object gives; only the others are left out."""
    fields = KINDS["accounts"].fields
    page, _ = listed(fields)
    full, _ = listed(())
    assert page.total == full.total and len(page.items) == len(full.items) > 10
    shown = ("id", "type", "name", "description", "emails", "quota", "used_quota", "member_of", "roles", "tenant")
    for narrow, wide in zip(page.items, full.items, strict=True):
        assert [getattr(narrow, key) for key in shown] == [getattr(wide, key) for key in shown]
        assert narrow.secrets == NO_SECRETS
    assert any(item.roles == ("admin",) for item in page.items)
    assert any(item.member_of for item in page.items) and any(item.aliases for item in page.items)


def test_the_rank_rule_fields_carry_the_permissions(sandbox):
    first = next(p for p in listed(())[0].items if p.roles == ("user",))
    own = {"@type": "Merge", "enabledPermissions": {"sysLogGet": True}, "disabledPermissions": {"authenticate": True}}
    asyncio.run(admin().set("Account", update={id_text(first.id or 0): {"permissions": own}}))
    fields = ("name", "roles", "enabledPermissions", "disabledPermissions")
    page, sent = listed(fields)
    assert "permissions" in sent[0]["properties"]
    full, _ = listed(())
    pick = ("name", "roles", "enabled_permissions", "disabled_permissions", "tenant")
    assert [[getattr(p, k) for k in pick] for p in page.items] == [[getattr(p, k) for k in pick] for p in full.items]
    changed = next(p for p in page.items if p.id == first.id)
    assert "logs-view" in changed.enabled_permissions and "authenticate" in changed.disabled_permissions


def methods(fields: tuple[str, ...]) -> list[str]:
    """The method calls of one list request with these fields."""
    client = admin()
    sent: list[str] = []
    send = client.call

    async def spy(calls, **options):
        sent.extend(call.name for call in calls)
        return await send(calls, **options)

    client.call = spy  # type: ignore[method-assign]
    asyncio.run(area.JmapPrincipals(client).list(types=["individual"], page=1, limit=5, fields=fields))
    return sent


def test_the_names_read_alongside_are_those_the_fields_show(sandbox):
    everything = methods(KINDS["accounts"].fields)
    assert everything.count("x:Account/query") == 2  # the page, and the groups its rows name
    assert {"x:Role/get", "x:Tenant/get", "x:Domain/get"} <= set(everything)
    assert methods(()) == everything
    search = methods(("name", "description"))  # a picker: no aliases, groups or roles shown
    assert search == ["x:Account/query", "x:Account/get", "x:Tenant/get"]
    assert methods(("name", "description", "emails")) == [*search, "x:Domain/get"]


def test_a_search_shows_the_same_names_and_addresses(sandbox):
    fields = ("name", "description", "emails")
    narrow, _ = listed(fields)
    full, _ = listed(())
    pick = ("name", "description", "emails", "tenant")
    assert [[getattr(p, k) for k in pick] for p in narrow.items] == [[getattr(p, k) for k in pick] for p in full.items]


def test_an_account_is_mapped_field_by_field():
    """The list builds principals by position (`build_principal`): each value in its own field,
    and the result is the one `Principal(...)` makes."""
    import dataclasses

    from portal.stalwart.jmap.principals import SPECS, Names, to_principal
    from portal.stalwart.types import Principal

    names = Names(domains={"d1": "example.org"}, groups={"g1": "sales"}, roles={}, tenants={"t1": "acme"})
    names.lists, names.recipients = {"l1": "all@example.org"}, {"l1": frozenset({"jane@example.org"})}
    item = {
        "id": id_text(42),
        "@type": "User",
        "emailAddress": "jane@example.org",
        "aliases": {"0": {"name": "j", "domainId": "d1"}},
        "description": "Jane",
        "quotas": {"maxDiskQuota": 5000},
        "usedDiskQuota": 1200,
        "memberGroupIds": {"g1": True},
        "memberTenantId": "t1",
        "roles": {"@type": "User"},
        "permissions": {"@type": "Merge", "enabledPermissions": {"sysLogGet": True}, "disabledPermissions": {}},
        "credentials": {"0": {"@type": "Password"}},
    }
    mapped = to_principal(SPECS["individual"], item, names)
    made = Principal(**{field.name: getattr(mapped, field.name) for field in dataclasses.fields(Principal)})
    assert mapped == made and hash(mapped) == hash(made)
    assert (mapped.id, mapped.type, mapped.name, mapped.description) == (42, "individual", "jane@example.org", "Jane")
    assert mapped.emails == ("jane@example.org", "j@example.org")
    assert (mapped.quota, mapped.used_quota, mapped.quota_limits) == (5000, 1200, ())
    assert (mapped.member_of, mapped.lists, mapped.roles, mapped.tenant) == (
        ("sales",),
        ("all@example.org",),
        ("user",),
        "acme",
    )
    assert "logs-view" in mapped.enabled_permissions and mapped.disabled_permissions == ()
    assert (mapped.members, mapped.member_count, mapped.picture, mapped.urls, mapped.external_members) == (
        (),
        None,
        "",
        (),
        (),
    )
    assert mapped.secrets.has_password and not mapped.secrets.otp_enabled
