"""0.16 mail-flow objects from the REST sandbox's one mail-flow state: the queue, outgoing and
incoming reports, archived items (objects.md §12–§15)."""

from __future__ import annotations

from sandbox.jmap import ids
from sandbox.jmap.store import utc
from sandbox.queue import enqueue
from sandbox.store import delete_blob


def _query_get(v16, who, obj, args, props=None):
    responses = v16.jmap(who, [
        [f"x:{obj}/query", args, "q"],
        [f"x:{obj}/get", {"#ids": {"resultOf": "q", "name": f"x:{obj}/query", "path": "/ids"},
                          **({"properties": props} if props else {})}, "g"],
    ])
    assert responses[0][0] == f"x:{obj}/query", responses
    return responses[0][1], responses[1][1]["list"]


# ------------------------------------------------------------------------------ queue
def test_queued_message_shows_the_rest_queue_with_per_recipient_status(v16):
    flow = v16.sb.mailflow
    q, items = _query_get(v16, "admin", "QueuedMessage", {"calculateTotal": True})
    assert q["total"] == len(flow.messages) and len(items) == len(flow.messages)
    by_id = {ids.decode(i["id"]): i for i in items}
    message = flow.messages[next(iter(flow.messages))]
    item = by_id[message.id]
    assert item["returnPath"] == message.return_path and item["size"] == message.size
    for recipient in message.recipients():
        entry = item["recipients"][recipient.address]
        assert entry["status"]["@type"] in ("Scheduled", "Completed", "TemporaryFailure", "PermanentFailure")
        assert {"retryDue", "retryCount", "queueName", "expires", "notifyDue"} <= set(entry)
    # default order: due descending
    dues = [i["nextRetry"] or "" for i in items]
    ordered = v16.call("admin", "x:QueuedMessage/get", {"ids": q["ids"], "properties": ["nextRetry"]})[1]["list"]
    assert [i["nextRetry"] or "" for i in ordered] == sorted(dues, reverse=True)


def test_queue_filters_text_return_path_to_due_and_queue_name(v16):
    v16.sb.mailflow.clear()
    now = v16.sb.now()
    a = enqueue(v16.sb, return_path="alice@example.org", recipients=["bob@remote.example"], hold=3600)
    b = enqueue(v16.sb, return_path="carla@example.org", recipients=["dan@other.example"], hold=7200)
    c = enqueue(v16.sb, return_path="", recipients=["erin@remote.example"], hold=600)

    def found(flt):
        q = v16.call("admin", "x:QueuedMessage/query", {"filter": flt})[1]
        return {ids.decode(i) for i in q["ids"]}

    assert found({"text": "remote.example"}) == {a.id, c.id}
    assert found({"text": "alice", "to": "nobody"}) == {a.id}  # text wins over to/returnPath
    assert found({"returnPath": "carla"}) == {b.id}
    assert found({"to": "erin@"}) == {c.id}
    assert found({"dueIsGreaterThan": utc(now + 1800)}) == {a.id, b.id}
    assert found({"operator": "AND", "conditions": [{"dueIsGreaterThan": utc(now + 1800)},
                                                    {"dueIsLessThan": utc(now + 5000)}]}) == {a.id}
    assert found({"queueName": "dsn"}) == {c.id}
    err = v16.call("admin", "x:QueuedMessage/query", {"filter": {"operator": "OR", "conditions": []}})
    assert err == ["error", {"type": "unsupportedFilter", "description": "Unsupported filter operator OR."}, "c"]
    err = v16.call("admin", "x:QueuedMessage/query", {"sort": [{"property": "id"}]})
    assert err[1]["type"] == "unsupportedSort"
    q = v16.call("admin", "x:QueuedMessage/query", {"sort": [{"property": "due", "isAscending": True}]})[1]
    assert [ids.decode(i) for i in q["ids"]] == [c.id, a.id, b.id]


