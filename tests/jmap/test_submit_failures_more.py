"""More 0.16 forms whose change fails in Stalwart: the same check as `test_submit_failures`
(`check_failed_submit`: the failure's status kept, the form shown again with what was chosen,
"may have been applied", a link to check, nothing claiming success) for the task forms of the
maintenance page (run a task again, the actions that queue a task or run an action), cancelling
the outgoing reports a search matches, and rescheduling one outgoing report."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests import test_submit_failures as rest
from tests.jmap.test_submit_failures import JANE, _with, task_form
from tests.test_submit_failures import FAULTS, Submit, check_failed_submit

#: What a success would say (the messages of the views): none of it may appear after a failed submit.
SUCCESS = (
    "The task runs again now.",
    "Stalwart runs “",
    "Stalwart is recounting",
    "The caches were cleared.",
    "Stalwart is rebuilding",
    "Stalwart is updating",
    "Stalwart is resetting",
    "will be sent",
    "will not be sent",
    "Cancelling ",
    "toast-success",
)


def task_rerun(client, sandbox) -> Submit:
    return task_form(client, sandbox, "rerun")


def _maintenance(action: str, data: dict, kept: list[str], call: str = "x:Task/set") -> Callable:
    def prepare(client, sandbox) -> Submit:
        return Submit(
            reverse("tools:maintenance-action", kwargs={"action": action}),
            {**data, "confirmed": "yes"},
            "",
            set(),
            kept=kept,
            check_url=reverse("tools:maintenance"),
            call=call,
        )

    return prepare


def _selected(value: str) -> str:
    return f'<option value="{value}" selected>'


def reports_cancel_matching(client, sandbox) -> Submit:
    page = client.get("/queue/reports/cancel-matching", {"q": "gmail.com"}).content.decode()
    expected = re.search(r'name="expected" value="(\d+)"', page).group(1)
    assert int(expected) > 0
    return Submit(
        "/queue/reports/cancel-matching",
        {"q": "gmail.com", "type": "", "expected": expected},
        "",
        set(),
        kept=['value="gmail.com"'],
        check_url="/queue/reports/",
        call="x:DmarcInternalReport/set",
    )


def report_reschedule(client, sandbox) -> Submit:
    page = client.get("/queue/reports/", {"type": "dmarc"}).content.decode()
    key = re.search(r'href="/queue/reports/(d-[a-z0-9]+)/"', page).group(1)
    when = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    return Submit(
        reverse("queue:report-reschedule", kwargs={"report_id": key}),
        {"when": "at", "deliver_at": when},
        "",
        set(),
        kept=[f'value="{when}"', 'value="at" id="id_when_1" required checked'],
        check_url=f"/queue/reports/{key}/",
        idempotent=True,
        call="x:DmarcInternalReport/set",
    )


STORE_TASK = _maintenance("store-task", {"task": "resetBlobQuotas"}, [_selected("resetBlobQuotas")])
SPAM_CLASSIFIER = _maintenance("spam-classifier", {"task": "retrain"}, [_selected("retrain")])
RECOUNT_QUOTA = _maintenance("recalculate-quota", {"account": JANE}, [f'value="{JANE}"'])
DOMAIN_TASK = _maintenance(
    "domain-task",
    {"domain": "example.org", "task": "DnsManagement"},
    ['value="example.org"', _selected("DnsManagement")],
)
CLEAR_CACHES = _maintenance(
    "invalidate-caches",
    {"action": "InvalidateNegativeCaches"},
    [_selected("InvalidateNegativeCaches")],
    call="x:Action/set",
)
RESET_UIDS = _maintenance("reset-uids", {"account": JANE}, [f'value="{JANE}"'])
#: 0.16 queues the rule update as a task: a failure is the call's, not a failed download.
SPAM_RULES = _maintenance("update-spam-rules", {}, [])  # no options on 0.16

FORMS: dict[str, tuple[str, Callable]] = {
    "task-rerun": ("admin", task_rerun),
    "maintenance-store-task": ("admin", STORE_TASK),
    "maintenance-spam-classifier": ("admin", SPAM_CLASSIFIER),
    "maintenance-recalculate-quota": ("admin", RECOUNT_QUOTA),
    "maintenance-domain-task": ("admin", DOMAIN_TASK),
    "maintenance-invalidate-caches": ("admin", CLEAR_CACHES),
    "maintenance-reindex": ("admin", _with(rest.maintenance_reindex, "x:Task/set")),
    "maintenance-reset-uids": ("admin", RESET_UIDS),
    "maintenance-update-spam-rules": ("admin", SPAM_RULES),
    "queue-reports-cancel-matching": ("admin", reports_cancel_matching),
    "queue-report-reschedule": ("admin", report_reschedule),
}


@pytest.mark.parametrize("kind", FAULTS)
@pytest.mark.parametrize("form", FORMS)
def test_failed_submit_keeps_the_form_on_016(signed_in, sandbox, settings, form, kind):
    who, prepare = FORMS[form]
    client = signed_in(who)
    submit = prepare(client, sandbox)
    check_failed_submit(client, sandbox, settings, submit, kind)


@pytest.mark.parametrize("form", FORMS)
def test_nothing_claims_success(signed_in, sandbox, settings, form):
    who, prepare = FORMS[form]
    client = signed_in(who)
    submit = prepare(client, sandbox)
    rest.inject(sandbox, settings, "5xx", submit)
    response = client.post(submit.url, submit.data)
    assert response.status_code == 502
    page = response.content.decode()
    failure = re.search(r'<div class="alert alert-error submit-failure".*?</div>', page, re.S).group(0)
    outside = page.replace(failure, "")
    assert not [text for text in SUCCESS if text in outside], form
    # and no success waits for the next page either
    follow = client.get(submit.check_url).content.decode()
    assert not [text for text in SUCCESS if text in follow], form


@pytest.mark.parametrize("form", FORMS)
def test_without_a_fault_the_same_submit_says_it_worked(signed_in, sandbox, form):
    """The control of `test_nothing_claims_success`: its words are what these forms say on success."""
    who, prepare = FORMS[form]
    client = signed_in(who)
    submit = prepare(client, sandbox)
    response = client.post(submit.url, submit.data, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "toast-success" in page and [text for text in SUCCESS[:-1] if text in page], form
