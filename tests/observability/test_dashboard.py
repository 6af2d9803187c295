"""The metrics dashboard (Enterprise): sparklines from history, live values, notices."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler

from portal.observability.display import bucket, human_duration, sparkline
from portal.stalwart.observability_types import MetricPoint
from sandbox.observability import state

from .test_live import Browser, _scope, _session_cookie, _wait_for


def _posts(sandbox) -> int:
    """How many JMAP requests (round trips) reached the sandbox."""
    return sum(1 for r in sandbox.requests if r.path == "/jmap/")


def _total(card: str) -> int:
    return int(re.search(r'class="metric-value">\s*([\d,]+)', card).group(1).replace(",", ""))


def test_dashboard_shows_sparklines_with_numbers(signed_in, generation):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/observability/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    for title in (
        "Queue size",
        "Delivery attempts",
        "Blocked and banned",
        "Authentication failures",
        "Connections",
        "Memory",
    ):
        assert f">{title}</h2>" in html
    assert html.count('<svg class="sparkline"') == 8
    assert "style=" not in html and "<script>" not in html.split("</head>")[1]
    assert re.search(r'<polyline class="spark-line" points="[\d., ]+"', html)
    assert re.search(r"\d+(\.\d)? MiB", html)  # memory in binary units
    # The received-messages card counts what the server stores as queue.queue-message
    # (0.16: queue.message-queued).
    card = _card(html, "Received messages")
    assert re.search(r'<polyline class="spark-line"', card)
    stored = sum(p["value"] for p in state(sandbox).metrics if p["id"] == "queue.queue-message")
    assert 0 < _total(card) <= stored
    paths = [r.path for r in sandbox.requests]
    # Live values: the first frame of the live stream, read server-side.
    if generation.jmap:
        assert _posts(sandbox) == 1  # a day of samples: one query and get
        assert "/api/token/metrics" in paths and "/api/live/metrics" in paths
    else:
        assert paths[0] == "/api/telemetry/metrics"
        assert "after=" in sandbox.requests[0].query
        assert "/api/telemetry/live/metrics-token" in paths and "/api/telemetry/metrics/live" in paths
    assert "Right now" in html and "Accounts" in html
    assert 'data-stream-url="/observability/dashboard/live"' in html
    assert state(sandbox).open_streams == 0


def test_cards_read_only_names_stalwarts_history_store_writes():
    """The store writes a fixed list of counters, gauges and histograms (the same in v0.11.8 and
    v0.12.4; the sandbox lists them); a card reading any other name would always show nothing."""
    from portal.observability.views import CARDS
    from sandbox.jmap.observe import EVENT_RENAMES, EVENT_SOURCES
    from sandbox.observability import HISTORY_COUNTERS, HISTORY_GAUGES, HISTORY_HISTOGRAMS

    kinds = {"sum": set(HISTORY_COUNTERS), "last": set(HISTORY_GAUGES), "mean": set(HISTORY_HISTOGRAMS)}
    for card in CARDS:
        # Stalwart 0.16 stores the same metrics, a few under new names: a card may list both.
        names = {EVENT_SOURCES.get(name, name) for name in card.ids}
        assert names <= kinds[card.how], (card.title, card.ids)
        assert all(EVENT_RENAMES.get(name, name) in card.ids for name in card.ids), (card.title, card.ids)
    assert "delivery.delivered" not in {metric for card in CARDS for metric in card.ids}


def _card(html: str, title: str) -> str:
    start = html.index(f">{title}</h2>")
    return html[start : html.index("</section>", start)]


def _hour_points(sandbox, values: dict[str, dict[int, int]]) -> int:
    """Replace the sandbox's metrics history: `{id: {hours before the current hour: value}}`,
    written at the top of each hour as Stalwart does. Returns the current hour (epoch)."""
    from sandbox.dates import rfc3339
    from sandbox.observability import HISTORY_COUNTERS

    hour = sandbox.now() - sandbox.now() % 3600
    points = []
    for metric_id, by_age in values.items():
        kind = "counter" if metric_id in HISTORY_COUNTERS else "gauge"
        for age, value in by_age.items():
            ts = hour - age * 3600
            points.append({"type": kind, "id": metric_id, "timestamp": rfc3339(ts), "value": value, "ts": ts})
    state(sandbox).metrics = sorted(points, key=lambda point: point["ts"])
    return hour


def _dashboard_within_one_hour(client, sandbox, values) -> str:
    """The dashboard over the given history; again if the hour turned while it was asked."""
    for _ in range(2):
        hour = _hour_points(sandbox, values)
        html = client.get("/observability/dashboard/").content.decode()
        if sandbox.now() - sandbox.now() % 3600 == hour:
            return html
    raise AssertionError("the hour turned twice")


def test_deliveries_count_the_delivery_attempts_stalwart_records(signed_in, sandbox):
    client = signed_in("admin")
    seeded = [p for p in state(sandbox).metrics if p["id"] == "delivery.attempt-start"]
    assert seeded and all(p["id"] != "delivery.delivered" for p in state(sandbox).metrics)
    html = client.get("/observability/dashboard/").content.decode()
    total = re.search(r"([\d,]+)<span class=\"metric-unit\"> in total", _card(html, "Delivery attempts"))
    assert total and int(total.group(1).replace(",", "")) > 0

    html = _dashboard_within_one_hour(
        client, sandbox, {"delivery.attempt-start": {3: 4, 1: 6}, "server.memory": {3: 1 << 28, 2: 1 << 28, 1: 1 << 28}}
    )
    card = _card(html, "Delivery attempts")
    assert '10<span class="metric-unit"> in total' in card
    assert "<dt>Latest hour</dt><dd>6</dd>" in card


def test_the_shown_value_is_the_last_point_of_the_chart(signed_in, sandbox):
    """Stalwart writes its history at the top of each hour; until this hour's write the newest
    sample is an hour old. The charts end at that sample, and the value beside each chart is
    its last point: an empty queue (no queue.count point: gauges at 0 are not written) is 0,
    not the last non-empty sample, and an hour without failures is 0, not the last failures."""
    client = signed_in("admin")
    html = _dashboard_within_one_hour(
        client,
        sandbox,
        {
            "queue.count": {3: 7, 2: 9},
            "server.memory": {3: 300 << 20, 2: 320 << 20, 1: 310 << 20},
            "auth.failed": {3: 9},
        },
    )
    queue = _card(html, "Queue size")
    assert '0<span class="metric-unit"> in the latest sample' in queue
    assert "ending at 0</title>" in queue and 'cy="45.0"' in queue  # the chart ends at its lowest point
    failures = _card(html, "Authentication failures")
    assert '9<span class="metric-unit"> in total' in failures
    assert "<dt>Latest hour</dt><dd>0</dd>" in failures and "ending at 0</title>" in failures
    assert 'cy="45.0"' in failures
    memory = _card(html, "Memory")
    assert '310 MiB<span class="metric-unit"> in the latest sample' in memory
    assert "ending at 310 MiB</title>" in memory
    assert "its latest sample is from <time" in html


def test_a_week_of_metrics(signed_in, generation):
    import random

    from sandbox.observability import _metric_history

    sandbox = generation.sandbox
    client = signed_in("admin")
    for _ in range(2):  # the sandbox's week as written up to this hour (again if the hour turns)
        hour = sandbox.now() - sandbox.now() % 3600
        state(sandbox).metrics = _metric_history(sandbox, random.Random(7), sandbox.now())
        sandbox.requests.clear()
        response = client.get("/observability/dashboard/?period=7d")
        if sandbox.now() - sandbox.now() % 3600 == hour:
            break
    assert response.status_code == 200
    html = response.content.decode()
    assert 'aria-current="page">Last 7 days' in html
    if generation.jmap:
        # More samples than one /get may return: the first page, then the rest together.
        assert _posts(sandbox) == 2
    # The chart ends after the hour of the newest sample and covers the 168 hours before.
    end = max(p["ts"] for p in state(sandbox).metrics) // 3600 * 3600 + 3600
    stored = [p for p in state(sandbox).metrics if p["id"] == "delivery.attempt-start"]
    week = sum(p["value"] for p in stored if end - 168 * 3600 <= p["ts"] < end)
    assert _total(_card(html, "Delivery attempts")) == week


def test_no_metrics_store(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.settings["metrics.history.enable"] = "false"
    html = client.get("/observability/dashboard/").content.decode()
    assert "No metrics history" in html
    assert "No metrics store has been defined" in html


def test_refused_for_users(signed_in, generation):
    client = signed_in("user")
    for url in ("/observability/dashboard/", "/observability/dashboard/live"):
        assert client.get(url).status_code == 403, url
    assert generation.sandbox.requests == []


def test_live_metrics_relay(signed_in, generation, settings):
    sandbox = generation.sandbox
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
    if generation.jmap:
        live = [r for r in sandbox.requests if r.path == "/api/live/metrics"]
        assert live and "token=" in live[0].query
        assert "user.count" in unescape(live[0].query).replace("%2C", ",")
    else:
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
    # From the store's first sample on, no counter or gauge point means 0 (Stalwart skips
    # zeros); before it, and for averages, nothing is known.
    recorded = start + timedelta(hours=1, minutes=5)
    assert bucket(
        points, ["auth.failed"], start=start, step=timedelta(hours=1), count=4, how="sum", recorded_from=recorded
    ).values == (5, 0, 7, 0)
    assert bucket(
        points, ["queue.count"], start=start, step=timedelta(hours=1), count=3, how="last", recorded_from=recorded
    ).values == (None, 9, 0)
    assert bucket(
        points, ["delivery.total-time"], start=start, step=timedelta(hours=1), count=2, how="mean", recorded_from=start
    ).values == (150, None)
    line = sparkline(counters)
    assert not line.empty and len(line.line.split()) == 3
    assert sparkline(bucket([], ["x"], start=start, step=timedelta(hours=1), count=3, how="sum")).empty


@pytest.mark.parametrize(
    ("ms", "text"), [(350, "350 ms"), (1500, "1.5 s"), (2000, "2 s"), (95_000, "1 min 35 s"), (7_200_000, "2 h")]
)
def test_human_duration(ms, text):
    assert human_duration(ms) == text
