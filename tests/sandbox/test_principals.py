"""``/api/principal``: list, get, create, update and delete (spec §5)."""

from __future__ import annotations

import pytest

from sandbox.seed import PERSONAS

FORBIDDEN = {
    "type": "about:blank",
    "status": 403,
    "title": "Forbidden",
    "detail": "You do not have enough permissions to access this resource.",
}


def names(data):
    return [item["name"] for item in data["items"]]


def patch(env, name, *changes, auth="admin"):
    body = [{"action": a, "field": f, "value": v} for a, f, v in changes]
    return env.patch(f"/api/principal/{name}", json=body, auth=auth).json()


def create(env, auth="admin", **principal):
    return env.post("/api/principal", json=principal, auth=auth).json()


# ----------------------------------------------------------------------------- listing


def test_list_is_sorted_and_paged_one_based(ce):
    everything = ce.data("GET", "/api/principal")
    all_names = names(everything)
    assert all_names == sorted(all_names)
    assert everything["total"] == len(all_names) == len(ce.sb.principals)
    page1 = ce.data("GET", "/api/principal?limit=10")
    page0 = ce.data("GET", "/api/principal?limit=10&page=0")
    assert page0 == page1
    assert names(page1) == all_names[:10] and page1["total"] == everything["total"]
    page3 = ce.data("GET", "/api/principal?limit=10&page=3")
    assert names(page3) == all_names[20:30]
    beyond = ce.data("GET", "/api/principal?limit=10&page=999")
    assert beyond["items"] == [] and beyond["total"] == everything["total"]
    unlimited = ce.data("GET", "/api/principal?limit=0&page=3")
    assert names(unlimited) == all_names  # offset (page-1)*0 = 0


def test_list_types_and_fields(ce):
    data = ce.data("GET", "/api/principal?types=domain,group,bogus")
    assert {i["type"] for i in data["items"]} == {"domain", "group"}
    assert data == ce.data("GET", "/api/principal?type=domain,group")
    # names with spaces are not trimmed: " group" is unknown and ignored
    assert {i["type"] for i in ce.data("GET", "/api/principal?types=domain,%20group")["items"]} == {"domain"}
    data = ce.data("GET", "/api/principal?types=individual&fields=name,emails,nonsense&limit=3")
    for item in data["items"]:
        assert set(item) <= {"id", "type", "name", "emails"}
    data = ce.data("GET", "/api/principal?types=individual&fields=description&limit=3")
    assert all(set(i) == {"id", "type", "description"} for i in data["items"])
    data = ce.data("GET", "/api/principal?types=domain&fields=name")
    assert data["items"][0] == {"id": data["items"][0]["id"], "type": "domain", "name": "example.com"}
    domain = ce.data("GET", "/api/principal?types=domain&fields=members")["items"][0]
    assert isinstance(domain["members"], int) and domain["members"] > 0


def test_v011_filter_is_substring_and(ce):
    data = ce.data("GET", "/api/principal?filter=jane")
    assert names(data) == ["jane.doe"]
    assert names(ce.data("GET", "/api/principal?filter=JA%20DOE")) == ["jane.doe"]
    assert names(ce.data("GET", "/api/principal?filter=ja+doe")) == ["jane.doe"]
    assert ce.data("GET", "/api/principal?filter=jane%20zzz")["total"] == 0
    # secrets are searched too (sha512-crypt hashes start with $6$)
    assert ce.data("GET", "/api/principal?types=individual&filter=%246%24")["total"] == ce.sb.type_counts["individual"]
    # description
    assert "hannah.becker" in names(ce.data("GET", "/api/principal?filter=helpdesk"))
    paged = ce.data("GET", "/api/principal?filter=example.org&limit=5&page=2")
    full = ce.data("GET", "/api/principal?filter=example.org")
    assert names(paged) == names(full)[5:10] and paged["total"] == full["total"]


