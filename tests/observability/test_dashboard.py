"""The metrics dashboard (Enterprise): sparklines from history, live values, notices."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from portal.observability.display import bucket, human_duration, sparkline
from portal.stalwart.observability_types import MetricPoint
from sandbox.observability import state

from .test_live import Browser, _scope, _session_cookie, _wait_for


def test_dashboard_shows_sparklines_with_numbers(signed_in, sandbox):
    client = signed_in("admin")
    response = client.get("/observability/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    for title in ("Queue size", "Deliveries", "Rejections", "Authentication failures", "Connections", "Memory"):
        assert f">{title}</h2>" in html
    assert html.count('<svg class="sparkline"') == 8
    assert "style=" not in html and "<script>" not in html.split("</head>")[1]
    assert re.search(r'<polyline class="spark-line" points="[\d., ]+"', html)
    assert re.search(r"\d+(\.\d)? MiB", html)  # memory in binary units
    paths = [r.path for r in sandbox.requests]
    assert paths[0] == "/api/telemetry/metrics"
    assert "after=" in sandbox.requests[0].query
    # Live values: the first frame of the live stream, read server-side.
    assert "/api/telemetry/live/metrics-token" in paths and "/api/telemetry/metrics/live" in paths
    assert "Right now" in html and "Accounts" in html
    assert 'data-stream-url="/observability/dashboard/live"' in html
    assert state(sandbox).open_streams == 0


def test_period_switch(signed_in, sandbox):
    html = signed_in("admin").get("/observability/dashboard/?period=7d").content.decode()
    assert 'aria-current="page">Last 7 days' in html


def test_no_metrics_store(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.settings["metrics.history.enable"] = "false"
    html = client.get("/observability/dashboard/").content.decode()
    assert "No metrics history" in html
    assert "No metrics store has been defined" in html


def test_community_edition_notice(client, sandbox):
    from tests.conftest import sign_in

    sandbox.enterprise = False
    try:
        assert sign_in(client, "admin").status_code == 302
        sandbox.requests.clear()
        response = client.get("/observability/dashboard/")
    finally:
        sandbox.enterprise = True
    assert b"needs Stalwart Enterprise" in response.content
    assert sandbox.requests == []


@pytest.mark.parametrize("url", ["/observability/dashboard/", "/observability/dashboard/live"])
def test_refused_for_users(signed_in, sandbox, url):
    assert signed_in("user").get(url).status_code == 403
    assert sandbox.requests == []


def test_live_metrics_relay(signed_in, sandbox, settings):
    client = signed_in("admin")
    obs = state(sandbox)
    obs.metrics_interval = 0.05
    browser = Browser(_scope("/observability/dashboard/live", "", _session_cookie(client)))

    async def run() -> None:
        task = asyncio.ensure_future(ASGIHandler()(browser.scope, browser.receive, browser.send))
        frames = []
        while len(frames) < 2:
            body = await browser.next_body()
            if "event: metrics" in body:
                frames.append(body)
        assert "Accounts" in frames[0] and '<dl class="live-values">' in frames[0]
        browser.hang_up.set()
        await asyncio.wait_for(task, 5)
        await _wait_for(lambda: state(sandbox).open_streams == 0)

    async_to_sync(run)()
    query = [r.query for r in sandbox.requests if r.path == "/api/telemetry/metrics/live"][0]
    assert "interval=15" in query and "metrics=user.count" in query


def test_bucketing_and_sparkline():
    start = datetime(2025, 1, 1, tzinfo=UTC)
    points = [
        MetricPoint("counter", "auth.failed", start + timedelta(minutes=10), value=2),
        MetricPoint("counter", "auth.failed", start + timedelta(minutes=50), value=3),
        MetricPoint("counter", "auth.failed", start + timedelta(hours=2), value=7),
        MetricPoint("gauge", "queue.count", start + timedelta(hours=1, minutes=5), value=4),
        MetricPoint("gauge", "queue.count", start + timedelta(hours=1, minutes=55), value=9),
        MetricPoint("histogram", "delivery.total-time", start, count=2, sum=300),
    ]
    counters = bucket(points, ["auth.failed"], start=start, step=timedelta(hours=1), count=3, how="sum")
    assert counters.values == (5, None, 7) and counters.total == 12 and counters.latest == 7
    gauges = bucket(points, ["queue.count"], start=start, step=timedelta(hours=1), count=3, how="last")
    assert gauges.values == (None, 9, None)
    means = bucket(points, ["delivery.total-time"], start=start, step=timedelta(hours=1), count=3, how="mean")
    assert means.values == (150, None, None)
    line = sparkline(counters)
    assert not line.empty and len(line.line.split()) == 3
    assert sparkline(bucket([], ["x"], start=start, step=timedelta(hours=1), count=3, how="sum")).empty


@pytest.mark.parametrize(
    ("ms", "text"), [(350, "350 ms"), (1500, "1.5 s"), (2000, "2 s"), (95_000, "1 min 35 s"), (7_200_000, "2 h")]
)
def test_human_duration(ms, text):
    assert human_duration(ms) == text
