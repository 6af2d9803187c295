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

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal import responses
from portal.stalwart import errors
from tests.conftest import persona

JANE = persona("user").name

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
    total = re.search(r"Delete (\d+) accounts", page).group(1)
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


FORMS: dict[str, tuple[str, Callable]] = {
    "directory-create": ("admin", create_account),
    "directory-edit": ("admin", edit_account),
    "directory-password": ("admin", reset_password),
    "directory-delete": ("admin", delete_account),
    "directory-bulk-delete": ("admin", bulk_delete),
    "directory-delete-matching": ("admin", delete_matching),
    "directory-permissions": ("admin", permissions),
    "directory-import": ("admin", import_apply),
}


def inject(sandbox, settings, kind: str, submit: Submit) -> None:
    scope = {"prefix": submit.prefix, "methods": submit.methods}
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
    submit = prepare(client, sandbox)
    inject(sandbox, settings, kind, submit)
    sandbox.requests.clear()
    response = client.post(submit.url, submit.data)
    page = response.content.decode()
    assert response.status_code == FAULTS[kind], page[:1000]
    writes = [r for r in sandbox.requests if r.method in submit.methods and r.path.startswith(submit.prefix)]
    assert writes, "the write call was never made"
    failure = re.search(r'<div class="alert alert-error submit-failure".*?</div>', page, re.S)
    assert failure, page[:3000]
    text = html.unescape(failure.group(0))
    assert 'data-applied="maybe"' in text
    if kind == "timeout":
        assert "did not answer in time, so the change may have been applied" in text
    else:
        assert "may or may not have been applied" in text
    if submit.idempotent:
        assert "submitting the form below again is safe" in text
    else:
        assert "Check the result before submitting again" in text
    assert f'href="{submit.check_url}"' in failure.group(0).replace("&amp;", "&")
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