def test_v012_filter_is_word_equality(v12):
    assert names(v12.data("GET", "/api/principal?filter=jane")) == ["jane.doe"]
    assert v12.data("GET", "/api/principal?filter=ja")["total"] == 0
    assert names(v12.data("GET", "/api/principal?filter=Doe%20Jane")) == ["jane.doe"]
    assert v12.data("GET", "/api/principal?filter=jane%20smith")["total"] == 0
    # secrets are not searched any more
    assert v12.data("GET", "/api/principal?filter=6")["total"] == 0
    # e-mail words
    assert names(v12.data("GET", "/api/principal?filter=postmaster")) == ["admin"]
    # the index follows renames
    assert patch(v12, "jane.doe", ("set", "name", "jane.smith")) == {"data": None}
    assert names(v12.data("GET", "/api/principal?filter=smith")) == ["jane.smith"]


def test_list_permissions(ce, ee):
    r = ce.get("/api/principal", auth="user")
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    # helpdesk can list individuals but not all nine types, nor roles
    assert ce.get("/api/principal", auth="helpdesk").status_code == 403
    assert ce.get("/api/principal?types=individual,group,list,domain", auth="helpdesk").status_code == 200
    assert ce.get("/api/principal?types=role", auth="helpdesk").status_code == 403
    # tenant admin: 403 without types, tenant-scoped with types
    assert ee.get("/api/principal", auth="tenant_admin").status_code == 403
    assert ee.get("/api/principal?types=tenant", auth="tenant_admin").status_code == 403
    data = ee.data("GET", "/api/principal?types=individual,group,domain", auth="tenant_admin")
    assert names(data) == [
        "acme.org",
        "admin@acme.org",
        "daisy.duck@acme.org",
        "ops@acme.org",
        "road.runner@acme.org",
        "wile.coyote@acme.org",
    ]
    # tenant filter for callers without tenant; unknown tenant is ignored
    assert ee.data("GET", "/api/principal?types=individual&tenant=acme")["total"] == 4
    everyone = ee.data("GET", "/api/principal?types=individual")["total"]
    assert ee.data("GET", "/api/principal?types=individual&tenant=nope")["total"] == everyone
    # permission check comes before the Enterprise check
    assert ce.get("/api/principal?types=tenant", auth="user").status_code == 403
    assert ce.get("/api/principal?types=tenant").json() == {"error": "unsupported", "details": "Enterprise feature"}


def test_output_shapes_per_version(ce, v12):
    jane11 = ce.data("GET", "/api/principal/jane.doe")
    jane12 = v12.data("GET", "/api/principal/jane.doe")
    assert isinstance(jane11["secrets"], str) and isinstance(jane11["emails"], list)
    assert isinstance(jane12["secrets"], list) and len(jane12["secrets"]) == 1
    sales11 = ce.data("GET", "/api/principal/sales")
    assert "secrets" not in sales11
    assert v12.data("GET", "/api/principal/sales")["secrets"] == []
    domain11 = ce.data("GET", "/api/principal/example.org")
    domain12 = v12.data("GET", "/api/principal/example.org")
    assert "emails" not in domain11 and domain12["emails"] == []
    assert domain11["members"] == domain12["members"] > 10
    webmail = ce.data("GET", "/api/principal/webmail")
    assert webmail["urls"] == "https://webmail.example.org/oauth/callback"
    assert v12.data("GET", "/api/principal/webmail")["urls"] == ["https://webmail.example.org/oauth/callback"]
    assert jane11["roles"] == ["user"] and jane11["memberOf"] == ["sales"]
    assert set(jane11["lists"]) == {"all-staff", "newsletter"}
    assert jane11["usedQuota"] > 0 and jane11["quota"] == 5 * 1024**3
    newsletter = ce.data("GET", "/api/principal/newsletter")
    assert newsletter["externalMembers"] == ["partner@fabrikam.com", "press@contoso.net"]


