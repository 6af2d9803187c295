"""0.16 objects shown from the sandbox's one directory (objects.md §1–§11)."""

from __future__ import annotations

from sandbox.jmap import ids
from sandbox.seed import PERSONAS


def _id_of(v16, login: str) -> str:
    return ids.encode(v16.sb.by_name[login])


def test_account_shows_the_rest_principal(v16):
    jane = _id_of(v16, "jane.doe")
    got = v16.call("admin", "x:Account/get", {"ids": [jane, "zzzzzz"]})[1]
    assert got["notFound"] == ["zzzzzz"]
    (acc,) = got["list"]
    assert acc["@type"] == "User" and acc["name"] == "jane.doe" and acc["emailAddress"] == "jane.doe@example.org"
    assert acc["domainId"] == _id_of(v16, "example.org")
    assert acc["aliases"]["0"]["name"] == "jane"
    assert acc["memberGroupIds"] == {_id_of(v16, "sales"): True}
    assert acc["roles"] == {"@type": "User"}
    assert acc["credentials"]["0"]["secret"] == "****"
    assert acc["quotas"] == {"maxDiskQuota": 5 * 1024**3}


def test_query_filters_are_and_only_and_default_order_is_newest_first(v16):
    args = {"filter": {"operator": "AND", "conditions": [{"@type": "Group"}, {"text": "sales"}]},
            "calculateTotal": True}
    q = v16.call("admin", "x:Account/query", args)[1]
    assert q["ids"] == [_id_of(v16, "sales")] and q["total"] == 1
    everyone = v16.call("admin", "x:Account/query", {"calculateTotal": True})[1]
    numbers = [ids.decode(i) for i in everyone["ids"]]
    assert numbers == sorted(numbers, reverse=True)
    # only the first sort key counts
    by_name = v16.call("admin", "x:Account/query", {"sort": [{"property": "name"}, {"property": "id"}],
                                                    "filter": {"@type": "Group"}, "position": 0})[1]
    got = v16.call("admin", "x:Account/get", {"ids": by_name["ids"], "properties": ["name"]})[1]["list"]
    assert [a["name"] for a in got] == sorted(a["name"] for a in got)


def test_paging_without_sort_is_pushed_into_the_store(v16):
    q = v16.call("admin", "x:Domain/query", {"limit": 2})[1]
    all_ids = sorted(ids.decode(i) for i in v16.call("admin", "x:Domain/query", {"position": 0})[1]["ids"])
    assert [ids.decode(i) for i in q["ids"]] == sorted(all_ids[:2], reverse=True)  # the oldest two
    assert q["position"] == 0 and "limit" not in q


def test_create_domain_and_account_in_one_request_then_sign_in(v16):
    responses = v16.jmap("admin", [
        ["x:Domain/set", {"create": {"d1": {"name": "fresh.example"}}}, "c1"],
        ["x:Account/set", {"create": {"u1": {"@type": "User", "name": "zoe", "domainId": "#d1",
                                             "credentials": {"0": {"@type": "Password",
                                                                   "secret": "Correct-Horse-42"}}}}}, "c2"],
        ["x:Account/get", {"ids": ["#u1"], "properties": ["emailAddress", "createdAt"]}, "c3"],
    ])
    assert responses[2][1]["list"][0]["emailAddress"] == "zoe@fresh.example"
    # one state: the REST model holds it too
    assert v16.sb.emails["zoe@fresh.example"] == ids.decode(responses[1][1]["created"]["u1"]["id"])
    assert v16.login("zoe@fresh.example", "Correct-Horse-42").json()["type"] == "authenticated"