def test_retry_by_next_retry_one_recipient_and_cancel(v16):
    v16.sb.mailflow.clear()
    m = enqueue(v16.sb, return_path="alice@example.org", recipients=["bob@remote.example", "eve@far.example"],
                hold=7200)
    mid = ids.encode(m.id)
    soon = utc(v16.sb.now() + 60)
    got = v16.call("admin", "x:QueuedMessage/set", {"update": {mid: {"nextRetry": soon}}})[1]
    assert got["updated"] == {mid: None}
    item = v16.call("admin", "x:QueuedMessage/get", {"ids": [mid]})[1]["list"][0]
    assert item["nextRetry"] == soon
    assert all(r["retryDue"] == soon for r in item["recipients"].values())
    later = utc(v16.sb.now() + 999)
    v16.call("admin", "x:QueuedMessage/set", {"update": {mid: {"recipients/eve@far.example/retryDue": later}}})
    item = v16.call("admin", "x:QueuedMessage/get", {"ids": [mid]})[1]["list"][0]
    assert item["recipients"]["eve@far.example"]["retryDue"] == later
    assert item["recipients"]["bob@remote.example"]["retryDue"] == soon
    # cancel one recipient: permanent failure
    v16.call("admin", "x:QueuedMessage/set", {"update": {mid: {"recipients/eve@far.example": None}}})
    item = v16.call("admin", "x:QueuedMessage/get", {"ids": [mid]})[1]["list"][0]
    assert item["recipients"]["eve@far.example"]["status"]["@type"] == "PermanentFailure"
    bad = v16.call("admin", "x:QueuedMessage/set", {"update": {mid: {"size": 1, }}})[1]
    assert bad["notUpdated"][mid]["type"] == "invalidPatch" and bad["notUpdated"][mid]["properties"] == ["size"]
    bad = v16.call("admin", "x:QueuedMessage/set", {"update": {mid: {"nextRetry": "tomorrow"}}})[1]
    assert bad["notUpdated"][mid]["properties"] == ["nextRetry"]
    assert v16.call("admin", "x:QueuedMessage/set", {"create": {"x": {}}})[1]["notCreated"]["x"]["type"] == "forbidden"
    done = v16.call("admin", "x:QueuedMessage/set", {"destroy": [mid, "zzz"]})[1]
    assert done["destroyed"] == [mid] and done["notDestroyed"]["zzz"]["type"] == "notFound"
    assert m.id not in v16.sb.mailflow.messages  # one state: gone for the REST front-end too


def test_bulk_cancel_by_back_reference_respects_max_objects_in_set(v16):
    v16.sb.mailflow.clear()
    for i in range(3):
        enqueue(v16.sb, return_path=f"bulk{i}@example.org", recipients=["x@remote.example"], hold=600)
    enqueue(v16.sb, return_path="keep@example.org", recipients=["y@remote.example"], hold=600)
    responses = v16.jmap("admin", [
        ["x:QueuedMessage/query", {"filter": {"returnPath": "bulk"}, "limit": 500}, "q"],
        ["x:QueuedMessage/set", {"#destroy": {"resultOf": "q", "name": "x:QueuedMessage/query", "path": "/ids"}}, "s"],
    ])
    assert len(responses[1][1]["destroyed"]) == 3
    assert [m.return_path for m in v16.sb.mailflow.messages.values()] == ["keep@example.org"]
    too_many = v16.call("admin", "x:QueuedMessage/set", {"destroy": [ids.encode(n) for n in range(501)]})
    assert too_many[1]["type"] == "requestTooLarge"