def test_enterprise_output(ee, ce):
    acme = ee.data("GET", "/api/principal/acme")
    assert acme["members"] == 4 and acme["usedQuota"] > 0 and isinstance(acme["quota"], list)
    assert ee.data("GET", "/api/principal/admin@acme.org")["tenant"] == "acme"
    assert ce.sb.get("acme") is None
    assert all("tenant" not in ce.data("GET", f"/api/principal/{n}") for n in ("jane.doe", "example.org"))


def test_get_one(ce, ee):
    assert ce.get("/api/principal/nobody").json() == {"error": "notFound", "item": "nobody"}
    # lookups are exact and case-sensitive
    assert ce.get("/api/principal/Jane.Doe").json() == {"error": "notFound", "item": "Jane.Doe"}
    # lookup comes before the permission check
    assert ce.get("/api/principal/nobody", auth="user").json() == {"error": "notFound", "item": "nobody"}
    assert ce.get("/api/principal/admin", auth="user").status_code == 403
    # other tenants' principals are invisible to a tenant admin
    assert ee.get("/api/principal/jane.doe", auth="tenant_admin").json() == {"error": "notFound", "item": "jane.doe"}
    assert ee.get("/api/principal/acme", auth="tenant_admin").status_code == 403
    assert ee.data("GET", "/api/principal/wile.coyote@acme.org", auth="tenant_admin")["memberOf"] == ["ops@acme.org"]


# ----------------------------------------------------------------------------- create


def test_create_validation(ce, ee):
    assert create(ce, type="individual") == {"error": "fieldMissing", "field": "name"}
    assert create(ce, type="individual", name="") == {"error": "fieldMissing", "field": "name"}
    assert create(ce, type="individual", name="Jane.Doe") == {
        "error": "fieldAlreadyExists",
        "field": "name",
        "value": "jane.doe",
    }
    # one namespace for all types
    assert create(ce, type="group", name="example.org")["error"] == "fieldAlreadyExists"
    assert create(ce, name="new1", emails=["new1@unknown.example"]) == {"error": "notFound", "item": "unknown.example"}
    assert create(ce, name="new1", emails="JANE@example.org") == {
        "error": "fieldAlreadyExists",
        "field": "emails",
        "value": "jane@example.org",
    }
    assert create(ce, name="new1", memberOf=["nogroup"]) == {"error": "notFound", "item": "nogroup"}
    assert create(ce, name="new1", memberOf=["all-staff"]) == {"error": "notFound", "item": "all-staff"}
    assert create(ce, name="new1", roles=["nosuchrole"]) == {"error": "notFound", "item": "nosuchrole"}
    assert create(ce, name="new1", enabledPermissions=["fly"]) == {
        "error": "other",
        "details": "Invalid enabledPermissions value",
        "reason": 'Permission "fly" is invalid',
    }
    assert create(ce, name="new1", disabledPermissions=["fly"])["details"] == "Invalid disabledPermissions value"
    # v0.12 permission names do not exist in v0.11
    assert create(ce, name="new1", enabledPermissions=["dav-file-get"])["error"] == "other"
    # tenant without Enterprise
    assert create(ce, type="tenant", name="t1") == {"error": "unsupported", "details": "Enterprise feature"}
    assert create(ce, name="new1", tenant="acme") == {"error": "unsupported", "details": "Enterprise feature"}
    assert create(ee, name="new1", tenant="nope") == {"error": "notFound", "item": "nope"}
    # type "other" cannot be created, bad values are PP 400
    for bad in (
        {"type": "other", "name": "x"},
        {"name": "x", "quota": -1},
        {"name": "x", "quota": 1.5},
        {"name": "x", "emails": [1]},
        {"name": "x", "emails": None},
        {"name": "x" * 513},
        {"name": None},
        [],
        {"name": "x", "description": "d" * 513},
    ):
        assert ce.post("/api/principal", json=bad).status_code == 400, bad
    # an address without @ is accepted unchecked on create
    pid = ce.data("POST", "/api/principal", json={"name": "NoAt", "emails": "NoAtAll", "description": None})
    got = ce.data("GET", "/api/principal/noat")
    assert got == {"id": pid, "type": "individual", "name": "noat", "emails": "noatall"}


