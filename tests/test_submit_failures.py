"""A submit whose change fails in Stalwart shows the form again, with what was typed.

For every form that sends a change to Stalwart: a fault is injected on the write call only
(`sandbox.faults`), the form is submitted, and the answer must keep the failure's status
(504 for a timeout, 502 for a broken connection, a 5xx or a garbled answer), show the typed
values (never the secrets), say whether the change may have been applied, and link to a page
where the person can check.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pyotp
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal import responses
from portal.stalwart import errors
from sandbox import mailflow
from tests.conftest import persona
from tests.crypto_fixtures import pgp_key

JANE = persona("user").name
TYPED_MESSAGE = "From: typed@example.net\r\nTo: jane.doe@example.org\r\nSubject: Typed before the failure\r\n\r\nHello"

# Fault kind -> the status it must keep.
FAULTS = {"timeout": 504, "5xx": 502, "reset": 502, "malformed": 502}


@dataclass
class Submit:
    """One form submission: where, what, the write call to break, and what must come back."""

    url: str
    data: dict
    prefix: str  # the write call's path prefix
    methods: set[str]
    kept: list[str] = field(default_factory=list)  # must be in the re-rendered HTML
    secrets: list[str] = field(default_factory=list)  # must not be
    check_url: str = ""
    idempotent: bool = False
    changes: bool = True  # False: the form only asks (a check), nothing can have been applied
    call: str = ""  # on Stalwart 0.16 (every call a POST to /jmap/): the JMAP method that writes


def form_fields(page: str) -> dict:
    """The values a browser would send for a page's form (inputs, checked boxes, selects, textareas)."""
    data: dict = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        if ('type="checkbox"' in tag or 'type="radio"' in tag) and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data.setdefault(html.unescape(name.group(1)), []).append(html.unescape(value.group(1)) if value else "")
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        data[name] = [html.unescape(body.lstrip("\n"))]
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        data[name] = [html.unescape(v) for v in re.findall(r'<option value="([^"]*)"[^>]*selected', options)]
    data.pop("csrfmiddlewaretoken", None)
    return data


# --- the forms ----------------------------------------------------------------------------------
def create_account(client, sandbox) -> Submit:
    data = {
        "name": "kept.person",
        "description": "Typed before the failure",
        "email": "kept.person@example.org",
        "password": "Secret-Typed-Pass-9",
        "roles": "user",
        "quota_unit": "GiB",
    }
    return Submit(
        reverse("directory:create", kwargs={"kind": "accounts"}),
        data,
        "/api/principal",
        {"POST"},
        kept=['value="Typed before the failure"', 'value="kept.person@example.org"'],
        secrets=["Secret-Typed-Pass-9"],
        check_url="/directory/accounts/?q=kept.person",
    )


def edit_account(client, sandbox) -> Submit:
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": JANE})
    data = form_fields(client.get(url).content.decode())
    data |= {"description": "Edited before the failure", "password": "Secret-Typed-Pass-9"}
    return Submit(
        url,
        data,
        "/api/principal/",
        {"PATCH"},
        kept=['value="Edited before the failure"'],
        secrets=["Secret-Typed-Pass-9"],
        check_url=f"/directory/accounts/{JANE}/",
    )


def reset_password(client, sandbox) -> Submit:
    return Submit(
        reverse("directory:account-password", kwargs={"name": JANE}),
        {"password": "Secret-Typed-Pass-9", "confirm": "Secret-Typed-Pass-9"},
        "/api/principal/",
        {"PATCH"},
        secrets=["Secret-Typed-Pass-9"],
        check_url=f"/directory/accounts/{JANE}/",
        idempotent=True,
    )


def delete_account(client, sandbox) -> Submit:
    return Submit(
        reverse("directory:delete", kwargs={"kind": "accounts", "name": JANE}),
        {},
        "/api/principal/",
        {"DELETE"},
        kept=[f"Delete {JANE}"],
        check_url=f"/directory/accounts/?q={JANE}",
    )


def bulk_delete(client, sandbox) -> Submit:
    return Submit(
        reverse("directory:bulk-delete", kwargs={"kind": "accounts"}),
        {"names": [JANE, persona("totp_user").name], "confirmed": "yes"},
        "/api/principal/",
        {"DELETE"},
        kept=[f'name="names" value="{JANE}"', f'name="names" value="{persona("totp_user").name}"'],
        check_url="/directory/accounts/",
    )


