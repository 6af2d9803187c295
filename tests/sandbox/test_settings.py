"""``/api/settings/*`` and ``/api/reload`` (spec §9, §10): exact list/group/keys/insert/clear semantics."""

from __future__ import annotations

import pytest

from sandbox.config import is_local_key

NOT_FOUND = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}


def _use(env, settings: dict[str, str]) -> None:
    env.sb.settings.clear()
    env.sb.settings.update(settings)
    env.sb.settings.update(
        {"authentication.fallback-admin.user": "admin", "authentication.fallback-admin.secret": "Admin-Sandbox-1"}
    )


def test_list_strips_the_prefix_adds_a_dot_and_pages(ee):
    _use(ee, {"a.b": "1", "a.c.d": "2", "a.e": "3", "ab.x": "4"})
    assert ee.data("GET", "/api/settings/list?prefix=a") == {"total": 3, "items": {"b": "1", "c.d": "2", "e": "3"}}
    assert ee.data("GET", "/api/settings/list?prefix=a.&page=2&limit=2") == {"total": 3, "items": {"e": "3"}}
    everything = ee.data("GET", "/api/settings/list")
    assert everything["items"]["ab.x"] == "4" and everything["total"] == 6


def test_group_records_by_suffix(ee):
    _use(
        ee,
        {
            "server.listener.smtp.protocol": "smtp",
            "server.listener.smtp.bind": "[::]:25",
            "server.listener.http.protocol": "http",
            "server.listener.http.bind": "[::]:8080",
            "server.listener.orphan.bind": "[::]:1",
        },
    )
    data = ee.data("GET", "/api/settings/group?prefix=server.listener&suffix=protocol")
    assert data == {
        "total": 2,
        "items": [
            {"_id": "http", "bind": "[::]:8080", "protocol": "http"},
            {"_id": "smtp", "bind": "[::]:25", "protocol": "smtp"},
        ],
    }
    assert ee.data("GET", "/api/settings/group?prefix=server.listener&suffix=.protocol&field=bind&limit=1&page=2") == {
        "total": 2,
        "items": [{"_id": "smtp", "bind": "[::]:25"}],
    }
    # The filter is lowercased and matches values (the id included), not keys.
    assert ee.data("GET", "/api/settings/group?prefix=server.listener&suffix=protocol&filter=SMTP")["total"] == 1
    assert ee.data("GET", "/api/settings/group?prefix=server.listener&suffix=protocol&filter=bind")["total"] == 0


def test_group_without_suffix_lists_entries(ee):
    _use(ee, {"server.blocked-ip.192.0.2.1": "", "server.blocked-ip.198.51.100.7": "", "server.hostname": "x"})
    data = ee.data("GET", "/api/settings/group?prefix=server.blocked-ip&filter=198")
    assert data == {"total": 1, "items": [{"_id": "198.51.100.7", "_value": ""}]}


def test_keys_returns_exact_keys_and_unstripped_prefixes(ee):
    _use(ee, {"a.b": "1", "a.c": "2", "d": "3"})
    assert ee.data("GET", "/api/settings/keys?keys=d,missing&prefixes=a") == {"d": "3", "a.b": "1", "a.c": "2"}


def test_post_insert_clear_delete_semantics(ee):
    _use(ee, {"store.x.type": "rocksdb", "store.x.path": "/a", "store.xy.type": "s3", "k": "v"})
    ops = [
        {"type": "clear", "prefix": "store.x"},  # no dot added: store.xy goes too
        {
            "type": "insert",
            "prefix": "store.z",
            "values": [["type", "redis"], ["urls", "redis://r"]],
            "assert_empty": False,
        },
        {"type": "delete", "keys": ["k", "absent"]},
        {"type": "insert", "prefix": None, "values": [["top", "1"]], "assert_empty": False},
    ]
    assert ee.data("POST", "/api/settings", json=ops) is None
    settings = {k: v for k, v in ee.sb.settings.items() if not k.startswith("authentication.")}
    assert settings == {"store.z.type": "redis", "store.z.urls": "redis://r", "top": "1"}


def test_clear_with_filter_compares_as_sent(ee):
    _use(ee, {"lookup.spam.Foo": "bar", "lookup.spam.baz": "QUX", "lookup.spam.other": "x"})
    ee.data("POST", "/api/settings", json=[{"type": "clear", "prefix": "lookup.spam.", "filter": "foo"}])
    assert "lookup.spam.Foo" not in ee.sb.settings
    ee.data("POST", "/api/settings", json=[{"type": "clear", "prefix": "lookup.spam.", "filter": "QUX"}])
    assert "lookup.spam.baz" in ee.sb.settings  # the filter is not lowercased, the value is


