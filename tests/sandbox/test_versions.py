"""What differs between the emulated Stalwart versions (sandbox/VERSIONS.md), checked over HTTP."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from sandbox.dates import parse_rfc3339, rfc3339, snowflake
from sandbox.mailflow import state
from sandbox.permissions import PermissionSet
from sandbox.queue import enqueue
from sandbox.seed import PERSONAS
from sandbox.server import run_in_thread
from sandbox.store import delete_blob
from sandbox.toolstate import tools_state
from tests.crypto_fixtures import pgp_key

from .conftest import VERSION_ENVS
from .helpers import Env, basic

CODE_REQUEST = {"type": "code", "client_id": "webadmin", "redirect_uri": "stalwart://auth"}

#: permission ids per version (crates/directory/src/lib.rs at each tag)
COUNTS = {"0.11.8": 181, "0.12.4": 223, "0.13.4": 226, "0.14.1": 266, "0.15.5": 266}


def oauth_permissions(env, persona: str) -> list[str]:
    return env.data("POST", "/api/oauth", auth=persona, json=CODE_REQUEST)["permissions"]


# ------------------------------------------------------------------ versions and the helper


def test_at_least_compares_version_tuples():
    sb = Sandbox(version="0.13.4", seed="empty")
    assert sb.at_least((0, 12)) and sb.at_least((0, 13)) and sb.at_least((0, 13, 4))
    assert not sb.at_least((0, 13, 5)) and not sb.at_least((0, 14))
    with pytest.raises(ValueError):
        Sandbox(version="0.13.0", seed="empty")


def test_admin_holds_every_permission_of_its_version(each_version):
    data = each_version.data("POST", "/api/oauth", auth="admin", json=CODE_REQUEST)
    assert data["version"] == each_version.sb.version
    assert len(data["permissions"]) == len(set(data["permissions"])) == COUNTS[each_version.sb.version]


# ------------------------------------------------------------------ permission tables


def test_v013_adds_the_calendar_permissions(v12, v13):
    added = {"calendar-alarms", "calendar-scheduling-send", "calendar-scheduling-receive"}
    assert not added & set(oauth_permissions(v12, "admin"))
    assert added <= set(oauth_permissions(v13, "user"))
    assert [v13.sb.perms.id_of(name) for name in sorted(added)] == [223, 225, 224]


def test_v014_adds_jmap_permissions_and_gives_principal_lookups_to_users(v13, v14):
    user13 = set(oauth_permissions(v13, "user"))
    user14 = set(oauth_permissions(v14, "user"))
    moved = {"jmap-principal-get", "jmap-principal-query", "jmap-principal-query-changes"}
    moved |= {"dav-principal-list", "dav-principal-search"}
    assert not moved & user13
    assert moved <= user14
    assert {"jmap-address-book-get", "jmap-file-node-set", "jmap-participant-identity-changes"} <= user14
    assert v14.sb.perms.id_of("jmap-address-book-get") == 226
    assert v14.sb.perms.id_of("jmap-participant-identity-changes") == 265


def test_v015_renames_and_moves_the_spam_permissions(v14, v15):
    admin15 = oauth_permissions(v15, "admin")
    # /api/oauth lists the serde spelling; principals use the other one.
    assert "delete-system-folders-" in admin15 and "delete-system-folders_" not in admin15
    assert "spam-filter-test" in admin15 and "spam-filter-classify" not in admin15
    assert "delete-system-folders" in oauth_permissions(v14, "admin")

    user14 = set(oauth_permissions(v14, "user"))
    user15 = set(oauth_permissions(v15, "user"))
    assert {"spam-filter-train", "spam-filter-classify"} <= user14
    assert not {"spam-filter-train", "spam-filter-test"} & user15
    assert {"spam-filter-train", "spam-filter-test"} <= set(oauth_permissions(v15, "tenant_admin"))


@pytest.mark.parametrize(
    ("fixture", "accepted", "refused"),
    [
        ("v14", "delete-system-folders", "delete-system-folders_"),
        ("v15", "delete-system-folders_", "delete-system-folders"),
        ("v14", "spam-filter-classify", "spam-filter-test"),
        ("v15", "spam-filter-test", "spam-filter-classify"),
        ("v12", "dav-cal-free-busy-query", "calendar-alarms"),
        ("v13", "calendar-alarms", "jmap-calendar-get"),
    ],
)
def test_principal_permissions_use_the_version_names(request, fixture, accepted, refused):
    env = request.getfixturevalue(fixture)
    r = env.patch(
        "/api/principal/jane.doe",
        json=[{"action": "addItem", "field": "enabledPermissions", "value": accepted}],
    )
    assert r.status_code == 200 and "error" not in r.json(), r.text
    assert accepted in env.data("GET", "/api/principal/jane.doe")["enabledPermissions"]
    r = env.patch(
        "/api/principal/jane.doe",
        json=[{"action": "addItem", "field": "enabledPermissions", "value": refused}],
    )
    assert r.json()["error"] == "other" and r.json()["details"] == "Invalid enabledPermissions value"


def test_builtin_roles_match_the_source_marks():
    """Spot checks of which built-in role holds what (crates/directory/src/core/principal.rs)."""
    v12, v14, v15 = PermissionSet("0.12.4"), PermissionSet("0.14.1"), PermissionSet("0.15.5")
    for perms in (v12, v14, v15):
        assert not perms.tenant_admin_mask >> perms.id_of("settings-update") & 1
        assert perms.user_mask & ~perms.tenant_admin_mask == 0
    assert v12.tenant_admin_mask >> 86 & 1 and not v12.user_mask >> 86 & 1
    assert v14.user_mask >> 86 & 1
    assert v15.tenant_admin_mask >> 65 & 1 and not v15.user_mask >> 65 & 1
    assert v15.names[3] == "delete-system-folders_" and v15.serde_names[3] == "delete-system-folders-"


# ------------------------------------------------------------------ secrets (v0.14)


def patch_secrets(env, name: str, *changes) -> dict:
    body = [{"action": action, "field": "secrets", "value": value} for action, value in changes]
    r = env.patch(f"/api/principal/{name}", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_password_reset_keeps_totp_and_app_passwords_before_v014(request):
    for fixture in ("ce", "v12", "v13"):
        env = request.getfixturevalue(fixture)
        login = PERSONAS["totp_user"]["login"]
        otp, _, app = env.sb.get(login).secrets
        assert patch_secrets(env, login, ("removeItem", ""), ("addItem", "New-Pass-1")) == {"data": None}
        assert env.sb.get(login).secrets == [otp, app, "New-Pass-1"]
        # the new password alone is not enough: the TOTP secret still guards the account (402)
        assert env.get("/api/principal?types=domain", auth=basic(login, "New-Pass-1")).status_code == 402


def test_v014_password_reset_drops_totp_and_app_passwords(v14, v15):
    for env in (v14, v15):
        login = PERSONAS["totp_user"]["login"]
        otp, password, app = env.sb.get(login).secrets
        # removeItem "" removes the app passwords and the TOTP secret, not the password
        assert patch_secrets(env, login, ("removeItem", "")) == {"data": None}
        assert env.sb.get(login).secrets == [password]
        assert patch_secrets(env, login, ("addItem", otp), ("addItem", app)) == {"data": None}
        assert env.sb.get(login).secrets == [otp, password, app]
        # the portal's reset: the user's second factor and app passwords are gone
        assert patch_secrets(env, login, ("removeItem", ""), ("addItem", "New-Pass-1")) == {"data": None}
        assert env.sb.get(login).secrets == ["New-Pass-1"]
        r = env.post("/api/oauth", auth=basic(login, "New-Pass-1"), json=CODE_REQUEST)
        assert r.status_code == 200, r.text


def test_v014_add_item_replaces_the_password_and_the_totp_secret(v13, v14):
    login = PERSONAS["totp_user"]["login"]
    otp, password, app = v14.sb.get(login).secrets
    other_otp = "otpauth://totp/Stalwart:theo?secret=AAAA"
    assert patch_secrets(v14, login, ("addItem", "Second-Pass-1"), ("addItem", other_otp)) == {"data": None}
    assert v14.sb.get(login).secrets == [other_otp, "Second-Pass-1", app]
    old_password = basic(login, PERSONAS["totp_user"]["password"])
    assert v14.get("/api/principal?types=domain", auth=old_password).status_code == 401
    # v0.13 still adds a second password and a second TOTP secret
    assert patch_secrets(v13, login, ("addItem", "Second-Pass-1"), ("addItem", other_otp)) == {"data": None}
    assert v13.sb.get(login).secrets == [other_otp, otp, password, app, "Second-Pass-1"]


def test_v014_set_keeps_the_first_password_only(v14):
    assert patch_secrets(v14, "jane.doe", ("set", ["b-pass", "a-pass", "$app$x$y"])) == {"data": None}
    assert v14.sb.get("jane.doe").secrets == ["b-pass", "$app$x$y"]


@pytest.mark.parametrize("version", list(VERSION_ENVS))
def test_empty_secrets_and_emails_in_principal_json(request, version):
    env = request.getfixturevalue(VERSION_ENVS[version])
    r = env.post("/api/principal", json={"type": "group", "name": "bare-group"})
    assert r.status_code == 200, r.text
    data = env.data("GET", "/api/principal/bare-group")
    if env.sb.at_least((0, 14)):
        assert "secrets" not in data and "emails" not in data
    elif env.sb.at_least((0, 12)):
        assert data["secrets"] == [] and data["emails"] == []
    else:
        assert "secrets" not in data and "emails" not in data


# ------------------------------------------------------------------ queue messages (v0.13)

TEMP = ("temp_fail", "Code: 451, Enhanced code: 4.3.0, Message: Mailbox temporarily unavailable")


def _queue_one(env, **kw):
    flow = state(env.sb)
    flow.clear()
    flow.retry_intervals = [1000]
    return enqueue(
        env.sb,
        return_path=kw.pop("return_path", "bill@foobar.net"),
        recipients=kw.pop("recipients", ["a@example1.org", "b@example1.org", "c@example2.org"]),
        **kw,
    )


@pytest.mark.parametrize("fixture", ["v13", "v14", "v15"])
def test_v013_queue_messages_have_flat_recipients(request, fixture):
    env = request.getfixturevalue(fixture)
    message = _queue_one(env, outcomes={"b@example1.org": TEMP}, hold=100, notify_after=2000, expire_after=3000)
    now = message.created
    data = env.data("GET", f"/api/queue/messages/{message.id}")
    assert "domains" not in data
    assert [r["address"] for r in data["recipients"]] == ["a@example1.org", "b@example1.org", "c@example2.org"]
    for r in data["recipients"]:
        assert r["queue"] == "remote" and r["status"] == "scheduled" and r["retry_num"] == 0
        assert parse_rfc3339(r["next_retry"]) == now + 100
        assert parse_rfc3339(r["next_notify"]) == now + 2100
        assert parse_rfc3339(r["expires"]) == now + 3100
    # one delivery attempt: each recipient keeps its own result and schedule
    env.sb.advance(100)
    (listed,) = env.data("GET", "/api/queue/messages?values=1")["items"]
    by_address = {r["address"]: r for r in listed["recipients"]}
    failed = by_address["b@example1.org"]
    assert failed["retry_num"] == 1
    assert failed["status"] == {
        "temp_fail": "Error for mx.example1.org: Unexpected response for RCPT TO:<b@example1.org>: " + TEMP[1]
    }
    assert parse_rfc3339(failed["next_retry"]) == now + 1100
    assert by_address["a@example1.org"]["status"] == {"completed": "Code: 250, Enhanced code: 2.0.0, Message: OK"}


def test_v012_queue_messages_keep_domains(v12):
    message = _queue_one(v12, hold=100)
    data = v12.data("GET", f"/api/queue/messages/{message.id}")
    assert [d["name"] for d in data["domains"]] == ["example1.org", "example2.org"]
    assert "recipients" not in data and "queue" not in data["domains"][0]


def test_v013_domain_failures_read_error_for_host(v13):
    message = _queue_one(
        v13,
        recipients=["c@example2.org"],
        domain_errors={"example2.org": "Connection failed: connection refused"},
    )
    data = v13.data("GET", "/api/queue/messages?values=1")["items"][0]
    assert data["id"] == message.id
    assert [r["status"] for r in data["recipients"]] == [
        {"temp_fail": "Error for mx.example2.org: Connection failed: connection refused"}
    ]


def test_v013_queue_filter_and_queue_names(v12, v13):
    remote = _queue_one(v13, hold=500)
    local = enqueue(v13.sb, return_path="x@foobar.net", recipients=["jane.doe@example.org"], hold=500)
    dsn = enqueue(v13.sb, return_path="", recipients=["someone@example9.org"], hold=500)
    queues = {m["id"]: {r["queue"] for r in m["recipients"]} for m in _values(v13, "?values=1")}
    assert queues == {remote.id: {"remote"}, local.id: {"local"}, dsn.id: {"dsn"}}
    assert set(v13.data("GET", "/api/queue/messages?queue=local")["items"]) == {local.id}
    assert set(v13.data("GET", "/api/queue/messages?queue=dsn")["items"]) == {dsn.id}
    # a name longer than 8 bytes is no filter at all
    assert len(v13.data("GET", "/api/queue/messages?queue=much-too-long")["items"]) == 3
    # v0.12 knows no queue filter
    _queue_one(v12, hold=500)
    enqueue(v12.sb, return_path="", recipients=["someone@example9.org"], hold=500)
    assert len(v12.data("GET", "/api/queue/messages?queue=dsn")["items"]) == 2


def _values(env, query):
    return env.data("GET", "/api/queue/messages" + query)["items"]


def test_v013_reschedule_filter_matches_recipient_addresses(v12, v13):
    at = rfc3339(v13.sb.now() + 5000)
    message = _queue_one(v13, hold=100, expire_after=9000)
    assert v13.data("PATCH", f"/api/queue/messages/{message.id}?filter=b@&at={at}") is True
    assert v13.data("PATCH", f"/api/queue/messages/{message.id}?filter=example2.org-nomatch") is False
    recipients = {r["address"]: r for r in v13.data("GET", f"/api/queue/messages/{message.id}")["recipients"]}
    assert recipients["b@example1.org"]["next_retry"] == at
    # the expiry now counts attempts: it leaves the answer
    assert "expires" not in recipients["b@example1.org"]
    assert recipients["a@example1.org"]["next_retry"] != at and "expires" in recipients["a@example1.org"]
    # v0.12: the filter is a domain name
    message12 = _queue_one(v12, hold=100)
    assert v12.data("PATCH", f"/api/queue/messages/{message12.id}?filter=b@") is False
    assert v12.data("PATCH", f"/api/queue/messages/{message12.id}?filter=example2") is True


def test_v013_cancel_text(v12, v13):
    for env, text in (
        (v13, "Error for localhost: Queue error: Delivery canceled."),
        (v12, "Code: 0, Enhanced code: 0.0.0, Message: Delivery canceled."),
    ):
        message = _queue_one(env, hold=100)
        assert env.data("DELETE", f"/api/queue/messages/{message.id}?filter=a@example1") is True
        data = env.data("GET", f"/api/queue/messages/{message.id}")
        recipients = data["recipients"] if "recipients" in data else data["domains"][0]["recipients"]
        assert recipients[0]["address"] == "a@example1.org"
        assert recipients[0]["status"] == {"perm_fail": text}


@pytest.mark.parametrize("version", list(VERSION_ENVS))
def test_queue_status_exists_in_every_version(request, version):
    env = request.getfixturevalue(VERSION_ENVS[version])
    assert env.data("GET", "/api/queue/status") is True
    assert env.data("PATCH", "/api/queue/status/stop") is True
    assert env.data("GET", "/api/queue/status") is False
    assert env.data("GET", "/api/queue/messages")["status"] is False


# ------------------------------------------------------------------ principals (v0.13, v0.15)


def test_v013_principals_have_a_locale(v12, v13):
    r = v13.post("/api/principal", json={"type": "individual", "name": "lea", "locale": "fr_FR"})
    assert r.status_code == 200, r.text
    assert v13.data("GET", "/api/principal/lea")["locale"] == "fr_FR"
    listed = v13.data("GET", "/api/principal?types=individual&filter=lea&fields=locale")["items"]
    assert {"locale": "fr_FR"}.items() <= listed[0].items() and "emails" not in listed[0]
    r = v13.patch("/api/principal/lea", json=[{"action": "set", "field": "locale", "value": "de"}])
    assert r.json() == {"data": None}
    assert v13.data("GET", "/api/principal/lea")["locale"] == "de"
    v13.patch("/api/principal/lea", json=[{"action": "set", "field": "locale", "value": ""}])
    assert "locale" not in v13.data("GET", "/api/principal/lea")
    # v0.12 knows no such field
    r = v12.post("/api/principal", json={"type": "individual", "name": "lea", "locale": "fr_FR"})
    assert r.status_code == 400
    r = v12.patch("/api/principal/jane.doe", json=[{"action": "set", "field": "locale", "value": "de"}])
    assert r.status_code == 400


def test_v013_principal_deploy_creates(v12, v13):
    r = v13.post("/api/principal/deploy", json={"type": "individual", "name": "deployed", "roles": ["user"]})
    assert r.status_code == 200, r.text
    assert v13.data("GET", "/api/principal/deployed")["roles"] == ["user"]
    r = v13.post("/api/principal/deploy", json={"type": "domain", "name": "d.example"}, auth="user")
    assert r.status_code == 403
    r = v12.post("/api/principal/deploy", json={"type": "individual", "name": "deployed"})
    assert r.json() == {"error": "notFound", "item": "deploy"} and v12.sb.get("deployed") is None


def test_v015_licence_account_limit(v14, v15):
    for env in (v14, v15):
        env.sb.licensed_accounts = env.sb.type_counts["individual"]
        r = env.post("/api/principal", json={"type": "individual", "name": "one-too-many"})
        if env is v15:
            assert r.json() == {
                "error": "other",
                "details": "License account limit reached",
                "reason": f"Enterprise licensed account limit reached: {env.sb.licensed_accounts} accounts licensed.",
            }
            # groups do not count
            assert "data" in env.post("/api/principal", json={"type": "group", "name": "g-extra"}).json()
        else:
            assert "data" in r.json()


def test_v015_licence_limit_needs_enterprise():
    sb = Sandbox(version="0.15.5", enterprise=False)
    sb.licensed_accounts = 0
    with run_in_thread(sb) as url:
        env = Env(sb, url)
        r = env.post("/api/principal", json={"type": "individual", "name": "community-user"})
        env.client.close()
    assert "data" in r.json(), r.text


# ------------------------------------------------------------------ 401 and WWW-Authenticate (v0.13)

REALMS = ['Bearer realm="Stalwart Server"', 'Basic realm="Stalwart Server"']


@pytest.mark.parametrize("version", ["0.13.4", "0.14.1", "0.15.5"])
def test_v013_failed_sign_in_has_no_realms_but_token_errors_do(request, version):
    env = request.getfixturevalue(VERSION_ENVS[version])
    for auth in (None, basic("admin", "wrong"), basic("nobody", "x")):
        r = env.get("/api/principal", auth=auth)
        assert r.status_code == 401 and "www-authenticate" not in r.headers
    token = env.bearer_for("admin")
    env.sb.advance(env.sb.access_token_lifetime + 1)
    for auth in (f"Bearer {token}", "Bearer bm9wZQ==", "Basic !!!", "Digest abc"):
        r = env.get("/api/principal", auth={"Authorization": auth})
        assert r.status_code == 401 and r.headers.get_list("www-authenticate") == REALMS, auth


def test_v012_realms_only_on_failed_sign_in(v12):
    assert v12.get("/api/principal", auth=None).headers.get_list("www-authenticate") == REALMS
    token = v12.bearer_for("admin")
    v12.sb.advance(v12.sb.access_token_lifetime + 1)
    r = v12.get("/api/principal", auth={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and "www-authenticate" not in r.headers


# ------------------------------------------------------------------ spam filter (v0.15)

MESSAGE = (
    "From: Alice <alice@example.com>\r\nTo: jane@example.org\r\nSubject: Lunch\r\n"
    "Date: Mon, 3 Mar 2025 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nSee you at noon.\r\n"
)
CLASSIFY = {
    "message": MESSAGE,
    "remoteIp": "192.0.2.25",
    "ehloDomain": "mx.example.com",
    "isTls": True,
    "envFrom": "alice@example.com",
    "envFromFlags": 0,
    "envRcptTo": ["jane@example.org"],
}
NOT_FOUND_PP = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}


def test_v015_spam_training_routes(v14, v15):
    # the v0.14 route is gone
    assert v15.post("/api/spam-filter/train/spam", content=MESSAGE).json() == NOT_FOUND_PP
    assert v14.post("/api/spam-filter/train/spam", content=MESSAGE).json() == {"data": None}
    assert v14.post("/api/spam-filter/upload/spam", content=MESSAGE).json() == NOT_FOUND_PP
    # samples are uploaded, then the trainer runs
    assert v15.post("/api/spam-filter/upload/spam", content=MESSAGE).json() == {"data": None}
    assert v15.post("/api/spam-filter/upload/ham/jane.doe", content=MESSAGE).json() == {"data": None}
    unknown = v15.post("/api/spam-filter/upload/ham/nobody", content=MESSAGE)
    assert unknown.json() == {"error": "notFound", "item": "nobody"}
    assert "BAYES_SPAM" not in v15.data("POST", "/api/spam-filter/classify", json=CLASSIFY)["tags"]
    assert v15.data("GET", "/api/spam-filter/train/status") is False
    assert v15.data("GET", "/api/spam-filter/train/start") is True
    assert v15.data("GET", "/api/spam-filter/train/status") is True
    assert v15.data("GET", "/api/spam-filter/train/reset") is False  # already running
    assert "BAYES_SPAM" in v15.data("POST", "/api/spam-filter/classify", json=CLASSIFY)["tags"]
    assert v15.data("GET", "/api/spam-filter/train/stop") is True
    assert v15.data("GET", "/api/spam-filter/train/stop") is False
    assert v15.data("GET", "/api/spam-filter/train/start") is True
    v15.sb.advance(60)
    assert v15.data("GET", "/api/spam-filter/train/status") is False  # the run finished
    assert v15.data("GET", "/api/spam-filter/train/delete") is True
    assert "BAYES_SPAM" not in v15.data("POST", "/api/spam-filter/classify", json=CLASSIFY)["tags"]
    assert v15.get("/api/spam-filter/train/bogus").json() == NOT_FOUND_PP
    assert v15.post("/api/spam-filter/train/start").json() == NOT_FOUND_PP


def test_v015_spam_permissions_per_route(v14, v15):
    # users held spam-filter-train (and so classify) up to v0.14
    assert "score" in v14.data("POST", "/api/spam-filter/classify", json=CLASSIFY, auth="user")
    for method, path in (
        ("POST", "/api/spam-filter/upload/spam"),
        ("GET", "/api/spam-filter/train/status"),
        ("POST", "/api/spam-filter/classify"),
    ):
        r = v15.request(method, path, auth="user", content=MESSAGE)
        assert r.status_code == 403, path
    # unknown routes are 404 before any permission check
    assert v15.get("/api/spam-filter/nothing", auth="user").json() == NOT_FOUND_PP
    # classify needs spam-filter-test, not spam-filter-train
    v15.patch(
        "/api/principal/jane.doe",
        json=[{"action": "addItem", "field": "enabledPermissions", "value": "spam-filter-train"}],
    )
    assert v15.get("/api/spam-filter/train/status", auth="user").status_code == 200
    assert v15.post("/api/spam-filter/classify", json=CLASSIFY, auth="user").status_code == 403
    v15.patch(
        "/api/principal/jane.doe",
        json=[
            {"action": "removeItem", "field": "enabledPermissions", "value": "spam-filter-train"},
            {"action": "addItem", "field": "enabledPermissions", "value": "spam-filter-test"},
        ],
    )
    assert v15.post("/api/spam-filter/classify", json=CLASSIFY, auth="user").status_code == 200
    assert v15.get("/api/spam-filter/train/status", auth="user").status_code == 403


def test_v015_tenant_admin_uploads_need_a_tenant_account(v15):
    assert v15.post("/api/spam-filter/upload/spam", content=MESSAGE, auth="tenant_admin").json() == {
        "error": "other",
        "details": "Account ID is required for tenants.",
        "reason": None,
    }
    assert v15.post("/api/spam-filter/upload/spam/jane.doe", content=MESSAGE, auth="tenant_admin").json() == {
        "error": "other",
        "details": "Account does not belong to this tenant.",
        "reason": None,
    }


# ------------------------------------------------------------------ maintenance (v0.15)


def test_v015_reindex_takes_an_index(v14, v15):
    assert v15.get("/api/store/reindex").json() == NOT_FOUND_PP
    for index in ("email", "calendar", "contacts", "file", "tracing"):
        assert v15.data("GET", f"/api/store/reindex/{index}") is None
    assert v15.data("GET", "/api/store/reindex/email/jane.doe") is None
    actions = [a for a in tools_state(v15.sb).actions if a["kind"] == "reindex"]
    assert [a["index"] for a in actions] == ["email", "calendar", "contacts", "file", "tracing", "email"]
    assert actions[-1]["account"] == "jane.doe"
    r = v15.get("/api/store/reindex/mailboxes")
    assert r.status_code == 400 and r.json()["detail"] == "Invalid search index specified"
    # the account is looked up first
    assert v15.get("/api/store/reindex/mailboxes/nobody").json() == {"error": "notFound", "item": ""}
    assert v15.get("/api/store/reindex/email", auth="user").status_code == 403
    # v0.14: the old path
    assert v14.data("GET", "/api/store/reindex") is None
    assert v14.data("GET", "/api/store/reindex/jane.doe") is None


def test_v015_in_memory_prefixes_removed(v14, v15):
    for env in (v14, v15):
        tools_state(env.sb).bayes_global["x"] = "spam"
        assert env.data("GET", "/api/store/purge/in-memory/default/bayes-global") is None
        assert env.data("GET", "/api/store/purge/in-memory/default/greylist") is None
        assert env.data("GET", "/api/store/purge/in-memory/default/no-such-prefix") is None
    prefixes = [a["prefix"] for a in tools_state(v15.sb).actions if a["kind"] == "purge-in-memory"]
    # v0.15: the Bayes prefix is unknown, so only expired keys go (prefix None) and the model stays
    assert prefixes == [None, "greylist", None]
    assert tools_state(v15.sb).bayes_global == {"x": "spam"}
    assert tools_state(v14.sb).bayes_global == {}
    assert [a["prefix"] for a in tools_state(v14.sb).actions if a["kind"] == "purge-in-memory"] == [
        "bayes-global",
        "greylist",
        None,
    ]
    for prefix in ("reputation-ip", "trusted-reply", "bayes-account"):
        v15.get(f"/api/store/purge/in-memory/default/{prefix}")
        assert tools_state(v15.sb).actions[-1]["prefix"] is None


# ------------------------------------------------------------------ undelete (v0.15)


def _deleted(env):
    raw = (
        b"From: Bob Smith <bob@example.net>\r\nTo: jane.doe@example.org\r\nSubject: Invoice 42\r\n"
        b"Date: Tue, 4 Mar 2025 09:30:00 +0000\r\n\r\nPlease pay.\r\n"
    )
    now = env.sb.now()
    principal = env.sb.get("jane.doe")
    state(env.sb).deleted.pop(principal.id, None)
    return delete_blob(env.sb, principal.id, raw, deleted_at=now - 60, expires_at=now + 86400)


def test_v015_undelete_list_items_and_restore(v14, v15):
    item14 = _deleted(v14)
    (listed14,) = v14.data("GET", "/api/store/undelete/jane.doe")["items"]
    assert listed14["collection"] == "email" and "item" not in listed14
    item = _deleted(v15)
    data = v15.data("GET", "/api/store/undelete/jane.doe")
    (listed,) = data["items"]
    assert "collection" not in listed
    assert listed["hash"] == item.hash and listed["size"] == item.size
    assert listed["item"] == {
        "type": "email",
        "from": "Bob Smith <bob@example.net>",
        "subject": "Invoice 42",
        "received_at": "2025-03-04T09:30:00Z",
    }
    # restoring still needs the collection
    restore = {"hash": item.hash, "restoreTime": listed["deletedAt"]}
    r = v15.post("/api/store/undelete/jane.doe", json=[restore])
    assert r.status_code == 400
    assert v15.data("POST", "/api/store/undelete/jane.doe", json=[restore | {"collection": "email"}]) == [
        {"type": "success"}
    ]
    assert item14.hash == item.hash


# ------------------------------------------------------------------ encryption at rest (v0.15)


def test_v015_crypto_needs_allow_spam_training(v14, v15):
    body = {"type": "pGP", "algo": "Aes256", "certs": pgp_key()}
    r = v15.post("/api/account/crypto", json=body, auth="user")
    assert r.status_code == 400 and "missing field `allow_spam_training`" in r.json()["detail"]
    r = v15.post("/api/account/crypto", json=body | {"allow_spam_training": "yes"}, auth="user")
    assert r.status_code == 400 and "expected a boolean" in r.json()["detail"]
    assert v15.data("POST", "/api/account/crypto", json=body | {"allow_spam_training": True}, auth="user") == 1
    data = v15.data("GET", "/api/account/crypto", auth="user")
    assert data["type"] == "pGP" and data["allow_spam_training"] is True
    assert v15.data("POST", "/api/account/crypto", json=body | {"allow_spam_training": False}, auth="user") == 1
    assert v15.data("GET", "/api/account/crypto", auth="user")["allow_spam_training"] is False
    assert v15.data("POST", "/api/account/crypto", json={"type": "disabled"}, auth="user") is None
    # v0.14 neither needs nor shows it
    assert v14.data("POST", "/api/account/crypto", json=body, auth="user") == 1
    assert "allow_spam_training" not in v14.data("GET", "/api/account/crypto", auth="user")


# ------------------------------------------------------------------ traces (v0.15)


def test_v015_trace_list_without_filter_covers_the_last_day(v14, v15):
    assert v14.data("GET", "/api/telemetry/traces") == {"items": [], "total": 0}
    recent = v15.data("GET", "/api/telemetry/traces")
    assert recent["total"] > 0
    day_ago = snowflake(v15.sb.now() - 86400)
    assert all(span_id > day_ago for span_id in recent["items"])
    everything = v15.data("GET", "/api/telemetry/traces", params={"after": "2000-01-01T00:00:00Z"})
    older = [span_id for span_id in everything["items"] if span_id <= day_ago]
    assert older, "the seed has traces older than a day"
    # a type alone keeps the window; a keyword lifts it
    typed = v15.data("GET", "/api/telemetry/traces?type=smtp.connection-start")
    assert all(span_id > day_ago for span_id in typed["items"])


# ------------------------------------------------------------------ every version answers every read

READS = (
    "/api/principal?types=individual&limit=10",
    "/api/principal/jane.doe",
    "/api/principal/theo.martin",
    "/api/queue/messages?values=1&limit=50",
    "/api/queue/status",
    "/api/queue/reports?limit=10",
    "/api/reports/dmarc?limit=10",
    "/api/reports/tls?limit=10",
    "/api/reports/arf?limit=10",
    "/api/settings/list?prefix=server",
    "/api/telemetry/traces?type=delivery.attempt-start&values=1&limit=5",
    "/api/telemetry/metrics",
    "/api/logs?limit=10",
    "/api/store/undelete/jane.doe",
    "/api/account/crypto",
    "/api/account/auth",
    "/api/dns/records/example.org",
)


@pytest.mark.parametrize("version", list(VERSION_ENVS))
def test_every_version_answers_the_reads_without_a_server_error(request, version):
    env = request.getfixturevalue(VERSION_ENVS[version])
    for path in READS:
        r = env.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
    messages = env.data("GET", "/api/queue/messages?values=1")["items"]
    assert messages
    key = "recipients" if env.sb.at_least((0, 13)) else "domains"
    assert all(key in message for message in messages)
