"""Restoring deleted mail (Enterprise) against the sandbox."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from sandbox.mailflow import state


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


def test_list_of_deleted_messages(signed_in, sandbox):
    client = signed_in("helpdesk")
    content = client.get("/undelete/jane.doe/").content.decode()
    (record,) = upstream(sandbox)
    assert parse_qs(record.query) == {"page": ["1"], "limit": ["25"]}
    assert content.count('name="item"') == 3 and "Restore all 3" in content


def test_restore_selected_after_confirmation(signed_in, sandbox):
    client = signed_in("admin")
    content = client.get("/undelete/jane.doe/").content.decode()
    value = content.split('name="item" value="', 1)[1].split('"', 1)[0].replace("&#x27;", "'").replace("&amp;", "&")
    page = client.post("/undelete/jane.doe/restore", {"item": value})
    assert page.status_code == 200 and "Restore 1 message to <bdi>jane.doe</bdi>?" in page.content.decode()
    assert not upstream(sandbox, "POST")
    response = client.post("/undelete/jane.doe/restore", {"item": value, "confirmed": "yes"})
    assert response.status_code == 302
    assert len(upstream(sandbox, "POST")) == 1
    jane = sandbox.get("jane.doe").id
    assert len(state(sandbox).deleted[jane]) == 2 and state(sandbox).restored[jane] == 1
    assert "Restored 1 message" in client.get("/undelete/jane.doe/").content.decode()


def test_restore_everything_sends_null(signed_in, sandbox):
    client = signed_in("admin")
    client.post("/undelete/jane.doe/restore", {"all": "1", "confirmed": "yes"})
    assert len(upstream(sandbox, "POST")) == 1
    assert state(sandbox).deleted[sandbox.get("jane.doe").id] == []


def test_refused_and_unknown(signed_in, sandbox):
    client = signed_in("user")
    assert client.get("/undelete/jane.doe/").status_code == 403
    assert client.post("/undelete/jane.doe/restore", {"all": "1", "confirmed": "yes"}).status_code == 403
    assert sandbox.requests == []
    client = signed_in("admin")
    response = client.get("/undelete/nobody-at-all/")
    assert response.status_code == 404 and "nobody-at-all" in response.content.decode()


def test_community_edition_says_enterprise(client, signed_in, community):
    client = signed_in("admin")
    response = client.get("/undelete/jane.doe/")
    assert response.status_code == 403 and "Enterprise feature" in response.content.decode()
    assert community.requests == []


def test_licence_gone_after_sign_in(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.enterprise = False
    try:
        response = client.get("/undelete/jane.doe/")
    finally:
        sandbox.enterprise = True
    assert response.status_code == 403 and "no Enterprise licence" in response.content.decode()