def test_assert_empty_and_non_atomic_updates(ee):
    _use(ee, {"store.x.type": "rocksdb", "first": "1"})
    body = [
        {"type": "insert", "prefix": None, "values": [["before", "kept"]], "assert_empty": False},
        {"type": "insert", "prefix": "store.x", "values": [["path", "/b"]], "assert_empty": True},
        {"type": "insert", "prefix": None, "values": [["after", "never"]], "assert_empty": False},
    ]
    response = ee.post("/api/settings", json=body)
    assert response.status_code == 200 and response.json() == {"error": "assertFailed"}
    assert ee.sb.settings["before"] == "kept" and "after" not in ee.sb.settings
    assert "store.x.path" not in ee.sb.settings
    # Without a prefix only the first key is checked.
    ok = [{"type": "insert", "prefix": None, "values": [["new", "1"], ["first", "2"]], "assert_empty": True}]
    assert ee.data("POST", "/api/settings", json=ok) is None and ee.sb.settings["first"] == "2"
    clash = [{"type": "insert", "prefix": None, "values": [["first", "3"]], "assert_empty": True}]
    assert ee.post("/api/settings", json=clash).json() == {"error": "assertFailed"}


@pytest.mark.parametrize(
    "body",
    [
        {"type": "insert"},
        [{"type": "insert", "prefix": None, "values": [["a", "b"]]}],  # assert_empty is required
        [{"type": "insert", "prefix": None, "values": [["a"]], "assert_empty": False}],
        [{"type": "clear"}],
        [{"type": "rename"}],
        [{"type": "insert", "prefix": None, "values": [["a", "b"]], "assertEmpty": False}],
    ],
)
def test_bad_bodies_are_400(ee, body):
    response = ee.post("/api/settings", json=body)
    assert response.status_code == 400 and response.json()["detail"] == "JSON deserialization failed"


def test_delete_one_key_only_and_routes(ee):
    _use(ee, {"a.b": "1", "a.b.c": "2", "x+y": "3"})
    assert ee.data("DELETE", "/api/settings/a.b") is None
    assert "a.b" not in ee.sb.settings and ee.sb.settings["a.b.c"] == "2"
    ee.data("DELETE", "/api/settings/x%2By")
    assert "x+y" not in ee.sb.settings
    assert ee.delete("/api/settings/").json() == NOT_FOUND
    assert ee.post("/api/settings/", json=[]).json() == NOT_FOUND
    assert ee.get("/api/settings/other").json() == NOT_FOUND


def test_permissions_after_the_route(ee):
    user = "user"
    assert ee.get("/api/settings/list", auth=user).status_code == 403
    assert ee.post("/api/settings", auth=user, json=[]).status_code == 403
    assert ee.delete("/api/settings/a", auth=user).status_code == 403
    assert ee.get("/api/settings/nothing", auth=user).status_code == 404  # route first


def test_reload_reports_warnings_and_errors(ee):
    data = ee.data("GET", "/api/reload")
    assert data["errors"] == {}
    assert data["warnings"]["legacy.imap.folders.drafts"] == {"type": "unread", "value": "Drafts"}
    ee.sb.settings["server.listener.smtp.protocol"] = "smtpx"
    ee.sb.settings["store.rocksdb.type"] = "nosuch"
    data = ee.data("GET", "/api/reload?dry-run=true")
    assert data["errors"]["server.listener.smtp.protocol"]["type"] == "parse"
    assert data["errors"]["store.rocksdb.type"] == {"type": "build", "error": "Unknown store type 'nosuch'."}
    assert ee.data("GET", "/api/reload/")["errors"]  # a trailing slash is a full reload
    assert ee.data("GET", "/api/reload/certificate") == {"warnings": {}, "errors": {}}


def test_reload_permission_comes_first(ee):
    assert ee.get("/api/reload", auth="user").status_code == 403
    assert ee.get("/api/reload/anything", auth="user").status_code == 403
    assert ee.post("/api/reload").json() == NOT_FOUND


def test_local_keys():
    settings: dict[str, str] = {}
    assert is_local_key(settings, "store.a.type") and not is_local_key(settings, "server.blocked-ip.1")
    assert not is_local_key(settings, "cluster.key") and is_local_key(settings, "cluster.node-id")
    settings["config.local-keys.0"] = "queue.*"
    assert is_local_key(settings, "queue.x") and not is_local_key(settings, "store.a.type")


def test_seeded_configuration_has_secrets_and_stores(ee):
    keys = ee.data("GET", "/api/settings/keys?keys=store.postgresql.password,storage.blob&prefixes=store.s3")
    assert keys["storage.blob"] == "s3" and keys["store.postgresql.password"]
    assert keys["store.s3.secret-key"]