def delete_matching(client, sandbox) -> Submit:
    url = reverse("directory:delete-matching", kwargs={"kind": "accounts"})
    page = client.get(url, {"q": "theo"}).content.decode()
    total = re.search(r"Delete (\d+) accounts? matching", page).group(1)
    return Submit(
        url,
        {"q": "theo", "count": total},
        "/api/principal",
        {"DELETE"},
        kept=[f'value="{total}"', 'name="q" value="theo"'],
        check_url="/directory/accounts/?q=theo",
    )


def permissions(client, sandbox) -> Submit:
    url = reverse("directory:permissions", kwargs={"kind": "accounts", "name": JANE})
    return Submit(
        url,
        {"p:email-send": "off", "action": "save"},
        "/api/principal/",
        {"PATCH"},
        kept=['name="p:email-send" value="off" aria-label="email-send: off" checked'],
        check_url=url,
    )


def import_apply(client, sandbox) -> Submit:
    data = "name,description,email,password\nimported.one,Imported One,imported.one@example.org,Secret-Typed-Pass-9\n"
    preview = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", data.encode())})
    plan_id = re.search(r'name="apply" value="([^"]+)"', preview.content.decode()).group(1)
    return Submit(
        reverse("directory:import"),
        {"apply": plan_id},
        "/api/principal",
        {"POST"},
        kept=["imported.one", f'name="apply" value="{plan_id}"'],
        secrets=["Secret-Typed-Pass-9"],
        check_url="/directory/accounts/",
    )


def dkim_create(client, sandbox) -> Submit:
    url = reverse("directory:domain-dns", kwargs={"name": "example.org"})
    return Submit(
        url,
        {"algorithm": "Ed25519", "selector": "typed-selector"},
        "/api/dkim",
        {"POST"},
        kept=['value="typed-selector"'],
        check_url=url,
    )


# --- self-service ------------------------------------------------------------------------------
def app_password_create(client, sandbox) -> Submit:
    url = reverse("account:app-password-create")
    token = re.search(r'name="form_token" value="([^"]+)"', client.get(url).content.decode()).group(1)
    return Submit(
        url,
        {"label": "Phone typed", "form_token": token},
        "/api/account/auth",
        {"POST"},
        kept=['value="Phone typed"'],
        check_url=reverse("account:app-passwords"),
    )


def app_passwords_revoke_all(client, sandbox) -> Submit:
    return Submit(
        reverse("account:app-passwords-revoke-all"),
        {},
        "/api/account/auth",
        {"POST"},
        kept=["Revoke all app passwords?"],
        check_url=reverse("account:app-passwords"),
    )


def two_factor_enable(client, sandbox) -> Submit:
    url = reverse("account:two-factor-enable")
    page = client.get(url).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    code = pyotp.TOTP(secret).at(sandbox.now())
    return Submit(
        url,
        {"code": code, "password": persona("user").password},
        "/api/account/auth",
        {"POST"},
        kept=['id="totp-secret"'],  # the same setup, to try again
        secrets=[persona("user").password, f'value="{code}"'],
        check_url=reverse("account:two-factor"),
    )


def password_change(client, sandbox) -> Submit:
    new = "Wooden-Lamp-River-42"
    return Submit(
        reverse("account:password"),
        {"password": persona("user").password, "new_password": new, "confirm_password": new},
        "/api/account/auth",
        {"POST"},
        secrets=[persona("user").password, new],
        check_url=reverse("account:security"),
    )


def encryption_on(client, sandbox) -> Submit:
    key = pgp_key()
    return Submit(
        reverse("account:encryption"),
        {"method": "pGP", "algo": "Aes128", "certs": key, "password": persona("user").password},
        "/api/account/crypto",
        {"POST"},
        kept=[html.escape(key.splitlines()[0]), '<option value="Aes128" selected>'],
        secrets=[persona("user").password],
        check_url=reverse("account:encryption"),
    )


# --- queue, reports, undelete --------------------------------------------------------------------
def _queued(sandbox):
    return next(m for m in mailflow.state(sandbox).messages.values() if m.domains)


def queue_retry(client, sandbox) -> Submit:
    message = _queued(sandbox)
    domain = message.domains[0].name
    return Submit(
        f"/queue/messages/{message.id}/retry",
        {"domain": domain},
        "/api/queue/messages",
        {"PATCH"},
        kept=[f'name="domain" value="{domain}"'],
        check_url=f"/queue/messages/{message.id}/",
        idempotent=True,
    )