def test_create_check_order(ce):
    # JSON first, then the permission, then the Enterprise check, then store validation
    assert ce.post("/api/principal", content=b"nope", auth="user").status_code == 400
    assert ce.post("/api/principal", json={"type": "tenant"}, auth="user").status_code == 403
    assert create(ce, type="tenant") == {"error": "unsupported", "details": "Enterprise feature"}
    # the helpdesk lacks individual-create
    r = ce.post("/api/principal", json={"name": "x", "roles": ["user"]}, auth="helpdesk")
    assert r.status_code == 403
    # once granted, the role grant check comes before the name check
    ce.sb.get("helpdesk").enabled_permissions.append(ce.sb.perms.ids["individual-create"])
    assert create(ce, auth="helpdesk", roles=["admin"]) == {
        "error": "other",
        "details": "Invalid role",
        "reason": 'Your account cannot grant the "admin" role',
    }
    assert create(ce, auth="helpdesk", roles=["user"]) == {"error": "fieldMissing", "field": "name"}


def test_create_returns_id_and_sets_report_domain(ce):
    del ce.sb.settings["report.domain"]
    pid = ce.data("POST", "/api/principal", json={"type": "domain", "name": "New.Example"})
    assert isinstance(pid, int)
    assert ce.sb.settings["report.domain"] == "new.example"
    ce.data("POST", "/api/principal", json={"type": "domain", "name": "other.example"})
    assert ce.sb.settings["report.domain"] == "new.example"
    # no default roles are added
    ce.data("POST", "/api/principal", json={"name": "plain", "emails": ["Plain@New.Example"]})
    assert ce.data("GET", "/api/principal/plain") == {
        "id": ce.sb.get("plain").id,
        "type": "individual",
        "name": "plain",
        "emails": "plain@new.example",
    }


def test_create_permission_grant(ce):
    # helpdesk may not enable permissions it lacks, but may disable anything
    ce.sb.get("helpdesk").enabled_permissions.append(ce.sb.perms.ids["individual-create"])
    assert create(ce, auth="helpdesk", name="x1", enabledPermissions=["settings-list"]) == {
        "error": "other",
        "details": "Invalid permission",
        "reason": 'Your account cannot grant the "settings-list" permission',
    }
    assert isinstance(
        create(ce, auth="helpdesk", name="x1", disabledPermissions=["settings-list"], roles=["user"])["data"], int
    )
    assert create(ce, auth="helpdesk", name="x2", roles=["helpdesk"])["data"] > 0


# ----------------------------------------------------------------------------- update


def test_patch_set_roles_replaces_all_memberships(ce):
    assert patch(ce, "jane.doe", ("set", "roles", ["helpdesk"])) == {"data": None}
    jane = ce.data("GET", "/api/principal/jane.doe")
    assert jane["roles"] == ["helpdesk"]
    assert "memberOf" not in jane and "lists" not in jane
    assert patch(
        ce,
        "jane.doe",
        ("addItem", "memberOf", "sales"),
        ("addItem", "lists", "all-staff"),
        ("addItem", "roles", "user"),
    ) == {"data": None}
    jane = ce.data("GET", "/api/principal/jane.doe")
    assert (jane["memberOf"], jane["lists"], set(jane["roles"])) == (["sales"], ["all-staff"], {"helpdesk", "user"})
    assert "jane.doe" in ce.data("GET", "/api/principal/sales")["members"]


def test_patch_is_atomic_and_ordered(ce):
    before = ce.data("GET", "/api/principal/jane.doe")
    r = patch(ce, "jane.doe", ("set", "description", "Changed"), ("addItem", "memberOf", "nogroup"))
    assert r == {"error": "notFound", "item": "nogroup"}
    assert ce.data("GET", "/api/principal/jane.doe") == before
    r = patch(ce, "jane.doe", ("set", "name", "jane.x"), ("set", "name", "admin"))
    assert r == {"error": "fieldAlreadyExists", "field": "name", "value": "admin"}
    assert ce.sb.get("jane.x") is None and ce.sb.get("jane.doe") is not None