def test_set_errors(v16):
    example = _id_of(v16, "example.org")
    created = v16.call("admin", "x:Account/set", {"create": {
        "weak": {"@type": "User", "name": "weak", "domainId": example,
                 "credentials": {"0": {"@type": "Password", "secret": "abc"}}},
        "dup": {"@type": "User", "name": "jane.doe", "domainId": example},
        "nodomain": {"@type": "User", "name": "x"},
        "badfk": {"@type": "User", "name": "y", "domainId": "zzzz"},
        "ro": {"@type": "User", "name": "z", "domainId": example, "usedDiskQuota": 5},
    }})[1]
    nc = created["notCreated"]
    assert nc["weak"]["type"] == "invalidProperties" and nc["weak"]["properties"] == ["secret"]
    assert nc["dup"]["type"] == "primaryKeyViolation" and nc["dup"]["objectId"]["object"] == "Account"
    assert nc["nodomain"] == {"type": "validationFailed",
                              "validationErrors": [{"type": "Required", "property": "domainId"}]}
    assert nc["badfk"]["type"] == "invalidForeignKey"
    assert nc["ro"]["type"] == "invalidPatch" and nc["ro"]["properties"] == ["usedDiskQuota"]
    assert "created" not in created


def test_update_with_json_pointer_patches(v16):
    jane, finance = _id_of(v16, "jane.doe"), _id_of(v16, "finance")
    r = v16.call("admin", "x:Account/set", {"update": {jane: {f"memberGroupIds/{finance}": True,
                                                              "description": "Jane D."}}})[1]
    assert r["updated"] == {jane: None}
    acc = v16.call("admin", "x:Account/get", {"ids": [jane]})[1]["list"][0]
    assert finance in acc["memberGroupIds"] and acc["description"] == "Jane D."
    members = v16.call("admin", "x:Account/query", {"filter": {"memberGroupIds": finance}})[1]["ids"]
    assert jane in members
    missing = v16.call("admin", "x:Account/set", {"update": {"zzzz": {"description": "x"}}})[1]
    assert missing["notUpdated"]["zzzz"]["type"] == "notFound"


def test_destroying_a_domain_in_use_is_object_is_linked(v16):
    example = _id_of(v16, "example.com")
    r = v16.call("admin", "x:Domain/set", {"destroy": [example]})[1]
    err = r["notDestroyed"][example]
    assert err["type"] == "objectIsLinked" and err["objectId"] == {"object": "Domain", "id": example}
    assert {"object": "MailingList", "id": _id_of(v16, "newsletter")} in err["linkedObjects"]
    empty = v16.call("admin", "x:Domain/set", {"create": {"d": {"name": "gone.example"}}})[1]["created"]["d"]["id"]
    assert v16.call("admin", "x:Domain/set", {"destroy": [empty]})[1]["destroyed"] == [empty]
    assert v16.sb.get("gone.example") is None


def test_permissions_gate_each_operation(v16):
    r = v16.call("helpdesk", "x:Account/set", {"destroy": [_id_of(v16, "jane.doe")]})
    assert r[0] == "error" and r[1]["type"] == "forbidden"
    r = v16.call("user", "x:Domain/set", {})
    assert r[0] == "error" and r[1]["type"] == "forbidden"
    ok = v16.call("helpdesk", "x:Account/set", {"update": {_id_of(v16, "jane.doe"): {"description": "J"}}})
    assert ok[1]["updated"]


def test_tenant_admin_sees_only_its_tenant(v16):
    q = v16.call("tenant_admin", "x:Account/query", {"position": 0})[1]
    names = [a["emailAddress"] for a in v16.call("tenant_admin", "x:Account/get", {"ids": q["ids"]})[1]["list"]]
    assert names and all(n.endswith("@acme.org") for n in names)
    got = v16.call("tenant_admin", "x:Account/get", {"ids": [_id_of(v16, "jane.doe")]})[1]
    assert got["list"] == [] and got["notFound"] == [_id_of(v16, "jane.doe")]
    listed = v16.call("tenant_admin", "x:Account/get", {"ids": q["ids"]})[1]["list"]
    assert all("memberTenantId" not in a for a in listed)
    acme = _id_of(v16, "acme.org")
    created = v16.call("tenant_admin", "x:Account/set", {"create": {"n": {"@type": "User", "name": "newbie",
                                                                          "domainId": acme}}})[1]
    new_id = ids.decode(created["created"]["n"]["id"])
    assert v16.sb.principals[new_id].tenant == v16.sb.by_name["acme"]


