"""The sign-in credentials of an account on Stalwart 0.16: listed on its directory page from
x:Account.credentials (never a secret), an app password or API key revoked by an administrator
(`credentials/<id>: null`), and the scope of one's own app password."""

from __future__ import annotations

import re

import httpx
import pytest
from django.conf import settings

from portal.models import AuditEntry
from sandbox.jmap.store import jmap_state
from tests.conftest import persona
from tests.jmap.test_api_keys import account_id, admin, jmap
from tests.jmap.test_directory import account, detail

pytestmark = pytest.mark.django_db

JANE = "jane.doe@example.org"
APPS = "/account/security/app-passwords/"


def jane_auth() -> tuple[str, str]:
    who = persona("user")
    return who.name, who.password


def seed_credentials() -> str:
    """An API key and an app password of jane's, made by her; returns the key's secret."""
    ((_n, keys, _i), (_m, apps, _j)) = jmap(
        [
            ["x:ApiKey/set", {"create": {"k": {"description": "backup script", "permissions": {"@type": "Inherit"},
                                               "allowedIps": {"192.0.2.0/24": True},
                                               "expiresAt": "2099-12-31T23:59:59Z"}}}, "k"],
            ["x:AppPassword/set", {"create": {"a": {"description": "Phone mail app",
                                                    "permissions": {"@type": "Inherit"}}}}, "a"],
        ],
        auth=jane_auth(),
    )
    assert "k" in keys.get("created", {}) and "a" in apps.get("created", {}), (keys, apps)
    return str(keys["created"]["k"]["secret"])


def credentials(sandbox) -> list[dict]:
    return list(jmap_state(sandbox).credentials(sandbox, account(sandbox, JANE)))


def revoke_url(credential: str) -> str:
    return f"/directory/accounts/{JANE}/credentials/{credential}/revoke"


def key_id(sandbox, kind: str) -> str:
    return next(str(c["id"]) for c in credentials(sandbox) if c["@type"] == kind)


def test_the_account_page_lists_the_credentials_never_a_secret(signed_in, sandbox):
    secret = seed_credentials()
    client = signed_in("admin")
    response = client.get(detail("accounts", JANE))
    assert response.status_code == 200
    page = response.content.decode()
    section = page[page.index('id="credentials-title"'):]
    assert "backup script" in section and "Phone mail app" in section and "192.0.2.0/24" in section
    assert "API key" in section and "App password" in section and "Password" in section
    assert "2099" in section  # the key's expiry
    assert secret not in page and "****" not in page and "$app$" not in page
    links = re.findall(r'href="(/directory/accounts/[^"]+/credentials/([^/"]+)/revoke)"', page)
    assert sorted(ident for _url, ident in links) == sorted(str(c["id"]) for c in credentials(sandbox))
    assert "0" not in [ident for _url, ident in links]  # the password is reset, not revoked


