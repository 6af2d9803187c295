"""The benchmark's 0.16 part: its figures and where its section goes in BENCHMARKS.md
(the measuring itself is `python -m bench --only jmap`, not part of the tests)."""

from __future__ import annotations

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
