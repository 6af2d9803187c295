"""The portal against every supported Stalwart version (sandbox/VERSIONS.md lists what differs).

Each test runs once per version through the `stalwart_version` fixture (tests/conftest.py);
version-specific expectations read the version from the sandbox.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
from django.urls import reverse

from portal.access import known_permissions
from tests.conftest import persona


@pytest.fixture
def sandbox(versioned_sandbox):
    return versioned_sandbox


def _at_least(sandbox, minor: int) -> bool:
    return sandbox.at_least((0, minor))


def _api(sandbox) -> list[str]:
    return [f"{r.method} {unquote(r.path)}" for r in sandbox.requests if r.path.startswith("/api/")]


# --- permissions ------------------------------------------------------------------------
def test_permission_editor_offers_exactly_the_versions_permissions(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    page = client.get(f"/directory/accounts/{name}/permissions").content.decode()
    offered = set(re.findall(r'name="p:([^"]+)" value="on"', page))
    assert offered == known_permissions(sandbox.version)
    if _at_least(sandbox, 15):
        assert "delete-system-folders_" in offered and "spam-filter-test" in offered
        assert "spam-filter-classify" not in offered
    else:
        assert "delete-system-folders" in offered and "spam-filter-classify" in offered
    assert ("jmap-calendar-get" in offered) == _at_least(sandbox, 14)
    assert ("calendar-alarms" in offered) == _at_least(sandbox, 13)


def test_permission_editor_saves_in_the_versions_spelling(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    spelled = "delete-system-folders_" if _at_least(sandbox, 15) else "delete-system-folders"
    response = client.post(f"/directory/accounts/{name}/permissions", {f"p:{spelled}": "on", "action": "save"})
    assert response.status_code == 302, response.content[:2000]
    page = client.get(f"/directory/accounts/{name}/permissions").content.decode()
    assert f'name="p:{spelled}" value="on" aria-label="{spelled}: on" checked' in page.replace("&#x27;", "'")


def test_the_administrator_holds_every_permission_of_the_version(signed_in, client, sandbox):
    signed_in("admin")
    held = frozenset(client.session["portal.identity"]["permissions"])
    assert held == known_permissions(sandbox.version)


# --- password resets keep the second factor and the app passwords -------------------------
def _second_factor_and_app_passwords(sandbox, name: str) -> tuple[list[str], list[str]]:
    secrets = sandbox.get(name).secrets
    return (
        sorted(s for s in secrets if s.startswith("otpauth://")),
        sorted(s for s in secrets if s.startswith("$app$")),
    )


def _can_sign_in(sandbox, name: str, password: str) -> bool:
    import httpx
    from django.conf import settings

    return httpx.get(f"{settings.STALWART_URL}/api/principal/x", auth=(name, password)).status_code != 401


def test_password_reset_keeps_totp_and_app_passwords(signed_in, sandbox):
    client = signed_in("admin")
    who = persona("totp_user")
    before = _second_factor_and_app_passwords(sandbox, who.name)
    assert before[0] and before[1]
    response = client.post(
        f"/directory/accounts/{who.name}/password", {"password": "brand new password", "confirm": "brand new password"}
    )
    assert response.status_code == 302
    assert _second_factor_and_app_passwords(sandbox, who.name) == before
    assert _can_sign_in(sandbox, who.name, "App-Sandbox-1")
    passwords = [s for s in sandbox.get(who.name).secrets if not s.startswith(("otpauth://", "$app$"))]
    assert len(passwords) == 1  # the new one only
    sent = [r for r in sandbox.requests if r.method == "PATCH"]
    assert len(sent) == 1


def test_csv_import_password_keeps_totp_and_app_passwords(signed_in, sandbox):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = signed_in("admin")
    who = persona("totp_user")
    before = _second_factor_and_app_passwords(sandbox, who.name)
    data = f"name,password\n{who.name},Long-Imported-Pass-1\n"
    preview = client.post("/directory/accounts/import", {"file": SimpleUploadedFile("a.csv", data.encode())})
    plan_id = preview.content.decode().split('name="apply" value="')[1].split('"')[0]
    assert "1 done" in client.post("/directory/accounts/import", {"apply": plan_id}).content.decode()
    assert _second_factor_and_app_passwords(sandbox, who.name) == before


# --- undelete -----------------------------------------------------------------------------
def test_undelete_restores_on_every_version(signed_in, sandbox):
    from sandbox.mailflow import state

    client = signed_in("admin")
    content = client.get("/undelete/jane.doe/").content.decode()
    value = content.split('name="item" value="', 1)[1].split('"', 1)[0].replace("&#x27;", "'").replace("&amp;", "&")
    response = client.post("/undelete/jane.doe/restore", {"item": value, "confirmed": "yes"})
    assert response.status_code == 302
    restores = [r for r in sandbox.requests if r.method == "POST" and "/api/store/undelete" in r.path]
    assert [r.status for r in restores] == [200]
    jane = sandbox.get("jane.doe").id
    assert state(sandbox).restored[jane] == 1
    page = client.get(response.url).content.decode()
    assert "Restored 1 message" in page
    if _at_least(sandbox, 15):  # 0.15 says what was deleted: the portal shows it
        listed = client.get("/undelete/jane.doe/").content.decode()
        assert "cell-sub" in listed and " · " in listed


def test_undelete_search_where_items_are_described(signed_in, sandbox):
    client = signed_in("admin")
    listed = client.get("/undelete/jane.doe/").content.decode()
    if not _at_least(sandbox, 15):  # nothing to search by: no search box
        assert 'id="search"' not in listed
        return
    assert 'id="search"' in listed and listed.count('name="item"') == 3
    found = client.get("/undelete/jane.doe/", {"q": "lunch on friday"}).content.decode()
    assert found.count('name="item"') == 1 and "Lunch on Friday?" in found and "Restore all" not in found
    received = client.get("/undelete/jane.doe/", {"q": "fabrikam"}).content.decode()
    assert received.count('name="item"') == 1 and "Received " in received


# --- spam filter --------------------------------------------------------------------------
SPAM = "From: a@example.com\r\nTo: jane@example.org\r\nSubject: WINNER WINNER\r\n\r\nlottery\r\n"
CLASSIFY = {
    "remote_ip": "192.0.2.25",
    "ehlo_domain": "mx.example.com",
    "sender": "alice@example.com",
    "recipients": "jane@example.org",
    "tls": "on",
    "message": SPAM,
}


def test_classify_uses_the_versions_permission(signed_in, sandbox):
    admin = signed_in("admin")
    response = admin.post("/tools/spam-filter/", CLASSIFY)
    assert response.status_code == 200 and "with a score of" in response.content.decode()
    assert [r.status for r in sandbox.requests if "classify" in r.path] == [200]


def test_classify_refused_before_any_call_where_the_version_needs_another_permission(signed_in, sandbox):
    client = signed_in("user")  # users hold spam-filter-train; 0.15 moved both to tenant-admin
    response = client.get("/tools/spam-filter/")
    assert response.status_code == (403 if _at_least(sandbox, 15) else 200)
    assert _api(sandbox) == []


def test_training_uses_the_versions_route_and_reports_what_happened(signed_in, sandbox):
    from sandbox.toolstate import tools_state

    client = signed_in("admin")
    response = client.post("/tools/spam-filter/train", {"kind": "spam", "message": SPAM, "account": "jane.doe"})
    assert response.status_code == 302, response.content[-3000:]
    said = client.get(response.url).content.decode()
    sent = [r for r in sandbox.requests if "/api/spam-filter/" in r.path and r.method == "POST"]
    assert [r.status for r in sent] == [200]
    if _at_least(sandbox, 15):
        assert unquote(sent[0].path) == "/api/spam-filter/upload/spam/jane.doe"
        assert "Stored as a spam sample" in said and "next training run" in said
        assert "The trainer is not running" in said
    else:
        assert unquote(sent[0].path) == "/api/spam-filter/train/spam/jane.doe"
        assert "Trained the filter of jane.doe" in said
        assert "Start training" not in said
    assert [(kind, account) for kind, account, _ in tools_state(sandbox).trained] == [("spam", "jane.doe")]


def test_trainer_controls_on_0_15(signed_in, sandbox):
    client = signed_in("admin")
    if not _at_least(sandbox, 15):
        page = client.get("/tools/spam-filter/train").content.decode()
        assert "Start training" not in page
        response = client.post("/tools/spam-filter/train", {"trainer": "start"})
        assert response.status_code == 302 and _api(sandbox) == []
        assert "no trainer to start" in client.get(response.url).content.decode()
        return
    started = client.post("/tools/spam-filter/train", {"trainer": "start"})
    assert "Training started" in client.get(started.url).content.decode()
    again = client.post("/tools/spam-filter/train", {"trainer": "start"})
    page = client.get(again.url).content.decode()
    assert "already running: nothing was started" in page and "Stop training" in page
    asked = client.post("/tools/spam-filter/train", {"trainer": "delete"})
    assert asked.status_code == 200 and "Yes, delete the models" in asked.content.decode()
    assert not any(r.path.endswith("/train/delete") for r in sandbox.requests)
    deleted = client.post("/tools/spam-filter/train", {"trainer": "delete", "confirmed": "yes"})
    assert "models were deleted" in client.get(deleted.url).content.decode()
    stopped = client.post("/tools/spam-filter/train", {"trainer": "stop"})
    assert "Training stopped" in client.get(stopped.url).content.decode()


# --- maintenance --------------------------------------------------------------------------
def _actions(sandbox) -> list[dict]:
    from sandbox.toolstate import tools_state

    return tools_state(sandbox).actions


def test_reindex_offers_the_versions_indexes(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/tools/maintenance/").content.decode()
    if _at_least(sandbox, 15):
        for index in ("email", "calendar", "contacts", "file", "tracing"):
            assert f'<option value="{index}"' in page
        response = client.post("/tools/maintenance/reindex", {"index": "calendar", "account": "jane.doe"})
        assert response.status_code == 302
        (call,) = [r for r in sandbox.requests if "/reindex" in r.path]
        assert unquote(call.path) == "/api/store/reindex/calendar/jane.doe" and call.status == 200
        bad = client.post("/tools/maintenance/reindex", {"index": "nonsense"})
        assert bad.status_code == 422
    else:
        assert 'name="index"' not in page
        response = client.post("/tools/maintenance/reindex", {"account": "jane.doe"})
        assert response.status_code == 302
        (call,) = [r for r in sandbox.requests if "/reindex" in r.path]
        assert unquote(call.path) == "/api/store/reindex/jane.doe" and call.status == 200
    assert _actions(sandbox)[-1]["account"] == "jane.doe"


def test_in_memory_purge_offers_only_the_versions_prefixes(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/tools/maintenance/purge-in-memory").content.decode()
    assert ('value="bayes-global"' in page) == (not _at_least(sandbox, 15))
    assert 'value="greylist"' in page
    response = client.post("/tools/maintenance/purge-in-memory", {"prefix": "bayes-global", "confirmed": "yes"})
    if _at_least(sandbox, 15):
        assert response.status_code == 422  # not a choice: nothing is sent, nothing claimed
        assert _api(sandbox) == []
    else:
        assert response.status_code == 302
        assert _actions(sandbox)[-1]["prefix"] == "bayes-global"


def test_bayes_model_deletion_only_where_the_version_has_it(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/tools/maintenance/").content.decode()
    detail = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": "jane.doe"})).content.decode()
    response = client.post("/tools/maintenance/delete-bayes-global", {"confirmed": "yes"})
    account = client.post("/tools/accounts/jane.doe/delete-bayes", {"confirmed": "yes"})
    said = client.get(response.url).content.decode()
    if _at_least(sandbox, 15):
        assert "Stalwart 0.15 removed the Bayes model keys" in page
        assert "Reset spam-filter training" not in detail
        assert "Stalwart 0.15 removed the Bayes model keys" in said
        assert "was deleted" not in said
        assert not [r for r in sandbox.requests if "/purge/" in r.path]
        assert account.status_code == 302
    else:
        assert "The server-wide Bayes spam model was deleted." in said
        assert "Reset spam-filter training" in detail
        assert [a["prefix"] for a in _actions(sandbox)] == ["bayes-global", "bayes-account"]


# --- encryption at rest -------------------------------------------------------------------
def test_encryption_at_rest_sends_and_shows_allow_spam_training_on_0_15(signed_in, sandbox):
    from tests.crypto_fixtures import pgp_key

    client = signed_in("user")
    page = client.get("/account/security/encryption").content.decode()
    assert ('name="allow_spam_training"' in page) == _at_least(sandbox, 15)
    data = {"method": "pGP", "algo": "Aes256", "certs": pgp_key(), "password": persona("user").password}
    response = client.post("/account/security/encryption", {**data, "allow_spam_training": "on"})
    assert response.status_code == 302, response.content[-2000:]
    (post,) = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/account/crypto"]
    assert post.status == 200
    shown = client.get("/account/security/encryption").content.decode()
    assert ("Spam filter learns from it" in shown) == _at_least(sandbox, 15)
    if _at_least(sandbox, 15):
        assert "<dt>Spam filter learns from it</dt><dd>Yes</dd>" in shown


# --- queue --------------------------------------------------------------------------------
def test_queue_reads_the_versions_shape_and_shows_paused_or_running(signed_in, sandbox):
    client = signed_in("admin")
    listed = client.get("/queue/").content.decode()
    assert "Delivery is running." in listed  # the list answer carries the queue's status
    ids = sorted(set(re.findall(r'href="/queue/messages/(\d+)/"', listed)))
    assert ids, "the seed has queued messages on every version"
    for message_id in ids[:3]:
        sandbox.requests.clear()
        detail = client.get(f"/queue/messages/{message_id}/")
        assert detail.status_code == 200
        assert [r.status for r in sandbox.requests if r.path.startswith("/api/queue/")] == [200, 200]
        content = detail.content.decode()
        assert "@" in content  # its recipients, from either shape
        assert ("Queue: " in content) == _at_least(sandbox, 13)  # 0.13+: each recipient's queue
    paused = client.post("/queue/status", {"running": "0"})
    assert paused.status_code == 302
    assert "Delivery is paused." in client.get("/queue/").content.decode()
    details = [client.get(f"/queue/messages/{message_id}/").content.decode() for message_id in ids]
    assert any("Delivery is paused: this message waits" in page for page in details)


# --- message history ----------------------------------------------------------------------
def test_trace_search_explains_the_24_hour_window_on_0_15(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get("/observability/history/received/").content.decode()
    assert ("lists only the last 24 hours" in page) == _at_least(sandbox, 15)
    searched = client.get("/observability/history/received/", {"q": "example.org"}).content.decode()
    assert "lists only the last 24 hours" not in searched
