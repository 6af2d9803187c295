"""The ``hostile`` seed: the demo organisation plus attacker-controlled text in every area."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from sandbox import Sandbox
from sandbox.hostile_seed import BIDI, BIG, IMG, JS_URL, MARKUP, PATHY, SCRIPT, TEMPLATE
from sandbox.server import run_in_thread

from .helpers import Env


@pytest.fixture(scope="module")
def _hostile_server():
    sandbox = Sandbox(version="0.11.8", enterprise=True, seed="hostile")
    with run_in_thread(sandbox) as url:
        env = Env(sandbox, url)
        yield env
        env.client.close()


@pytest.fixture
def hostile(_hostile_server) -> Env:
    _hostile_server.sb.reset()
    return _hostile_server


def _text(value) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("version", ["0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5"])
@pytest.mark.parametrize("enterprise", [False, True])
def test_the_seed_builds_on_every_configuration(version, enterprise):
    sb = Sandbox(version=version, enterprise=enterprise, seed="hostile")
    assert sb.get(SCRIPT) is not None
    assert sb.get("jane.doe") is not None  # the demo organisation is there too
    assert len(BIG) == 102_400


def test_demo_and_empty_seeds_have_no_hostile_content():
    assert Sandbox(seed="demo").get(SCRIPT) is None
    empty = Sandbox(seed="empty")
    assert empty.principals == {} and "server.hostile.script" not in empty.settings


def test_unknown_seed_is_refused():
    with pytest.raises(ValueError):
        Sandbox(seed="evil")


def test_principal_names_and_descriptions(hostile):
    names = hostile.data("GET", "/api/principal?types=individual&limit=1000")
    listed = {item["name"]: item for item in names["items"]}
    assert SCRIPT in listed and listed[SCRIPT]["description"] == MARKUP
    assert IMG.lower() + "@example.org" in listed
    assert PATHY.lower() + "@example.org" in listed
    assert "jane.doe" in listed
    # Names with / .. %2F + & = ? # are reachable through a percent-encoded path element.
    item = hostile.data("GET", "/api/principal/" + quote(PATHY.lower() + "@example.org", safe=""))
    assert item["description"] == PATHY
    item = hostile.data("GET", "/api/principal/" + quote(SCRIPT, safe=""))
    assert item["picture"] == JS_URL and item["emails"] == "x+y&z=1@example.org"
    client = hostile.data("GET", "/api/principal/" + quote("evil-client" + IMG.lower(), safe=""))
    assert JS_URL in client["urls"]
    assert hostile.data("GET", "/api/principal/example.net")["description"] == MARKUP
    groups = _text(hostile.data("GET", "/api/principal?types=group,list,role&limit=1000"))
    assert "{% debug %}" in groups and JS_URL in groups


def test_settings_values(hostile):
    items = hostile.data("GET", "/api/settings/list?prefix=server.hostile")["items"]
    # Keys come back relative to the prefix.
    values = {key.rpartition(".")[2]: value for key, value in items.items()}
    assert values["script"] == SCRIPT and values["big"] == BIG


def test_queue_senders_responses_and_message_blob(hostile):
    items = hostile.data("GET", "/api/queue/messages?values=1&limit=1000")["items"]
    evil = [m for m in items if m["return_path"] == '"<script>alert(1)</script>"@evil.example']
    assert len(evil) == 1
    blob = hostile.get(f"/api/store/blobs/{evil[0]['blob_hash']}")
    assert blob.status_code == 200 and SCRIPT.encode() in blob.content and len(blob.content) > 100_000
    reports = _text(hostile.data("GET", "/api/queue/reports?limit=1000"))
    assert "evil.example" in reports


def test_reports_carry_payloads(hostile):
    for kind, needle in (("dmarc", SCRIPT), ("tls", IMG), ("arf", SCRIPT)):
        ids = hostile.data("GET", f"/api/reports/{kind}?limit=1000")["items"]
        assert ids, kind
        first = hostile.data("GET", f"/api/reports/{kind}/{ids[0]}")
        assert needle in _text(first), kind
    tls = [hostile.data("GET", f"/api/reports/tls/{i}") for i in hostile.data("GET", "/api/reports/tls")["items"]]
    failures = [
        detail for report in tls for policy in report["report"]["policies"] for detail in policy["failure-details"]
    ]
    assert any(SCRIPT in (detail["failure-reason-code"] or "") for detail in failures)


def test_logs_and_traces(hostile):
    logs = hostile.data("GET", "/api/logs?limit=50")["items"]
    text = _text(logs)
    assert SCRIPT in text and BIDI.replace("\ufeff", "") in text.replace("\ufeff", "")
    assert any(len(item["details"]) > 100_000 for item in hostile.data("GET", "/api/logs?limit=1000")["items"])
    from sandbox.observability import state

    span_ids = [
        span_id for span_id, span in state(hostile.sb).spans.items() if span.events[1].data.get("domain") == IMG
    ]
    assert len(span_ids) == 1
    events = hostile.data("GET", f"/api/telemetry/trace/{span_ids[0]}")
    values = [value for event in events for value in event["data"].values()]
    assert f"{MARKUP} {BIDI}" in values and BIG in values


def test_reset_brings_the_payloads_back(hostile):
    hostile.sb.settings.pop("server.hostile.script")
    hostile.sb.reset()
    assert hostile.sb.settings["server.hostile.script"] == SCRIPT
    assert TEMPLATE in hostile.sb.settings["server.hostile.template"]