def queue_cancel(client, sandbox) -> Submit:
    message = _queued(sandbox)
    domain = message.domains[0].name
    return Submit(
        f"/queue/messages/{message.id}/cancel",
        {"domain": domain},
        "/api/queue/messages",
        {"DELETE"},
        kept=[f'name="domain" value="{domain}"'],
        check_url=f"/queue/messages/{message.id}/",
    )


def queue_bulk(client, sandbox) -> Submit:
    page = client.get("/queue/bulk", {"q": "gmail"}).content.decode()
    expected = re.search(r'name="expected" value="(\d+)"', page).group(1)
    return Submit(
        "/queue/bulk",
        {"q": "gmail", "action": "cancel", "expected": expected},
        "/api/queue/messages",
        {"DELETE"},
        kept=['value="gmail"', f'name="expected" value="{expected}"'],
        check_url="/queue/?q=gmail",
    )


def outgoing_report_cancel(client, sandbox) -> Submit:
    report_id = next(iter(mailflow.state(sandbox).outgoing))
    return Submit(
        f"/queue/reports/{report_id}/cancel",
        {},
        "/api/queue/reports",
        {"DELETE"},
        kept=[f'action="/queue/reports/{report_id}/cancel"'],
        check_url="/queue/reports/",
    )


def outgoing_reports_cancel_matching(client, sandbox) -> Submit:
    page = client.get("/queue/reports/cancel-matching", {"q": "gmail"}).content.decode()
    expected = re.search(r'name="expected" value="(\d+)"', page).group(1)
    return Submit(
        "/queue/reports/cancel-matching",
        {"q": "gmail", "type": "", "expected": expected},
        "/api/queue/reports",
        {"DELETE"},
        kept=['value="gmail"'],
        check_url="/queue/reports/",
    )


def incoming_report_delete(client, sandbox) -> Submit:
    page = client.get("/reports/tls/").content.decode()
    report = re.search(r'href="/reports/tls/([^/"]+)/"', page).group(1)
    return Submit(
        f"/reports/tls/{report}/delete",
        {},
        "/api/reports/tls",
        {"DELETE"},
        kept=[f'action="/reports/tls/{report}/delete"'],
        check_url="/reports/tls/",
    )


def incoming_reports_delete_matching(client, sandbox) -> Submit:
    page = client.get("/reports/dmarc/delete-matching", {"q": "example"}).content.decode()
    expected = re.search(r'name="expected" value="(\d+)"', page).group(1)
    return Submit(
        "/reports/dmarc/delete-matching",
        {"q": "example", "expected": expected},
        "/api/reports/dmarc",
        {"DELETE"},
        kept=['name="q" value="example"'],
        check_url="/reports/dmarc/",
    )


def undelete_restore(client, sandbox) -> Submit:
    page = client.get(f"/undelete/{JANE}/").content.decode()
    value = html.unescape(re.search(r'name="item" value="([^"]+)"', page).group(1))
    return Submit(
        f"/undelete/{JANE}/restore",
        {"item": value, "confirmed": "yes"},
        "/api/store/undelete",
        {"POST"},
        kept=[f'name="item" value="{html.escape(value)}"'],
        check_url=f"/undelete/{JANE}/",
    )


# --- tools ---------------------------------------------------------------------------------------
def spam_train(client, sandbox) -> Submit:
    return Submit(
        reverse("tools:spam-train"),
        {"kind": "spam", "account": JANE, "message": TYPED_MESSAGE},
        "/api/spam-filter",
        {"POST"},
        kept=[f'value="{JANE}"', "Typed before the failure"],
    )


def spam_classify(client, sandbox) -> Submit:
    data = {
        "remote_ip": "192.0.2.25",
        "ehlo_domain": "mx.typed.example",
        "sender": "typed@example.net",
        "recipients": "jane.doe@example.org",
        "message": TYPED_MESSAGE,
    }
    return Submit(
        reverse("tools:spam"),
        data,
        "/api/spam-filter/classify",
        {"POST"},
        kept=['value="mx.typed.example"', "Typed before the failure"],
        changes=False,
    )


def dmarc_check(client, sandbox) -> Submit:
    data = {"remote_ip": "198.51.100.7", "ehlo_domain": "mx.typed.example", "mail_from": "bob@typed.example"}
    return Submit(
        reverse("tools:dmarc"),
        data,
        "/api/troubleshoot/dmarc",
        {"POST"},
        kept=['value="mx.typed.example"', 'value="bob@typed.example"'],
        changes=False,
    )


