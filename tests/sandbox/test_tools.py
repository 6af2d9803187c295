"""Troubleshooting, spam filter and maintenance endpoints of the sandbox (spec §10, §12-§14)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import httpx
import pytest

from portal.stalwart.sse import parse as parse_sse
from sandbox.maintenance import LATEST_SPAM_RULES
from sandbox.seed import PERSONAS
from sandbox.spamfilter import GTUBE
from sandbox.toolstate import tools_state
from sandbox.troubleshoot import delivery_stages

FORBIDDEN = {
    "type": "about:blank",
    "status": 403,
    "title": "Forbidden",
    "detail": "You do not have enough permissions to access this resource.",
}
NOT_FOUND = {
    "type": "about:blank",
    "status": 404,
    "title": "Not Found",
    "detail": "The requested resource does not exist on this server.",
}
UNAUTHORIZED_DETAIL = "You have to authenticate first."
JANE = PERSONAS["user"]["login"]
MESSAGE = (
    "From: Alice <alice@example.com>\r\nTo: jane@example.org\r\nSubject: Lunch\r\n"
    "Date: Mon, 3 Mar 2025 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nSee you at noon.\r\n"
)


@pytest.fixture
def fast(ee):
    tools_state(ee.sb).frame_delay = (0.0, 0.002)
    tools_state(ee.sb).time_scale = 0.01
    return ee


def token(env, auth="admin") -> str:
    return env.data("GET", "/api/troubleshoot/token", auth=auth)


def stages(response: httpx.Response) -> list[dict]:
    events = parse_sse(response.text)
    assert all(e.event == "event" for e in events)
    result = []
    for event in events:
        data = json.loads(event.data)
        assert isinstance(data, list) and len(data) == 1
        result.append(data[0])
    return result


# --------------------------------------------------------------------------- token and auth


def test_token_is_base64_and_needs_troubleshoot(ee):
    value = token(ee)
    assert len(value) == 68 and value.endswith("=")
    assert ee.get("/api/troubleshoot/token", auth="user").json() == FORBIDDEN
    info = ee.sb.tokens[value]
    assert info.grant_type == "troubleshoot" and info.client_id == "web" and info.expiry - info.issued_at == 60


def test_delivery_with_query_token_and_no_header(fast):
    value = token(fast, auth="helpdesk")
    response = fast.client.get(f"/api/troubleshoot/delivery/Jane%40Example.ORG?token={quote(value, safe='')}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-store"
    got = stages(response)
    assert got[0] == {"type": "mxLookupStart", "domain": "example.org"}
    assert got[-1] == {"type": "completed"}
    assert {"type": "rcptToStart"} in got and any(s["type"] == "rcptToSuccess" for s in got)
    record = tools_state(fast.sb).streams[-1]
    assert record.target == "jane@example.org" and record.completed and record.closed


def test_query_token_failures(fast):
    # unknown, expired, or of another grant type: 401 (checked when the stream opens)
    assert fast.client.get("/api/troubleshoot/delivery/example.org?token=nope").status_code == 401
    value = token(fast)
    fast.sb.advance(61)
    assert fast.client.get(f"/api/troubleshoot/delivery/example.org?token={quote(value, safe='')}").status_code == 401
    access = fast.bearer_for("admin")
    assert fast.client.get(f"/api/troubleshoot/delivery/example.org?token={quote(access, safe='')}").status_code == 401
    # the token only works on /api/troubleshoot, and only grants troubleshoot
    fresh = token(fast)
    assert fast.client.get(f"/api/principal?token={quote(fresh, safe='')}").status_code == 401
    r = fast.client.post(f"/api/troubleshoot/dmarc?token={quote(fresh, safe='')}", json={"remoteIp": "192.0.2.1"})
    assert r.status_code == 400  # the body is not handed over on this path
    # without a token: plain 401
    assert fast.client.get("/api/troubleshoot/delivery/example.org").json()["detail"] == UNAUTHORIZED_DETAIL


def test_permission_before_route(ee):
    assert ee.get("/api/troubleshoot/nothing", auth="user").json() == FORBIDDEN
    assert ee.get("/api/troubleshoot/nothing").json() == NOT_FOUND
    assert ee.get("/api/troubleshoot/delivery").json() == NOT_FOUND
    assert ee.post("/api/troubleshoot/token").json() == NOT_FOUND


# --------------------------------------------------------------------------- delivery scenarios


@pytest.mark.parametrize(
    ("target", "last_types"),
    [
        ("example.org", ["ehloSuccess", "quitStart", "quitCompleted"]),
        ("nomx.example.net", ["mxLookupStart", "mxLookupError"]),
        ("nullmx.example.net", ["mxLookupStart", "mxLookupError"]),
        ("noconnect.example.net", ["connectionStart", "connectionError"]),
        ("badtls.example.net", ["startTlsStart", "startTlsError"]),
        ("stsmismatch.example.net", ["deliveryAttemptStart", "mtaStsVerifyError"]),
        ("someone@reject.example.net", ["quitStart", "quitCompleted"]),
    ],
)
def test_scenarios_end_with_completed(fast, target, last_types):
    response = fast.get(f"/api/troubleshoot/delivery/{quote(target)}")
    got = stages(response)
    assert got[-1] == {"type": "completed"}
    assert [s["type"] for s in got[-1 - len(last_types) : -1]] == last_types
    assert got == [*delivery_stages(target), {"type": "completed"}]  # deterministic


def test_stage_shapes(fast):
    got = {s["type"]: s for s in stages(fast.get("/api/troubleshoot/delivery/jane%40example.org"))}
    assert got["mxLookupSuccess"]["mxs"] == [
        {"exchanges": ["mx1.example.org"], "preference": 10},
        {"exchanges": ["mx2.example.org"], "preference": 20},
    ]
    policy = got["mtaStsFetchSuccess"]["policy"]
    assert (
        policy["mode"] == "enforce" and policy["mx"] == [{"startsWith": "example.org"}] and policy["max_age"] == 604800
    )
    assert got["tlsRptLookupSuccess"]["rua"] == [{"type": "mail", "email": "tls-reports@example.org"}]
    record = got["tlsaLookupSuccess"]["record"]
    assert record["has_end_entities"] is True and len(record["entries"][0]["data"]) == 32
    assert got["ipLookupSuccess"]["remote_ips"][0] == "192.0.2.10"
    assert got["connectionStart"] == {"type": "connectionStart", "remote_ip": "192.0.2.10"}
    assert all(isinstance(s.get("elapsed", 0), int) for s in got.values())
    reject = stages(fast.get("/api/troubleshoot/delivery/bob%40reject.example.net"))
    errors = [s for s in reject if s["type"] == "rcptToError"]
    assert len(errors) == 2 and "550 5.1.1" in errors[0]["reason"]
    # a domain target is never asked MAIL FROM / RCPT TO
    assert not any(
        s["type"].startswith(("mailFrom", "rcptTo"))
        for s in stages(fast.get("/api/troubleshoot/delivery/reject.example.net"))
    )


def test_timeout_parameter_is_honoured(fast):
    got = stages(fast.get("/api/troubleshoot/delivery/slow.example.net?timeout=7"))
    error = next(s for s in got if s["type"] == "connectionError")
    assert error == {"type": "connectionError", "elapsed": 7000, "reason": "Connection timed out"}
    default = stages(fast.get("/api/troubleshoot/delivery/slow.example.net?timeout=0"))
    assert next(s for s in default if s["type"] == "connectionError")["elapsed"] == 30000


def test_frames_are_sent_one_by_one(ee):
    tools_state(ee.sb).frame_delay = (0.2, 0.2)
    chunks = []
    with ee.client.stream("GET", "/api/troubleshoot/delivery/nomx.example.net", headers=ee.admin) as response:
        for chunk in response.iter_raw():
            chunks.append(chunk)
            record = tools_state(ee.sb).streams[-1]
            assert record.frames_sent <= len(chunks)  # nothing is sent ahead of time
    assert [chunk.count(b"event: event") for chunk in chunks] == [1, 1, 1]  # one chunk per frame


def test_stall_keeps_the_stream_open_until_the_client_leaves(ee):
    tools_state(ee.sb).frame_delay = (0.0, 0.0)
    with ee.client.stream("GET", "/api/troubleshoot/delivery/stall.example.net", headers=ee.admin) as response:
        chunks = response.iter_raw()
        received = b""
        while received.count(b"event: event") < 3:
            received += next(chunks)
        assert b"mtaStsFetchStart" in received
    record = tools_state(ee.sb).streams[-1]
    deadline = time.monotonic() + 5
    while not record.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert record.stalled and record.closed and not record.completed and record.frames_sent == 3


def test_stall_after_knob_and_client_disconnect(ee):
    state = tools_state(ee.sb)
    state.frame_delay, state.stall_after = (0.0, 0.0), 2
    with ee.client.stream("GET", "/api/troubleshoot/delivery/example.org", headers=ee.admin) as response:
        first = next(response.iter_raw())
        assert b"mxLookupStart" in first
    deadline = time.monotonic() + 5
    while not state.streams[-1].closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.streams[-1].closed and not state.streams[-1].completed


def test_reset_restores_the_knobs(ee):
    tools_state(ee.sb).frame_delay = (9.0, 9.0)
    ee.sb.reset()
    assert tools_state(ee.sb).frame_delay == (0.05, 0.15) and tools_state(ee.sb).streams == []


# --------------------------------------------------------------------------- DMARC


def dmarc(env, **body):
    payload = {"remoteIp": "192.0.2.25", "ehloDomain": "mx.example.com", "mailFrom": "alice@example.com", "body": None}
    payload.update(body)
    return env.post("/api/troubleshoot/dmarc", json=payload)


def test_dmarc_pass_without_body(ee):
    data = dmarc(ee).json()["data"]
    assert list(data) == [
        "spfEhloDomain",
        "spfEhloResult",
        "spfMailFromDomain",
        "spfMailFromResult",
        "ipRevResult",
        "ipRevPtr",
        "dkimResults",
        "dkimPass",
        "arcResult",
        "dmarcResult",
        "dmarcPass",
        "dmarcPolicy",
        "elapsed",
    ]
    assert data["spfEhloResult"] == {"type": "pass"} and data["spfMailFromDomain"] == "example.com"
    assert data["dkimResults"] == [] and data["dkimPass"] is False and data["arcResult"] == {"type": "none"}
    assert data["dmarcResult"] == {"type": "pass"} and data["dmarcPass"] is True and data["dmarcPolicy"] == "reject"
    assert data == dmarc(ee).json()["data"]  # deterministic


def test_dmarc_failures_and_dkim(ee):
    data = dmarc(ee, remoteIp="198.51.100.7", mailFrom="bob@quarantine.example.net").json()["data"]
    assert data["spfMailFromResult"] == {"type": "fail", "details": None}
    assert data["ipRevResult"]["type"] == "permError" and data["ipRevPtr"] == []
    assert data["dmarcResult"] == {"type": "fail", "details": "Not aligned"} and data["dmarcPolicy"] == "quarantine"
    signed = (
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.net; s=sel; bh=abc; b=xyz\r\n"
        "DKIM-Signature: v=1; d=fail.example.net; s=sel; bh=abc; b=xyz\r\n"
        "ARC-Seal: i=1; cv=none; d=example.net; s=arc; b=abc\r\n"
        "From: bob@example.net\r\nSubject: hi\r\n\r\nbody\r\n"
    )
    data = dmarc(ee, remoteIp="198.51.100.7", mailFrom="bob@example.net", body=signed).json()["data"]
    assert data["dkimResults"] == [{"type": "pass"}, {"type": "fail", "details": "Signature verification failed"}]
    assert data["dkimPass"] is True and data["dmarcPass"] is True and data["arcResult"] == {"type": "pass"}
    no_record = dmarc(ee, mailFrom="x@nodmarc.example.net").json()["data"]
    assert no_record["dmarcResult"] == {"type": "none"} and no_record["dmarcPolicy"] == "unspecified"


def test_dmarc_bad_input(ee):
    assert dmarc(ee, body="no headers here").json() == {
        "error": "other",
        "details": "Invalid message body",
        "reason": "Failed to parse message body",
    }
    assert dmarc(ee, remoteIp="not-an-ip").status_code == 400
    assert ee.post("/api/troubleshoot/dmarc", json={"remoteIp": "192.0.2.1"}).status_code == 400
    assert ee.post("/api/troubleshoot/dmarc", json={}, auth="user").json() == FORBIDDEN


# --------------------------------------------------------------------------- spam filter


def test_train_global_and_account(ee):
    assert ee.post("/api/spam-filter/train/spam", content=MESSAGE).json() == {"data": None}
    assert ee.post(f"/api/spam-filter/train/ham/{JANE}", content=MESSAGE, auth="user").json() == {"data": None}
    state = tools_state(ee.sb)
    assert [(kind, account) for kind, account, _ in state.trained] == [("spam", None), ("ham", JANE)]
    assert ee.post("/api/spam-filter/train/ham/no%2Bbody", content=MESSAGE).json() == {
        "error": "notFound",
        "item": "no%2Bbody",
    }
    assert ee.post("/api/spam-filter/train/spam", content="not a message").json() == {
        "error": "other",
        "details": "Failed to parse message.",
        "reason": None,
    }
    assert ee.post("/api/spam-filter/train/maybe", content=MESSAGE).json() == NOT_FOUND
    assert ee.get("/api/spam-filter/train/spam").json() == NOT_FOUND


def classify(env, auth="admin", **fields):
    body = {
        "message": MESSAGE,
        "remoteIp": "192.0.2.25",
        "ehloDomain": "mx.example.com",
        "authenticatedAs": None,
        "isTls": True,
        "envFrom": "alice@example.com",
        "envFromFlags": 0,
        "envRcptTo": ["jane@example.org"],
    }
    body.update(fields)
    return env.post("/api/spam-filter/classify", json=body, auth=auth)


def test_classify_shape_and_training(ee):
    data = classify(ee, auth="user").json()["data"]  # users hold spam-filter-train
    assert set(data) == {"score", "tags", "disposition"}
    assert data["disposition"]["action"] == "allow" and "X-Spam-Status: No" in data["disposition"]["value"]
    assert data["tags"]["SPF_ALLOW"] == {"action": "allow", "value": -0.2}
    ee.post("/api/spam-filter/train/spam", content=MESSAGE)
    trained = classify(ee).json()["data"]
    assert trained["tags"]["BAYES_SPAM"] == {"action": "allow", "value": 5.1}
    assert trained["score"] > data["score"]
    spammy = classify(ee, message="Subject: YOU ARE A WINNER\r\n\r\nclaim your lottery prize", isTls=False).json()[
        "data"
    ]
    assert spammy["score"] >= 5 and "X-Spam-Status: Yes" in spammy["disposition"]["value"]


def test_classify_reject_discard_and_errors(ee):
    reject = classify(ee, message=f"Subject: test\r\n\r\n{GTUBE}\r\n").json()["data"]
    assert reject["disposition"] == {"action": "reject"} and reject["tags"]["GTUBE"] == {"action": "reject"}
    discard = classify(ee, envFrom="x@discard.test").json()["data"]
    assert discard["disposition"] == {"action": "discard"}
    unscored = classify(ee, envRcptTo=["a@x.org", "b@x.org"]).json()["data"]
    assert unscored["tags"]["RCPT_COUNT_FEW"] == {"action": "allow", "value": 0.0}  # no configured score
    assert classify(ee, message="garbage").json()["details"] == "Failed to parse message."
    assert classify(ee, remoteIp="1.2.3").status_code == 400
    assert classify(ee, envRcptTo="jane@example.org").status_code == 400
    body = {"message": MESSAGE, "remoteIp": "192.0.2.1", "envFrom": "", "envFromFlags": 0, "envRcptTo": []}
    assert ee.post("/api/spam-filter/classify", json=body).status_code == 200  # defaults for the rest


# --------------------------------------------------------------------------- maintenance


def test_update_endpoints(ee):
    assert ee.get("/api/update/spam-filter").json() == {"data": LATEST_SPAM_RULES}
    assert ee.get("/api/update/spam-filter").json() == {"data": None}  # up to date
    assert ee.get("/api/update/spam-filter?force=1&overwrite=1").json() == {"data": LATEST_SPAM_RULES}
    assert ee.get("/api/update/webadmin").json() == {"data": None}
    assert tools_state(ee.sb).webadmin_updates == 1
    assert ee.get("/api/update/webadmin", auth="helpdesk").json() == FORBIDDEN
    assert ee.get("/api/update/nothing", auth="helpdesk").json() == NOT_FOUND  # route first
    tools_state(ee.sb).fail_downloads = True
    assert ee.get("/api/update/spam-filter?force=1").status_code == 500
    assert ee.get("/api/update/webadmin").status_code == 500


def test_restart_is_unsupported(ee):
    assert ee.get("/api/restart").json() == {"error": "unsupported", "details": "Restart is not yet supported"}
    assert ee.get("/api/restart", auth="helpdesk").json() == FORBIDDEN
    assert ee.post("/api/restart").json() == NOT_FOUND


def test_purges(ee):
    actions = tools_state(ee.sb).actions
    for path in (
        "/api/store/purge/blob",
        "/api/store/purge/data",
        "/api/store/purge/data/default",
        "/api/store/purge/data/rocksdb",
        "/api/store/purge/in-memory",
        "/api/store/purge/in-memory/default/greylist",
        "/api/store/purge/in-memory/default/whatever",
        "/api/store/purge/account",
        f"/api/store/purge/account/{JANE}",
    ):
        assert ee.get(path).json() == {"data": None}, path
    assert [a["kind"] for a in actions] == [
        "purge-blob",
        "purge-data",
        "purge-data",
        "purge-data",
        "purge-in-memory",
        "purge-in-memory",
        "purge-in-memory",
        "purge-account",
        "purge-account",
    ]
    assert actions[6]["prefix"] is None and actions[5]["prefix"] == "greylist" and actions[8]["account"] == JANE
    assert ee.get("/api/store/purge/data/nothere").json() == NOT_FOUND
    assert ee.get("/api/store/purge/in-memory/nothere").json() == NOT_FOUND
    assert ee.get("/api/store/purge/account/nobody").json() == {"error": "notFound", "item": ""}
    assert ee.get("/api/store/purge/other").json() == NOT_FOUND
    assert ee.delete("/api/store/purge/blob").json() == NOT_FOUND


def test_purge_permissions_each(ee):
    for path in (
        "/api/store/purge/blob",
        "/api/store/purge/data",
        "/api/store/purge/in-memory",
        "/api/store/reindex",
    ):
        assert ee.get(path, auth="helpdesk").json() == FORBIDDEN, path
    # the helpdesk role holds purge-account
    assert ee.get(f"/api/store/purge/account/{JANE}", auth="helpdesk").json() == {"data": None}


def test_bayes_purges_empty_the_models(ee):
    ee.post("/api/spam-filter/train/spam", content=MESSAGE)
    ee.post(f"/api/spam-filter/train/ham/{JANE}", content=MESSAGE)
    state = tools_state(ee.sb)
    assert state.bayes_global and state.bayes_accounts
    assert ee.get(f"/api/store/purge/in-memory/default/bayes-account/{JANE}").json() == {"data": None}
    assert state.bayes_accounts == {} and state.bayes_global
    assert ee.get("/api/store/purge/in-memory/default/bayes-global").json() == {"data": None}
    assert state.bayes_global == {}
    assert ee.get("/api/store/purge/in-memory/default/bayes-account/nobody").json() == {"error": "notFound", "item": ""}


def test_reindex(ee):
    assert ee.get("/api/store/reindex").json() == {"data": None}
    assert ee.get(f"/api/store/reindex/{JANE}").json() == {"data": None}
    assert ee.get("/api/store/reindex/nobody").json() == {"error": "notFound", "item": ""}
    assert ee.get(f"/api/store/reindex/{JANE}/more").json() == NOT_FOUND
    assert [a.get("account") for a in tools_state(ee.sb).actions] == [None, JANE]


def test_uids_and_quota_check_no_permission(ee):
    counts = ee.delete(f"/api/store/uids/{JANE}", auth="user").json()["data"]
    assert isinstance(counts, list) and len(counts) == 2 and counts[0] > 0
    assert ee.delete("/api/store/uids/nobody").json() == {"error": "notFound", "item": ""}
    assert ee.get(f"/api/store/uids/{JANE}").json() == NOT_FOUND
    used = ee.sb.get(JANE).used_quota
    assert ee.get(f"/api/store/quota/{JANE}", auth="user").json() == {"data": used}
    assert ee.delete(f"/api/store/quota/{JANE}").json() == {"data": used}
    assert ee.post(f"/api/store/quota/{JANE}").json() == NOT_FOUND
