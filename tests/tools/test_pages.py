"""DMARC check, spam filter, maintenance and the per-account actions."""

from __future__ import annotations

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from sandbox.maintenance import LATEST_SPAM_RULES
from sandbox.spamfilter import GTUBE
from sandbox.toolstate import tools_state
from tests.conftest import Persona, persona, sign_in
from tests.sandbox.helpers import persona_auth
from tests.sandbox.test_tools import MESSAGE

JANE = persona("user").name


def actions(sandbox) -> list[dict]:
    return tools_state(sandbox).actions


def stalwart_calls(sandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests if r.path.startswith("/api/")]


def all_calls(sandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests]


def make_persona(sandbox, name: str, *, roles=("admin",), disabled=()) -> Persona:
    """An account made for one test: a role, minus some permissions."""
    from django.conf import settings

    password = "Tools-Test-Password-1"
    body = {
        "type": "individual",
        "name": name,
        "secrets": [password],
        "roles": list(roles),
        "disabledPermissions": list(disabled),
    }
    response = httpx.post(f"{settings.STALWART_URL}/api/principal", json=body, headers=persona_auth("admin"))
    assert "data" in response.json(), response.text
    return Persona(name, name, password)


def signed_in_as(client, sandbox, who: Persona):
    response = sign_in(client, who)
    assert response.status_code == 302, response.content[:300]
    sandbox.requests.clear()
    return client


# --- DMARC ----------------------------------------------------------------------------------
DMARC_FORM = {"remote_ip": "198.51.100.7", "ehlo_domain": "mx.example.net", "mail_from": "bob@quarantine.example.net"}


