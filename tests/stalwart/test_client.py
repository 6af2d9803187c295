"""The service layer against the sandbox: real HTTP, real answers."""

import asyncio
from urllib.parse import parse_qs

import pytest

from portal.stalwart import StalwartClient, errors
from tests.conftest import persona
from tests.faults import broken_upstream


def run(coroutine):
    return asyncio.run(coroutine)


def admin_client():
    who = persona("admin")
    return StalwartClient(basic=(who.name, who.password))


@pytest.mark.parametrize("name", ["a/../../store/purge/data", "x+y&z=1", "..", "q?x#y"])
def test_hostile_names_stay_one_path_element(sandbox, name):
    with pytest.raises(errors.ItemNotFound) as caught:
        run(admin_client().principals.get(name))
    assert caught.value.item == name  # Stalwart decoded exactly the name we meant
    paths = [r.path for r in sandbox.requests]
    assert len(paths) == 1
    assert paths[0].startswith("/api/principal/") and paths[0].count("/") == 3


@pytest.mark.parametrize("search", ["jane doe", "a+b&c=d#e", "100%", "jörg", "x/y?z"])
def test_search_words_reach_stalwart_as_typed(sandbox, search):
    run(admin_client().principals.list(types=["individual"], filter=search, page=2, limit=5))
    (call,) = sandbox.requests
    query = parse_qs(call.query)
    assert query["filter"] == [search] and query["types"] == ["individual"]
    assert query["page"] == ["2"] and query["limit"] == ["5"]


def test_get_and_list(sandbox):
    client = admin_client()
    name = persona("user").name
    principal = run(client.principals.get(name))
    assert principal.name == name and principal.type == "individual"
    page = run(client.principals.list(types=["individual"], page=1, limit=5))
    assert len(page.items) == 5 and page.total == sandbox.type_counts["individual"]
    assert run(client.principals.count(types=["individual"])) == page.total


def test_wrong_credentials(sandbox):
    with pytest.raises(errors.Unauthorized):
        run(StalwartClient(basic=("admin", "not-the-password")).principals.get("admin"))


def test_missing_permission(sandbox):
    who = persona("user")
    with pytest.raises(errors.Forbidden):
        run(StalwartClient(basic=(who.name, who.password)).principals.list(types=["individual"]))


def test_list_refuses_stalwart_unlimited_page(sandbox):
    with pytest.raises(ValueError):
        run(admin_client().principals.list(limit=0))


def test_connection_refused_is_wrapped(settings, closed_port):
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(errors.StalwartUnavailable) as caught:
        run(admin_client().principals.get("x"))
    assert not isinstance(caught.value, errors.StalwartTimeout)
    assert caught.value.operation == "GET /api/principal/x"


def test_timeout_is_wrapped(settings):
    settings.STALWART_TIMEOUT = 0.2
    with broken_upstream("silent") as url:
        settings.STALWART_URL = url
        with pytest.raises(errors.StalwartTimeout):
            run(admin_client().principals.get("x"))


def test_credentials_never_in_repr():
    assert "secret" not in repr(StalwartClient("secret-token"))
    assert "pw" not in repr(StalwartClient(basic=("u", "pw")))