def maintenance_reindex(client, sandbox) -> Submit:
    return Submit(
        reverse("tools:maintenance-action", kwargs={"action": "reindex"}),
        {"account": JANE, "confirmed": "yes"},
        "/api/store/reindex",
        {"GET"},
        kept=[f'value="{JANE}"'],
        check_url=reverse("tools:maintenance"),
    )


def account_empty_trash(client, sandbox) -> Submit:
    return Submit(
        reverse("tools:account-empty-trash", kwargs={"name": JANE}),
        {"confirmed": "yes"},
        "/api/store/purge/account",
        {"GET"},
        kept=[f"Purge the deleted mail of <bdi>{JANE}</bdi>?"],
        check_url=f"/directory/accounts/{JANE}/",
        idempotent=True,
    )


# --- settings ----------------------------------------------------------------------------------
def setting_edit(client, sandbox) -> Submit:
    url = "/settings/key/?key=server.hostname"
    page = client.get(url).content.decode()
    snapshot = re.search(r'name="snapshot" value="([^"]+)"', page).group(1)
    return Submit(
        "/settings/key/",
        {"key": "server.hostname", "value": "typed.example", "snapshot": snapshot, "action": "save"},
        "/api/settings",
        {"POST"},
        kept=['name="value" value="typed.example"'],
        check_url=url,
        idempotent=True,
    )


def setting_new(client, sandbox) -> Submit:
    return Submit(
        "/settings/key/new",
        {"key": "server.typed-name", "value": "typed value", "action": "save"},
        "/api/settings",
        {"POST"},
        kept=['name="value" value="typed value"', 'name="key" value="server.typed-name"'],
        check_url="/settings/key/?key=server.typed-name",
    )


def setting_new_secret(client, sandbox) -> Submit:
    return Submit(
        "/settings/key/new",
        {"key": "server.typed.secret", "value": "Typed-Secret-Value-7", "action": "save"},
        "/api/settings",
        {"POST"},
        kept=['name="key" value="server.typed.secret"'],
        secrets=["Typed-Secret-Value-7"],
        check_url="/settings/key/?key=server.typed.secret",
    )


def setting_delete(client, sandbox) -> Submit:
    return Submit(
        "/settings/key/delete",
        {"key": "server.socket.backlog"},
        "/api/settings",
        {"DELETE"},
        kept=['name="key" value="server.socket.backlog"'],
        check_url="/settings/?prefix=server.socket",
    )


def record_new(client, sandbox) -> Submit:
    data = {
        "group": "listeners",
        "prefix": "server.listener",
        "id": "typed-listener",
        "rows": "6",
        "new_key_0": "protocol",
        "new_value_0": "smtp",
        "new_key_1": "bind",
        "new_value_1": "[::]:2626",
        "action": "save",
    }
    return Submit(
        "/settings/record/new",
        data,
        "/api/settings",
        {"POST"},
        kept=['value="typed-listener"', 'value="[::]:2626"'],
        check_url="/settings/record/?prefix=server.listener&id=typed-listener",
    )


def record_delete(client, sandbox) -> Submit:
    return Submit(
        "/settings/record/delete",
        {"prefix": "store", "id": "s3"},
        "/api/settings",
        {"POST"},
        kept=['name="prefix" value="store"', 'name="id" value="s3"'],
        secrets=["s3-Sandbox-Secret"],
        check_url="/settings/groups/?group=stores",
    )


def settings_reload(client, sandbox) -> Submit:
    return Submit(
        "/settings/reload",
        {"mode": "apply", "back": "/settings/?prefix=server"},
        "/api/reload",
        {"GET"},
        kept=['name="back" value="/settings/?prefix=server"'],
        check_url="/settings/?prefix=server",
        idempotent=True,
    )