def test_patch_secrets(ce):
    login = PERSONAS["totp_user"]["login"]
    secrets = ce.sb.get(login).secrets
    app_secret = secrets[2]
    # removeItem "" removes every plain password, keeping OTP and app passwords
    assert patch(ce, login, ("removeItem", "secrets", "")) == {"data": None}
    assert ce.sb.get(login).secrets == [secrets[0], app_secret]
    # prefix removal for app passwords
    assert patch(ce, login, ("removeItem", "secrets", "$app$")) == {"data": None}
    assert ce.sb.get(login).secrets == [secrets[0]]
    otp = "otpauth://totp/x?secret=AAAA"
    assert patch(ce, login, ("addItem", "secrets", "pw1"), ("addItem", "secrets", otp)) == {"data": None}
    assert ce.sb.get(login).secrets == [otp, secrets[0], "pw1"]
    assert patch(ce, login, ("removeItem", "secrets", "otpauth://")) == {"data": None}
    assert ce.sb.get(login).secrets == ["pw1"]
    assert ce.data("GET", f"/api/principal/{login}")["secrets"] == "pw1"
    assert patch(ce, login, ("set", "secrets", ["a", "b"])) == {"data": None}
    assert ce.data("GET", f"/api/principal/{login}")["secrets"] == ["a", "b"]


def test_patch_emails(ce):
    assert patch(
        ce, "jane.doe", ("addItem", "emails", "jane@example.com"), ("removeItem", "emails", "JANE@example.org")
    ) == {"data": None}
    assert ce.sb.get("jane.doe").emails == ["jane.doe@example.org", "jane@example.com"]
    assert ce.sb.emails.get("jane@example.org") is None
    assert patch(ce, "jane.doe", ("addItem", "emails", "admin@example.org")) == {
        "error": "fieldAlreadyExists",
        "field": "emails",
        "value": "admin@example.org",
    }
    assert patch(ce, "jane.doe", ("addItem", "emails", "jane@nowhere.example")) == {
        "error": "notFound",
        "item": "nowhere.example",
    }
    assert patch(ce, "jane.doe", ("addItem", "emails", "jane")) == {
        "error": "other",
        "details": "Invalid email",
        "reason": "Email address is invalid",
    }
    assert patch(ce, "jane.doe", ("set", "emails", "x@example.org")) == {
        "error": "other",
        "details": "Invalid parameter",
        "reason": 'Invalid value String("x@example.org") for emails',
    }
    assert patch(ce, "jane.doe", ("set", "emails", ["A@example.net"])) == {"data": None}
    assert ce.data("GET", "/api/principal/jane.doe")["emails"] == "a@example.net"


def test_patch_invalid_parameters(ce):
    def invalid(reason):
        return {"error": "other", "details": "Invalid parameter", "reason": reason}

    assert patch(ce, "jane.doe", ("set", "type", "group")) == invalid('Invalid value String("group") for type')
    assert patch(ce, "example.org", ("set", "quota", 5)) == invalid("Invalid value Integer(5) for quota")
    assert patch(ce, "jane.doe", ("set", "usedQuota", 5)) == invalid("Invalid value Integer(5) for usedQuota")
    assert patch(ce, "jane.doe", ("set", "quota", [1, 2])) == invalid("Invalid value IntegerList([1, 2]) for quota")
    assert patch(ce, "jane.doe", ("set", "quota", 1024), ("set", "description", None)) == {"data": None}
    jane = ce.data("GET", "/api/principal/jane.doe")
    assert jane["quota"] == 1024 and "description" not in jane
    assert patch(ce, "jane.doe", ("set", "quota", "")) == {"data": None}
    assert "quota" not in ce.data("GET", "/api/principal/jane.doe")
    # mixed arrays and unknown fields are PP 400
    r = ce.patch("/api/principal/jane.doe", json=[{"action": "set", "field": "emails", "value": ["a", 1]}])
    assert r.status_code == 400
    r = ce.patch("/api/principal/jane.doe", json=[{"action": "set", "field": "colour", "value": "x"}])
    assert r.status_code == 400
    r = ce.patch("/api/principal/jane.doe", json=[{"action": "replace", "field": "name", "value": "x"}])
    assert r.status_code == 400