def test_queue_permissions_and_tenant_scope(v16):
    assert v16.call("user", "x:QueuedMessage/query", {})[1]["type"] == "forbidden"
    v16.sb.mailflow.clear()
    tenant_domain = next(p for p in v16.sb.principals.values() if p.type == "domain" and p.tenant is not None)
    own = enqueue(v16.sb, return_path=f"a@{tenant_domain.name}", recipients=["z@remote.example"], hold=600)
    inbound = enqueue(v16.sb, return_path="b@remote.example", recipients=[f"c@{tenant_domain.name}"], hold=600)
    other = enqueue(v16.sb, return_path="d@example.org", recipients=["z@remote.example"], hold=600)
    q = v16.call("tenant_admin", "x:QueuedMessage/query", {})[1]
    assert {ids.decode(i) for i in q["ids"]} == {own.id, inbound.id}  # query also matches recipients
    got = v16.call("tenant_admin", "x:QueuedMessage/get", {"ids": q["ids"] + [ids.encode(other.id)]})[1]
    assert [ids.decode(i["id"]) for i in got["list"]] == [own.id]
    assert set(got["notFound"]) == {ids.encode(inbound.id), ids.encode(other.id)}


# ------------------------------------------------------------------------------ outgoing reports
def test_outgoing_reports_list_reschedule_and_cancel(v16):
    flow = v16.sb.mailflow
    dmarc = [r for r in flow.outgoing.values() if r.kind == "d"]
    q, items = _query_get(v16, "admin", "DmarcInternalReport", {"position": 0})
    assert len(items) == len(dmarc)
    first = next(i for i in items if i["domain"] == "gmail.com")
    assert first["report"]["policyDomain"] == "gmail.com" and first["rua"] == {"mailauth-reports@google.com": True}
    assert first["report"]["records"]["0"]["evaluatedDisposition"] in ("none", "pass", "quarantine", "reject")
    tls_q, tls = _query_get(v16, "admin", "TlsInternalReport", {"filter": {"domain": "outlook.com"}})
    assert [t["domain"] for t in tls] == ["outlook.com"] and tls[0]["mailRua"] == {"tlsrpt@microsoft.com": True}
    assert v16.call("admin", "x:TlsInternalReport/query", {"filter": {"text": "x"}})[1]["type"] == "unsupportedFilter"
    rid = first["id"]
    later = utc(v16.sb.now() + 86400 * 3)
    assert v16.call("admin", "x:DmarcInternalReport/set",
                    {"update": {rid: {"deliverAt": later}}})[1]["updated"] == {rid: None}
    again = v16.call("admin", "x:DmarcInternalReport/get", {"ids": [rid]})[1]["list"][0]
    assert again["deliverAt"] == later  # same id after the reschedule
    errors = v16.call("admin", "x:DmarcInternalReport/set", {"update": {
        rid: {"deliverAt": utc(v16.sb.now() - 10)}, "zzz": {"domain": "x"}, "yyy": {}}})[1]["notUpdated"]
    assert errors[rid] == {"type": "invalidPatch", "description": "Invalid value for property",
                           "properties": ["deliverAt"]}
    assert errors["zzz"] == {"type": "invalidProperties", "properties": ["domain"]}
    assert errors["yyy"]["description"] == "Missing required property"
    unknown = v16.call("admin", "x:DmarcInternalReport/set", {"update": {"zzz": {"deliverAt": later}}})[1]
    assert unknown["notUpdated"]["zzz"]["type"] == "notFound"
    v16.call("admin", "x:DmarcInternalReport/set", {"destroy": [rid]})
    assert not any(r.domain == "gmail.com" and r.kind == "d" for r in flow.outgoing.values())


def test_a_reschedule_patch_is_checked_key_by_key_in_its_order(v16):
    (rid,) = v16.call("admin", "x:TlsInternalReport/query", {"position": 0, "limit": 1})[1]["ids"]
    past = utc(v16.sb.now() - 10)
    errors = v16.call("admin", "x:TlsInternalReport/set", {"update": {rid: {"deliverAt": past, "domain": "x"}}})
    assert errors[1]["notUpdated"][rid]["type"] == "invalidPatch"  # deliverAt comes first
    errors = v16.call("admin", "x:TlsInternalReport/set", {"update": {rid: {"domain": "x", "deliverAt": past}}})
    assert errors[1]["notUpdated"][rid] == {"type": "invalidProperties", "properties": ["domain"]}
    now = v16.call("admin", "x:TlsInternalReport/set", {"update": {rid: {"deliverAt": utc(v16.sb.now())}}})
    assert now[1]["notUpdated"][rid]["type"] == "invalidPatch"  # now is not in the future


