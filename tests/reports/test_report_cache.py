"""Report details are cached by id: a warm list page is one upstream call for anyone, the
cache is bounded and apart from sessions, and a report the portal deletes is forgotten."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache, caches

from portal.stalwart.reports import cache_key, parsed
from sandbox.mailflow import state
from sandbox.reports import receive_report
from tests.conftest import sign_in
from tests.reports.test_report_pages import _dmarc, calls, key


def many_reports(sandbox, count: int = 25) -> list:
    state(sandbox).clear()
    now = sandbox.now()
    return [
        receive_report(
            sandbox,
            "dmarc",
            sender=f"noreply{n}@reporter.example",
            to=["dmarc@example.org"],
            subject=f"Report {n}",
            report=_dmarc(org=f"Org {n}"),
            arrived=now - 60 * n,
        )
        for n in range(count)
    ]


def test_a_warm_list_page_is_one_upstream_call_for_everyone(signed_in, sandbox, client):
    made = many_reports(sandbox)
    first = signed_in("admin")
    assert first.get("/reports/dmarc/").status_code == 200
    assert len(calls(sandbox)) == 1 + 25  # cold: the list, then one detail each
    sandbox.requests.clear()
    content = first.get("/reports/dmarc/").content.decode()
    assert [r.path for r in calls(sandbox)] == ["/api/reports/dmarc"]
    assert "noreply24@reporter.example" in content
    # Another session (another person signing in) finds the same reports warm.
    from django.test import Client

    other = Client()
    assert sign_in(other, "admin").status_code == 302
    sandbox.requests.clear()
    assert other.get("/reports/dmarc/").status_code == 200
    assert [r.path for r in calls(sandbox)] == ["/api/reports/dmarc"]
    # Kept in the reports cache, not among sessions and throttles.
    assert caches["reports"].get(cache_key("dmarc", key(made[0]))) is not None
    assert cache.get(cache_key("dmarc", key(made[0]))) is None


def test_the_report_cache_is_bounded(settings):
    assert caches["reports"]._max_entries == settings.REPORT_CACHE_ENTRIES
    assert caches["reports"].default_timeout == settings.REPORT_CACHE_SECONDS > 3600


def test_a_deleted_report_is_forgotten(signed_in, sandbox):
    made = many_reports(sandbox, 3)
    client = signed_in("admin")
    client.get("/reports/dmarc/")
    gone = key(made[1])
    assert caches["reports"].get(cache_key("dmarc", gone)) is not None
    assert parsed(cache_key("dmarc", gone)) is not None
    assert client.post(f"/reports/dmarc/{gone}/delete").status_code == 302
    assert caches["reports"].get(cache_key("dmarc", gone)) is None
    assert parsed(cache_key("dmarc", gone)) is None
    assert caches["reports"].get(cache_key("dmarc", key(made[0]))) is not None
    sandbox.requests.clear()
    content = client.get("/reports/dmarc/").content.decode()
    assert [r.path for r in calls(sandbox)] == ["/api/reports/dmarc"]
    assert "noreply1@reporter.example" not in content and "noreply2@reporter.example" in content


def test_without_a_cache_time_nothing_is_kept(signed_in, sandbox, monkeypatch):
    monkeypatch.setattr(settings, "REPORT_CACHE_SECONDS", 0)
    many_reports(sandbox, 3)
    client = signed_in("admin")
    client.get("/reports/dmarc/")
    sandbox.requests.clear()
    client.get("/reports/dmarc/")
    assert len(calls(sandbox)) == 1 + 3


def test_a_warm_list_page_parses_nothing_again(signed_in, sandbox):
    """The reports a page showed stay parsed in the process: with the cache's raw answers
    gone, the next view still asks Stalwart for the list only, and shows the same objects."""
    made = many_reports(sandbox, 3)
    client = signed_in("admin")
    client.get("/reports/dmarc/")
    first = parsed(cache_key("dmarc", key(made[2])))
    assert first is not None and first.sender == "noreply2@reporter.example"
    caches["reports"].clear()
    sandbox.requests.clear()
    content = client.get("/reports/dmarc/").content.decode()
    assert [r.path for r in calls(sandbox)] == ["/api/reports/dmarc"]
    assert "noreply2@reporter.example" in content
    assert parsed(cache_key("dmarc", key(made[2]))) is first


def test_the_parsed_reports_are_bounded(signed_in, sandbox, settings):
    assert caches["parsed_reports"]._max_entries == 128
    # two at most, the oldest dropped first when a third comes
    bounded = {"MAX_ENTRIES": 2, "CULL_FREQUENCY": 2}
    settings.CACHES = {**settings.CACHES, "parsed_reports": {**settings.CACHES["parsed_reports"], "OPTIONS": bounded}}
    made = many_reports(sandbox, 3)
    signed_in("admin").get("/reports/dmarc/")
    kept = [parsed(cache_key("dmarc", key(report))) is not None for report in made]
    assert sum(kept) == 2
