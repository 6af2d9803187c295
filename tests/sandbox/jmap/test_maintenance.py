"""0.16 maintenance and settings: x:Task (objects.md §18), x:BlockedIp (§23) and the settings
singletons and collections generated from the server's schema (§26)."""

from __future__ import annotations

from sandbox.jmap import ids
from sandbox.jmap.store import utc
from sandbox.toolstate import tools_state


# ------------------------------------------------------------------------------ x:Task
def test_tasks_run_when_due_and_record_what_they_did(v16):
    jane = ids.encode(v16.sb.by_name["jane.doe"])
    later = utc(v16.sb.now() + 3600)
    made = v16.call("admin", "x:Task/set", {"create": {
        "now": {"@type": "StoreMaintenance", "maintenanceType": "reindexAccounts"},
        "later": {"@type": "AccountMaintenance", "accountId": jane, "maintenanceType": "purge",
                  "status": {"@type": "Pending", "due": later}},
    }})[1]
    assert set(made["created"]["now"]) == {"id"}
    later_id = made["created"]["later"]["id"]
    listed = v16.call("admin", "x:Task/get", {"ids": None})[1]["list"]  # the due one ran meanwhile
    assert [t["id"] for t in listed] == [later_id]
    task = listed[0]
    assert task["status"]["@type"] == "Pending" and task["due"] == later and task["accountId"] == jane
    assert {"kind": "task", "type": "StoreMaintenance", "maintenanceType": "reindexAccounts"} in tools_state(
        v16.sb).actions
    q = v16.call("admin", "x:Task/query", {"filter": {"@type": "AccountMaintenance"}})[1]
    assert q["ids"] == [later_id]
    # re-run now, then cancel
    v16.call("admin", "x:Task/set", {"update": {later_id: {"status": {"@type": "Pending",
                                                                      "due": utc(v16.sb.now())}}}})
    v16.call("admin", "x:Task/get", {"ids": [later_id]})
    assert any(a.get("maintenanceType") == "purge" and a.get("accountId") == jane for a in tools_state(v16.sb).actions)


def test_failed_tasks_show_their_status_and_can_be_cancelled(v16):
    from sandbox.jmap.ops import ops_state

    ops_state(v16.sb).failing["DkimManagement"] = "DNS update refused"
    domain = ids.encode(v16.sb.by_name["example.org"])
    tid = v16.call("admin", "x:Task/set", {"create": {"t": {"@type": "DkimManagement", "domainId": domain}}})[1][
        "created"]["t"]["id"]
    for _ in range(3):
        task = v16.call("admin", "x:Task/get", {"ids": [tid]})[1]["list"][0]
    assert task["status"]["@type"] == "Failed" and task["status"]["failureReason"] == "DNS update refused"
    assert "due" not in task
    failed = v16.call("admin", "x:Task/query", {"filter": {"status": "Failed"}})[1]["ids"]
    assert failed == [tid]
    assert v16.call("admin", "x:Task/set", {"destroy": [tid]})[1]["destroyed"] == [tid]


def test_task_create_errors_in_the_server_order(v16):
    res = v16.call("admin", "x:Task/set", {"create": {
        "internal": {"@type": "RestoreArchivedItem", "blobId": "x"},
        "required": {"@type": "AccountMaintenance", "maintenanceType": "purge"},
        "badtype": {"@type": "StoreMaintenance", "maintenanceType": "explode"},
        "fk": {"@type": "AccountMaintenance", "accountId": "zzzzzz", "maintenanceType": "purge"},
        "ro": {"@type": "StoreMaintenance", "due": utc(v16.sb.now())},
        "destroy": {"@type": "DestroyAccount"},
    }})[1]["notCreated"]
    assert res["internal"]["type"] == "invalidPatch"  # a server-set property before the internal-type refusal
    assert res["required"] == {"type": "validationFailed",
                               "validationErrors": [{"type": "Required", "property": "accountId"}]}
    assert res["badtype"]["properties"] == ["maintenanceType"]
    assert res["fk"] == {"type": "invalidForeignKey", "objectId": {"object": "Account", "id": "zzzzzz"}}
    assert res["ro"]["type"] == "invalidPatch"
    assert res["destroy"]["type"] == "validationFailed"
    # the helpdesk holds taskAccountMaintenance but not taskStoreMaintenance
    jane = ids.encode(v16.sb.by_name["jane.doe"])
    helpdesk = v16.call("helpdesk", "x:Task/set", {"create": {
        "ok": {"@type": "AccountMaintenance", "accountId": jane, "maintenanceType": "reindex"},
        "no": {"@type": "StoreMaintenance", "maintenanceType": "purgeBlob"}}})
    assert "ok" in helpdesk[1]["created"]  # fts-reindex maps to taskAccountMaintenance + sysTaskCreate
    assert helpdesk[1]["notCreated"]["no"] == {
        "type": "forbidden", "description": "Insufficient permissions to create task of type StoreMaintenance"}


