"""The benchmark's 0.16 part: its figures and where its section goes in BENCHMARKS.md
(the measuring itself is `python -m bench --only jmap`, not part of the tests)."""

from __future__ import annotations

import pytest

from bench.__main__ import JMAP_HEADING, jmap_figures, splice_jmap

INFO = {"date": "2026-12-07T00:00:00Z", "load_average_at_start": [1.0, 1.0, 1.0], "pace_ms_at_start": 55.0}
DOCUMENT = """# Benchmarks

## Budgets

- Account list, 5 ms added to every sandbox answer: added p50 **2.00 ms**.
- Not budgets: in-memory sandbox.

## Fan-out page vs one upstream call

| table |

<!-- notes -->

## What was changed
"""


def result(page: str, generation: str, *, calls: int, added: float) -> dict:
    return {
        "label": f"{page} {generation}", "page": page, "generation": generation, "calls": calls, "calls_cold": calls,
        "portal_p50": 10.0 + added, "portal_p99": 20.0, "direct_p50": 10.0, "direct_p99": 12.0, "added_p50": added,
        "ratio": (10.0 + added) / 10.0, "portal_rate": 50.0, "direct_rate": 90.0, "errors": 0, "portal_cpu_ms": 2.0,
    }  # fmt: skip


def run(*, jmap_calls: int = 1, added: float = 1.5) -> dict:
    return {
        "rows": [
            result("list", "rest", calls=1, added=1.0),
            result("list", "jmap", calls=jmap_calls, added=added),
            result("dmarc", "rest", calls=1, added=1.2),
            result("dmarc", "jmap", calls=1, added=added),
        ]
    }


def test_figures_have_budgets_of_one_round_trip_and_the_added_time_rule():
    figures, measurements = jmap_figures(run(jmap_calls=2, added=1.5))
    assert figures["jmap_list_calls"] == {"value": 2.0, "unit": "calls", "budget": 1, "holds": False}
    assert figures["jmap_dmarc_list_calls"]["holds"] is True
    assert figures["jmap_list_added_ms_5ms"] == {"value": 1.5, "unit": "ms", "budget": 2.0, "holds": True}
    assert figures["jmap_dmarc_list_added_ms_5ms"]["holds"] is True
    assert measurements["rest_0155_list_added_ms_5ms"] == 1.0
    assert measurements["rest_0155_dmarc_list_calls"] == 1
    assert measurements["jmap_dmarc_list_p50_ms_5ms"] == 11.5


def test_the_section_goes_before_the_notes_and_replaces_itself():
    jmap = run()
    figures, _ = jmap_figures(jmap)
    once = splice_jmap(DOCUMENT, jmap, figures, INFO)
    head, notes = once.split("<!-- notes -->")
    assert notes == DOCUMENT.split("<!-- notes -->")[1]  # the hand-written notes stay as they were
    assert head.count(JMAP_HEADING) == 1 and "| list jmap |" in head
    budgets = head.split("## Budgets")[1].split("\n## ")[0].splitlines()
    assert budgets[-1].startswith("- Not budgets:") and budgets[-2].startswith("- Stalwart 0.16:")
    slower = run(added=3.0)
    twice = splice_jmap(once, slower, jmap_figures(slower)[0], INFO)
    assert twice.count(JMAP_HEADING) == 1 and twice.count("- Stalwart 0.16:") == 1
    assert "**missed**" in twice and "## Fan-out page vs one upstream call" in twice


# --- the reference: the code whose run set the millisecond budgets -------------------------------
def side(*, cpu: float, added: float) -> dict:
    return {"portal_cpu_ms": cpu, "added_p50": added}