def test_dmarc_form_and_result(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    page = client.get(reverse("tools:dmarc") + "?target=bob%40example.net").content.decode()
    assert 'value="bob@example.net"' in page and sandbox.requests == []
    response = client.post(reverse("tools:dmarc"), DMARC_FORM)
    assert response.status_code == 200
    content = response.content.decode()
    assert "The message fails DMARC" in content and "quarantine" in content
    assert 'badge badge-danger">Fail' in content and "Reverse DNS" in content
    assert 'value="198.51.100.7"' in content  # the form keeps the input
    # 0.16: the x:Action TroubleshootDmarc
    assert all_calls(sandbox) == ["POST /jmap/" if generation.jmap else "POST /api/troubleshoot/dmarc"]


def test_dmarc_with_uploaded_message_and_htmx(signed_in, generation):
    client = signed_in("admin")
    eml = SimpleUploadedFile(
        "m.eml",
        b"DKIM-Signature: v=1; d=example.net; s=s1; bh=x; b=y\r\nFrom: bob@example.net\r\nSubject: t\r\n\r\nhi\r\n",
    )
    data = {**DMARC_FORM, "mail_from": "bob@example.net", "eml": eml}
    response = client.post(reverse("tools:dmarc"), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content and "The message passes DMARC" in content
    assert 'badge badge-ok">Pass' in content


def test_dmarc_bad_input_keeps_what_was_typed(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post(reverse("tools:dmarc"), {**DMARC_FORM, "remote_ip": "300.1.1.1"})
    assert response.status_code == 422
    assert 'value="300.1.1.1"' in response.content.decode() and sandbox.requests == []
    both = {**DMARC_FORM, "message": "Subject: x\r\n\r\ny", "eml": SimpleUploadedFile("m.eml", b"Subject: x\r\n\r\n")}
    assert "not both" in client.post(reverse("tools:dmarc"), both).content.decode()
    garbage = client.post(reverse("tools:dmarc"), {**DMARC_FORM, "message": "no headers at all"})
    assert garbage.status_code == 422 and "Stalwart could not read this message" in garbage.content.decode()


def test_dmarc_refused_and_upstream_down(signed_in, generation, settings, closed_port):
    sandbox = generation.sandbox
    client = signed_in("user")
    assert client.get(reverse("tools:dmarc")).status_code == 403
    assert client.post(reverse("tools:dmarc"), DMARC_FORM).status_code == 403
    assert sandbox.requests == []
    client = signed_in("admin")
    sandbox.faults.server_error(503, prefix="/jmap/" if generation.jmap else "/api/troubleshoot/")
    failed = client.post(reverse("tools:dmarc"), DMARC_FORM)
    assert failed.status_code == 502 and 'value="198.51.100.7"' in failed.content.decode()
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.post(reverse("tools:dmarc"), DMARC_FORM).status_code == 502


# --- spam filter ----------------------------------------------------------------------------
CLASSIFY_FORM = {
    "remote_ip": "192.0.2.25",
    "ehlo_domain": "mx.example.com",
    "sender": "alice@example.com",
    "recipients": "jane@example.org",
    "tls": "on",
    "message": MESSAGE,
}


def test_classify_shows_each_rule(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    assert client.get(reverse("tools:spam")).status_code == 200
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": "Subject: WINNER WINNER\r\n\r\nlottery"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Spam, with a score of" in content
    assert content.index("SPAM_KEYWORDS") < content.index("SUBJ_ALL_CAPS") < content.index("SPF_ALLOW")
    assert "+4.00" in content and "-0.20" in content
    # 0.16: the x:Action ClassifySpam
    assert all_calls(sandbox) == ["POST /jmap/" if generation.jmap else "POST /api/spam-filter/classify"]


def test_classify_for_a_plain_user_up_to_0_14(signed_in, sandbox):
    client = signed_in("user")  # users hold spam-filter-train, which Stalwart checks for classify until 0.14
    assert client.get(reverse("tools:spam")).status_code == 200
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": "Subject: WINNER WINNER\r\n\r\nlottery"})
    assert response.status_code == 200 and "Spam, with a score of" in response.content.decode()
    assert stalwart_calls(sandbox) == ["POST /api/spam-filter/classify"]


def test_classify_reject_and_htmx(signed_in, generation):
    client = signed_in("admin")
    data = {**CLASSIFY_FORM, "message": f"Subject: test\r\n\r\n{GTUBE}"}
    response = client.post(reverse("tools:spam"), data, headers={"HX-Request": "true"})
    content = response.content.decode()
    assert "<html" not in content and "Stalwart would reject this message" in content
    assert 'badge badge-danger">reject' in content


def test_classify_bad_input(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "recipients": "not-an-address"})
    assert response.status_code == 422 and "not-an-address is not an e-mail address" in response.content.decode()
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": ""})
    assert response.status_code == 422 and 'value="mx.example.com"' in response.content.decode()
    assert sandbox.requests == []
    garbage = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": "garbage"})
    assert garbage.status_code == 422 and "Failed to parse message." in garbage.content.decode()


def test_spam_pages_refused_without_the_permission(client, generation):
    sandbox = generation.sandbox
    if generation.jmap:  # holds neither spam-filter-train nor spam-filter-test on 0.16
        who = persona("helpdesk")
    else:
        who = make_persona(sandbox, "no-spam", roles=("user",), disabled=("spam-filter-train",))
    signed_in_as(client, sandbox, who)
    for name in ("tools:spam", "tools:spam-train"):
        assert client.get(reverse(name)).status_code == 403
        assert client.post(reverse(name), CLASSIFY_FORM).status_code == 403
    assert sandbox.requests == []


def test_train_globally_and_for_an_account(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("tools:spam-train"), {"kind": "spam", "message": MESSAGE})
    assert response.status_code == 302
    assert "Trained the server-wide filter: this message is spam." in client.get(response.url).content.decode()
    eml = SimpleUploadedFile("m.eml", MESSAGE.encode())
    response = client.post(reverse("tools:spam-train"), {"kind": "ham", "account": JANE, "eml": eml})
    assert response.status_code == 302
    trained = tools_state(sandbox).trained
    assert [(kind, account) for kind, account, _ in trained] == [("spam", None), ("ham", JANE)]
    # the raw message is the request body
    assert [r.path for r in sandbox.requests if "train" in r.path][-1].endswith("/ham/jane%2Edoe")


def test_train_errors(signed_in, sandbox):
    client = signed_in("user")
    response = client.post(reverse("tools:spam-train"), {"kind": "ham", "account": "nobody", "message": MESSAGE})
    # A plain user cannot read other accounts, so the portal cannot confirm "nobody" is theirs.
    assert response.status_code == 422
    assert "nobody was not found, or is not yours to manage" in response.content.decode()
    response = client.post(reverse("tools:spam-train"), {"kind": "ham", "message": "not a message"})
    assert response.status_code == 422 and "Stalwart could not read this message" in response.content.decode()
    response = client.post(reverse("tools:spam-train"), {"kind": "maybe", "message": MESSAGE})
    assert response.status_code == 422


# --- maintenance ----------------------------------------------------------------------------
ALL_ACTIONS = {
    "reload": "settings-reload",
    "update-spam-rules": "spam-filter-update",
    "update-webadmin": "webadmin-update",
    "restart": "restart",
    "reindex": "fts-reindex",
    "purge-blobs": "purge-blob-store",
    "purge-data": "purge-data-store",
    "purge-in-memory": "purge-in-memory-store",
    "delete-bayes-global": "purge-in-memory-store",
    "purge-accounts": "purge-account",
    "reset-uids": "purge-account",
}


def action_url(slug: str) -> str:
    return reverse("tools:maintenance-action", kwargs={"action": slug})


def test_maintenance_page_shows_what_each_person_may_run(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(reverse("tools:maintenance")).content.decode()
    for slug in ALL_ACTIONS:
        assert action_url(slug) in page, slug
    client = signed_in("helpdesk")  # holds purge-account only
    page = client.get(reverse("tools:maintenance")).content.decode()
    assert action_url("purge-accounts") in page and action_url("reset-uids") in page
    assert action_url("reload") not in page and action_url("purge-blobs") not in page
    assert signed_in("user").get(reverse("tools:maintenance")).status_code == 403
    assert sandbox.requests == []


@pytest.mark.parametrize("slug", sorted(ALL_ACTIONS))
def test_each_action_needs_its_own_permission(client, sandbox, slug):
    who = make_persona(sandbox, f"ops-{slug}", disabled=(ALL_ACTIONS[slug],))
    signed_in_as(client, sandbox, who)
    assert client.get(action_url(slug)).status_code == 403
    data = {"confirmed": "yes", "account": JANE, "store": "", "prefix": "", "scope": ""}
    assert client.post(action_url(slug), data).status_code == 403
    assert sandbox.requests == []
    # ... while the maintenance page still opens with the others
    assert client.get(reverse("tools:maintenance")).status_code == 200


@pytest.mark.parametrize(
    "slug",
    ["restart", "purge-blobs", "purge-data", "purge-in-memory", "delete-bayes-global", "purge-accounts", "reset-uids"],
)
def test_destructive_actions_confirm_first(signed_in, sandbox, slug):
    client = signed_in("admin")
    page = client.get(action_url(slug))
    assert page.status_code == 200
    content = page.content.decode()
    assert "This cannot be undone." in content and 'name="confirmed" value="yes"' in content
    unconfirmed = client.post(action_url(slug), {"account": JANE})
    assert unconfirmed.status_code == 200 and "This cannot be undone." in unconfirmed.content.decode()
    assert sandbox.requests == []  # neither the GET nor the unconfirmed POST reached Stalwart


def test_purges_after_confirmation(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(action_url("purge-blobs"), {"confirmed": "yes"})
    assert response.status_code == 302 and response.url == reverse("tools:maintenance")
    assert "purging the blob store" in client.get(response.url).content.decode()
    client.post(action_url("purge-data"), {"confirmed": "yes", "store": "rocksdb"})
    client.post(action_url("purge-in-memory"), {"confirmed": "yes", "prefix": "greylist"})
    client.post(action_url("purge-in-memory"), {"confirmed": "yes"})
    client.post(action_url("delete-bayes-global"), {"confirmed": "yes"})
    client.post(action_url("purge-accounts"), {"confirmed": "yes"})
    assert actions(sandbox) == [
        {"kind": "purge-blob"},
        {"kind": "purge-data", "store": "rocksdb"},
        {"kind": "purge-in-memory", "store": "default", "prefix": "greylist"},
        {"kind": "purge-in-memory", "store": "default", "prefix": None},
        {"kind": "purge-in-memory", "store": "default", "prefix": "bayes-global"},
        {"kind": "purge-account"},
    ]
    # Stalwart's GET endpoints, only ever called from the portal's POST forms
    assert all(r.method == "GET" for r in sandbox.requests if r.path.startswith("/api/store"))


def test_purge_data_of_an_unknown_store(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(action_url("purge-data"), {"confirmed": "yes", "store": "nothere"})
    assert response.status_code == 422 and "Stalwart has no store called nothere" in response.content.decode()
    bad = client.post(action_url("purge-data"), {"confirmed": "yes", "store": "../x"})
    assert bad.status_code == 422


def test_reset_uids_shows_the_counts(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.post(action_url("reset-uids"), {"confirmed": "yes", "account": JANE})
    assert response.status_code == 200
    counts = actions(sandbox)[-1]["counts"]
    content = response.content.decode()
    assert f"IMAP UIDs of <bdi>{JANE}</bdi> reset" in content
    assert f"{counts[0]} mailboxes and {counts[1]} message" in content
    missing = client.post(action_url("reset-uids"), {"confirmed": "yes", "account": "nobody"})
    assert missing.status_code == 422
    assert "nobody was not found, or is not yours to manage" in missing.content.decode()


def test_reload_dry_run_and_reload(signed_in, sandbox):
    sandbox.settings["mystery.key"] = "42"
    sandbox.settings["server.listener.smtp.bind"] = "nonsense"
    client = signed_in("admin")
    response = client.post(action_url("reload"), {"dry_run": "on"})
    content = response.content.decode()
    assert response.status_code == 200 and "The configuration has errors" in content
    assert "server.listener.smtp.bind" in content and "mystery.key" in content
    assert [(r.path, r.query) for r in sandbox.requests] == [("/api/reload", "dry-run=true")]
    del sandbox.settings["server.listener.smtp.bind"]
    response = client.post(action_url("reload"), {"scope": ""})
    assert "Configuration reloaded, with warnings" in response.content.decode()
    response = client.post(action_url("reload"), {"scope": "certificate"})
    assert response.status_code == 200 and sandbox.requests[-1].path == "/api/reload/certificate"
    assert client.get(action_url("reload")).status_code == 200  # GET: the options, no call
    assert len(sandbox.requests) == 3


def test_updates_and_restart(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(action_url("update-spam-rules"), {})
    assert f"updated to version {LATEST_SPAM_RULES}" in client.get(response.url).content.decode()
    client.post(action_url("update-spam-rules"), {})
    assert "already up to date" in client.get(reverse("tools:maintenance")).content.decode()
    # overwriting local changes asks first
    sandbox.requests.clear()
    ask = client.post(action_url("update-spam-rules"), {"overwrite": "on"})
    assert "This cannot be undone." in ask.content.decode() and sandbox.requests == []
    client.post(action_url("update-spam-rules"), {"overwrite": "on", "force": "on", "confirmed": "yes"})
    assert actions(sandbox)[-1] == {"kind": "update-spam-filter", "overwrite": True}
    client.post(action_url("update-webadmin"), {})
    assert tools_state(sandbox).webadmin_updates == 1
    tools_state(sandbox).fail_downloads = True
    response = client.post(action_url("update-webadmin"), {})
    assert "could not download the update" in client.get(response.url).content.decode()
    response = client.post(action_url("restart"), {"confirmed": "yes"})
    assert "Restart is not yet supported" in client.get(response.url).content.decode()
    client.post(action_url("reindex"), {"account": JANE})
    assert actions(sandbox)[-1] == {"kind": "reindex", "tenant": None, "account": JANE}


def test_unknown_action_is_404(signed_in, sandbox):
    client = signed_in("admin")
    assert client.get(action_url("format-disk")).status_code == 404
    assert client.post(action_url("format-disk"), {"confirmed": "yes"}).status_code == 404
    assert sandbox.requests == []


# --- one account ----------------------------------------------------------------------------
def account_url(name: str, kind: str) -> str:
    return reverse(f"tools:account-{kind}", kwargs={"name": JANE if name is None else name})


def test_empty_trash_of_one_account(signed_in, sandbox):
    client = signed_in("helpdesk")
    page = client.get(account_url(JANE, "empty-trash"))
    assert page.status_code == 200 and "This cannot be undone." in page.content.decode()
    assert client.post(account_url(JANE, "empty-trash"), {}).status_code == 200  # not confirmed: asks again
    # Only reads of the account (the rank rule: helpdesk does not hold every permission).
    assert {r.path for r in sandbox.requests} == {"/api/principal/jane%2Edoe"}
    sandbox.requests.clear()
    response = client.post(account_url(JANE, "empty-trash"), {"confirmed": "yes"})
    assert response.status_code == 302
    assert response.url == reverse("directory:detail", kwargs={"kind": "accounts", "name": JANE})
    assert actions(sandbox) == [{"kind": "purge-account", "account": JANE}]
    # The rank rule reads the account first (helpdesk does not hold every permission).
    assert [r.path for r in sandbox.requests] == ["/api/principal/jane%2Edoe", "/api/store/purge/account/jane%2Edoe"]
    missing = client.post(account_url("nobody", "empty-trash"), {"confirmed": "yes"})
    assert missing.status_code == 404 and "nobody was not found, or is not yours to manage" in missing.content.decode()


def test_delete_bayes_of_one_account(signed_in, sandbox):
    client = signed_in("helpdesk")  # lacks purge-in-memory-store
    assert client.get(account_url(JANE, "delete-bayes")).status_code == 403
    assert client.post(account_url(JANE, "delete-bayes"), {"confirmed": "yes"}).status_code == 403
    assert sandbox.requests == []
    client = signed_in("admin")
    response = client.post(account_url(JANE, "delete-bayes"), {"confirmed": "yes"})
    assert response.status_code == 302
    assert "The Bayes spam model of jane.doe was deleted." in client.get(response.url).content.decode()
    assert [r.path for r in sandbox.requests][0] == "/api/store/purge/in-memory/default/bayes-account/jane%2Edoe"


def test_account_actions_refused_for_users(signed_in, sandbox):
    client = signed_in("user")
    for kind in ("empty-trash", "delete-bayes"):
        assert client.get(account_url(JANE, kind)).status_code == 403
        assert client.post(account_url(JANE, kind), {"confirmed": "yes"}).status_code == 403
    assert sandbox.requests == []


def test_account_action_upstream_failure(signed_in, sandbox, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.post(account_url(JANE, "empty-trash"), {"confirmed": "yes"}).status_code == 502
