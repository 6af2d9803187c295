"""Incoming reports on Stalwart 0.16: the same pages, served from x:DmarcExternalReport,
x:TlsExternalReport and x:ArfExternalReport (one request per list page). What the pages do on
both generations is tested once, in tests/reports/test_report_pages.py (`generation`); here
what is 0.16's own."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache, caches
from django.urls import reverse

from portal.stalwart import backend
from portal.stalwart.jmap.reports import JmapReports
from portal.stalwart.report_types import IncomingReportId
from portal.stalwart.reports import ReportsApi, cache_key, parsed
from sandbox.jmap import ids
from sandbox.mailflow import state
from sandbox.reports import receive_report
from tests.reports.test_report_pages import ARF, _dmarc, make_reports


def posts(sandbox) -> list:
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def oid(report) -> str:
    """The 0.16 object id of a report the sandbox stored."""
    return ids.encode(report.id)


@pytest.fixture
def reports(sandbox):
    return make_reports(sandbox)


def detail(kind: str, report) -> str:
    return reverse("reports:detail", kwargs={"kind": kind, "report_id": oid(report)})


# --- the area ------------------------------------------------------------------------
@pytest.mark.parametrize("area", [ReportsApi, JmapReports])
def test_both_report_areas_share_one_protocol(area):
    import inspect

    for name in ("ids", "get", "details", "delete", "delete_matching"):
        wanted = inspect.signature(getattr(backend.ReportsArea, name)).parameters
        offered = inspect.signature(getattr(area, name)).parameters
        assert list(wanted) == [p for p in offered if p in wanted], (area, name)
        assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)
    assert isinstance(backend.for_session("jmap", "t").reports, backend.ReportsArea)
    assert isinstance(backend.for_session("rest", "t").reports, backend.ReportsArea)


def test_the_cache_key_names_server_and_generation(settings):
    rest = cache_key("dmarc", "1_2")
    jmap = cache_key("dmarc", "1_2", generation="jmap")
    assert rest != jmap
    settings.STALWART_URL = "http://elsewhere.example:8080"
    assert cache_key("dmarc", "1_2") != rest
    assert IncomingReportId("jscq01yqaacu", None).valid and not IncomingReportId("x/y", None).valid


# --- lists ---------------------------------------------------------------------------
def test_a_list_page_is_one_request_with_every_summary(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.get("/reports/dmarc/")
    assert response.status_code == 200
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]
    content = response.content.decode()
    assert "noreply@google.com" in content and "evil@attacker.example" in content
    assert "Kept until" in content
    assert f'href="{detail("dmarc", reports["good"])}"' in content
    # Newest expiry first: the hostile report arrived later.
    assert content.index("evil@attacker.example") < content.index("noreply@google.com")


def test_paging_and_total(signed_in, sandbox, reports):
    for n in range(26):
        receive_report(sandbox, "dmarc", sender=f"r{n}@x.example", to=["d@example.org"], subject="s", report=_dmarc())
    client = signed_in("admin")
    sandbox.requests.clear()
    second = client.get("/reports/dmarc/?page=2").content.decode()
    assert len(posts(sandbox)) == 1
    assert "26–28 of 28" in " ".join(second.split()) or "of 28" in second
    # The oldest three (newest expiry first): the two fixture reports and the first received here.
    assert "noreply@google.com" in second and "evil@attacker.example" in second
    assert "r25@x.example" not in second


def test_arf_list(signed_in, sandbox, reports):
    content = signed_in("admin").get("/reports/arf/").content.decode()
    assert "fbl@isp.example" in content and "Authentication failure" in content


# --- details -------------------------------------------------------------------------
def test_unknown_and_rest_shaped_ids_are_gone(signed_in, sandbox, reports):
    client = signed_in("admin")
    assert client.get("/reports/dmarc/zzzzzzz/").status_code == 404
    sandbox.requests.clear()
    response = client.get(f"/reports/dmarc/{reports['good'].id}_{reports['good'].expires}/")
    assert response.status_code == 404 and "no longer stored" in response.content.decode()
    assert sandbox.requests == []  # not an id a 0.16 server makes: nothing asked
    # A report of another class is not found under this one.
    assert (
        client.get(reverse("reports:detail", kwargs={"kind": "tls", "report_id": oid(reports["arf"])})).status_code
        == 404
    )


# --- delete --------------------------------------------------------------------------
def test_deleting_one_forgets_its_cache(signed_in, sandbox, reports):
    client = signed_in("admin")
    client.get(detail("tls", reports["tls"]))
    key = cache_key("tls", oid(reports["tls"]), generation="jmap")
    assert caches["reports"].get(key) is not None
    assert parsed(key) is not None
    url = reverse("reports:delete", kwargs={"kind": "tls", "report_id": oid(reports["tls"])})
    assert client.post(url).status_code == 302
    assert caches["reports"].get(key) is None and parsed(key) is None


def test_delete_matching_everything_in_chunks(signed_in, sandbox, reports, settings):
    from django.core.cache import cache as default

    from portal.stalwart.jmap.client import Limits, _limits_key

    for n in range(5):
        receive_report(sandbox, "arf", sender=f"f{n}@x.example", to=["a@example.org"], subject="s", report=ARF)
    client = signed_in("admin")
    default.set(_limits_key(), Limits(max_set=2), 3600)  # a server allowing 2 destroys per call
    sandbox.requests.clear()
    response = client.post("/reports/arf/delete-matching", {"q": "", "expected": "6"})
    assert response.status_code == 302
    assert state(sandbox).incoming["arf"] == {}
    assert len(posts(sandbox)) == 1 + 3  # the check, then three rounds of two


# --- requests and the cache ---------------------------------------------------------
def test_details_after_a_list_ask_nothing_more(sandbox, reports):
    from portal.stalwart.jmap.client import JmapClient

    async def run():
        from tests.conftest import persona

        area = JmapReports(JmapClient(basic=(persona("admin").name + "@example.org", persona("admin").password)))
        page = await area.ids("dmarc")
        before = len(posts(sandbox))
        found = await area.details("dmarc", list(page.items))
        return page, found, before

    page, found, before = asyncio.run(run())
    assert len(posts(sandbox)) == before
    assert {item.raw for item in page.items} == {oid(reports["good"]), oid(reports["hostile"])}
    assert all(found[item.raw] is not None for item in page.items)


def test_a_warm_list_page_parses_the_reports_it_showed_once(signed_in, sandbox, reports):
    client = signed_in("admin")
    assert "noreply@google.com" in client.get("/reports/dmarc/").content.decode()
    key = cache_key("dmarc", oid(reports["good"]), generation="jmap")
    first = parsed(key)
    assert first is not None and first.sender == "noreply@google.com"
    sandbox.requests.clear()
    assert "noreply@google.com" in client.get("/reports/dmarc/").content.decode()
    assert len(posts(sandbox)) == 1 and parsed(key) is first  # listed again, not parsed again


def test_a_server_with_a_smaller_get_limit_gets_the_reports_in_a_second_request(signed_in, sandbox, reports):
    from portal.stalwart.jmap.client import Limits, _limits_key

    client = signed_in("admin")
    cache.set(_limits_key(), Limits(max_get=1), 3600)
    sandbox.requests.clear()
    content = client.get("/reports/dmarc/").content.decode()
    assert len(posts(sandbox)) == 2  # the query, then the gets split to one id each, in one request
    assert "noreply@google.com" in content and "evil@attacker.example" in content


def test_the_search_explains_whole_words(signed_in, sandbox, reports):
    content = signed_in("admin").get("/reports/dmarc/", {"q": "nothing-here"}).content.decode()
    assert "whole words of the sender" in content and "looks for whole words" in content
    assert "case-sensitive" not in content


def test_details_come_from_the_cache_of_this_server_and_generation(sandbox, reports):
    from portal.stalwart.jmap.client import JmapClient
    from tests.conftest import persona

    admin = persona("admin")

    async def run():
        first = JmapReports(JmapClient(basic=(admin.name + "@example.org", admin.password)))
        report = await first.get("dmarc", oid(reports["good"]))
        second = JmapReports(JmapClient(basic=(admin.name + "@example.org", admin.password)))
        before = len(posts(sandbox))
        found = await second.details("dmarc", [report.id])
        return report, found, before

    report, found, before = asyncio.run(run())
    assert len(posts(sandbox)) == before and found[report.id.raw] == report
    assert caches["reports"].get(cache_key("dmarc", report.id.raw)) is None  # never under a REST key
