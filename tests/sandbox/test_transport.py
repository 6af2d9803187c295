"""Transport rules (spec §1.1–§1.4, §1.7) and the request log."""

from __future__ import annotations

NOT_FOUND = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}


def test_success_envelope_and_content_type(ce):
    r = ce.get("/api/principal/admin")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json()["data"]["name"] == "admin"


def test_unknown_routes_and_methods(ce):
    for method, path in [
        ("GET", "/api/nothing"),
        ("GET", "/api"),
        ("PUT", "/api/principal"),
        ("PUT", "/api/principal/admin"),
        ("GET", "/nowhere"),
        ("GET", "/auth/token"),
    ]:
        r = ce.request(method, path)
        assert r.status_code == 404, (method, path)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json() == NOT_FOUND


def test_options_preflight_without_authentication(ce):
    r = ce.request("OPTIONS", "/api/principal", auth=None)
    assert r.status_code == 204
    assert r.content == b""


def test_trailing_slash_is_an_empty_name(ce):
    assert ce.get("/api/principal/").json() == {"error": "notFound", "item": ""}


def test_path_elements_are_form_decoded(ce):
    # %XX decoded, + is a space, everything from & or = is dropped
    assert ce.get("/api/principal/x+y&z=1").json() == {"error": "notFound", "item": "x y"}
    assert ce.sb.requests[-1].path == "/api/principal/x+y&z=1"
    assert ce.get("/api/principal/a=b").json() == {"error": "notFound", "item": "a"}
    assert ce.get("/api/principal/jane%2Edoe").json()["data"]["name"] == "jane.doe"
    assert ce.get("/api/principal/a%2B%26%3Db").json() == {"error": "notFound", "item": "a+&=b"}
    # A hostile name only ever resolves as one path element
    r = ce.get("/api/principal/a%2F..%2F..%2Fstore%2Fpurge%2Fdata")
    assert r.json() == {"error": "notFound", "item": "a/../../store/purge/data"}
    assert ce.sb.requests[-1].path == "/api/principal/a%2F..%2F..%2Fstore%2Fpurge%2Fdata"
    # Extra elements after the name are ignored
    assert ce.get("/api/principal/jane.doe/whatever").json()["data"]["name"] == "jane.doe"


def test_hostile_names_can_be_created_and_found(ce):
    for name in ("x+y&z=1", "a/../../store/purge/data"):
        pid = ce.data("POST", "/api/principal", json={"type": "group", "name": name})
        from urllib.parse import quote

        encoded = quote(name, safe="")
        data = ce.data("GET", f"/api/principal/{encoded}")
        assert data["id"] == pid and data["name"] == name
        # unencoded, the name is cut at the first & / taken as path
        assert ce.data("DELETE", f"/api/principal/{encoded}") is None
    assert ce.get("/api/principal/x+y&z=1").json() == {"error": "notFound", "item": "x y"}


def test_query_parameters(ce):
    # empty values are discarded, last repeated key wins, bad numbers are absent
    all_domains = ce.data("GET", "/api/principal?types=domain")
    assert ce.data("GET", "/api/principal?types=domain&limit=&page=") == all_domains
    assert ce.data("GET", "/api/principal?types=domain&limit=abc") == all_domains
    assert ce.data("GET", "/api/principal?types=domain&limit=-1") == all_domains
    one = ce.data("GET", "/api/principal?types=domain&limit=5&limit=1")
    assert len(one["items"]) == 1 and one["total"] == 3
    counted = ce.data("GET", "/api/principal?types=domain&count=")
    assert counted == all_domains  # count needs a non-empty value
    assert ce.data("GET", "/api/principal?types=domain&count=1") == {"items": [], "total": 3}


def test_body_limits(ce):
    r = ce.post("/api/principal", content=b"")
    assert r.status_code == 400
    assert r.json() == {
        "type": "about:blank",
        "status": 400,
        "title": "Invalid parameters",
        "detail": "JSON deserialization failed",
    }
    big = b'{"type":"group","name":"big","description":"' + b"x" * (1024 * 1024) + b'"}'
    assert ce.post("/api/principal", content=big).status_code == 400
    # unknown keys
    r = ce.post("/api/principal", json={"type": "group", "name": "g", "colour": "red"})
    assert r.status_code == 400


def test_request_log(ce):
    ce.sb.requests.clear()
    ce.get("/api/principal?types=domain&limit=2")
    ce.get("/api/principal/x%2By", auth=None)
    ce.client.post("/auth/token", data={"grant_type": "x"})
    log = ce.sb.requests
    assert [(r.method, r.path, r.query, r.auth_scheme, r.status) for r in log] == [
        ("GET", "/api/principal", "types=domain&limit=2", "Basic", 200),
        ("GET", "/api/principal/x%2By", "", None, 401),
        ("POST", "/auth/token", "", None, 400),
    ]
    ce.sb.requests.clear()
    assert ce.sb.requests == []


def test_reset_is_complete(ce):
    # How fast it is belongs to `make bench`, not to a timed test.
    ce.data("POST", "/api/principal", json={"type": "domain", "name": "new.example"})
    ce.sb.advance(100)
    ce.sb.reset()
    assert ce.sb.get("new.example") is None
    assert ce.sb.clock_offset == 0
    assert ce.sb.requests == []


def test_permissive_cors(ce):
    assert "access-control-allow-origin" not in ce.request("OPTIONS", "/api/principal", auth=None).headers
    ce.sb.settings["server.http.permissive-cors"] = "true"
    r = ce.request("OPTIONS", "/api/principal", auth=None)
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    assert "PATCH" in r.headers["access-control-allow-methods"]