def test_reference_figures_scale_todays_by_the_reference_run_beside_it():
    from bench.__main__ import REFERENCE, reference_figures

    # today's code used 0.85 of the reference's CPU and added 0.7 of its time, on a machine
    # five times slower than the reference's day: the figures at its pace follow the ratios
    figures = reference_figures(side(cpu=10.0, added=9.1), side(cpu=11.765, added=13.0))
    assert figures["list_cpu_vs_reference"] == {"value": 0.85, "unit": "ratio", "budget": 1.1, "holds": True}
    at_pace = figures["list_cpu_ms_at_reference_pace"]
    assert at_pace["value"] == pytest.approx(REFERENCE["list_cpu_ms"] * 0.85, abs=0.002)
    assert figures["list_cpu_ms_at_reference_pace"]["holds"] is True
    added = REFERENCE["list_added_ms_5ms"] * 0.7
    assert figures["list_added_ms_5ms_at_reference_pace"]["value"] == pytest.approx(added, abs=0.002)
    assert figures["list_added_ms_5ms_at_reference_pace"]["holds"] is True
    ratio = (REFERENCE["direct_ms_5ms"] + added) / REFERENCE["direct_ms_5ms"]
    assert figures["list_ratio_5ms_at_reference_pace"]["value"] == pytest.approx(ratio, abs=0.002)
    slower = reference_figures(side(cpu=13.0, added=13.0), side(cpu=11.0, added=13.0))
    assert slower["list_cpu_vs_reference"]["holds"] is False  # 18 % more CPU than the reference
    assert slower["list_cpu_ms_at_reference_pace"]["holds"] is False
    assert slower["list_added_ms_5ms_at_reference_pace"]["holds"] is False  # 2.6 ms, as on its day


def test_the_reference_code_comes_from_this_clones_history():
    from bench.__main__ import REFERENCE, reference_code

    with reference_code() as root:
        assert root is not None, f"commit {REFERENCE['commit']} is not in this clone's history"
        assert (root / "manage.py").exists() and (root / "portal" / "asgi.py").exists()
    assert not root.exists()  # removed afterwards


def test_the_production_shape_and_the_cold_report_list_scale_by_the_machines_slowness():
    from bench.__main__ import REFERENCE, reference_figures

    slowness = 4.0  # the reference's code took four times its day's CPU per page here
    then = side(cpu=REFERENCE["list_cpu_ms"] * slowness, added=10.0)
    now = side(cpu=REFERENCE["list_cpu_ms"] * slowness * 0.9, added=9.0)
    production = {"added_p50": 9.0 + 2.0}  # 2 ms more than the default shape here
    # today's cold list is 40 ms faster here than the reference's: 10 ms at its pace
    fanout, fanout_then = {"portal_p50": 300.0}, {"portal_p50": 340.0}
    figures = reference_figures(now, then, production, fanout, fanout_then)
    assert figures["production_added_delta_ms_at_reference_pace"]["value"] == pytest.approx(0.5, abs=0.002)
    assert figures["production_added_delta_ms_at_reference_pace"]["holds"] is True
    cold = (REFERENCE["report_cold_ms_20ms"] - 10.0) / REFERENCE["report_one_call_ms_20ms"]
    assert figures["report_list_cold_ratio_20ms_at_reference_pace"]["value"] == pytest.approx(cold, abs=0.002)
    assert figures["report_list_cold_ratio_20ms_at_reference_pace"]["holds"] is (cold <= 3.0)
    slower = reference_figures(now, then, {"added_p50": 9.0 + 8.0}, {"portal_p50": 360.0}, fanout_then)
    assert slower["production_added_delta_ms_at_reference_pace"]["holds"] is False  # 2 ms at its pace
    assert slower["report_list_cold_ratio_20ms_at_reference_pace"]["holds"] is False  # slower than 3.36 ×


def test_the_tails_scale_by_the_machines_slowness_whole():
    from bench.__main__ import REFERENCE, reference_figures

    slowness = 4.0
    then = side(cpu=REFERENCE["list_cpu_ms"] * slowness, added=10.0)
    now = side(cpu=REFERENCE["list_cpu_ms"] * slowness, added=10.0)
    figures = reference_figures(now, then, tails={"export_slowest_concurrent_ms": 52.0, "sse_relay_p99_ms": 160.0})
    assert figures["export_slowest_concurrent_ms_at_reference_pace"]["value"] == pytest.approx(13.0, abs=0.002)
    assert figures["sse_relay_p99_ms_at_reference_pace"]["value"] == pytest.approx(40.0, abs=0.002)
    assert figures["sse_relay_p99_ms_at_reference_pace"]["budget"] == 100.0
    slower = reference_figures(now, then, tails={"export_slowest_concurrent_ms": 204.0, "sse_relay_p99_ms": 404.0})
    assert slower["export_slowest_concurrent_ms_at_reference_pace"]["holds"] is False  # 51 ms at its pace
    assert slower["sse_relay_p99_ms_at_reference_pace"]["holds"] is False  # 101 ms
    assert "sse_relay_p99_ms_at_reference_pace" not in reference_figures(now, then)  # not measured: not judged
