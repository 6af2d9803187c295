"""Acceptance scenarios re-created from the server's own tests (spec §19 C and G)."""

from __future__ import annotations

from .helpers import basic

ADMIN = basic("admin", "secret")
TENANT_ADMIN = basic("admin@foobar.org", "mytenantpass")
FORBIDDEN_STATUS = 403


def _create(env, auth, **principal):
    return env.post("/api/principal", json=principal, auth=auth).json()


def _patch(env, name, auth, *changes):
    body = [{"action": a, "field": f, "value": v} for a, f, v in changes]
    return env.patch(f"/api/principal/{name}", json=body, auth=auth).json()


def _oauth_permissions(env, auth):
    r = env.post("/api/oauth", auth=auth, json={"type": "code", "client_id": "test"})
    assert r.status_code == 200, r.text
    return set(r.json()["data"]["permissions"])


def test_permissions_scenario(empty):
    env, sb = empty, empty.sb
    perms = sb.perms
    # bootstrap the "admin" principal through the fallback administrator
    assert "data" in _create(env, "admin", name="admin", roles=["admin"], secrets=["secret"])

    # 1. role_player: every user permission except pop3-dele
    assert "data" in _create(
        env, ADMIN, name="role_player", roles=["user"], disabledPermissions=["pop3-dele"], secrets=["rp"]
    )
    user_set = set(perms.names_in_id_order(perms.user_mask))
    assert _oauth_permissions(env, basic("role_player", "rp")) == user_set - {"pop3-dele"}

    # 2. roles
    for name, enabled, roles in [
        ("pop3_user", ["pop3-authenticate", "pop3-list"], []),
        ("imap_user", ["imap-authenticate", "imap-list"], []),
        ("jmap_user", ["jmap-email-query", "authenticate-oauth", "manage-encryption"], []),
        ("email_user", ["email-send", "email-receive"], ["pop3_user", "imap_user", "jmap_user"]),
    ]:
        assert "data" in _create(env, ADMIN, type="role", name=name, enabledPermissions=enabled, roles=roles)

    # 3. disabled wins across the role tree; set roles replaces the memberships
    assert _patch(env, "email_user", ADMIN, ("addItem", "disabledPermissions", "manage-encryption")) == {"data": None}
    assert _patch(env, "role_player", ADMIN, ("set", "roles", ["email_user"])) == {"data": None}
    expected = {
        "email-send",
        "email-receive",
        "jmap-email-query",
        "authenticate-oauth",
        "imap-authenticate",
        "imap-list",
        "pop3-authenticate",
        "pop3-list",
    }
    assert set(sb.permission_names(sb.get("role_player"))) == expected
    # role_player lost "authenticate" with the user role
    assert (
        env.post("/api/oauth", auth=basic("role_player", "rp"), json={"type": "code", "client_id": "x"}).status_code
        == FORBIDDEN_STATUS
    )

    # 4. listing
    data = env.data("GET", "/api/principal", auth=ADMIN)
    assert data["total"] == 6 and len(data["items"]) == 6
    by_name = {item["name"]: item for item in data["items"]}
    assert by_name["admin"]["roles"] == ["admin"]
    assert by_name["role_player"]["roles"] == ["email_user"]
    assert by_name["role_player"]["disabledPermissions"] == ["pop3-dele"]
    email_user = by_name["email_user"]
    assert email_user["roles"] == ["pop3_user", "imap_user", "jmap_user"]
    assert email_user["members"] == ["role_player"]
    assert set(email_user["enabledPermissions"]) == {"email-receive", "email-send"}
    assert email_user["disabledPermissions"] == ["manage-encryption"]
    for role in ("pop3_user", "imap_user", "jmap_user"):
        assert by_name[role]["members"] == ["email_user"]
    assert set(by_name["jmap_user"]["enabledPermissions"]) == {
        "jmap-email-query",
        "authenticate-oauth",
        "manage-encryption",
    }

    # 5. tenants
    assert "data" in _create(
        env,
        ADMIN,
        type="tenant",
        name="foobar",
        roles=["tenant-admin", "user"],
        quota=[100000, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
    )
    assert "data" in _create(env, ADMIN, type="tenant", name="xanadu")
    assert _create(env, ADMIN, name="admin-foobar", tenant="foobar") == {
        "error": "other",
        "details": "Invalid principal name",
        "reason": "Principal name must include a valid domain assigned to the tenant",
    }
    assert "data" in _create(env, ADMIN, type="domain", name="foobar.org", tenant="foobar")
    assert "data" in _create(env, ADMIN, type="domain", name="example.org")
    assert "data" in _create(
        env, ADMIN, name="admin@foobar.org", roles=["tenant-admin"], tenant="foobar", secrets=["mytenantpass"]
    )
    tenant_admin_set = set(perms.names_in_id_order(perms.tenant_admin_mask))
    assert _oauth_permissions(env, TENANT_ADMIN) == tenant_admin_set
    assert env.data("GET", "/api/principal/admin@foobar.org", auth=ADMIN)["tenant"] == "foobar"

    # 6. as the tenant admin
    r = env.post("/api/principal", json={"type": "tenant", "name": "subfoobar"}, auth=TENANT_ADMIN)
    assert r.status_code == FORBIDDEN_STATUS
    r = env.patch(
        "/api/principal/foobar", auth=TENANT_ADMIN, json=[{"action": "set", "field": "tenant", "value": "xanadu"}]
    )
    assert r.status_code == FORBIDDEN_STATUS
    assert env.get("/api/principal/foobar", auth=TENANT_ADMIN).status_code == FORBIDDEN_STATUS
    assert env.get("/api/principal?type=tenant", auth=TENANT_ADMIN).status_code == FORBIDDEN_STATUS
    assert "data" in _create(env, TENANT_ADMIN, type="domain", name="foobar.com")
    r = env.post("/api/principal", json={"type": "domain", "name": "foobar.net"}, auth=TENANT_ADMIN)
    assert (r.status_code, r.json()["title"]) == (403, "Tenant quota exceeded")
    for bad in ("mytenantuser", "john@example.org"):
        assert _create(env, TENANT_ADMIN, name=bad)["reason"] == (
            "Principal name must include a valid domain assigned to the tenant"
        )
    assert "data" in _create(
        env,
        TENANT_ADMIN,
        name="john@foobar.org",
        roles=["tenant-admin", "user"],
        tenant="xanadu",
        emails=["john@foobar.org"],
        secrets=["johnpass"],
    )
    assert env.data("GET", "/api/principal/john@foobar.org", auth=ADMIN)["tenant"] == "foobar"
    r = env.post("/api/principal", json={"name": "jane@foobar.org"}, auth=TENANT_ADMIN)
    assert (r.status_code, r.json()["title"]) == (403, "Tenant quota exceeded")
    assert "data" in _create(
        env, TENANT_ADMIN, type="role", name="no-mail-for-you@foobar.com", disabledPermissions=["email-receive"]
    )
    assert _patch(env, "john@foobar.org", TENANT_ADMIN, ("addItem", "roles", "imap_user")) == {
        "error": "notFound",
        "item": "imap_user",
    }
    assert "email-receive" in sb.permission_names(sb.get("john@foobar.org"))
    assert _patch(env, "john@foobar.org", TENANT_ADMIN, ("addItem", "roles", "no-mail-for-you@foobar.com")) == {
        "data": None
    }
    assert "email-receive" not in sb.permission_names(sb.get("john@foobar.org"))
    r = env.patch(
        "/api/principal/john@foobar.org",
        auth=TENANT_ADMIN,
        json=[{"action": "set", "field": "tenant", "value": "xanadu"}],
    )
    assert r.status_code == FORBIDDEN_STATUS
    for bad in ("john", "john@example.org"):
        assert _patch(env, "john@foobar.org", TENANT_ADMIN, ("set", "name", bad))["details"] == (
            "Invalid principal name"
        )
    assert _patch(
        env,
        "john@foobar.org",
        TENANT_ADMIN,
        ("set", "name", "john.doe@foobar.org"),
        ("addItem", "emails", "john.doe@foobar.org"),
    ) == {"data": None}
    data = env.data("GET", "/api/principal?types=individual,group,role,list", auth=TENANT_ADMIN)
    items = {item["name"]: item for item in data["items"]}
    assert sorted(items) == ["admin@foobar.org", "john.doe@foobar.org", "no-mail-for-you@foobar.com"]
    assert set(items["john.doe@foobar.org"]["roles"]) == {"tenant-admin", "no-mail-for-you@foobar.com", "user"}
    assert items["no-mail-for-you@foobar.com"]["members"] == ["john.doe@foobar.org"]

    # 7. used quota moves with the tenant
    john = sb.get("john.doe@foobar.org")
    john.used_quota = 1000
    sb.get("foobar").used_quota = 1000
    assert _patch(env, "john.doe@foobar.org", ADMIN, ("set", "tenant", "xanadu")) == {"data": None}
    assert "usedQuota" not in env.data("GET", "/api/principal/foobar", auth=ADMIN)
    assert env.data("GET", "/api/principal/xanadu", auth=ADMIN)["usedQuota"] == 1000

    # 8. deleting
    r = env.delete("/api/principal/xanadu", auth=ADMIN).json()
    assert r["details"] == "Tenant has members"
    for name in (
        "john.doe@foobar.org",
        "xanadu",
        "no-mail-for-you@foobar.com",
        "admin@foobar.org",
        "foobar.org",
        "foobar.com",
        "foobar",
    ):
        assert env.delete(f"/api/principal/{name}", auth=ADMIN).json() == {"data": None}, name


def test_directory_scenario(empty):
    env, sb = empty, empty.sb
    assert "data" in _create(env, "admin", type="domain", name="example.org")
    assert _create(env, "admin", description="no name") == {"error": "fieldMissing", "field": "name"}
    assert "data" in _create(env, "admin", name="john", emails=["john@example.org"], secrets=["pw"])
    assert _create(env, "admin", name="john") == {"error": "fieldAlreadyExists", "field": "name", "value": "john"}
    assert _create(env, "admin", name="jane", emails=["jane@otherdomain.org"]) == {
        "error": "notFound",
        "item": "otherdomain.org",
    }
    assert _create(env, "admin", name="jane", emails=["john@example.org"]) == {
        "error": "fieldAlreadyExists",
        "field": "emails",
        "value": "john@example.org",
    }
    assert "data" in _create(env, "admin", name="jane", emails=["jane@example.org"])
    for group in ("sales", "support"):
        assert "data" in _create(env, "admin", type="group", name=group)
    assert "data" in _create(env, "admin", type="list", name="list", emails=["list@example.org"])

    # list members and external members
    assert _patch(
        env, "list", "admin", ("set", "members", ["john", "jane"]), ("set", "externalMembers", ["mike@other.org"])
    ) == {"data": None}
    lst = env.data("GET", "/api/principal/list")
    assert set(lst["members"]) == {"john", "jane"} and lst["externalMembers"] == "mike@other.org"
    assert env.data("GET", "/api/principal/john")["lists"] == ["list"]

    # memberOf
    assert _patch(env, "john", "admin", ("addItem", "memberOf", "sales"), ("addItem", "memberOf", "support")) == {
        "data": None
    }
    assert _patch(env, "john", "admin", ("addItem", "memberOf", "accounting")) == {
        "error": "notFound",
        "item": "accounting",
    }
    assert env.data("GET", "/api/principal/john")["memberOf"] == ["sales", "support"]
    assert _patch(env, "john", "admin", ("removeItem", "memberOf", "support")) == {"data": None}
    assert env.data("GET", "/api/principal/john")["memberOf"] == ["sales"]

    # one multi-change PATCH
    assert _patch(
        env,
        "john",
        "admin",
        ("set", "name", "john.doe"),
        ("set", "description", "John Doe"),
        ("set", "secrets", ["12345"]),
        ("set", "quota", 1024),
        ("removeItem", "emails", "john@example.org"),
        ("addItem", "emails", "john.doe@example.org"),
    ) == {"data": None}
    john = env.data("GET", "/api/principal/john.doe")
    assert (john["description"], john["secrets"], john["quota"], john["emails"]) == (
        "John Doe",
        "12345",
        1024,
        "john.doe@example.org",
    )
    assert env.get("/api/principal/john").json() == {"error": "notFound", "item": "john"}
    assert "john@example.org" not in sb.emails
    assert john["memberOf"] == ["sales"] and john["lists"] == ["list"]

    assert _patch(env, "john.doe", "admin", ("set", "name", "jane")) == {
        "error": "fieldAlreadyExists",
        "field": "name",
        "value": "jane",
    }
    assert _patch(env, "john.doe", "admin", ("addItem", "emails", "jane@example.org")) == {
        "error": "fieldAlreadyExists",
        "field": "emails",
        "value": "jane@example.org",
    }

    # listing
    assert [i["name"] for i in env.data("GET", "/api/principal?types=individual")["items"]] == ["jane", "john.doe"]
    assert [i["name"] for i in env.data("GET", "/api/principal?filter=john")["items"]] == ["john.doe"]
    assert [i["name"] for i in env.data("GET", "/api/principal?types=group")["items"]] == ["sales", "support"]

    # delete
    assert env.data("DELETE", "/api/principal/john.doe") is None
    assert env.data("GET", "/api/principal/sales").get("members") is None
    assert env.data("GET", "/api/principal/list")["members"] == ["jane"]
    assert env.data("GET", "/api/principal?types=individual")["total"] == 1