def test_patch_member_type_rules(ce):
    assert patch(ce, "jane.doe", ("addItem", "memberOf", "engineering-announce")) == {
        "error": "other",
        "details": "Invalid memberOf value",
        "reason": 'Principal "engineering-announce" is not a Group, Individual.',
    }
    # an existing membership is not re-validated
    assert patch(ce, "jane.doe", ("addItem", "memberOf", "all-staff")) == {"data": None}
    assert patch(ce, "jane.doe", ("addItem", "lists", "support")) == {
        "error": "other",
        "details": "Invalid lists value",
        "reason": 'Principal "support" is not a List.',
    }
    assert patch(ce, "example.org", ("addItem", "memberOf", "sales")) == {
        "error": "other",
        "details": "Invalid memberOf value",
        "reason": 'Principal "sales" cannot be added as a member.',
    }
    assert patch(ce, "sales", ("addItem", "members", "example.org")) == {
        "error": "other",
        "details": "Invalid members value",
        "reason": 'Principal "example.org" is not one of Individual, Group.',
    }
    assert patch(ce, "helpdesk", ("addItem", "members", "jane.doe")) == {
        "error": "other",
        "details": "Invalid members value",
        "reason": 'Principal "jane.doe" is not one of Role.',
    }
    # removing unknown names is ignored
    assert patch(ce, "jane.doe", ("removeItem", "memberOf", "nogroup"), ("removeItem", "roles", "admin")) == {
        "data": None
    }
    assert patch(ce, "sales", ("set", "members", ["admin", "support"])) == {"data": None}
    # members come out in id order
    assert ce.data("GET", "/api/principal/sales")["members"] == ["support", "admin"]
    assert "memberOf" not in ce.data("GET", "/api/principal/jane.doe")


def test_patch_permissions(ce):
    assert patch(
        ce, "jane.doe", ("addItem", "enabledPermissions", "logs-view"), ("addItem", "disabledPermissions", "email-send")
    ) == {"data": None}
    jane = ce.data("GET", "/api/principal/jane.doe")
    assert jane["enabledPermissions"] == ["logs-view"] and jane["disabledPermissions"] == ["email-send"]
    perms = ce.sb.permission_names(ce.sb.get("jane.doe"))
    assert "logs-view" in perms and "email-send" not in perms
    assert (
        patch(ce, "jane.doe", ("removeItem", "enabledPermissions", "nope"))["details"]
        == "Invalid enabledPermissions value"
    )
    assert patch(ce, "jane.doe", ("set", "enabledPermissions", [])) == {"data": None}
    assert "enabledPermissions" not in ce.data("GET", "/api/principal/jane.doe")
    # the helpdesk may update individuals, but cannot grant what it lacks
    assert patch(ce, "jane.doe", ("addItem", "enabledPermissions", "settings-list"), auth="helpdesk") == {
        "error": "other",
        "details": "Invalid permission",
        "reason": 'Your account cannot grant the "settings-list" permission',
    }
    assert patch(ce, "jane.doe", ("addItem", "roles", "admin"), auth="helpdesk") == {
        "error": "other",
        "details": "Invalid role",
        "reason": 'Your account cannot grant the "admin" role',
    }
    assert patch(ce, "jane.doe", ("set", "description", "Jane D."), auth="helpdesk") == {"data": None}
    # lookup, then permission, then JSON
    assert ce.patch("/api/principal/sales", content=b"x", auth="helpdesk").status_code == 403
    assert ce.patch("/api/principal/jane.doe", content=b"x", auth="helpdesk").status_code == 400