# ------------------------------------------------------------------------------ incoming reports
def test_incoming_reports_query_get_filters_and_destroy(v16):
    flow = v16.sb.mailflow
    q, items = _query_get(v16, "admin", "DmarcExternalReport", {"calculateTotal": True, "limit": 5})
    assert q["total"] == len(flow.incoming["dmarc"]) and len(items) == 5
    item = items[0]
    assert {"expiresAt", "from", "receivedAt", "report", "subject", "to", "memberTenantId"} <= set(item)
    assert isinstance(item["report"]["records"], dict) and item["report"]["version"] == 1.0
    numbers = [ids.decode(i) for i in q["ids"]]
    assert numbers == sorted(numbers, reverse=True)
    text = v16.call("admin", "x:DmarcExternalReport/query", {"filter": {"text": "google.com"}})[1]["ids"]
    assert text and all(ids.decode(i) in {k[0] for k, r in flow.incoming["dmarc"].items()
                                          if "google.com" in r.sender or "google.com" in str(r.report)} for i in text)
    failed = v16.call("admin", "x:DmarcExternalReport/query",
                      {"filter": {"totalFailedSessionsIsGreaterThan": 0}, "calculateTotal": True})[1]
    assert 0 < failed["total"] <= q["total"]
    assert v16.call("admin", "x:DmarcExternalReport/query",
                    {"filter": {"domain": "x"}})[1]["type"] == "unsupportedFilter"
    _, tls = _query_get(v16, "admin", "TlsExternalReport", {"position": 0})
    assert tls and tls[0]["report"]["policies"]["0"]["policyType"] in ("sts", "tlsa", "noPolicyFound", "other")
    _, arf = _query_get(v16, "admin", "ArfExternalReport", {"position": 0})
    assert arf and arf[0]["report"]["feedbackType"] in ("abuse", "authFailure", "fraud", "notSpam", "virus", "other")
    rid = items[0]["id"]
    assert v16.call("admin", "x:DmarcExternalReport/set",
                    {"update": {rid: {"subject": "x"}}})[1]["notUpdated"][rid]["type"] == "forbidden"
    assert v16.call("admin", "x:DmarcExternalReport/set", {"destroy": [rid]})[1]["destroyed"] == [rid]
    assert ids.decode(rid) not in {k[0] for k in flow.incoming["dmarc"]}


# ------------------------------------------------------------------------------ archived items
def _archive(v16, login, subject, *, age=3600):
    pid = v16.sb.by_name[login]
    now = v16.sb.now()
    raw = (f"From: Sender Name <sender@remote.example>\r\nSubject: {subject}\r\n"
           f"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nBody {subject}\r\n").encode()
    return delete_blob(v16.sb, pid, raw, deleted_at=now - age, expires_at=now + 86400)


