import html
import re
from urllib.parse import parse_qs

import httpx
import pytest

from tests.conftest import persona


def principal_calls(sandbox):
    return [r for r in sandbox.requests if r.path == "/api/principal" and r.method == "GET"]


def api(sandbox, method, path, **kwargs):
    """Talk to the sandbox as the seeded admin, like any API client would."""
    admin = persona("admin")
    url = f"http://127.0.0.1:{sandbox_port(sandbox)}{path}"
    return httpx.request(method, url, auth=(admin.name, admin.password), **kwargs)


def sandbox_port(sandbox):
    from django.conf import settings

    return settings.STALWART_URL.rsplit(":", 1)[1]


def test_list_makes_exactly_one_bounded_request(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    calls = principal_calls(sandbox)
    assert len(calls) == 1
    query = parse_qs(calls[0].query)
    assert query["types"] == ["individual"]
    assert query["limit"] == ["25"] and query["page"] == ["1"]
    assert set(query["fields"][0].split(",")) >= {"name", "emails", "quota"}


def test_search_and_paging_go_to_stalwart(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/accounts/?q=example.org&page=2&size=50")
    assert response.status_code == 200
    query = parse_qs(principal_calls(sandbox)[0].query)
    assert query["filter"] == ["example.org"] and query["page"] == ["2"] and query["limit"] == ["50"]


def test_page_shows_accounts_and_paging(signed_in, sandbox):
    client = signed_in("admin")
    content = client.get("/directory/accounts/?size=25").content.decode()
    total = sandbox.type_counts.get("individual", 0)
    assert total > 25, "the demo seed has more than one page of accounts"
    assert f"of {total}" in content
    assert 'rel="next"' in content and "page=2" in content
    assert persona("user").name in client.get(f"/directory/accounts/?q={persona('user').name}").content.decode()


def test_bad_paging_values_fall_back(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get("/directory/accounts/?page=-3&size=7").status_code == 200
    query = parse_qs(principal_calls(sandbox)[0].query)
    assert query["page"] == ["1"] and query["limit"] == ["25"]


def test_htmx_gets_only_the_results(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/groups/?q=sales", headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results"')
    assert "<html" not in content
    # The export link beside the heading follows the search typed in place (out of band).
    assert (
        '<a id="export-link" class="button" download href="/directory/groups/export.csv?q=sales" hx-swap-oob="true">'
        in content
    )
    whole = client.get("/directory/groups/?q=sales").content.decode()
    assert 'id="export-link"' in whole and "hx-swap-oob" not in whole


def test_empty_search_says_so(signed_in, sandbox):
    client = signed_in("admin")
    content = client.get("/directory/accounts/?q=zzzz-nothing-matches").content.decode()
    assert "No accounts match" in content and "zzzz-nothing-matches" in content


@pytest.mark.parametrize("kind", ["groups", "lists", "domains", "tenants", "roles", "api-keys", "oauth-clients"])
def test_every_type_lists(signed_in, sandbox, kind):
    client = signed_in("admin")
    assert client.get(f"/directory/{kind}/").status_code == 200


def test_names_from_stalwart_are_escaped(signed_in, sandbox):
    created = api(
        sandbox,
        "POST",
        "/api/principal",
        json={
            "type": "individual",
            "name": "evil@example.org",
            "description": '<script>alert(1)</script>"><img src=x onerror=alert(2)>{{7*7}}',
            "roles": ["user"],
        },
    )
    assert "data" in created.json(), created.text
    client = signed_in("admin")
    content = client.get("/directory/accounts/?q=evil").content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<img src=x" not in content
    assert "{{7*7}}" in content  # shown literally, never evaluated


def test_search_with_hostile_characters_is_encoded(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get("/directory/accounts/", {"q": "a&types=domain#x"}).status_code == 200
    query = parse_qs(principal_calls(sandbox)[0].query)
    assert query["types"] == ["individual"]
    assert query["filter"] == ["a&types=domain#x"]


@pytest.mark.parametrize(
    "name", ["jane.doe", "a/../../store/purge/data", "x+y&z=1", "..", "100%", "ünï@exämple.org", "a b"]
)
def test_fast_row_urls_equal_reverse(name):
    from django.urls import reverse

    from portal.directory.kinds import KINDS
    from portal.directory.rows import detail_url_factory

    for kind in KINDS.values():
        assert detail_url_factory(kind)(name) == reverse("directory:detail", kwargs={"kind": kind.slug, "name": name})


@pytest.mark.parametrize("size", [25, 50])
def test_sorting_by_name_descending(signed_in, sandbox, size):
    client = signed_in("admin")
    names = sorted(p.name for p in sandbox.principals.values() if p.type == "individual")
    pages = -(-len(names) // size)
    seen = []
    for page in range(1, pages + 1):
        content = client.get("/directory/accounts/", {"sort": "-name", "size": size, "page": page}).content.decode()
        seen += re.findall(r'class="cell-title" href="[^"]+"><bdi>([^<]+)</bdi></a>', content)
    assert seen == [html.escape(name) for name in reversed(names)]
    first = client.get("/directory/accounts/").content.decode()
    assert 'aria-sort="ascending"' in first and "sort=-name" in first