def test_patch_external_members_and_urls(ce):
    assert patch(ce, "newsletter", ("addItem", "externalMembers", " Bob@Partner.COM ")) == {"data": None}
    assert ce.sb.get("newsletter").external_members[-1] == "bob@partner.com"
    assert patch(ce, "newsletter", ("addItem", "externalMembers", "bob@localhost")) == {
        "error": "other",
        "details": "Invalid email address",
        "reason": 'Invalid value "bob@localhost" for externalMembers',
    }
    assert patch(ce, "newsletter", ("set", "externalMembers", [])) == {"data": None}
    assert "externalMembers" not in ce.data("GET", "/api/principal/newsletter")
    assert patch(ce, "webmail", ("addItem", "urls", "https://b.example.org/cb")) == {"data": None}
    assert len(ce.data("GET", "/api/principal/webmail")["urls"]) == 2


# ----------------------------------------------------------------------------- delete


def test_delete_one(ce, ee):
    assert ce.data("DELETE", "/api/principal/sales") is None
    assert ce.get("/api/principal/sales").json() == {"error": "notFound", "item": "sales"}
    assert "memberOf" not in ce.data("GET", "/api/principal/jane.doe")
    assert ce.get("/api/principal/sales", auth="user").json()["error"] == "notFound"
    assert ce.delete("/api/principal/support", auth="helpdesk").status_code == 403
    # domains without tenant are deleted without checks; addresses remain
    assert ce.data("DELETE", "/api/principal/example.net") is None
    # tenant domains and tenants with members
    r = ee.delete("/api/principal/acme.org").json()
    assert r["error"] == "other" and r["details"] == "Domain has members"
    assert r["reason"].startswith("Domains must have no members to be deleted: Found: admin@acme.org, ")
    assert r["reason"].endswith(" and 0 others") is False
    r = ee.delete("/api/principal/acme").json()
    assert r["details"] == "Tenant has members"
    assert r["reason"] == (
        "Tenant must have no members to be deleted: Found: acme.org, admin@acme.org, "
        "daisy.duck@acme.org, ops@acme.org, road.runner@acme.org, wile.coyote@acme.org"
        " and 1 others"
    )
    # no tenants without Enterprise
    assert ce.delete("/api/principal/x").json() == {"error": "notFound", "item": "x"}


def test_bulk_delete(ce):
    r = ce.delete("/api/principal?type=nope&confirm=true")
    assert (r.status_code, r.json()["detail"]) == (400, "Invalid type")
    r = ce.delete("/api/principal?type=individual")
    assert (r.status_code, r.json()["detail"]) == (400, "Missing confirmation parameter")
    assert ce.delete("/api/principal?type=individual&confirm=true", auth="helpdesk").status_code == 403
    assert ce.delete("/api/principal?type=tenant&confirm=true").json() == {
        "error": "unsupported",
        "details": "Enterprise feature",
    }
    assert ce.data("DELETE", "/api/principal?type=list&confirm=true&filter=newsletter") is True
    assert ce.sb.get("newsletter") is None and ce.sb.get("all-staff") is not None
    assert ce.data("DELETE", "/api/principal?type=list&confirm=true&filter=zzz") is False


@pytest.mark.parametrize("fixture", ["ce", "v12"])
def test_scale_listing(fixture, request):
    from sandbox import Sandbox

    sb = Sandbox(version="0.12.4" if fixture == "v12" else "0.11.8", scale=20000)
    assert sb.type_counts["individual"] > 20000
    from sandbox.directory import list_principals

    page = list_principals(sb, None, None, ["individual"], [], 500, 20)
    assert page["total"] == sb.type_counts["individual"] and len(page["items"]) == 20
    found = list_principals(sb, "user000042", None, [], [], 0, 0)
    assert [i["name"] for i in found["items"]] == ["user000042@scale.example"]