def test_other_directory_objects(v16):
    lists = v16.call("admin", "x:MailingList/get", {"ids": [_id_of(v16, "newsletter")]})[1]["list"][0]
    assert lists["emailAddress"] == "newsletter@example.com"
    assert lists["recipients"]["partner@fabrikam.com"] is True and lists["recipients"]["jane.doe@example.org"]
    role = v16.call("admin", "x:Role/get", {"ids": [_id_of(v16, "helpdesk")]})[1]["list"][0]
    assert role["enabledPermissions"]["sysAccountGet"] is True
    tenant = v16.call("admin", "x:Tenant/get", {"ids": [_id_of(v16, "acme")]})[1]["list"][0]
    assert tenant["name"] == "acme" and tenant["quotas"]["maxAccounts"] == 20
    client = v16.call("admin", "x:OAuthClient/query", {"filter": {"clientId": "webmail"}})[1]["ids"]
    got = v16.call("admin", "x:OAuthClient/get", {"ids": client})[1]["list"][0]
    assert got["redirectUris"] == {"https://webmail.example.org/oauth/callback": True}


def test_tenants_are_enterprise_only(v16ce):
    assert v16ce.call("admin", "x:Tenant/query", {})[1]["type"] == "forbidden"


def test_account_password_singleton(v16):
    user = v16.token("user")
    got = v16.call(user, "x:AccountPassword/get", {"ids": ["singleton"]})[1]["list"]
    assert got == [{"id": "singleton", "secret": "****", "currentSecret": None,
                    "otpAuth": {"otpUrl": None, "otpCode": None}}]
    wrong = v16.call(user, "x:AccountPassword/set", {"update": {"singleton": {
        "currentSecret": "nope", "secret": "Another-Pass-77"}}})[1]
    assert wrong["notUpdated"]["singleton"] == {"type": "forbidden", "description": "Current secret is incorrect."}
    ok = v16.call(user, "x:AccountPassword/set", {"update": {"singleton": {
        "currentSecret": PERSONAS["user"]["password"], "secret": "Another-Pass-77"}}})[1]
    assert ok["updated"] == {"singleton": None}
    login = v16.login("jane.doe@example.org", "Another-Pass-77")
    assert login.json()["type"] == "authenticated"
    assert v16.client.get("/api/account", headers={"Authorization": f"Bearer {user}"}).status_code == 401
    fresh = v16.exchange(login.json()["client_code"], login.verifier).json()["access_token"]
    gone = v16.call(fresh, "x:AccountPassword/set", {"destroy": ["singleton"]})
    assert gone[1]["notDestroyed"]["singleton"]["type"] == "singleton"