FORMS: dict[str, tuple[str, Callable]] = {
    "directory-create": ("admin", create_account),
    "directory-edit": ("admin", edit_account),
    "directory-password": ("admin", reset_password),
    "directory-delete": ("admin", delete_account),
    "directory-bulk-delete": ("admin", bulk_delete),
    "directory-delete-matching": ("admin", delete_matching),
    "directory-permissions": ("admin", permissions),
    "directory-import": ("admin", import_apply),
    "domain-dkim": ("admin", dkim_create),
    "account-app-password": ("user", app_password_create),
    "account-app-passwords-revoke-all": ("user", app_passwords_revoke_all),
    "account-two-factor-enable": ("user", two_factor_enable),
    "account-password": ("user", password_change),
    "account-encryption": ("user", encryption_on),
    "queue-retry": ("admin", queue_retry),
    "queue-cancel": ("admin", queue_cancel),
    "queue-bulk": ("admin", queue_bulk),
    "queue-report-cancel": ("admin", outgoing_report_cancel),
    "queue-reports-cancel-matching": ("admin", outgoing_reports_cancel_matching),
    "report-delete": ("admin", incoming_report_delete),
    "reports-delete-matching": ("admin", incoming_reports_delete_matching),
    "undelete-restore": ("admin", undelete_restore),
    "tools-spam-train": ("admin", spam_train),
    "tools-spam-classify": ("admin", spam_classify),
    "tools-dmarc": ("admin", dmarc_check),
    "tools-maintenance": ("admin", maintenance_reindex),
    "tools-account-action": ("admin", account_empty_trash),
    "settings-edit": ("admin", setting_edit),
    "settings-new": ("admin", setting_new),
    "settings-new-secret": ("admin", setting_new_secret),
    "settings-delete": ("admin", setting_delete),
    "settings-record-new": ("admin", record_new),
    "settings-record-delete": ("admin", record_delete),
    "settings-reload": ("admin", settings_reload),
}


def inject(sandbox, settings, kind: str, submit: Submit) -> None:
    scope: dict = {"prefix": submit.prefix, "methods": submit.methods}
    if sandbox.generation == "jmap":  # break the write's JMAP request, not the reads before it
        scope = {"prefix": "/jmap/", "methods": {"POST"}, "call": submit.call}
    if kind == "timeout":
        settings.STALWART_TIMEOUT = 0.3
        sandbox.faults.latency(3000, **scope)
    elif kind == "5xx":
        sandbox.faults.server_error(500, **scope)
    elif kind == "reset":
        sandbox.faults.reset_connection(**scope)
    else:
        sandbox.faults.malformed_json(**scope)


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("form", FORMS)
def test_failed_submit_keeps_the_form(signed_in, sandbox, settings, form, kind):
    who, prepare = FORMS[form]
    client = signed_in(who)
    check_failed_submit(client, sandbox, settings, prepare(client, sandbox), kind)


def check_failed_submit(client, sandbox, settings, submit: Submit, kind: str) -> None:
    """Submit with the write broken by `kind`; the answer keeps the form (shared with tests/jmap)."""
    inject(sandbox, settings, kind, submit)
    sandbox.requests.clear()
    response = client.post(submit.url, submit.data)
    page = response.content.decode()
    assert response.status_code == FAULTS[kind], page[:1000]
    if sandbox.generation == "jmap":
        writes = [r for r in sandbox.requests if r.faults]
    else:
        writes = [r for r in sandbox.requests if r.method in submit.methods and r.path.startswith(submit.prefix)]
    assert writes, "the write call was never made"
    failure = re.search(r'<div class="alert alert-error submit-failure".*?</div>', page, re.S)
    assert failure, page[:3000]
    text = html.unescape(failure.group(0))
    if not submit.changes:
        assert 'data-applied="no"' in text and "it changes nothing" in text
    else:
        assert 'data-applied="maybe"' in text
        if kind == "timeout":
            assert "did not answer in time, so the change may have been applied" in text
        else:
            assert "may or may not have been applied" in text
        if submit.idempotent:
            assert "submitting the form below again is safe" in text
        else:
            assert "Check the result before submitting again" in text
    if submit.check_url:
        assert f'href="{submit.check_url}"' in text
    for value in submit.kept:
        assert value in page, value
    for secret in submit.secrets:
        assert secret not in page, secret
    assert "<form" in page  # the form itself, not the error page


def test_connection_refused_says_nothing_was_changed(signed_in, sandbox, settings, closed_port):
    client = signed_in("user")
    form = client.get(reverse("account:app-password-create")).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', form).group(1)
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    response = client.post(reverse("account:app-password-create"), {"label": "Phone typed", "form_token": token})
    page = html.unescape(response.content.decode())
    assert response.status_code == 502
    assert 'data-applied="no"' in page
    assert "Nothing was changed" in page and "never sent" in page
    assert 'value="Phone typed"' in page


@pytest.mark.parametrize(
    ("exc", "applied"),
    [
        (errors.StalwartUnavailable("x", sent=False), False),
        (errors.StalwartTimeout("x", sent=False), False),
        (errors.StalwartTimeout("x"), True),
        (errors.StalwartUnavailable("x"), True),
        (errors.ServerError("x", status=500), True),
        (errors.StalwartBadResponse("x"), True),
        (errors.RateLimited("x", status=429), False),
    ],
)
def test_what_each_failure_means_for_the_change(exc, applied):
    assert responses.change_not_applied(exc) is not applied
