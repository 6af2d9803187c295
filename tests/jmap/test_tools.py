"""Troubleshooting (delivery test, DMARC check) and the spam-filter tools on Stalwart 0.16:
the same pages, served from /api/token/delivery + /api/live/delivery/…, the x:Action
TroubleshootDmarc and ClassifySpam, and uploads turned into x:SpamTrainingSample."""

from __future__ import annotations

import inspect
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.stalwart import backend
from portal.stalwart.jmap.backend import JmapBackend
from portal.stalwart.jmap.tools import JmapSpamFilter, JmapTroubleshoot
from portal.stalwart.spamfilter import SpamFilterApi
from portal.stalwart.troubleshoot import TroubleshootApi
from sandbox.jmap.ops import ops_state
from sandbox.spamfilter import GTUBE
from sandbox.toolstate import tools_state
from tests.jmap.test_backend import _methods
from tests.sandbox.test_tools import MESSAGE
from tests.tools.test_delivery import body
from tests.tools.test_pages import CLASSIFY_FORM, DMARC_FORM

pytestmark = pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume")

JANE = "jane.doe@example.org"


@pytest.fixture
def fast(sandbox):
    state = tools_state(sandbox)
    state.frame_delay = (0.0, 0.001)
    state.time_scale = 0.001
    return sandbox


def paths(sandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests]


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


# --- delivery ---------------------------------------------------------------------------------
def test_delivery_page_streams_the_whole_check_from_the_live_endpoint(signed_in, fast):
    client = signed_in("admin")
    response = client.get(reverse("tools:delivery-run") + "?target=jane%40example.org")
    assert response.status_code == 200 and response.streaming
    page = body(response)
    assert "Found 2 mail servers" in page and "Result: OK - jane@example.org accepts mail" in page
    # 0.16's camelCase remoteIps/remoteIp reach the steps like the REST keys
    assert re.search(r"has \d+ address", page) and re.search(r"Connecting to \d+\.\d+\.\d+\.\d+ on port 25", page)
    assert paths(fast)[0] == "GET /api/token/delivery"
    assert paths(fast)[1] == "GET /api/live/delivery/jane%40example%2Eorg"
    live = fast.requests[1]
    assert live.auth_scheme is None and "token=" in live.query  # the token, never the person's credentials
    token = re.search(r"token=([^&]+)", live.query).group(1)
    assert token not in page


def test_delivery_event_stream_with_the_persons_credentials(signed_in, fast):
    client = signed_in("helpdesk")
    stream = body(client.get(reverse("tools:delivery-events") + "?target=example.org"))
    events = re.findall(r"^event: (\w+)$", stream, re.M)
    assert events[0] == "status" and events[-3:] == ["verdict", "status", "done"] and events.count("step") > 15
    assert "example.org can receive mail" in stream
    assert [(r.path, r.auth_scheme) for r in fast.requests] == [("/api/live/delivery/example%2Eorg", "Bearer")]


def test_delivery_refused_before_any_upstream_call(signed_in, sandbox):
    client = signed_in("user")
    for name in ("tools:delivery", "tools:delivery-run", "tools:delivery-events"):
        assert client.get(reverse(name) + "?target=example.org").status_code == 403
    assert sandbox.requests == []


def test_delivery_token_refused_upstream_gives_the_error_page(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.server_error(503, prefix="/api/token/")
    response = client.get(reverse("tools:delivery-run") + "?target=example.org")
    assert response.status_code in (502, 503) and not response.streaming


# --- DMARC ------------------------------------------------------------------------------------
def test_dmarc_check_through_the_action(signed_in, sandbox):
    client = signed_in("helpdesk")
    response = client.post(reverse("tools:dmarc"), DMARC_FORM)
    assert response.status_code == 200, response.content[-2000:]
    content = response.content.decode()
    assert "The message fails DMARC" in content and "quarantine" in content
    assert 'badge badge-danger">Fail' in content and "Reverse DNS" in content
    assert paths(sandbox) == ["POST /jmap/"]


def test_dmarc_with_a_signed_message(signed_in, sandbox):
    client = signed_in("admin")
    eml = SimpleUploadedFile(
        "m.eml",
        b"DKIM-Signature: v=1; d=example.net; s=s1; bh=x; b=y\r\nFrom: bob@example.net\r\nSubject: t\r\n\r\nhi\r\n",
    )
    data = {**DMARC_FORM, "mail_from": "bob@example.net", "eml": eml}
    response = client.post(reverse("tools:dmarc"), data, headers={"HX-Request": "true"})
    content = response.content.decode()
    assert response.status_code == 200 and "<html" not in content and "The message passes DMARC" in content


def test_dmarc_unreadable_message_and_upstream_failure(signed_in, sandbox):
    client = signed_in("admin")
    garbage = client.post(reverse("tools:dmarc"), {**DMARC_FORM, "message": "no headers at all"})
    assert garbage.status_code == 422 and "Stalwart could not read this message" in garbage.content.decode()
    sandbox.faults.server_error(503, prefix="/jmap/")
    failed = client.post(reverse("tools:dmarc"), DMARC_FORM)
    assert failed.status_code == 502 and 'value="198.51.100.7"' in failed.content.decode()


def test_dmarc_refused_before_any_upstream_call(signed_in, sandbox):
    client = signed_in("user")
    assert client.post(reverse("tools:dmarc"), DMARC_FORM).status_code == 403
    assert sandbox.requests == []


# --- spam filter ------------------------------------------------------------------------------
def test_classify_through_the_action(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": "Subject: WINNER WINNER\r\n\r\nlottery"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Spam, with a score of" in content and "SPAM_KEYWORDS" in content
    assert paths(sandbox) == ["POST /jmap/"]
    reject = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": f"Subject: test\r\n\r\n{GTUBE}"})
    assert "Stalwart would reject this message" in reject.content.decode()


def test_classify_needs_a_sender_on_0_16(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "sender": ""})
    assert response.status_code == 422 and "This field is required." in response.content.decode()
    assert "only messages with a sender address" in response.content.decode()
    assert sandbox.requests == []
    garbage = client.post(reverse("tools:spam"), {**CLASSIFY_FORM, "message": "garbage"})
    assert garbage.status_code == 422 and "Failed to parse message." in garbage.content.decode()


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
    missing = client.post(reverse("tools:spam-train"), {"kind": "ham", "account": "nobody@example.org",
                                                       "message": MESSAGE})
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


def test_spam_pages_refused_before_any_upstream_call(signed_in, sandbox):
    client = signed_in("helpdesk")  # neither spam-filter-train nor spam-filter-test on 0.16
    for name in ("tools:spam", "tools:spam-train"):
        assert client.get(reverse(name)).status_code == 403
        assert client.post(reverse(name), {**CLASSIFY_FORM, "kind": "spam"}).status_code == 403
    assert sandbox.requests == []