def test_password_change_revokes_tokens(v16):
    token = v16.token("user")
    jane = _id_of(v16, "jane.doe")
    v16.call("admin", "x:Account/set", {"update": {jane: {"credentials/0/secret": "Brand-New-Pass-9"}}})
    r = v16.client.get("/api/account", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_api_key_is_shown_once_and_signs_in(v16):
    created = v16.call("user", "x:ApiKey/set", {"create": {"k": {"description": "backup script"}}})[1]
    secret = created["created"]["k"]["secret"]
    assert secret.startswith("API_")
    listed = v16.call("user", "x:ApiKey/get", {"ids": None})[1]["list"]
    assert listed[0]["secret"] == "****" and listed[0]["description"] == "backup script"
    me = v16.client.get("/api/account", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    missing = v16.call("user", "x:ApiKey/set", {"create": {"k": {}}})[1]["notCreated"]["k"]
    assert missing["validationErrors"] == [{"type": "Required", "property": "description"}]


def test_seeded_app_password_is_an_app_password(v16):
    apps = v16.call("totp_user", "x:AppPassword/get", {"ids": None})[1]["list"]
    assert [a["description"] for a in apps] == ["Phone mail app"]
    r = v16.login("theo.martin@example.org", "App-Sandbox-1")
    assert r.json()["type"] == "authenticated"  # app passwords bypass TOTP


def test_actions_without_properties_run_and_are_never_listed(v16):
    r = v16.call("admin", "x:Action/set", {"create": {"c": {"@type": "InvalidateCaches"}}})[1]
    assert set(r["created"]["c"]) == {"id"}
    assert v16.call("admin", "x:Action/get", {"ids": [r["created"]["c"]["id"]]})[1]["list"] == []
    assert v16.call("admin", "x:Action/query", {})[1]["type"] == "invalidArguments"
    unknown = v16.call("admin", "x:Action/set", {"create": {"c": {"@type": "Explode"}}})[1]
    assert unknown["notCreated"]["c"]["type"] == "invalidPatch"
    assert v16.call("user", "x:Action/set", {"create": {"c": {"@type": "InvalidateCaches"}}})[1]["type"] == "forbidden"


def test_basic_auth_and_an_explicit_account_id(v16):
    """How the server's own provisioning script talks to it (tests/resources/scripts/stress_test_prepare.py)."""
    import base64

    admin = PERSONAS["admin"]
    headers = {"Authorization": "Basic " + base64.b64encode(f"admin:{admin['password']}".encode()).decode()}
    session = v16.client.get("/.well-known/jmap", headers=headers, follow_redirects=True).json()
    own = next(iter(session["accounts"]))
    body = {"using": ["urn:ietf:params:jmap:core", "urn:stalwart:jmap"], "methodCalls": [
        ["x:Account/set", {"accountId": own, "create": {"a": {
            "@type": "User", "name": "test1", "domainId": _id_of(v16, "example.org"),
            "credentials": {"0": {"@type": "Password", "secret": "k3JdP9sQ2mXa7LbZ"}},
            "encryptionAtRest": {"@type": "Disabled"}, "permissions": {"@type": "Inherit"},
            "roles": {"@type": "User"}, "locale": "en_US"}}}, "c0"]]}
    r = v16.client.post(session["apiUrl"], json=body, headers=headers).json()
    assert "a" in r["methodResponses"][0][1]["created"]
    other = v16.call("user", "x:AccountPassword/get", {"accountId": own, "ids": ["singleton"]})
    assert other[0] == "error" and other[1] == {"type": "forbidden",
                                                "description": f"You are not an owner of account {own}."}


def test_domain_update_aliases_and_names(v16):
    example = _id_of(v16, "example.net")
    r = v16.call("admin", "x:Domain/set", {"update": {example: {"aliases/example.info": True, "description": None,
                                                                "catchAllAddress": "postmaster@example.net"}}})[1]
    assert r["updated"] == {example: None}
    got = v16.call("admin", "x:Domain/get", {"ids": [example], "properties": ["aliases", "description",
                                                                              "catchAllAddress"]})[1]["list"][0]
    assert got == {"id": example, "aliases": {"example.info": True}, "description": None,
                   "catchAllAddress": "postmaster@example.net"}
    assert v16.call("admin", "x:Domain/query", {"filter": {"aliases": "example.info"}})[1]["ids"] == [example]
    bad = v16.call("admin", "x:Domain/set", {"create": {"a": {"name": "not a host"}, "b": {"name": "example.info"},
                                                        "c": {"name": "x.example", "dnsZoneFile": "x"}}})[1]
    assert bad["notCreated"]["a"] == {"type": "invalidProperties", "description": "Invalid domain name.",
                                      "properties": ["name"]}
    assert bad["notCreated"]["b"]["type"] == "primaryKeyViolation"
    assert bad["notCreated"]["c"]["type"] == "invalidPatch"
    zone = v16.call("admin", "x:Domain/get", {"ids": [example], "properties": ["dnsZoneFile"]})[1]["list"][0]
    assert "example.net. IN MX 10 mail.example.org." in zone["dnsZoneFile"]


def test_tenant_admin_sees_its_domain_only(v16):
    q = v16.call("tenant_admin", "x:Domain/query", {"position": 0})[1]
    assert q["ids"] == [_id_of(v16, "acme.org")]


def test_api_key_update_and_destroy(v16):
    user = v16.token("user")
    created = v16.call(user, "x:ApiKey/set", {"create": {"k": {"description": "ci",
                                                               "expiresAt": "2099-01-01T00:00:00Z"}}})[1]
    kid, secret = created["created"]["k"]["id"], created["created"]["k"]["secret"]
    v16.call(user, "x:ApiKey/set", {"update": {kid: {"description": "ci runner", "allowedIps/10.0.0.0~18": True}}})
    got = v16.call(user, "x:ApiKey/get", {"ids": [kid]})[1]["list"][0]
    assert got["description"] == "ci runner" and got["allowedIps"] == {"10.0.0.0/8": True}
    assert got["expiresAt"] == "2099-01-01T00:00:00Z"
    assert v16.call(user, "x:ApiKey/set", {"destroy": [kid]})[1]["destroyed"] == [kid]
    assert v16.client.get("/api/account", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    # someone else's keys are not visible
    assert v16.call("admin", "x:ApiKey/get", {"ids": [kid]})[1]["notFound"] == [kid]


def test_totp_account_changes_its_password_with_a_code(v16):
    import pyotp

    from sandbox.seed import TOTP_SECRET

    theo = v16.token("totp_user")
    got = v16.call(theo, "x:AccountPassword/get", {"ids": ["singleton"]})[1]["list"][0]
    assert got["otpAuth"]["otpUrl"] == "****"
    patch = {"currentSecret": PERSONAS["totp_user"]["password"], "secret": "Totp-Sandbox-Changed-2"}
    no_code = v16.call(theo, "x:AccountPassword/set", {"update": {"singleton": patch}})[1]
    assert no_code["notUpdated"]["singleton"]["description"] == (
        "Current OTP code is required to change the password or OTP auth.")
    code = pyotp.TOTP(TOTP_SECRET).at(v16.sb.now())
    ok = v16.call(theo, "x:AccountPassword/set", {"update": {"singleton": {**patch, "otpAuth/otpCode": code}}})[1]
    assert ok["updated"] == {"singleton": None}
    weak = v16.call(v16.token("user"), "x:AccountPassword/set", {"update": {"singleton": {
        "currentSecret": PERSONAS["user"]["password"], "secret": "short"}}})[1]
    assert weak["notUpdated"]["singleton"]["properties"] == ["secret"]


def test_a_principal_without_addresses_is_known_by_name_at_the_default_domain(v16):
    from sandbox.passwords import sha512_crypt_hash
    from sandbox.permissions import BUILTIN_ROLE_IDS
    from sandbox.state import Principal

    sb = v16.sb
    p = Principal(sb.allocate_id(), "individual", "kiosk2")
    p.secrets = [sha512_crypt_hash("Kiosk2-Sandbox-1")]
    p.member_of = [BUILTIN_ROLE_IDS["user"]]
    sb.insert(p)
    assert v16.login("kiosk2", "Kiosk2-Sandbox-1").json()["type"] == "authenticated"
    got = v16.call("admin", "x:Account/get", {"ids": [ids.encode(p.id)], "properties": ["emailAddress"]})[1]
    assert got["list"][0]["emailAddress"] == "kiosk2@example.org"
    clash = v16.call("admin", "x:Account/set", {"create": {"c": {"@type": "User", "name": "kiosk2",
                                                                 "domainId": _id_of(v16, "example.org")}}})[1]
    assert clash["notCreated"]["c"]["objectId"] == {"object": "Account", "id": ids.encode(p.id)}