def test_archived_items_list_and_restore_semantics_exactly(v16):
    v16.sb.mailflow.deleted.clear()
    jane = v16.sb.by_name["jane.doe"]
    for n in range(4):
        _archive(v16, "jane.doe", f"Lost {n}", age=3600 - n)
    q, items = _query_get(v16, "admin", "ArchivedItem", {"filter": {"accountId": ids.encode(jane)}, "position": 0})
    assert [i["subject"] for i in items] == ["Lost 3", "Lost 2", "Lost 1", "Lost 0"]  # newest first
    item = items[0]
    assert item["@type"] == "Email" and item["from"] == "Sender Name <sender@remote.example>"
    assert item["receivedAt"] == "2026-11-02T10:00:00Z" and "status" not in item
    a, b, c, d = (i["id"] for i in items)
    future = utc(v16.sb.now() + 10 * 86400)
    res = v16.call("admin", "x:ArchivedItem/set", {"update": {
        a: {"status": "requestRestore"},                               # restore
        b: {"status": "requestRestore", "archivedUntil": future},      # retention only
        c: {"status": "archived"},                                     # nothing: notFound
        d: {"archivedUntil": future},                                  # also a restore (v0.16.18)
    }})[1]
    assert res["updated"] == {a: None, b: None, d: None}
    assert res["notUpdated"] == {c: {"type": "notFound"}}
    left = v16.call("admin", "x:ArchivedItem/get", {"ids": [a, b, c, d]})[1]
    assert {i["id"] for i in left["list"]} == {b, c} and set(left["notFound"]) == {a, d}
    assert next(i for i in left["list"] if i["id"] == b)["archivedUntil"] == future
    assert v16.sb.mailflow.restored[jane] == 2
    tasks = v16.sb._jmap_ops.tasks.values() if v16.sb._jmap_ops.tasks else []
    restored = [t for t in v16.sb.tools.actions if t.get("type") == "RestoreArchivedItem"] + [
        t for t in tasks if t["@type"] == "RestoreArchivedItem"]
    assert len(restored) == 2
    errors = v16.call("admin", "x:ArchivedItem/set", {"update": {
        b: {"subject": "x"}, c: {"status": "gone"}, "zzz": {"archivedUntil": utc(v16.sb.now() - 5)}}})[1]
    assert errors["notUpdated"][b] == {"type": "invalidProperties", "properties": ["subject"]}
    assert errors["notUpdated"][c]["properties"] == ["status"]
    assert errors["notUpdated"]["zzz"]["properties"] == ["archivedUntil"]


def test_archived_items_are_scoped_to_the_caller_and_enterprise(v16, v16ce):
    v16.sb.mailflow.deleted.clear()
    _archive(v16, "hannah.becker", "Hannah's")
    _archive(v16, "admin", "Admin's")
    assert v16.call("user", "x:ArchivedItem/query", {})[1]["type"] == "forbidden"
    own = v16.call("helpdesk", "x:ArchivedItem/query",
                   {"filter": {"accountId": ids.encode(v16.sb.by_name["admin"])}})
    got = v16.call("helpdesk", "x:ArchivedItem/get", {"ids": None, "properties": ["subject"]})[1]["list"]
    assert [i["subject"] for i in got] == ["Hannah's"] and len(own[1]["ids"]) == 1  # no impersonate: their own
    everyone = v16.call("admin", "x:ArchivedItem/query", {"calculateTotal": True})[1]
    assert everyone["total"] == 2
    assert v16ce.call("admin", "x:ArchivedItem/query", {})[1] == {"type": "forbidden",
                                                                  "description": "Enterprise feature"}


def test_incoming_reports_are_scoped_to_the_tenant(v16):
    flow = v16.sb.mailflow
    tenant = v16.sb.principals[v16.sb.by_name["admin@acme.org"]].tenant
    domains = {p.name for p in v16.sb.principals.values() if p.type == "domain" and p.tenant == tenant}
    own = {k[0] for k, r in flow.incoming["dmarc"].items()
           if any(a.rpartition("@")[2] in domains for a in [*r.to, r.sender])}
    token = v16.token("tenant_admin")
    q, g = v16.jmap(token, [
        ["x:DmarcExternalReport/query", {"position": 0}, "q"],
        ["x:DmarcExternalReport/get", {"#ids": {"resultOf": "q", "name": "x:DmarcExternalReport/query",
                                                 "path": "/ids"}}, "g"]])
    assert own and {ids.decode(i) for i in q[1]["ids"]} == own
    assert all("memberTenantId" not in item for item in g[1]["list"])
    other = next(ids.encode(k[0]) for k in flow.incoming["dmarc"] if k[0] not in own)
    gone = v16.jmap(token, [["x:DmarcExternalReport/set", {"destroy": [other]}, "d"]])[0][1]
    assert gone["notDestroyed"][other]["type"] == "notFound"
    admin_view = v16.call("admin", "x:DmarcExternalReport/get", {"ids": [ids.encode(next(iter(own)))]})[1]["list"][0]
    assert admin_view["memberTenantId"] == ids.encode(tenant)
