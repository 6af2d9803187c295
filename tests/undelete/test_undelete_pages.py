"""Restoring deleted mail (Enterprise) against the sandbox."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest

from sandbox.mailflow import state

JANE_ADDRESS = "jane.doe@example.org"


def account(generation) -> str:
    """Jane's account in the portal's URLs: her login up to 0.15, her address on 0.16."""
    return JANE_ADDRESS if generation.jmap else "jane.doe"


def jane(sandbox) -> int:
    return next(pid for pid, p in sandbox.principals.items() if p.emails and p.emails[0] == JANE_ADDRESS)


def posts(sandbox) -> list:
    """The JMAP requests that reached the sandbox."""
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def values(content: str) -> list[str]:
    return [v.replace("&#x27;", "'").replace("&amp;", "&") for v in re.findall(r'name="item" value="([^"]+)"', content)]


def upstream(sandbox, method=None):
    return [
        r
        for r in sandbox.requests
        if r.path.startswith("/api/store/undelete") and (method is None or r.method == method)
    ]


@pytest.fixture
def community(sandbox):
    sandbox.enterprise = False
    yield sandbox
    sandbox.enterprise = True


def test_choose_account_redirects(signed_in, sandbox):
    client = signed_in("helpdesk")
    assert client.get("/undelete/").status_code == 200
    response = client.get("/undelete/", {"account": "jane.doe"})
    assert response.status_code == 302 and response["Location"] == "/undelete/jane.doe/"
    assert sandbox.requests == []


def test_list_of_deleted_messages(signed_in, generation):
    sandbox = generation.sandbox
    # 0.16 lists another account's archived items only to a holder of impersonate, which
    # the helpdesk role lacks there (the server answers with the caller's own items instead).
    client = signed_in("admin" if generation.jmap else "helpdesk")
    content = client.get(f"/undelete/{account(generation)}/").content.decode()
    assert len(values(content)) == len(state(sandbox).deleted[jane(sandbox)]) == 3
    assert "Restore all 3" in content and 'id="search"' in content
    if generation.jmap:
        assert "Received " in content
        assert len(posts(sandbox)) == len(sandbox.requests) == 2  # the account's id; the query and /get by reference
    else:
        (record,) = upstream(sandbox)
        assert parse_qs(record.query) == {"page": ["1"], "limit": ["25"]}


def test_restore_selected_after_confirmation(signed_in, generation):
    sandbox = generation.sandbox
    name = account(generation)
    client = signed_in("admin")
    value = values(client.get(f"/undelete/{name}/").content.decode())[0]
    sandbox.requests.clear()
    page = client.post(f"/undelete/{name}/restore", {"item": value})
    assert page.status_code == 200 and f"Restore 1 message to <bdi>{name}</bdi>?" in page.content.decode()
    assert not upstream(sandbox, "POST") and not posts(sandbox)
    response = client.post(f"/undelete/{name}/restore", {"item": value, "confirmed": "yes"})
    assert response.status_code == 302
    if generation.jmap:
        assert len(posts(sandbox)) == 2  # the ids checked against the account, then the restore
    else:
        assert len(upstream(sandbox, "POST")) == 1
    assert len(state(sandbox).deleted[jane(sandbox)]) == 2 and state(sandbox).restored[jane(sandbox)] == 1
    after = client.get(f"/undelete/{name}/").content.decode()
    # 0.16 restores in the background (objects.md §15)
    assert ("restoring 1 item" if generation.jmap else "Restored 1 message") in after
    assert len(values(after)) == 2


def test_restore_everything_sends_null(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post(f"/undelete/{account(generation)}/restore", {"all": "1", "confirmed": "yes"})
    assert response.status_code == 302
    if not generation.jmap:
        assert len(upstream(sandbox, "POST")) == 1
    assert state(sandbox).deleted[jane(sandbox)] == [] and state(sandbox).restored[jane(sandbox)] == 3


def test_refused_and_unknown(signed_in, generation):
    sandbox = generation.sandbox
    name = account(generation)
    client = signed_in("user")
    assert client.get(f"/undelete/{name}/").status_code == 403
    assert client.post(f"/undelete/{name}/restore", {"all": "1", "confirmed": "yes"}).status_code == 403
    assert sandbox.requests == []
    client = signed_in("admin")
    nobody = "nobody@example.org" if generation.jmap else "nobody-at-all"
    response = client.get(f"/undelete/{nobody}/")
    assert response.status_code == 404 and nobody in response.content.decode()


def test_community_edition_says_enterprise(client, signed_in, community):
    client = signed_in("admin")
    response = client.get("/undelete/jane.doe/")
    assert response.status_code == 403 and "Enterprise feature" in response.content.decode()
    assert community.requests == []


def test_licence_gone_after_sign_in(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    sandbox.enterprise = False
    try:
        response = client.get(f"/undelete/{account(generation)}/")
    finally:
        sandbox.enterprise = True
    assert response.status_code == 403 and "no Enterprise licence" in response.content.decode()
