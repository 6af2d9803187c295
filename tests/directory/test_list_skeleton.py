"""List pages kept around their rows (portal/skeleton.py): rendered once per person, address
and language, then answered by filling in the rows and a new CSRF token."""

from __future__ import annotations

import re

import httpx
import pytest
from django.core.cache import caches
from django.test import Client

from tests.conftest import persona

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")([^"]+)"')


@pytest.fixture
def skeletons():
    return caches["page_skeletons"]  # emptied before each test (tests/conftest.py)


def strict_client(who: str) -> Client:
    """A client that must send the CSRF token like a browser does."""
    client = Client(enforce_csrf_checks=True)
    form = client.get("/auth/sign-in").content.decode()
    person = persona(who)
    data = {"step": "password", "username": person.name, "password": person.password}
    data["csrfmiddlewaretoken"] = TOKEN.search(form).group(2)
    assert client.post("/auth/sign-in", data).status_code == 302
    return client


def tokens(page: str) -> set[str]:
    return {match.group(2) for match in TOKEN.finditer(page)}


def without_tokens(page: str) -> str:
    return TOKEN.sub(r'\1…"', page)


def describe(generation, name: str, description: str) -> None:
    """Change an account's description through the server's own API, as another client would."""
    from django.conf import settings

    admin = persona("admin")
    auth = (admin.name, admin.password)
    if generation.jmap:
        from sandbox.jmap import ids
        from tests.jmap import test_api_keys as jmap_api

        account = ids.encode(generation.sandbox.emails[f"{name}@example.org"])
        (answer,) = jmap_api.jmap(
            [["x:Account/set", {"update": {account: {"description": description}}}, "0"]], auth=auth
        )
        assert "updated" in answer[1], answer
    else:
        operation = [{"action": "set", "field": "description", "value": description}]
        response = httpx.patch(f"{settings.STALWART_URL}/api/principal/{name}", json=operation, auth=auth)
        assert response.status_code == 200, response.text


def shell(page: str) -> str:
    """The page without its rows and tokens."""
    return re.sub(r"<tbody>.*</tbody>", "<tbody/>", TOKEN.sub(r'\1…"', page), flags=re.S)


def rows(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


def test_the_second_view_fills_the_kept_page_with_new_rows_and_a_new_token(generation, skeletons):
    client = strict_client("admin")
    user = persona("user").name
    address = f"/directory/accounts/?q={user}"
    first = client.get(address)
    assert first.templates, "the first view renders the templates"
    assert len(skeletons._cache) == 1

    describe(generation, user, "Described since")
    second = client.get(address)
    assert second.status_code == 200
    assert second.templates == [], "the second view runs no template"
    before, after = first.content.decode(), second.content.decode()
    assert shell(after) == shell(before)
    assert "Described since" in rows(after) and "Described since" not in rows(before)  # read afresh
    (token,) = tokens(after)  # one token, in the page's header and in the bulk form
    assert token not in tokens(before)

    # The token works: the bulk form posts (nothing selected: back to the list).
    response = client.post("/directory/accounts/delete", {"csrfmiddlewaretoken": token})
    assert response.status_code != 403

    # The list it leads back to says so, rendered in full (a message is shown once) and not kept.
    assert response.status_code == 302
    told = client.get(response.url)
    assert told.templates and "Select the accounts to delete first." in told.content.decode()
    assert len(skeletons._cache) == 1
    again = client.get(response.url)
    assert "Select the accounts to delete first." not in again.content.decode()


def test_each_person_and_each_view_of_the_list_has_a_page_of_its_own(sandbox, skeletons):
    admin, helpdesk = strict_client("admin"), strict_client("helpdesk")
    pages = {}
    for who, client in (("admin", admin), ("helpdesk", helpdesk)):
        first, second = client.get("/directory/accounts/"), client.get("/directory/accounts/")
        assert first.templates and not second.templates
        pages[who] = second.content.decode()
        assert f"Signed in as <strong><bdi>{persona(who).name}</bdi></strong>" in pages[who]
    assert len(skeletons._cache) == 2
    # The helpdesk may not delete: no boxes, no bulk form, a menu of their own.
    assert 'id="bulk-form"' in pages["admin"] and 'id="bulk-form"' not in pages["helpdesk"]
    assert shell(pages["admin"]) != shell(pages["helpdesk"])

    # Another search, size or order is another page; what the list does not read is not.
    for address in ("/directory/accounts/?q=a", "/directory/accounts/?size=50", "/directory/accounts/?sort=-name"):
        assert admin.get(address).templates, address
    assert admin.get("/directory/accounts/?utm_source=mail").templates == []
    assert len(skeletons._cache) == 5

    # The search results alone (HTMX) are kept apart from the whole page.
    partial = admin.get("/directory/accounts/?q=a", headers={"HX-Request": "true"})
    assert partial.templates and partial.content.decode().lstrip().startswith('<div id="results"')
    again = admin.get("/directory/accounts/?q=a", headers={"HX-Request": "true"})
    assert again.templates == [] and shell(again.content.decode()) == shell(partial.content.decode())


def test_an_empty_result_is_kept_without_rows(sandbox, skeletons):
    client = strict_client("admin")
    address = "/directory/accounts/?q=zzzz-nothing-matches"
    first, second = client.get(address), client.get(address)
    assert not second.templates
    assert second.content.decode() == first.content.decode().replace(
        tokens(first.content.decode()).pop(), tokens(second.content.decode()).pop()
    )
    assert "No accounts match" in second.content.decode()
