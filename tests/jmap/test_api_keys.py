"""API keys on Stalwart 0.16: self-service under /account/security/api-keys/ (x:ApiKey), and the
credentials of an account on its directory page (x:Account.credentials)."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
from django.conf import settings

from tests.conftest import persona

KEYS = "/account/security/api-keys/"
NEW = "/account/security/api-keys/new"
JMAP_USING = ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"]


def jmap(calls: list, *, auth: Any) -> list:
    headers = {"Authorization": auth} if isinstance(auth, str) else {}
    response = httpx.post(
        settings.STALWART_URL + "/jmap/",
        json={"using": JMAP_USING, "methodCalls": calls},
        headers=headers,
        auth=None if isinstance(auth, str) else auth,
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()["methodResponses"]


def admin() -> tuple[str, str]:
    who = persona("admin")
    return who.name, who.password


def own_keys(who: str) -> list[dict]:
    p = persona(who)
    ((_name, answer, _id),) = jmap([["x:ApiKey/get", {"ids": None}, "k"]], auth=(p.name, p.password))
    return answer["list"]


def account_id(name: str) -> str:
    ((_n, answer, _i),) = jmap([["x:Account/query", {"filter": {"text": name}}, "q"]], auth=admin())
    return answer["ids"][0]


def token(page: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', page)
    assert match, page[:2000]
    return match.group(1)


def create(client, **data: Any):
    form = {"description": "backup script", "scope": "Inherit", "expires": "", "allowed_ips": "", **data}
    form["form_token"] = token(client.get(NEW).content.decode())
    return client.post(NEW, form)


def field_errors(response, name: str) -> list[str]:
    return re.findall(rf'<p class="field-error" id="id_{name}_error">([^<]*)</p>', response.content.decode())


def test_created_key_is_shown_once_never_kept_and_works_as_bearer(signed_in, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    client = signed_in("user")
    response = create(client, expires="2099-12-31", allowed_ips="192.0.2.0/24")
    assert response.status_code == 200, response.content[:2000]
    assert "no-store" in response["Cache-Control"]
    secret = re.search(r'id="api-key-value"[^>]*>([^<]+)<', response.content.decode()).group(1)
    assert secret.startswith("API_")
    assert secret not in caplog.text and secret not in repr(dict(client.session))
    # Usable against the server as a bearer token.
    answer = httpx.get(settings.STALWART_URL + "/api/account", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    (key,) = own_keys("user")
    assert key["description"] == "backup script" and key["allowedIps"] == {"192.0.2.0/24": True}
    assert key["expiresAt"].startswith("2099-12-31T23:59:59")
    listing = client.get(KEYS)
    page = listing.content.decode()
    assert listing.status_code == 200 and "backup script" in page and "192.0.2.0/24" in page
    assert secret not in page and "Everything the account may do" in page
    # The list is one request.
    sandbox.requests.clear()
    client.get(KEYS)
    assert [r.path for r in sandbox.requests] == ["/jmap/"]


def test_reloading_the_create_form_creates_nothing(signed_in, sandbox):
    client = signed_in("user")
    form = {"description": "twice", "scope": "Inherit", "form_token": token(client.get(NEW).content.decode())}
    assert client.post(NEW, form).status_code == 200
    again = client.post(NEW, form)
    assert again.status_code == 302 and len(own_keys("user")) == 1


def test_scope_only_chosen_permissions_limits_the_key(signed_in, sandbox):
    client = signed_in("user")
    page = client.get(NEW).content.decode()
    assert 'value="sysApiKeyGet"' in page  # a choice among what the person holds
    assert 'value="sysAccountGet"' not in page  # not held by a plain user
    response = create(client, scope="Replace", permissions=["sysApiKeyGet"])
    assert response.status_code == 200, response.content[:2000]
    (key,) = own_keys("user")
    assert key["permissions"] == {"@type": "Replace", "permissions": {"sysApiKeyGet": True}}
    assert "Only 1 chosen permission" in client.get(KEYS).content.decode()


def test_scope_beyond_ones_own_is_refused_next_to_the_field(signed_in, sandbox):
    client = signed_in("user")
    sandbox.requests.clear()
    response = create(client, scope="Replace", permissions=["sysAccountGet"])
    assert response.status_code == 400
    assert field_errors(response, "permissions")
    assert own_keys("user") == []
    empty = create(client, scope="Replace")
    assert empty.status_code == 400 and field_errors(empty, "permissions")


def test_edit_changes_the_key_in_the_server(signed_in, sandbox):
    client = signed_in("user")
    create(client)
    (key,) = own_keys("user")
    url = f"{KEYS}{key['id']}/edit"
    page = client.get(url)
    assert page.status_code == 200 and 'value="backup script"' in page.content.decode()
    done = client.post(
        url,
        {"description": "nightly backup", "expires": "2098-01-31", "allowed_ips": "198.51.100.7",
         "scope": "Disable", "permissions": ["sysApiKeyDestroy"]},
    )
    assert done.status_code == 302, done.content[:2000]
    (key,) = own_keys("user")
    assert key["description"] == "nightly backup" and key["allowedIps"] == {"198.51.100.7/32": True}
    assert key["expiresAt"].startswith("2098-01-31")
    assert key["permissions"] == {"@type": "Disable", "permissions": {"sysApiKeyDestroy": True}}


def test_revoke_removes_the_key(signed_in, sandbox):
    client = signed_in("user")
    create(client)
    (key,) = own_keys("user")
    url = f"{KEYS}{key['id']}/revoke"
    assert client.get(url).status_code == 200
    assert client.post(url).status_code == 302
    assert own_keys("user") == []
    assert client.get(url).status_code == 302  # gone: back to the list


def test_refused_before_any_upstream_call_without_the_permission(signed_in, sandbox):
    jane = account_id("jane.doe")
    off = {"sysApiKeyGet": True, "sysApiKeyCreate": True, "sysApiKeyUpdate": True, "sysApiKeyDestroy": True}
    update = {jane: {"permissions": {"@type": "Merge", "disabledPermissions": off, "enabledPermissions": {}}}}
    ((_n, answer, _i),) = jmap([["x:Account/set", {"update": update}, "u"]], auth=admin())
    assert jane in answer.get("updated", {}), answer
    client = signed_in("user")
    for url in (KEYS, NEW, f"{KEYS}1/edit", f"{KEYS}1/revoke"):
        assert client.get(url).status_code == 403, url
    assert client.post(NEW, {"description": "x", "scope": "Inherit"}).status_code == 403
    assert sandbox.requests == []
    assert 'href="/account/security/api-keys/"' not in client.get("/account/security/").content.decode()


def test_upstream_failure_keeps_the_form(signed_in, sandbox):
    client = signed_in("user")
    form = {"description": "kept description", "scope": "Inherit", "allowed_ips": "192.0.2.1",
            "form_token": token(client.get(NEW).content.decode())}
    sandbox.faults.server_error(503, prefix="/jmap/")
    response = client.post(NEW, form)
    assert response.status_code in (502, 503), response.status_code
    page = response.content.decode()
    assert 'value="kept description"' in page and "192.0.2.1" in page


def test_security_overview_links_the_api_keys(signed_in, sandbox):
    client = signed_in("user")
    page = client.get("/account/security/").content.decode()
    assert 'href="/account/security/api-keys/"' in page