def test_revoke_removes_the_credential_and_is_audited(signed_in, sandbox):
    secret = seed_credentials()
    client = signed_in("admin")
    url = revoke_url(key_id(sandbox, "ApiKey"))
    confirm = client.get(url)
    assert confirm.status_code == 200 and "backup script" in confirm.content.decode()
    assert [c["@type"] for c in credentials(sandbox)].count("ApiKey") == 1  # a GET changes nothing
    done = client.post(url)
    assert done.status_code == 302 and done.url == detail("accounts", JANE)
    assert [c["@type"] for c in credentials(sandbox)] == ["AppPassword"]
    refused = httpx.get(settings.STALWART_URL + "/api/account", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    entry = AuditEntry.objects.get(action="principal.update")
    assert entry.target == JANE and entry.method == "x:Account/set" and entry.outcome == AuditEntry.SUCCESS
    assert "“backup script” of jane.doe@example.org is revoked" in client.get(done.url).content.decode()
    # Gone, or the password: back to the account page, nothing sent.
    for gone in (url, revoke_url("0")):
        sandbox.requests.clear()
        again = client.post(gone)
        assert again.status_code == 302 and again.url == detail("accounts", JANE)
    assert [c["@type"] for c in credentials(sandbox)] == ["AppPassword"]
    assert account(sandbox, JANE).secrets  # the password stays


def test_refused_without_the_permission_before_any_upstream_call(signed_in, sandbox):
    seed_credentials()
    helpdesk = account_id(persona("helpdesk").name)
    update = {helpdesk: {"permissions": {"@type": "Merge", "disabledPermissions": {"sysAccountUpdate": True},
                                         "enabledPermissions": {}}}}
    ((_n, answer, _i),) = jmap([["x:Account/set", {"update": update}, "u"]], auth=admin())
    assert helpdesk in answer.get("updated", {}), answer
    client = signed_in("helpdesk")
    url = revoke_url(key_id(sandbox, "ApiKey"))
    sandbox.requests.clear()
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert sandbox.requests == []
    assert len(credentials(sandbox)) == 2
    page = client.get(detail("accounts", JANE)).content.decode()
    assert "backup script" in page and "/revoke" not in page


def test_a_helpdesk_agent_may_revoke(signed_in, sandbox):
    seed_credentials()
    client = signed_in("helpdesk")
    assert client.post(revoke_url(key_id(sandbox, "AppPassword"))).status_code == 302
    assert [c["@type"] for c in credentials(sandbox)] == ["ApiKey"]


def test_a_tenant_administrator_cannot_reach_another_tenants_account(signed_in, sandbox):
    seed_credentials()
    client = signed_in("tenant_admin")
    url = revoke_url(key_id(sandbox, "ApiKey"))
    for method in ("get", "post"):
        assert getattr(client, method)(url).status_code == 404
    assert len(credentials(sandbox)) == 2


def test_an_upstream_failure_on_revoke_explains(signed_in, sandbox):
    seed_credentials()
    client = signed_in("admin")
    url = revoke_url(key_id(sandbox, "ApiKey"))
    sandbox.faults.server_error(503, prefix="/jmap/", call="x:Account/set")
    response = client.post(url)
    assert response.status_code in (502, 503)
    page = response.content.decode()
    assert "backup script" in page and f'action="{url}"' in page
    assert detail("accounts", JANE) in page  # where to see what happened
    assert len(credentials(sandbox)) == 2


def test_the_rest_generation_has_no_revoke_page(sandbox_server, client, settings):
    rest, url = sandbox_server
    settings.STALWART_URL = url
    rest.reset()
    from tests.conftest import sign_in

    assert sign_in(client, "admin").status_code == 302
    response = client.get("/directory/accounts/jane.doe/credentials/1/revoke")
    assert response.status_code == 404 and "Only Stalwart 0.16 and later" in response.content.decode()


# --- the scope of one's own app password ------------------------------------------------
def test_the_scope_of_an_app_password_is_changed(signed_in, sandbox):
    seed_credentials()
    client = signed_in("user")
    edit = re.search(r'href="(/account/security/app-passwords/[^/"]+/edit)"', client.get(APPS).content.decode())[1]
    page = client.get(edit).content.decode()
    assert re.search(r'<input[^>]*value="Inherit"[^>]*checked', page)
    assert "everything your account may do" in page
    assert 'value="sysApiKeyGet"' in page and 'value="sysAccountGet"' not in page
    base = {"label": "Phone mail app", "expires": "", "allowed_ips": ""}
    beyond = client.post(edit, {**base, "scope": "Replace", "permissions": ["sysAccountGet"]})
    assert beyond.status_code == 400 and 'id="id_permissions_error"' in beyond.content.decode()
    empty = client.post(edit, {**base, "scope": "Replace"})
    assert empty.status_code == 400 and 'id="id_permissions_error"' in empty.content.decode()
    saved = client.post(edit, {**base, "scope": "Disable", "permissions": ["sysApiKeyGet"]})
    assert saved.status_code == 302, saved.content[:2000]
    app = next(c for c in credentials(sandbox) if c["@type"] == "AppPassword")
    assert app["permissions"] == {"@type": "Disable", "permissions": {"sysApiKeyGet": True}}
    again = client.get(edit).content.decode()
    assert re.search(r'<input[^>]*value="Disable"[^>]*checked', again) and "all but 1 permission" in again
    back = client.post(edit, {**base, "scope": "Inherit"})
    assert back.status_code == 302
    app = next(c for c in credentials(sandbox) if c["@type"] == "AppPassword")
    assert app["permissions"] == {"@type": "Inherit"}


def test_the_directory_api_keys_page_points_to_the_self_service_page(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/api-keys/")
    assert response.status_code == 404
    assert 'href="/account/security/api-keys/"' in response.content.decode()
