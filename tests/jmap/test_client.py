"""The JMAP client against the 0.16 sandbox: envelope, back-references, limits, errors."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache

from portal.stalwart import errors
from portal.stalwart.jmap import client as jmap
from portal.stalwart.jmap.client import Call, JmapClient, Limits, patch, pointer, ref, set_patch
from tests.conftest import persona


def run(coroutine):
    return asyncio.run(coroutine)


def basic(who: str = "admin") -> JmapClient:
    p = persona(who)
    return JmapClient(basic=(p.name, p.password))


def posts(sandbox) -> int:
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def small_limits(**values) -> None:
    cache.set(jmap._limits_key(), Limits(**values), timeout=60)


def test_limits_come_from_the_session_once(sandbox):
    client = basic()
    assert run(client.limits()) == Limits(max_calls=16, max_get=500, max_set=500)
    assert [r.path for r in sandbox.requests] == ["/jmap/session"]
    sandbox.requests.clear()
    run(client.one("x:Domain/get", {"ids": None, "properties": ["name"]}))
    assert [r.path for r in sandbox.requests] == ["/jmap/"]  # kept: no second session read


def test_query_and_get_by_back_reference_in_one_round_trip(sandbox):
    client = basic()
    small_limits()
    q, g = client.next_id(), client.next_id()
    results = run(
        client.call(
            [
                Call("x:Domain/query", {"filter": {"name": "example.org"}}, q),
                Call("x:Domain/get", {"#ids": ref(q, "x:Domain/query"), "properties": ["name"]}, g),
            ]
        )
    )
    assert [item["name"] for item in results[g]["list"]] == ["example.org"]
    assert posts(sandbox) == 1


def test_gets_are_split_to_max_objects_and_calls_to_max_calls(sandbox):
    client = basic()
    small_limits()
    ids = run(client.one("x:Account/query", {"filter": {}, "position": 0, "limit": 5}))["ids"]
    assert len(ids) == 5
    small_limits(max_calls=2, max_get=2, max_set=500)
    client = basic()  # a client reads the limits once
    sandbox.requests.clear()
    found = run(client.get("Account", ids, ["emailAddress"]))
    assert sorted(item["id"] for item in found) == sorted(ids)
    assert posts(sandbox) == 2  # three calls of at most 2 ids, at most 2 calls per request


def test_sets_are_split_to_max_objects_in_set(sandbox):
    client = basic()
    small_limits(max_calls=16, max_get=500, max_set=1)
    domain = run(client.one("x:Domain/query", {"filter": {"name": "example.org"}}))["ids"][0]
    sandbox.requests.clear()
    created = run(
        client.set(
            "Account",
            create={
                f"n{i}": {"@type": "User", "name": f"chunk{i}", "domainId": domain} for i in range(3)
            },
        )
    )
    assert len(created["created"]) == 3
    assert posts(sandbox) == 1  # three calls in one request


def test_a_back_reference_never_crosses_a_split(sandbox):
    client = basic()
    small_limits(max_calls=1, max_get=500, max_set=500)
    with pytest.raises(ValueError):
        run(
            client.call(
                [
                    Call("x:Domain/query", {}, "q"),
                    Call("x:Domain/get", {"#ids": ref("q", "x:Domain/query")}, "g"),
                ]
            )
        )
    assert posts(sandbox) == 0


def test_method_errors_become_portal_errors(sandbox):
    small_limits()
    with pytest.raises(errors.UnknownMethod):
        run(basic().one("x:Nothing/get", {"ids": None}))
    with pytest.raises(errors.Forbidden):
        run(basic("user").one("x:Account/query", {}))
    with pytest.raises(errors.BadRequest) as caught:
        run(basic().one("x:Account/query", {"filter": {"operator": "OR", "conditions": []}}))
    assert caught.value.title == "unsupportedFilter"


def test_set_errors_name_the_portal_field(sandbox):
    client = basic()
    small_limits()
    domain = run(client.one("x:Domain/query", {"filter": {"name": "example.org"}}))["ids"][0]
    field_map = {"name": "name", "secret": "secrets", "domainId": "name"}
    with pytest.raises(errors.FieldAlreadyExists) as taken:
        run(client.set("Account", create={"a": {"@type": "User", "name": "admin", "domainId": domain}},
                       field_map=field_map))
    assert taken.value.field == "name"
    with pytest.raises(errors.OtherError) as weak:
        run(
            client.set(
                "Account",
                create={
                    "a": {
                        "@type": "User",
                        "name": "weak.one",
                        "domainId": domain,
                        "credentials": {"0": {"@type": "Password", "secret": "abc"}},
                    }
                },
                field_map=field_map,
            )
        )
    assert weak.value.field == "secrets"
    with pytest.raises(errors.FieldMissing) as missing:
        run(client.set("Account", create={"a": {"@type": "User", "name": "nodomain"}}, field_map=field_map))
    assert missing.value.field == "name"
    with pytest.raises(errors.ItemNotFound):
        run(client.set("Account", destroy=["zzzzzz"]))


def test_patches_use_json_pointers_and_never_echo_server_set_properties():
    assert pointer("memberGroupIds", "a/b~c") == "memberGroupIds/a~1b~0c"
    assert set_patch("recipients", ["a@x.org", "b@x.org"], ["b@x.org", "c@x.org"]) == {
        "recipients/c@x.org": True,
        "recipients/a@x.org": None,
    }
    assert patch({"description": "x", "emailAddress": "a@b", "usedDiskQuota": 1, "id": "b"}, ["emailAddress",
                 "usedDiskQuota"]) == {"description": "x"}


def test_transport_faults_are_mapped_as_for_rest(settings, closed_port):
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    small_limits()
    with pytest.raises(errors.StalwartUnavailable) as caught:
        run(basic().one("x:Domain/get", {"ids": None}))
    assert caught.value.sent is False


def test_http_errors_are_mapped_as_for_rest(sandbox):
    small_limits()
    with pytest.raises(errors.Unauthorized):
        run(JmapClient("not-a-token").one("x:Domain/get", {"ids": None}))


def test_a_query_and_its_get_stay_together_whatever_the_call_limit(sandbox):
    """With room for three calls a request, two query-and-get pairs go as two requests of two
    (not three and one, which would split the second pair)."""
    from portal.stalwart.jmap import lookup

    client = basic()
    small_limits(max_calls=3, max_get=500, max_set=500)
    sandbox.requests.clear()
    found = run(lookup.find_accounts(client, ["jane.doe@example.org", "admin@example.org"]))
    assert sorted(found) == ["admin@example.org", "jane.doe@example.org"]
    assert posts(sandbox) == 2
