"""The log viewer's rows are written in Python: every part of a log line comes out as text."""

from __future__ import annotations

import pytest

from portal.observability.rows import render_rows
from portal.stalwart.observability_types import LogEntry
from tests.directory.test_rows import PAYLOAD, Collect

TAGS = {"tr", "td", "span", "code", "time", "bdi", "details", "summary"}


def entry(level: str = "ERROR", timestamp: str | None = "2025-04-30T14:03:00Z", text: str = PAYLOAD) -> LogEntry:
    return LogEntry.from_api(
        {"timestamp": timestamp, "level": level, "event": f"e{text}", "event_id": f"id{text}", "details": f"d{text}"}
    )


def parse(row) -> tuple[Collect, str]:
    parsed = Collect()
    parsed.feed(str(row))
    return parsed, " ".join(" ".join(parsed.text).split())


def test_every_value_is_text():
    row = str(render_rows([entry(level=f"x{PAYLOAD}")]))
    parsed, text = parse(row)
    assert {tag for tag, _ in parsed.tags} <= TAGS
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    assert "<script" not in row and "<img" not in row
    for part in (f"e{PAYLOAD}", f"id{PAYLOAD}", f"d{PAYLOAD}", f"X{PAYLOAD.upper()}"[:20] + "…"):
        assert part in text  # a level is a word: a longer one is cut in its badge
    assert ("span", {"class": "badge badge-neutral"}) in parsed.tags


@pytest.mark.parametrize(
    ("level", "badge"),
    [
        ("error", "badge-danger"),
        ("WARN", "badge-warn"),
        ("info", "badge-ok"),
        ("DEBUG", "badge-info"),
        ("TRACE", "badge-neutral"),
    ],
)
def test_the_level_sets_the_badge(level, badge):
    parsed, text = parse(render_rows([entry(level=level, text="x")]))
    assert ("span", {"class": f"badge {badge}"}) in parsed.tags
    assert text.endswith(f"2025-04-30 14:03:00 UTC {level.upper()} ex idx dx")
    labels = [attrs["data-label"] for tag, attrs in parsed.tags if tag == "td"]
    assert labels == ["When", "Level", "Event", "Details"]


def test_an_entry_without_a_time():
    row = str(render_rows([entry(timestamp=None, text="x")]))
    assert '<td data-label="When" class="cell-time"><span class="muted">—</span></td>' in row


def test_the_page_shows_one_row_per_entry(signed_in, sandbox):
    page = signed_in("admin").get("/observability/logs/", {"size": 25}).content.decode()
    assert page.count('<td data-label="When" class="cell-time">') == 25
