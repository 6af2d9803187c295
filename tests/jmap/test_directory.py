"""The directory on Stalwart 0.16: the same pages, served from x:Account and friends."""

from __future__ import annotations

import re

from django.urls import reverse

from tests.conftest import persona


def detail(kind: str, name: str) -> str:
    return reverse("directory:detail", kwargs={"kind": kind, "name": name})


def posts(sandbox) -> list:
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def account(sandbox, address: str):
    """The sandbox's principal with that first e-mail address (the 0.16 login)."""
    for principal in sandbox.principals.values():
        if principal.emails and principal.emails[0] == address:
            return principal
    return None


def test_account_list_is_one_round_trip_with_names_and_paging(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/accounts/?size=10")
    assert response.status_code == 200
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]
    content = response.content.decode()
    assert "alice.novak@example.com" in content
    assert "admin@acme.org" in content  # the administrator of the whole server sees every tenant
    sandbox.requests.clear()
    second = client.get("/directory/accounts/?size=10&page=2")
    assert second.status_code == 200 and len(posts(sandbox)) == 1
    assert "alice.novak@example.com" not in second.content.decode()


def test_search_filters_accounts(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/directory/accounts/?q=alice")
    assert response.status_code == 200
    assert "alice.novak@example.com" in response.content.decode()
    assert "jane.doe@example.org" not in response.content.decode()


def test_every_list_page_of_0_16_is_one_round_trip(signed_in, sandbox):
    client = signed_in("admin")
    for kind in ("accounts", "groups", "lists", "domains", "tenants", "roles", "oauth-clients"):
        sandbox.requests.clear()
        response = client.get(f"/directory/{kind}/")
        assert response.status_code == 200, (kind, response.content[:500])
        assert len(sandbox.requests) == 1, kind


def test_account_360(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(detail("accounts", "alice.novak@example.com"))
    assert response.status_code == 200, response.content[:2000]
    content = response.content.decode()
    assert "Alice Novak (Sales)" in content
    assert "alice@example.com" in content and "alice.novak@example.net" in content  # aliases, domains named
    assert "****" not in content


def test_unknown_and_wrong_type_are_404(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get(detail("accounts", "nobody@example.org")).status_code == 404
    assert client.get(detail("groups", "alice.novak@example.com")).status_code == 404


def test_create_edit_and_delete_an_account(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {
            "name": "new.person",
            "description": "New Person",
            "email": "new.person@example.org",
            "aliases": "np@example.org",
            "password": "a long enough password",
            "quota_amount": "2",
            "quota_unit": "GiB",
            "roles": "user",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    created = account(sandbox, "new.person@example.org")
    assert created is not None and created.description == "New Person"
    assert "np@example.org" in created.emails and created.quota == 2 * 1024**3

    page = client.get(detail("accounts", "new.person@example.org"))
    assert page.status_code == 200 and "New Person" in page.content.decode()

    edit_url = reverse("directory:edit", kwargs={"kind": "accounts", "name": "new.person@example.org"})
    form = client.get(edit_url).content.decode()
    values = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
    data = {
        "snapshot": values["snapshot"],
        "name": "new.person@example.org",
        "description": "Renamed Person",
        "email": "new.person@example.org",
        "aliases": "",
        "roles": "user",
        "memberOf": "",
        "lists": "",
        "quota_amount": "",
        "quota_unit": "GiB",
    }
    sandbox.requests.clear()
    saved = client.post(edit_url, data)
    assert saved.status_code == 302, saved.content[:3000]
    changed = account(sandbox, "new.person@example.org")
    assert changed.description == "Renamed Person" and "np@example.org" not in changed.emails

    deleted = client.post(reverse("directory:delete", kwargs={"kind": "accounts", "name": "new.person@example.org"}))
    assert deleted.status_code == 302
    assert account(sandbox, "new.person@example.org") is None


def test_create_errors_go_next_to_the_field_and_keep_input(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        {"name": "alice.novak", "email": "alice.novak@example.com", "description": "Keep me", "roles": "user"},
    )
    assert response.status_code == 422, response.content[:2000]
    content = response.content.decode()
    assert "Keep me" in content
    assert "alice.novak" in content and "already used" in content


def test_a_bare_login_finds_its_one_account(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get(detail("accounts", "alice.novak")).status_code == 200
    assert client.get(detail("accounts", "admin")).status_code == 404  # admin@example.org and admin@acme.org


def test_a_helpdesk_agent_cannot_delete(signed_in, sandbox):
    client = signed_in("helpdesk")
    url = reverse("directory:delete", kwargs={"kind": "accounts", "name": "alice.novak@example.com"})
    assert client.post(url).status_code == 403
    assert sandbox.requests == []


def test_tenant_admin_sees_only_their_tenant(signed_in, sandbox):
    client = signed_in("tenant_admin")
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "admin@acme.org" in content and "alice.novak@example.com" not in content
    assert client.get(detail("accounts", "alice.novak@example.com")).status_code == 404


def test_kinds_without_a_0_16_equivalent_explain_themselves(signed_in, sandbox):
    client = signed_in("admin")
    for url in ("/directory/api-keys/",):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "Not available on this server" in response.content.decode()
    assert sandbox.requests == []


def test_upstream_failure_on_a_list_is_the_error_page(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.get("/directory/accounts/")
    assert response.status_code == 502
    assert persona("admin").password not in response.content.decode()


def test_other_kinds_create_and_delete(signed_in, sandbox):
    client = signed_in("admin")
    cases = [
        ("domains", {"name": "new-domain.test", "description": "A new domain"}, "new-domain.test"),
        ("groups", {"name": "crew", "email": "crew@example.org", "description": "The crew"}, "crew@example.org"),
        ("lists", {"name": "news", "email": "news@example.org", "description": "News"}, "news@example.org"),
        ("tenants", {"name": "globex", "description": ""}, "globex"),
        ("roles", {"name": "auditors", "description": "auditors"}, "auditors"),
        ("oauth-clients", {"name": "my-app", "description": "My app", "urls": "https://app.example/cb"}, "my-app"),
    ]
    for kind, data, name in cases:
        response = client.post(reverse("directory:create", kwargs={"kind": kind}), data)
        assert response.status_code == 302, (kind, response.content[-3000:])
        page = client.get(detail(kind, name))
        assert page.status_code == 200, (kind, page.status_code)
        assert data["description"] in page.content.decode(), kind
        gone = client.post(reverse("directory:delete", kwargs={"kind": kind, "name": name}))
        assert gone.status_code == 302, (kind, gone.content[-2000:])
        assert client.get(detail(kind, name)).status_code == 404, kind


def test_a_linked_domain_is_not_deleted_and_the_page_says_why(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("directory:delete", kwargs={"kind": "domains", "name": "example.com"}))
    assert response.status_code < 500
    assert client.get(detail("domains", "example.com")).status_code == 200


def test_search_page_finds_accounts_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/search/?q=alice")
    assert response.status_code == 200, response.content[:1000]
    assert "alice.novak@example.com" in response.content.decode()


def test_group_members_are_read_and_changed_on_the_users(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(detail("groups", "sales@example.org"))
    assert page.status_code == 200, page.content[:500]
    assert "alice.novak@example.com" in page.content.decode()

    edit_url = reverse("directory:edit", kwargs={"kind": "groups", "name": "sales@example.org"})
    form = client.get(edit_url)
    assert form.status_code == 200
    values = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.content.decode()))
    members = re.search(r'<textarea name="members"[^>]*>([^<]*)</textarea>', form.content.decode()).group(1).split()
    assert "alice.novak@example.com" in members
    data = {
        "snapshot": values["snapshot"],
        "name": "sales@example.org",
        "description": values.get("description", ""),
        "email": values.get("email", ""),
        "aliases": "",
        "members": "\n".join([m for m in members if m != "alice.novak@example.com"] + ["jane.doe@example.org"]),
    }
    saved = client.post(edit_url, data)
    assert saved.status_code == 302, saved.content[-3000:]
    after = client.get(detail("groups", "sales@example.org")).content.decode()
    assert "jane.doe@example.org" in after and "alice.novak@example.com" not in after


def test_tenant_limits_are_x_tenant_quotas(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(
        reverse("directory:create", kwargs={"kind": "tenants"}),
        {"name": "initech", "quota_amount": "5", "quota_unit": "GiB", "limit_individual": "10", "limit_domain": "2"},
    )
    assert response.status_code == 302, response.content[-3000:]
    form = client.get(reverse("directory:edit", kwargs={"kind": "tenants", "name": "initech"})).content.decode()
    assert re.search(r'name="limit_individual" value="10"', form), form[form.find("limit_individual") - 300 :][:600]
    assert re.search(r'name="limit_domain" value="2"', form)


def test_the_rank_rule_reads_custom_roles_of_0_16(signed_in, sandbox):
    """An account holding a role with permissions the helpdesk lacks (logs) is not theirs to edit."""
    import asyncio

    from portal.stalwart.jmap.client import JmapClient

    admin = JmapClient(basic=(persona("admin").name, persona("admin").password))
    roles = asyncio.run(admin.get("Role", None, ["description", "enabledPermissions"]))
    logs = next(r["id"] for r in roles if "sysLogGet" in r.get("enabledPermissions", {}))
    domain = asyncio.run(admin.one("x:Domain/query", {"filter": {"name": "example.org"}}))["ids"][0]
    asyncio.run(
        admin.set(
            "Account",
            create={"a": {"@type": "User", "name": "auditor", "domainId": domain,
                          "roles": {"@type": "Custom", "roleIds": {logs: True}}}},
        )
    )
    client = signed_in("helpdesk")
    page = client.get(detail("accounts", "auditor@example.org"))
    assert page.status_code == 200
    edit = client.get(reverse("directory:edit", kwargs={"kind": "accounts", "name": "auditor@example.org"}))
    assert edit.status_code == 403
    # An account with the plain user role stays theirs to edit.
    plain = client.get(reverse("directory:edit", kwargs={"kind": "accounts", "name": "alice.novak@example.com"}))
    assert plain.status_code == 200


def test_csv_export_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get(reverse("directory:export", kwargs={"kind": "accounts"}))
    assert response.status_code == 200
    from tests.directory.test_csv import read_stream

    text = read_stream(response)
    assert "alice.novak@example.com" in text and "jane.doe@example.org" in text
    assert "****" not in text
