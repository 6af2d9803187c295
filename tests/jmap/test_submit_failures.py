"""A submit whose change fails in Stalwart 0.16 shows the form again, with what was typed.

The same check as `tests/test_submit_failures.py` (502/504 kept, the typed values shown, the
secrets not, "may have been applied", a link to check), on a 0.16 sandbox: the forms both
generations have, with their 0.16 names and ids, and the forms only 0.16 has. On 0.16 every
call is a POST to /jmap/, so the fault breaks only the request calling the write's JMAP method
(`sandbox.faults`, ``call=``), never the reads before it.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable

import pytest
from django.urls import reverse

from sandbox.jmap.ops import new_task, ops_state
from tests import test_submit_failures as rest
from tests.test_submit_failures import FAULTS, Submit, check_failed_submit, form_fields

JANE = "jane.doe@example.org"


def _with(prepare: Callable, call: str, **changes) -> Callable:
    """A <= 0.15 form's submission, with the JMAP method that writes it on 0.16."""

    def prepared(client, sandbox) -> Submit:
        return dataclasses.replace(prepare(client, sandbox), call=call, **changes)

    return prepared


def outgoing_report_cancel(client, sandbox) -> Submit:
    page = client.get("/queue/reports/").content.decode()
    url = re.search(r'href="(/queue/reports/d-[^/"]+/cancel)"', page).group(1)
    return Submit(
        url, {}, "", set(), kept=[f'action="{url}"'], check_url="/queue/reports/", call="x:DmarcInternalReport/set"
    )


def undelete_restore(client, sandbox) -> Submit:
    page = client.get(f"/undelete/{JANE}/").content.decode()
    value = html.unescape(re.search(r'name="item" value="([^"]+)"', page).group(1))
    return Submit(
        f"/undelete/{JANE}/restore",
        {"item": value, "confirmed": "yes"},
        "",
        set(),
        kept=[f'name="item" value="{html.escape(value)}"'],
        check_url=f"/undelete/{JANE}/",
        call="x:ArchivedItem/set",
    )


def settings_save(client, sandbox) -> Submit:
    url = "/settings/objects/Security/"
    data = form_fields(client.get(url).content.decode())
    data["scanBanPaths"] = [data["scanBanPaths"][0] + "\n*typed-path*"]
    preview = client.post(url, data | {"step": "preview"})
    assert preview.status_code == 200, preview.content.decode()[:2000]
    confirm = form_fields(preview.content.decode()) | {"step": "save"}
    return Submit(url, confirm, "", set(), kept=["*typed-path*"], check_url=url, idempotent=True, call="x:Security/set")


def blocked_ip_add(client, sandbox) -> Submit:
    return Submit(
        reverse("tools:blocked-ips"),
        {"address": "192.0.2.99", "reason": "manual", "expires": ""},
        "",
        set(),
        kept=['value="192.0.2.99"'],
        check_url=reverse("tools:blocked-ips"),
        idempotent=True,
        call="x:BlockedIp/set",
    )


def blocked_ip_unblock(client, sandbox) -> Submit:
    page = client.get(reverse("tools:blocked-ips")).content.decode()
    entry, address = re.search(
        r'name="entry" value="([^"]+)"[^>]*>\s*<input[^>]*name="address" value="([^"]+)"', page
    ).groups()
    return Submit(
        reverse("tools:blocked-ip-unblock"),
        {"entry": entry, "address": address},
        "",
        set(),
        check_url=reverse("tools:blocked-ips"),
        idempotent=True,
        call="x:BlockedIp/set",
    )


def task_form(client, sandbox, action: str) -> Submit:
    """The task queue's `action` ("cancel", "rerun") form of a failing task."""
    ops_state(sandbox).failing["IndexDocument"] = "disk full"
    new_task(
        sandbox,
        {"@type": "IndexDocument", "accountId": "b", "documentId": "c", "documentType": "email"},
        due=sandbox.now() + 3600,
    )
    page = client.get(reverse("tools:tasks")).content.decode()
    form = re.search(rf'<form[^>]*action="/tools/maintenance/tasks/{action}".*?</form>', page, re.S).group(0)
    return Submit(
        reverse(f"tools:task-{action}"),
        form_fields(form),
        "",
        set(),
        check_url=reverse("tools:tasks"),
        idempotent=True,
        call="x:Task/set",
    )


def task_cancel(client, sandbox) -> Submit:
    return task_form(client, sandbox, "cancel")


def app_password_edit(client, sandbox) -> Submit:
    create = client.get(reverse("account:app-password-create")).content.decode()
    token = re.search(r'name="form_token" value="([^"]+)"', create).group(1)
    client.post(reverse("account:app-password-create"), {"label": "Phone", "form_token": token})
    page = client.get(reverse("account:app-passwords")).content.decode()
    url = re.search(r'href="(/account/security/app-passwords/[^/"]+/edit)"', page).group(1)
    data = form_fields(client.get(url).content.decode()) | {"label": "Phone typed"}
    return Submit(
        url,
        data,
        "",
        set(),
        kept=['value="Phone typed"'],
        check_url=reverse("account:app-passwords"),
        call="x:AppPassword/set",
    )


FORMS: dict[str, tuple[str, Callable]] = {
    # both generations
    "queue-retry": ("admin", _with(rest.queue_retry, "x:QueuedMessage/set")),
    "queue-cancel": ("admin", _with(rest.queue_cancel, "x:QueuedMessage/set")),
    "queue-bulk": ("admin", _with(rest.queue_bulk, "x:QueuedMessage/set")),
    "queue-report-cancel": ("admin", outgoing_report_cancel),
    "report-delete": ("admin", _with(rest.incoming_report_delete, "x:TlsExternalReport/set")),
    "reports-delete-matching": ("admin", _with(rest.incoming_reports_delete_matching, "x:DmarcExternalReport/set")),
    "undelete-restore": ("admin", undelete_restore),
    "account-app-password": ("user", _with(rest.app_password_create, "x:AppPassword/set")),
    "account-encryption": ("user", _with(rest.encryption_on, "x:AccountSettings/set")),
    # only 0.16
    "settings-save": ("admin", settings_save),
    "blocked-ip-add": ("admin", blocked_ip_add),
    "blocked-ip-unblock": ("admin", blocked_ip_unblock),
    "task-cancel": ("admin", task_cancel),
    "app-password-edit": ("user", app_password_edit),
}


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("form", FORMS)
def test_failed_submit_keeps_the_form_on_016(signed_in, sandbox, settings, form, kind):
    who, prepare = FORMS[form]
    client = signed_in(who)
    check_failed_submit(client, sandbox, settings, prepare(client, sandbox), kind)


def test_a_fault_can_break_one_jmap_method_only(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.server_error(500, prefix="/jmap/", call="x:BlockedIp/set")
    assert client.get(reverse("tools:blocked-ips")).status_code == 200  # x:BlockedIp/query and /get pass
    assert not any(r.faults for r in sandbox.requests)
