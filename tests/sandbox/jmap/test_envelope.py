"""The JMAP session and the request envelope of the 0.16 sandbox (jmap-management.md §3)."""

from __future__ import annotations

from .conftest import USING


def test_well_known_redirects_to_the_session(v16):
    r = v16.client.get("/.well-known/jmap")
    assert r.status_code == 307 and r.headers["location"] == "/jmap/session"


def test_session_skeleton_without_credentials_and_limits(v16):
    body = v16.client.get("/jmap/session").json()
    assert body["accounts"] == {} and body["username"] == ""
    core = body["capabilities"]["urn:ietf:params:jmap:core"]
    assert core["maxObjectsInGet"] == 500 and core["maxObjectsInSet"] == 500 and core["maxCallsInRequest"] == 16
    assert "urn:stalwart:jmap" not in body["capabilities"]
    assert body["apiUrl"] == f"{v16.url}/jmap/"


def test_authenticated_session_names_the_stalwart_account(v16):
    body = v16.client.get("/jmap/session", headers=v16.bearer("user")).json()
    own = body["primaryAccounts"]["urn:stalwart:jmap"]
    assert body["accounts"][own]["accountCapabilities"]["urn:stalwart:jmap"] == {}
    assert body["username"] == "jane.doe@example.org"


def test_query_and_get_in_one_request_with_a_back_reference(v16):
    responses = v16.jmap("admin", [
        ["x:Domain/query", {"filter": {"name": "example.org"}}, "q"],
        ["x:Domain/get", {"#ids": {"resultOf": "q", "name": "x:Domain/query", "path": "/ids"},
                          "properties": ["name"]}, "g"],
    ])
    (qname, query, qid), (gname, got, gid) = responses
    assert (qname, qid, gname, gid) == ("x:Domain/query", "q", "x:Domain/get", "g")
    assert got["list"] == [{"id": query["ids"][0], "name": "example.org"}]
    assert got["notFound"] == [] and "state" not in got


def test_method_errors_do_not_abort_the_other_calls(v16):
    responses = v16.jmap("user", [
        ["x:Nothing/get", {}, "a"],
        ["x:Account/get", {"ids": None}, "b"],
        ["x:AccountPassword/query", {}, "c"],
        ["x:Domain/query", {"filter": {"operator": "OR", "conditions": []}}, "d"],
        ["x:AccountPassword/get", {"ids": ["singleton"]}, "e"],
        ["x:Account/get", {"#ids": {"resultOf": "zz", "name": "x:Account/query", "path": "/ids"}}, "f"],
    ])
    kinds = [(r[0], r[1].get("type")) for r in responses]
    assert kinds == [("error", "unknownMethod"), ("error", "forbidden"), ("error", "unknownMethod"),
                     ("error", "forbidden"), ("x:AccountPassword/get", None),
                     ("error", "invalidResultReference")]


def test_invalid_arguments_unsupported_filter_and_request_too_large(v16):
    responses = v16.jmap("admin", [
        ["x:Account/get", {"ids": "nope"}, "a"],
        ["x:Account/query", {"filter": {"operator": "NOT", "conditions": []}}, "b"],
        ["x:Account/query", {"filter": {"colour": "red"}}, "c"],
        ["x:Account/get", {"ids": ["b"] * 501}, "d"],
        ["x:Account/query", {"sort": [{"property": "description"}]}, "e"],
    ])
    assert [r[1]["type"] for r in responses] == [
        "invalidArguments", "unsupportedFilter", "unsupportedFilter", "requestTooLarge", "unsupportedSort"]


def test_request_level_errors(v16):
    headers = v16.bearer("admin")
    r = v16.client.post("/jmap/", json={"using": ["urn:example:nope"], "methodCalls": []}, headers=headers)
    assert r.status_code == 400
    assert r.json()["type"] == "urn:ietf:params:jmap:error:notRequest"
    calls = [["x:Domain/query", {}, str(i)] for i in range(17)]
    r = v16.client.post("/jmap/", json={"using": USING, "methodCalls": calls}, headers=headers)
    assert r.status_code == 400 and r.json()["limit"] == "maxCallsInRequest"
    r = v16.client.post("/jmap/", content=b"{}", headers={**headers, "Content-Type": "text/plain"})
    assert r.json()["type"] == "urn:ietf:params:jmap:error:notJSON"
    r = v16.client.post("/jmap/", json={"using": USING})
    assert r.status_code == 401


def test_created_ids_come_back_when_sent(v16):
    body = v16.jmap("admin", [["x:Domain/set", {"create": {"d1": {"name": "new.example"}}}, "c"]],
                    raw=True, createdIds={}).json()
    assert body["createdIds"]["d1"] == body["methodResponses"][0][1]["created"]["d1"]["id"]


def test_account_id_of_a_group_the_caller_belongs_to_is_accepted(v16):
    from sandbox.jmap import ids

    sales = ids.encode(v16.sb.by_name["sales"])
    finance = ids.encode(v16.sb.by_name["finance"])
    user = v16.token("user")
    ok = v16.call(user, "x:AccountPassword/get", {"accountId": sales, "ids": ["singleton"]})
    assert ok[0] == "x:AccountPassword/get"
    refused = v16.call(user, "x:AccountPassword/get", {"accountId": finance, "ids": ["singleton"]})
    assert refused[1]["type"] == "forbidden"
    unparsable = v16.call(user, "x:AccountPassword/get", {"accountId": "not an id!", "ids": ["singleton"]})
    assert unparsable[0] == "x:AccountPassword/get"
