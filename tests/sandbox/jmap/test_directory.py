"""x:MailingList, x:Role, x:Tenant and x:OAuthClient /set, and objectIsLinked on destroy."""

from __future__ import annotations

from sandbox.jmap import ids


def _id_of(v16, name: str) -> str:
    return ids.encode(v16.sb.by_name[name])


def test_mailing_list_create_and_recipient_patches(v16):
    example = _id_of(v16, "example.org")
    created = v16.call("admin", "x:MailingList/set", {"create": {"l": {
        "name": "board", "domainId": example, "description": "Board",
        "recipients": {"jane.doe@example.org": True, "chair@outside.example": True}}}})[1]
    lid = created["created"]["l"]["id"]
    assert created["created"]["l"]["emailAddress"] == "board@example.org"
    jane = v16.sb.by_name["jane.doe"]
    assert ids.decode(lid) in v16.sb.principals[jane].member_of  # one state: a member in the REST model
    v16.call("admin", "x:MailingList/set", {"update": {lid: {"recipients/jane.doe@example.org": None,
                                                             "recipients/new@outside.example": True}}})
    got = v16.call("admin", "x:MailingList/get", {"ids": [lid]})[1]["list"][0]
    assert got["recipients"] == {"chair@outside.example": True, "new@outside.example": True}
    bad = v16.call("admin", "x:MailingList/set", {"update": {lid: {"recipients/not-an-address": True}}})[1]
    assert bad["notUpdated"][lid]["type"] == "invalidPatch"
    clash = v16.call("admin", "x:MailingList/set", {"create": {"x": {"name": "jane", "domainId": example}}})[1]
    assert clash["notCreated"]["x"]["type"] == "primaryKeyViolation"
    found = v16.call("admin", "x:MailingList/query", {"filter": {"text": "chair"}})[1]["ids"]
    assert found == [lid]


def test_role_create_grants_only_what_the_caller_holds(v16):
    created = v16.call("admin", "x:Role/set", {"create": {"r": {
        "description": "DKIM keepers", "enabledPermissions": {"authenticate": True, "sysDkimSignatureGet": True,
                                                              "sysDomainGet": True}}}})[1]
    rid = created["created"]["r"]["id"]
    role = v16.call("admin", "x:Role/get", {"ids": [rid]})[1]["list"][0]
    assert role["enabledPermissions"] == {"authenticate": True, "sysDkimSignatureGet": True, "sysDomainGet": True}
    missing = v16.call("admin", "x:Role/set", {"create": {"r": {}}})[1]["notCreated"]["r"]
    assert missing["validationErrors"] == [{"type": "Required", "property": "description"}]
    # a user given (only) the role holds its 0.16 permissions, also those without a ≤0.15 equivalent
    jane = _id_of(v16, "jane.doe")
    v16.call("admin", "x:Account/set", {"update": {jane: {"roles": {"@type": "Custom", "roleIds": {rid: True}}}}})
    me = v16.client.get("/api/account", headers=v16.bearer("user")).json()["permissions"]
    assert "sysDkimSignatureGet" in me and "sysDomainGet" in me and "emailSend" not in me


def test_role_in_use_cannot_be_destroyed(v16):
    helpdesk = _id_of(v16, "helpdesk")
    r = v16.call("admin", "x:Role/set", {"destroy": [helpdesk]})[1]
    err = r["notDestroyed"][helpdesk]
    assert err["type"] == "objectIsLinked"
    assert {"object": "Account", "id": _id_of(v16, "hannah.becker")} in err["linkedObjects"]


def test_group_with_members_cannot_be_destroyed(v16):
    sales = _id_of(v16, "sales")
    err = v16.call("admin", "x:Account/set", {"destroy": [sales]})[1]["notDestroyed"][sales]
    assert err["type"] == "objectIsLinked" and err["objectId"] == {"object": "Account", "id": sales}


def test_tenant_create_update_and_quota(v16):
    created = v16.call("admin", "x:Tenant/set", {"create": {"t": {"name": "globex",
                                                                  "quotas": {"maxDomains": 1}}}})[1]
    tid = created["created"]["t"]["id"]
    v16.call("admin", "x:Tenant/set", {"update": {tid: {"quotas/maxAccounts": 3}}})
    tenant = v16.call("admin", "x:Tenant/get", {"ids": [tid]})[1]["list"][0]
    assert tenant["quotas"] == {"maxDomains": 1, "maxAccounts": 3}
    first = v16.call("admin", "x:Domain/set", {"create": {"a": {"name": "globex.example", "memberTenantId": tid},
                                                          "b": {"name": "globex2.example", "memberTenantId": tid}}})[1]
    assert "a" in first["created"]
    assert first["notCreated"]["b"]["type"] == "overQuota"
    linked = v16.call("admin", "x:Tenant/set", {"destroy": [tid]})[1]["notDestroyed"][tid]
    assert linked["type"] == "objectIsLinked"


def test_oauth_client_secret_is_never_shown(v16):
    created = v16.call("admin", "x:OAuthClient/set", {"create": {"c": {
        "clientId": "portal", "redirectUris": {"https://portal.example/cb": True}, "secret": "s3cret-value"}}})[1]
    cid = created["created"]["c"]["id"]
    got = v16.call("admin", "x:OAuthClient/get", {"ids": [cid]})[1]["list"][0]
    assert got["secret"] == "****" and got["redirectUris"] == {"https://portal.example/cb": True}
    assert "s3cret-value" not in str(v16.sb.principals[ids.decode(cid)].secrets)
    dup = v16.call("admin", "x:OAuthClient/set", {"create": {"d": {"clientId": "webmail"}}})[1]
    assert dup["notCreated"]["d"]["type"] == "primaryKeyViolation" and dup["notCreated"]["d"]["properties"] == [
        "clientId"]


def test_registered_clients_are_required_when_configured(v16):
    """x:OidcProvider.requireClientRegistration (sandbox setting oauth.require-client-registration)."""
    v16.sb.settings["oauth.require-client-registration"] = "true"
    from sandbox.seed import PERSONAS

    body = {"type": "authCode", "accountName": "jane.doe@example.org", "accountSecret": PERSONAS["user"]["password"],
            "clientId": "webmail", "redirectUri": "https://webmail.example.org/oauth/callback"}
    assert v16.client.post("/api/auth", json=body).json()["type"] == "authenticated"
    assert v16.client.post("/api/auth", json={**body, "clientId": "unknown"}).status_code == 401
    assert v16.client.post("/api/auth", json={**body, "redirectUri": "https://evil.example/cb"}).status_code == 401
