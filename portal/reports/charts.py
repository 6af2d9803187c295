"""Numbers and geometry for the DMARC overview charts.

The charts are inline SVG drawn by the template from plain numbers computed here: no
script and no style attributes (the CSP forbids both); colours come from CSS classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from portal.stalwart.report_types import DmarcReport

DAYS = 30
#: The days a phone's chart shows (the newest), at a scale where its labels stay readable.
RECENT_DAYS = 14
TOP_SOURCES = 10

# Daily chart geometry (SVG user units).
WIDTH, HEIGHT = 720, 240
RECENT_WIDTH = 360
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28
# Sources chart.
ROW, LABEL_WIDTH, BAR_WIDTH = 28, 190, 460


def _nice_max(value: int) -> int:
    """A round number at least `value`, for the axis."""
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = int(step * magnitude)
        if candidate >= value:
            return candidate
    return value  # pragma: no cover


@dataclass
class Source:
    ip: str
    messages: int = 0
    passed: int = 0
    header_from: set[str] = field(default_factory=set)

    @property
    def failed(self) -> int:
        return self.messages - self.passed

    @property
    def domains(self) -> list[str]:
        return sorted(self.header_from)

    @property
    def rate(self) -> int:
        return round(self.passed * 100 / self.messages) if self.messages else 0


def dmarc_overview_data(reports: list[DmarcReport], *, domain: str = "", today: date | None = None) -> dict[str, Any]:
    today = today or datetime.now(UTC).date()
    domains = sorted({r.domain for r in reports if r.domain})
    chosen = [r for r in reports if not domain or r.domain == domain]
    first_day = today - timedelta(days=DAYS - 1)
    per_day = {first_day + timedelta(days=i): [0, 0] for i in range(DAYS)}
    sources: dict[str, Source] = {}
    reporters: dict[str, int] = {}
    for report in chosen:
        day = report.begin.date() if report.begin else None
        reporter = report.org_name or report.email or "unknown"
        reporters[reporter] = reporters.get(reporter, 0) + 1
        for record in report.records:
            if day in per_day:
                per_day[day][0 if record.passed else 1] += record.count
            source = sources.setdefault(record.source_ip or "unknown", Source(record.source_ip or "unknown"))
            source.messages += record.count
            source.passed += record.count if record.passed else 0
            if record.header_from:
                source.header_from.add(record.header_from)
    passed = sum(p for p, _ in per_day.values())
    failed = sum(f for _, f in per_day.values())
    top = sorted(sources.values(), key=lambda s: (-s.messages, s.ip))[:TOP_SOURCES]
    return {
        "domains": domains,
        "reports": len(chosen),
        "reporters": sorted(reporters.items(), key=lambda item: (-item[1], item[0])),
        "passed": passed,
        "failed": failed,
        "messages": passed + failed,
        "first_day": first_day,
        "last_day": today,
        "days": [{"date": d, "passed": p, "failed": f, "total": p + f} for d, (p, f) in per_day.items()],
        "daily": _daily_chart(per_day),
        "recent": _daily_chart(dict(list(per_day.items())[-RECENT_DAYS:]), width=RECENT_WIDTH),
        "recent_days": RECENT_DAYS,
        "sources": top,
        "sources_chart": _sources_chart(top),
    }


def _daily_chart(per_day: dict[date, list[int]], *, width: int = WIDTH) -> dict[str, Any]:
    """Stacked bars, one per day, in a `width` × HEIGHT box; the last day is labelled too,
    its label ending at the right edge so that it is never cut."""
    plot_w, plot_h = width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_max(max((p + f for p, f in per_day.values()), default=0))
    slot = plot_w / len(per_day)
    bar_w = round(slot * 0.7, 1)
    baseline = TOP + plot_h
    bars = []
    for index, (day, (passed, failed)) in enumerate(per_day.items()):
        x = round(LEFT + index * slot + (slot - bar_w) / 2, 1)
        pass_h = round(passed * plot_h / top_value, 1)
        fail_h = round(failed * plot_h / top_value, 1)
        bars.append(
            {
                "date": day,
                "x": x,
                "width": bar_w,
                "pass_y": round(baseline - pass_h, 1),
                "pass_h": pass_h,
                "fail_y": round(baseline - pass_h - fail_h, 1),
                "fail_h": fail_h,
                "passed": passed,
                "failed": failed,
                "label": day.strftime("%b %d") if _labelled(index, len(per_day)) else "",
                "label_x": width - RIGHT if index == len(per_day) - 1 else round(x + bar_w / 2, 1),
                "label_anchor": "end" if index == len(per_day) - 1 else "middle",
            }
        )
    ticks = [{"value": round(top_value * step / 4), "y": round(baseline - plot_h * step / 4, 1)} for step in range(5)]
    return {
        "width": width,
        "height": HEIGHT,
        "left": LEFT,
        "right": width - RIGHT,
        "baseline": baseline,
        "label_y": baseline + 18,
        "bars": bars,
        "ticks": ticks,
        "tick_x": LEFT - 6,
    }


def _labelled(index: int, count: int) -> bool:
    """Every fifth day and the last one, unless the last would overlap the one before it."""
    last = count - 1
    return index == last or (index % 5 == 0 and last - index >= 3)


def _sources_chart(top: list[Source]) -> dict[str, Any]:
    largest = max((s.messages for s in top), default=0) or 1
    rows = []
    for index, source in enumerate(top):
        pass_w = round(source.passed * BAR_WIDTH / largest, 1)
        fail_w = round(source.failed * BAR_WIDTH / largest, 1)
        y = index * ROW + 4
        rows.append(
            {
                "source": source,
                "y": y,
                "bar_y": y + 4,
                "text_y": y + 15,
                "pass_w": pass_w,
                "fail_x": round(LABEL_WIDTH + pass_w, 1),
                "fail_w": fail_w,
                "value_x": round(LABEL_WIDTH + pass_w + fail_w + 6, 1),
            }
        )
    return {
        "width": LABEL_WIDTH + BAR_WIDTH + 80,
        "height": max(1, len(top)) * ROW + 8,
        "label_x": LABEL_WIDTH - 8,
        "bar_x": LABEL_WIDTH,
        "bar_height": ROW - 10,
        "rows": rows,
    }
