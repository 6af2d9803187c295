"""Quick search (`/search/`): pages, accounts, groups, domains and queued messages."""

from __future__ import annotations

from urllib.parse import parse_qs

from portal.permissions import PERMISSIONS
from portal.templatetags.portal import highlight
from tests.conftest import persona

JANE = persona("user").name


def _principal_calls(sandbox) -> list[dict]:
    return [parse_qs(r.query) for r in sandbox.requests if r.method == "GET" and r.path == "/api/principal"]


def _queue_calls(sandbox) -> list[dict]:
    return [parse_qs(r.query) for r in sandbox.requests if r.path == "/api/queue/messages"]


def test_admin_finds_accounts_groups_domains_messages_and_pages(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/search/", {"q": "jane"}).content.decode()
    assert f'href="/directory/accounts/{JANE}/"' in html
    assert "<mark>jane</mark>" in html
    # One bounded call per principal type, and one for the queue.
    calls = _principal_calls(sandbox)
    assert sorted(call["types"][0] for call in calls) == ["domain", "group", "individual"]
    assert all(call["filter"] == ["jane"] and call["limit"] == ["5"] for call in calls)
    assert [call["text"] for call in _queue_calls(sandbox)] == [["jane"]]
    assert len(sandbox.requests) == 4


def test_pages_are_found_by_name_from_the_menu(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/search/", {"q": "queue"}).content.decode()
    assert 'href="/queue/"' in html and "Message <mark>queue</mark>" in html


def test_pages_only_queries_make_no_upstream_call(signed_in, sandbox):
    client = signed_in("admin")
    for query in (">acc", "a", ">", ""):
        sandbox.requests.clear()
        response = client.get("/search/", {"q": query})
        assert response.status_code == 200
        assert sandbox.requests == [], query
    html = client.get("/search/", {"q": ">acc"}).content.decode()
    assert 'href="/directory/accounts/"' in html and f'href="/directory/accounts/{JANE}/"' not in html


def test_a_plain_user_searches_pages_only_and_never_calls_stalwart(signed_in, sandbox):
    client = signed_in("user")
    html = client.get("/search/", {"q": "security"}).content.decode()
    assert sandbox.requests == []
    assert 'href="/account/security/"' in html
    # Pages the person may not open are not offered.
    assert "/directory/" not in client.get("/search/", {"q": "accounts"}).content.decode()
    assert sandbox.requests == []


def test_only_the_types_the_person_may_list_are_searched(client, sandbox):
    from tests.conftest import sign_in

    helpdesk = persona("helpdesk")
    principal = sandbox.get(helpdesk.name).clone()
    principal.disabled_permissions = [PERMISSIONS[name].id for name in ("group-list", "message-queue-list")]
    sandbox.replace(principal)
    assert sign_in(client, helpdesk).status_code == 302
    sandbox.requests.clear()
    client.get("/search/", {"q": "sales"})
    assert sorted(call["types"][0] for call in _principal_calls(sandbox)) == ["domain", "individual"]
    assert _queue_calls(sandbox) == []


def test_results_link_to_the_list_without_the_get_permission(client, sandbox):
    from tests.conftest import sign_in

    helpdesk = persona("helpdesk")
    principal = sandbox.get(helpdesk.name).clone()
    principal.disabled_permissions = [PERMISSIONS["individual-get"].id]
    sandbox.replace(principal)
    assert sign_in(client, helpdesk).status_code == 302
    html = client.get("/search/", {"q": JANE}).content.decode()
    assert f'href="/directory/accounts/{JANE}/"' not in html
    assert "/directory/accounts/?q=jane.doe" in html


def test_everything_is_escaped(signed_in, sandbox):
    client = signed_in("admin")
    jane = sandbox.get(JANE).clone()
    jane.description = '<img src=x onerror="alert(1)">Jane'
    sandbox.replace(jane)
    html = client.get("/search/", {"q": "<script>jane"}).content.decode()
    assert "<script>jane" not in html and "&lt;script&gt;jane" in html
    html = client.get("/search/", {"q": "jane"}).content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_highlight_escapes_both_sides():
    assert highlight("<b>jane</b>", "jane") == "<bdi>&lt;b&gt;<mark>jane</mark>&lt;/b&gt;</bdi>"
    assert highlight("a&b", "<") == "<bdi>a&amp;b</bdi>"
    assert highlight("x", "") == "<bdi>x</bdi>"


def test_highlight_shows_controls_and_cuts_long_values_around_the_match():
    assert highlight("\u202eadmin@example.org", "admin") == (
        '<bdi><span class="control-char" title="Hidden control character: RIGHT-TO-LEFT OVERRIDE">⟨U+202E⟩</span>'
        "<mark>admin</mark>@example.org</bdi>"
    )
    long = "x" * 100_000 + " jane " + "y" * 100_000
    shown = highlight(long, "jane")
    assert shown.startswith('<bdi class="clip-break">…' + "x" * 39 + " <mark>jane</mark> ")
    assert shown.endswith("…</bdi>")
    assert len(shown) < 300
    assert highlight("a" * 500, "a") == '<bdi class="clip-break"><mark>a</mark>' + "a" * 199 + "…</bdi>"
    assert highlight("b" * 500, "zzz") == '<bdi class="clip-head clip-break">' + "b" * 200 + "…</bdi>"


def test_htmx_gets_the_results_only(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/search/", {"q": "jane"}, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in html and 'class="search-hit"' in html


def test_nothing_found(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/search/", {"q": "zzz-nothing-here"}).content.decode()
    assert "Nothing matches “<bdi>zzz-nothing-here</bdi>”" in html


def test_upstream_failure_is_the_error_page(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.add("error", prefix="/api/principal")
    response = client.get("/search/", {"q": "jane"})
    assert response.status_code == 502


def test_signed_out_visitors_are_sent_to_sign_in(client, sandbox):
    response = client.get("/search/", {"q": "jane"})
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in")
    assert sandbox.requests == []


def test_the_top_bar_has_the_search_field(signed_in, sandbox):
    html = signed_in("user").get("/account/").content.decode()
    assert 'action="/search/"' in html and 'id="quick-search"' in html