# ------------------------------------------------------------------------------ x:BlockedIp
def test_blocked_ips_list_block_and_unblock(v16):
    q = v16.call("admin", "x:BlockedIp/query", {"position": 0})[1]
    seeded = v16.call("admin", "x:BlockedIp/get", {"ids": q["ids"]})[1]["list"]
    assert {b["reason"] for b in seeded} >= {"authFailure"} and all("createdAt" in b for b in seeded)
    made = v16.call("admin", "x:BlockedIp/set", {"create": {
        "a": {"address": "192.0.2.0/24"}, "b": {"address": "not-an-ip"}, "c": {"address": "203.0.113.66"},
        "d": {"address": "10.0.0.1", "createdAt": utc(0)}}})[1]
    new = made["created"]["a"]["id"]
    assert made["notCreated"]["b"]["properties"] == ["address"]
    assert made["notCreated"]["c"]["type"] == "primaryKeyViolation"
    assert made["notCreated"]["d"]["description"] == "Cannot modify server set property"
    got = v16.call("admin", "x:BlockedIp/get", {"ids": [new]})[1]["list"][0]
    assert got["address"] == "192.0.2.0/24" and got["reason"] == "manual" and got["expiresAt"] is None
    assert v16.call("admin", "x:BlockedIp/query", {"filter": {"address": "192.0.2.0/24"}})[1]["ids"] == [new]
    bad = v16.call("admin", "x:BlockedIp/set", {"update": {new: {"address": "192.0.2.1"}}})[1]
    assert bad["notUpdated"][new]["description"] == "Cannot modify read-only property"
    unblock = [b["id"] for b in seeded if b["address"] == "203.0.113.66"]
    assert v16.call("admin", "x:BlockedIp/set", {"destroy": unblock})[1]["destroyed"] == unblock
    assert v16.call("user", "x:BlockedIp/query", {})[1]["type"] == "forbidden"


# ------------------------------------------------------------------------------ settings from the schema
def test_singleton_defaults_update_and_validation(v16):
    assert v16.call("admin", "x:Security/get", {"ids": None})[1]["list"] == []  # never saved
    got = v16.call("admin", "x:Security/get", {"ids": ["singleton"]})[1]["list"][0]
    assert got["id"] == "singleton" and got["authBanRate"] == {"count": 100, "period": "1d"}
    assert got["authBanPeriod"] is None and got["scanBanPaths"]["*.php*"] is True
    res = v16.call("admin", "x:Security/set", {"update": {"singleton": {
        "authBanRate": {"count": 5, "period": 3_600_000}, "scanBanPaths/*.env*": True}}})[1]
    assert res["updated"] == {"singleton": None}
    again = v16.call("admin", "x:Security/get", {"ids": None})[1]["list"][0]
    assert again["authBanRate"] == {"count": 5, "period": 3_600_000} and again["scanBanPaths"]["*.env*"] is True
    errors = {}
    patches = {"type": {"authBanPeriod": "soon"}, "unknown": {"colour": 1},
               "range": {"authBanRate": {"count": 0, "period": 1000}}, "empty": {"scanBanPaths/": True}}
    for name, patch in patches.items():
        errors[name] = v16.call("admin", "x:Security/set", {"update": {"singleton": patch}})[1]["notUpdated"][
            "singleton"]
    assert errors["type"] == {"type": "invalidPatch", "description": "Invalid value for property.",
                              "properties": ["authBanPeriod"]}
    assert errors["unknown"]["properties"] == ["colour"]
    assert errors["range"]["type"] == "validationFailed"
    assert errors["range"]["validationErrors"][0]["property"] == "authBanRate/count"
    assert errors["empty"]["type"] == "invalidPatch"
    assert v16.call("admin", "x:Security/set", {"destroy": ["singleton"]})[1]["notDestroyed"] == {
        "singleton": {"type": "singleton"}}
    assert v16.call("admin", "x:Security/query", {})[1]["type"] == "unknownMethod"
    assert v16.call("user", "x:Security/get", {"ids": ["singleton"]})[1]["type"] == "forbidden"


