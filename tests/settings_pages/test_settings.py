"""Settings pages: browse, groups, secrets, edit with diff + confirm, create (assertFailed), delete, reload."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, unquote

import pytest

from portal.settings_pages.keys import is_local, is_secret, local_patterns


def _calls(sandbox, path_prefix="/api/"):
    return [(r.method, unquote(r.path), r.query) for r in sandbox.requests if r.path.startswith(path_prefix)]


def _hidden(html: str) -> dict[str, str]:
    import html as html_lib

    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html):
        fields[html_lib.unescape(name)] = html_lib.unescape(value)
    return fields


# --- pure helpers ----------------------------------------------------------------------------
def test_local_keys_follow_the_server_defaults():
    assert is_local("store.rocksdb.path") and is_local("server.listener.smtp.bind")
    assert not is_local("server.blocked-ip.192.0.2.1") and not is_local("server.allowed-ip.x")
    assert is_local("cluster.node-id") and not is_local("cluster.key")
    assert is_local("storage.data") and not is_local("storage.encryption.enable")
    assert is_local("enterprise.license-key") and not is_local("enterprise.logo-url")
    assert is_local("authentication.fallback-admin.secret") and not is_local("authentication.master.secret")
    custom = local_patterns({"config.local-keys.0": "queue.*", "config.local-keys.1": "!queue.schedule.*"})
    assert is_local("queue.outbound.hostname", custom) and not is_local("queue.schedule.expire", custom)
    assert not is_local("store.x.type", custom)


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("store.postgresql.password", True),
        ("store.s3.secret-key", True),
        ("directory.ldap.bind.secret", True),
        ("certificate.default.private-key", True),
        ("oauth.key", True),
        ("store.postgresql.host", False),
        ("server.listener.smtp.bind", False),
        ("secret.store.type", False),
    ],
)
def test_secret_keys(key, secret):
    assert is_secret(key) is secret


# --- browse -------------------------------------------------------------------------------------
def test_overview_lists_sections_and_groups(signed_in, sandbox):
    html = signed_in("admin").get("/settings/").content.decode()
    assert "<code>store</code>" in html and "<code>server</code>" in html
    assert "Listeners" in html and "DKIM signatures" in html
    assert _calls(sandbox) == [
        ("GET", "/api/settings/keys", "prefixes=config.local-keys"),
        ("GET", "/api/settings/list", ""),
    ]


def test_browse_a_prefix_masks_secrets_and_marks_local_keys(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/settings/?prefix=store.postgresql").content.decode()
    assert ("GET", "/api/settings/list", "prefix=store.postgresql&page=1&limit=50") in _calls(sandbox)
    assert "store.postgresql.host" in html and "db.internal.example.org" in html
    assert "store.postgresql.password" in html
    assert "Pg-Sandbox-Secret-77" not in html  # masked
    assert "local file" in html  # store.* lives in the local file
    assert "/settings/reveal?key=store.postgresql.password" in html


def test_secrets_never_appear_anywhere_by_default(signed_in, sandbox):
    client = signed_in("admin")
    secrets = [value for key, value in sandbox.settings.items() if is_secret(key) and len(value) > 6]
    assert len(secrets) >= 5
    pages = [
        client.get(url).content.decode()
        for url in (
            "/settings/?prefix=store",
            "/settings/?prefix=directory",
            "/settings/?prefix=certificate",
            "/settings/?q=secret",
            "/settings/groups/?group=stores",
            "/settings/groups/?group=certificates",
            "/settings/key/?key=store.s3.secret-key",
            "/settings/record/?prefix=store&id=s3",
        )
    ]
    for secret in secrets:
        for page in pages:
            assert secret not in page and secret.replace("+", "&#x2B;") not in page


def test_reveal_is_a_separate_request(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/settings/reveal?key=store.postgresql.password", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.content.decode().strip() == '<pre class="revealed-value">Pg-Sandbox-Secret-77</pre>'
    assert _calls(sandbox) == [("GET", "/api/settings/keys", "keys=store.postgresql.password")]
    assert client.get("/settings/reveal?key=no.such.key").status_code == 404


@pytest.mark.parametrize("who", ["user", "helpdesk"])
@pytest.mark.parametrize(
    "url",
    [
        "/settings/",
        "/settings/groups/?group=listeners",
        "/settings/reveal?key=store.postgresql.password",
        "/settings/key/?key=server.hostname",
    ],
)
def test_refused_without_settings_permissions(signed_in, sandbox, who, url):
    response = signed_in(who).get(url)
    assert response.status_code == 403
    assert sandbox.requests == []


def test_search_uses_the_group_filter(signed_in, sandbox):
    html = signed_in("admin").get("/settings/?q=rocksdb").content.decode()
    assert ("GET", "/api/settings/group", "filter=rocksdb&page=1&limit=50") in _calls(sandbox)
    assert "storage.data" in html and "store.rocksdb.type" in html


def test_browse_paging_and_htmx(signed_in, sandbox):
    client = signed_in("admin")
    html = client.get("/settings/?prefix=server&size=25&page=2", headers={"HX-Request": "true"}).content.decode()
    assert html.lstrip().startswith('<div id="results"')
    assert ("GET", "/api/settings/list", "prefix=server&page=2&limit=25") in _calls(sandbox)
    assert "Page 2 of" in html


# --- groups -------------------------------------------------------------------------------------
def test_listener_group(signed_in, sandbox):
    html = signed_in("admin").get("/settings/groups/?group=listeners").content.decode()
    assert ("GET", "/api/settings/group", "prefix=server.listener&suffix=protocol&page=1&limit=25") in _calls(sandbox)
    assert "submissions" in html and "[::]:465" in html
    assert "/settings/record/?prefix=server.listener&amp;id=smtp" in html


# --- edit one key: diff, confirm, save, reload ----------------------------------------------------
def test_edit_key_preview_confirm_save_and_reload(signed_in, sandbox):
    client = signed_in("admin")
    form = client.get("/settings/key/?key=queue.schedule.expire").content.decode()
    assert '<textarea id="id_value" name="value" rows="3" spellcheck="false">5d</textarea>' in form
    snapshot = _hidden(form)["snapshot"]
    # The signed snapshot holds a fingerprint of the value, never the value itself.
    from django.core import signing

    from portal.settings_pages.views import SNAPSHOT_SALT

    assert "5d" not in json.dumps(signing.loads(snapshot, salt=SNAPSHOT_SALT))

    preview = client.post(
        "/settings/key/", {"key": "queue.schedule.expire", "value": "7d", "snapshot": snapshot, "action": "preview"}
    )
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Check the change" in html and "<pre><bdi>5d</bdi></pre>" in html and "<pre><bdi>7d</bdi></pre>" in html
    assert sandbox.settings["queue.schedule.expire"] == "5d"  # nothing saved yet
    assert not any(method == "POST" for method, _, _ in _calls(sandbox))

    confirm = _hidden(html)
    saved = client.post("/settings/key/", {**confirm, "action": "save"})
    assert saved.status_code == 302 and saved.url.startswith("/settings/saved?back=")
    assert sandbox.settings["queue.schedule.expire"] == "7d"
    posts = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/settings"]
    assert len(posts) == 1

    offer = client.get(saved.url).content.decode()
    assert "Reload configuration" in offer and "Saved queue.schedule.expire." in offer
    back = parse_qs(saved.url.split("?", 1)[1])["back"][0]
    sandbox.requests.clear()
    result = client.post("/settings/reload", {"mode": "apply", "back": back}).content.decode()
    assert _calls(sandbox) == [("GET", "/api/reload", "")]
    assert "Configuration reloaded" in result
    assert "legacy.imap.folders.drafts" in result and "Not used by any part of the server" in result


def test_reload_shows_errors_and_check_is_a_dry_run(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.settings["server.listener.smtp.bind"] = "not-an-address"
    html = client.post("/settings/reload", {"mode": "check"}).content.decode()
    assert _calls(sandbox) == [("GET", "/api/reload", "dry-run=true")]
    assert "Reloading now would fail" in html
    assert "server.listener.smtp.bind" in html and "Invalid socket address" in html


def test_reload_needs_its_permission(signed_in, sandbox):
    assert signed_in("helpdesk").post("/settings/reload", {"mode": "apply"}).status_code == 403
    assert sandbox.requests == []


def test_edit_detects_a_concurrent_change(signed_in, sandbox):
    client = signed_in("admin")
    form = _hidden(client.get("/settings/key/?key=queue.schedule.expire").content.decode())
    sandbox.settings["queue.schedule.expire"] = "6d"  # someone else
    response = client.post(
        "/settings/key/",
        {"key": "queue.schedule.expire", "value": "7d", "snapshot": form["snapshot"], "action": "save"},
    )
    assert response.status_code == 409
    assert "changed on the server" in response.content.decode()
    assert sandbox.settings["queue.schedule.expire"] == "6d"


def test_edit_secret_keeps_value_when_left_empty_and_never_shows_it(signed_in, sandbox):
    client = signed_in("admin")
    form = client.get("/settings/key/?key=store.postgresql.password").content.decode()
    assert 'type="password"' in form and "Pg-Sandbox-Secret-77" not in form
    snapshot = _hidden(form)["snapshot"]
    same = client.post(
        "/settings/key/", {"key": "store.postgresql.password", "value": "", "snapshot": snapshot, "action": "preview"}
    )
    assert "Nothing to change" in same.content.decode()
    preview = client.post(
        "/settings/key/",
        {"key": "store.postgresql.password", "value": "N3w-Secret!", "snapshot": snapshot, "action": "preview"},
    ).content.decode()
    assert "N3w-Secret!" not in preview and "Pg-Sandbox-Secret-77" not in preview
    assert "(new secret)" in preview
    fields = _hidden(preview)
    assert "value" not in fields and fields["sealed:value"]
    client.post("/settings/key/", {**fields, "action": "save"})
    assert sandbox.settings["store.postgresql.password"] == "N3w-Secret!"


# --- records -----------------------------------------------------------------------------------------
def test_edit_record_clears_then_inserts(signed_in, sandbox):
    client = signed_in("admin")
    form = client.get("/settings/record/?prefix=store&id=redis").content.decode()
    assert 'name="value:urls"' in form
    fields = _hidden(form)
    data = {
        **fields,
        "value:type": "redis",
        "value:urls": "redis://cache.example.org:6379",
        "remove:timeout": "1",
        "new_key_0": "pool.max-connections",
        "new_value_0": "20",
        "action": "preview",
    }
    preview = client.post("/settings/record/", data).content.decode()
    assert "store.redis.urls" in preview and "redis://cache.example.org:6379" in preview
    assert re.search(r"store\.redis\.timeout</bdi></code> <span class=\"badge badge-danger\">removed", preview)
    assert re.search(r"store\.redis\.pool\.max-connections</bdi></code> <span class=\"badge badge-ok\">added", preview)
    sandbox.requests.clear()
    saved = client.post("/settings/record/", {**_hidden(preview), "action": "save"})
    assert saved.status_code == 302
    body = None
    for record in sandbox.requests:
        if record.method == "POST":
            body = record
    assert body is not None
    assert {key: value for key, value in sandbox.settings.items() if key.startswith("store.redis.")} == {
        "store.redis.type": "redis",
        "store.redis.urls": "redis://cache.example.org:6379",
        "store.redis.pool.max-connections": "20",
    }


def test_create_record_and_assert_failed(signed_in, sandbox):
    client = signed_in("admin")
    form = client.get("/settings/record/new?group=listeners").content.decode()
    assert 'value="protocol"' in form  # the group's field is offered first
    data = {
        "group": "listeners",
        "prefix": "server.listener",
        "id": "smtp",
        "rows": "6",
        "new_key_0": "protocol",
        "new_value_0": "smtp",
        "new_key_1": "bind",
        "new_value_1": "[::]:2525",
        "action": "save",
    }
    taken = client.post("/settings/record/new", data)
    html = taken.content.decode()
    assert taken.status_code == 409
    assert "already exists under server.listener" in html and 'id="id_id_error"' in html
    assert 'value="[::]:2525"' in html  # what was typed is kept
    assert sandbox.settings["server.listener.smtp.bind"] == "[::]:25"
    created = client.post("/settings/record/new", {**data, "id": "smtp-alt"})
    assert created.status_code == 302
    assert sandbox.settings["server.listener.smtp-alt.bind"] == "[::]:2525"


def test_create_key_and_assert_failed(signed_in, sandbox):
    client = signed_in("admin")
    taken = client.post("/settings/key/new", {"key": "server.hostname", "value": "x.example", "action": "save"})
    assert taken.status_code == 409 and "already exists" in taken.content.decode()
    assert sandbox.settings["server.hostname"] == "mail.example.org"
    preview = client.post(
        "/settings/key/new", {"key": "session.rcpt.max-recipients", "value": "50", "action": "preview"}
    ).content.decode()
    assert "(not set)" in preview and "<pre><bdi>50</bdi></pre>" in preview
    done = client.post("/settings/key/new", {**_hidden(preview), "action": "save"})
    assert done.status_code == 302 and sandbox.settings["session.rcpt.max-recipients"] == "50"
    bad = client.post("/settings/key/new", {"key": "bad key", "value": "1", "action": "preview"})
    assert bad.status_code == 422 and 'value="bad key"' in bad.content.decode()


def test_delete_key_and_record(signed_in, sandbox):
    client = signed_in("admin")
    confirm = client.get("/settings/key/delete?key=server.socket.backlog").content.decode()
    assert "Delete <code" in confirm and "1024" in confirm
    done = client.post("/settings/key/delete", {"key": "server.socket.backlog"})
    assert done.status_code == 302 and "server.socket.backlog" not in sandbox.settings
    assert ("DELETE", "/api/settings/server.socket.backlog", "") in _calls(sandbox)
    page = client.get("/settings/record/delete?prefix=store&id=s3").content.decode()
    assert "store.s3.bucket" in page and "s3-Sandbox-Secret" not in page
    client.post("/settings/record/delete", {"prefix": "store", "id": "s3"})
    assert not any(key.startswith("store.s3.") for key in sandbox.settings)
    assert "store.rocksdb.type" in sandbox.settings


@pytest.mark.parametrize(
    ("who", "url"),
    [("helpdesk", "/settings/key/delete?key=server.hostname"), ("user", "/settings/record/new?group=stores")],
)
def test_changes_refused_without_permissions(signed_in, sandbox, who, url):
    assert signed_in(who).get(url).status_code == 403
    assert sandbox.requests == []


def test_upstream_failure(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/settings/").status_code == 502
