"""The tools on Stalwart 0.16 only: both areas behind one protocol, the sender classify needs,
and uploads turned into x:SpamTrainingSample. What behaves alike on both generations (the
delivery check, the DMARC check, classifying) is tested once, against each, in tests/tools/."""

from __future__ import annotations

import inspect

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.stalwart import backend
from portal.stalwart.jmap.backend import JmapBackend
from portal.stalwart.jmap.tools import JmapSpamFilter, JmapTroubleshoot
from portal.stalwart.spamfilter import SpamFilterApi
from portal.stalwart.troubleshoot import TroubleshootApi
from sandbox.jmap.ops import ops_state
from tests.jmap.test_backend import _methods
from tests.sandbox.test_tools import MESSAGE
from tests.tools.test_pages import CLASSIFY_FORM

JANE = "jane.doe@example.org"


def account_id(sandbox, address: str) -> int:
    return next(pid for pid, p in sandbox.principals.items() if p.emails and p.emails[0] == address)


@pytest.mark.parametrize(
    ("protocol", "areas"),
    [
        (backend.TroubleshootArea, (TroubleshootApi, JmapTroubleshoot)),
        (backend.SpamFilterArea, (SpamFilterApi, JmapSpamFilter)),
    ],
)
def test_tools_areas_share_one_protocol(protocol, areas):
    for area in areas:
        for name in _methods(protocol):
            wanted = inspect.signature(getattr(protocol, name)).parameters
            offered = inspect.signature(getattr(area, name)).parameters
            assert list(wanted) == [p for p in offered if p in wanted], (area, name)
            is_async = inspect.iscoroutinefunction(getattr(protocol, name))
            assert inspect.iscoroutinefunction(getattr(area, name)) == is_async, (area, name)
    jmap = JmapBackend("token")
    assert isinstance(jmap.troubleshoot, protocol) or isinstance(jmap.spam_filter, protocol)


# --- spam filter ------------------------------------------------------------------------------
def test_classify_needs_a_sender_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "sender": ""})
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    assert "only messages with a sender address" in response.content.decode()
    assert sandbox.requests == []


def test_train_stores_samples_globally_and_for_an_account(signed_in, sandbox):
    client = signed_in("admin")
    page = client.get(reverse("tools:spam-train")).content.decode()
    assert "no trainer to start or stop" in page and "Start training" not in page
    response = client.post(reverse("tools:spam-train"), {"kind": "spam", "message": MESSAGE})
    assert response.status_code == 302, response.content[-2000:]
    assert "Stored as a server-wide spam sample." in client.get(response.url).content.decode()
    eml = SimpleUploadedFile("m.eml", MESSAGE.encode())
    response = client.post(reverse("tools:spam-train"), {"kind": "ham", "account": JANE, "eml": eml})
    assert response.status_code == 302
    samples = sorted(ops_state(sandbox).samples.values(), key=lambda s: s["isSpam"])
    assert [(s["isSpam"], s["accountId"]) for s in samples] == [(False, account_id(sandbox, JANE)), (True, None)]
    assert any(r.path.startswith("/jmap/upload/") for r in sandbox.requests)


def test_train_errors(signed_in, sandbox):
    client = signed_in("admin")
    missing = client.post(
        reverse("tools:spam-train"), {"kind": "ham", "account": "nobody@example.org", "message": MESSAGE}
    )
    assert missing.status_code == 422 and "nobody@example.org" in missing.content.decode()
    bad = client.post(reverse("tools:spam-train"), {"kind": "ham", "message": "not a message"})
    assert bad.status_code == 422 and "Stalwart could not read this message" in bad.content.decode()
    assert ops_state(sandbox).samples == {}


def test_another_account_needs_impersonate(signed_in, sandbox):
    client = signed_in("tenant_admin")  # may train, holds no impersonate
    response = client.post(reverse("tools:spam-train"), {"kind": "spam", "account": JANE, "message": MESSAGE})
    assert response.status_code == 422 and "needs the impersonate permission" in response.content.decode()
    assert sandbox.requests == []
    own = client.post(reverse("tools:spam-train"), {"kind": "spam", "message": MESSAGE})
    assert own.status_code == 302
    (sample,) = ops_state(sandbox).samples.values()
    assert sample["isSpam"] is True and sample["accountId"] is not None  # filed under the sender's own account
    assert "Stored as a spam sample for the filter of" in client.get(own.url).content.decode()