def test_system_settings_start_from_the_rest_configuration_and_validate_formats(v16):
    got = v16.call("admin", "x:SystemSettings/get", {"ids": ["singleton"]})[1]["list"][0]
    assert got["defaultDomainId"] == ids.encode(v16.sb.by_name["example.org"])
    assert got["maxConnections"] == 8192
    res = v16.call("admin", "x:SystemSettings/set", {"update": {"singleton": {
        "proxyTrustedNetworks": {"10.0.0.0/8": True, "nonsense": True}}}})[1]
    assert res["notUpdated"]["singleton"] == {"type": "invalidProperties", "description": "Invalid IP address.",
                                              "properties": ["proxyTrustedNetworks/nonsense"]}
    fk = v16.call("admin", "x:SystemSettings/set", {"update": {"singleton": {"defaultDomainId": "zzzz"}}})[1]
    assert fk["notUpdated"]["singleton"]["type"] == "invalidForeignKey"
    # a create on a singleton acts as an update
    made = v16.call("admin", "x:SystemSettings/set", {"create": {"s": {"maxConnections": 100}}})[1]
    assert made["created"] == {"s": {"id": "singleton"}}
    assert v16.call("admin", "x:SystemSettings/get", {"ids": ["singleton"],
                                                      "properties": ["maxConnections"]})[1]["list"] == [
        {"id": "singleton", "maxConnections": 100}]


def test_oidc_provider_shares_the_sign_in_setting(v16):
    v16.call("admin", "x:OidcProvider/set", {"update": {"singleton": {"requireClientRegistration": True}}})
    assert v16.sb.settings["oauth.require-client-registration"] == "true"
    got = v16.call("admin", "x:OidcProvider/get", {"ids": ["singleton"]})[1]["list"][0]
    assert got["requireClientRegistration"] is True


def test_collections_create_query_update_destroy_with_variants(v16):
    made = v16.call("admin", "x:NetworkListener/set", {"create": {
        "l": {"name": "submission", "protocol": "smtp", "bind": {"[::]:587": True}},
        "bad": {"name": "x", "protocol": "gopher", "bind": {"[::]:70": True}},
        "missing": {"protocol": "imap", "bind": {"[::]:143": True}},
        "nobind": {"name": "y", "protocol": "imap", "bind": {}}}})[1]
    lid = made["created"]["l"]["id"]
    assert made["notCreated"]["bad"]["properties"] == ["protocol"]
    assert made["notCreated"]["missing"]["validationErrors"] == [{"type": "Required", "property": "name"}]
    assert made["notCreated"]["nobind"]["validationErrors"][0]["type"] == "MinLength"
    q = v16.call("admin", "x:NetworkListener/query", {"filter": {"text": "submiss"}})[1]
    assert q["ids"] == [lid]
    ro = v16.call("admin", "x:NetworkListener/set", {"update": {lid: {"name": "other"}}})[1]
    assert ro["notUpdated"][lid]["description"] == "Cannot modify read-only property"
    assert v16.call("admin", "x:NetworkListener/set", {"update": {lid: {"protocol": "lmtp"}}})[1]["updated"]
    assert v16.call("admin", "x:NetworkListener/get", {"ids": [lid]})[1]["list"][0]["protocol"] == "lmtp"
    # a polymorphic collection: @type picks the variant's properties
    rule = v16.call("admin", "x:SpamRule/set", {"create": {"r": {"@type": "Any", "name": "R1", "priority": 10},
                                                           "v": {"@type": "Nothing", "name": "R2"}}})[1]
    rid = rule["created"]["r"]["id"]
    assert rule["notCreated"]["v"]["properties"] == ["@type"]
    got = v16.call("admin", "x:SpamRule/get", {"ids": [rid]})[1]["list"][0]
    assert got["@type"] == "Any" and got["priority"] == 10
    bad = v16.call("admin", "x:SpamRule/set", {"update": {rid: {"priority": 100000}}})[1]
    assert bad["notUpdated"][rid]["validationErrors"][0]["type"] == "MaxValue"
    assert v16.call("admin", "x:NetworkListener/set", {"destroy": [lid]})[1]["destroyed"] == [lid]
    v16.sb.reset()
    assert v16.call("admin", "x:NetworkListener/get", {"ids": [lid]})[1]["notFound"] == [lid]
