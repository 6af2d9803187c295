"""Incoming reports on Stalwart 0.16: the same pages, served from x:DmarcExternalReport,
x:TlsExternalReport and x:ArfExternalReport (one request per list page)."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache, caches
from django.urls import reverse

from portal.stalwart import backend
from portal.stalwart.jmap.reports import JmapReports
from portal.stalwart.report_types import IncomingReportId
from portal.stalwart.reports import ReportsApi, cache_key
from sandbox.jmap import ids
from sandbox.mailflow import state
from sandbox.reports import receive_report
from tests.reports.test_report_pages import SCRIPT, _dmarc

TLS = {
    "organization-name": "Google Inc.",
    "date-range": {"start-datetime": "2025-01-01T00:00:00Z", "end-datetime": "2025-01-01T23:59:59Z"},
    "contact-info": "smtp-tls@google.com",
    "report-id": "tls-77",
    "policies": [
        {
            "policy": {
                "policy-type": "sts",
                "policy-string": ["mode: enforce"],
                "policy-domain": "example.org",
                "mx-host": ["mail.example.org"],
            },
            "summary": {"total-successful-session-count": 40, "total-failure-session-count": 2},
            "failure-details": [
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "209.85.220.41",
                    "receiving-mx-hostname": "mail.example.org",
                    "receiving-mx-helo": None,
                    "receiving-ip": "203.0.113.25",
                    "failed-session-count": 2,
                    "additional-information": "<i>see</i>",
                    "failure-reason-code": "NOTLS",
                }
            ],
        }
    ],
}
ARF = {
    "feedback_type": "AuthFailure",
    "arrival_date": 1_700_000_000,
    "authentication_results": [],
    "incidents": 2,
    "original_mail_from": "billing@example.org",
    "reported_domain": ["example.org"],
    "reported_uri": [],
    "source_ip": "192.0.2.66",
    "source_port": 4242,
    "auth_failure": "Dmarc",
    "delivery_result": "Reject",
    "identity_alignment": "DkimSpf",
    "dkim_domain": "example.org",
    "headers": "Subject: <script>alert('hdr')</script>\r\nFrom: x\r\n",
    "message": None,
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    caches["reports"].clear()
    yield
    caches["reports"].clear()


def posts(sandbox) -> list:
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def oid(report) -> str:
    """The 0.16 object id of a report the sandbox stored."""
    return ids.encode(report.id)


@pytest.fixture
def reports(sandbox):
    state(sandbox).clear()
    now = sandbox.now()
    made = {
        "good": receive_report(
            sandbox,
            "dmarc",
            sender="noreply@google.com",
            to=["dmarc@example.org"],
            subject="Report example.org",
            report=_dmarc(begin=now - now % 86400 - 86400),
            arrived=now - 7200,
        ),
        "hostile": receive_report(
            sandbox,
            "dmarc",
            sender="evil@attacker.example",
            to=["dmarc@example.org"],
            subject=f"Hi {SCRIPT}",
            report=_dmarc(
                org=SCRIPT,
                header_from='"><img src=x onerror=alert(1)>',
                ip="192.0.2.66",
                passed=False,
                begin=now - now % 86400 - 2 * 86400,
            ),
            arrived=now - 3600,
        ),
        "tls": receive_report(
            sandbox, "tls", sender="tls@google.com", to=["tls@example.org"], subject="TLS", report=TLS
        ),
        "arf": receive_report(
            sandbox, "arf", sender="fbl@isp.example", to=["abuse@example.org"], subject="Complaint", report=ARF
        ),
    }
    sandbox.requests.clear()
    return made


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


def test_search_filters_by_text(signed_in, sandbox, reports):
    client = signed_in("admin")
    content = client.get("/reports/dmarc/", {"q": "attacker"}).content.decode()
    assert "evil@attacker.example" in content and "noreply@google.com" not in content


def test_htmx_partial(signed_in, sandbox, reports):
    client = signed_in("admin")
    content = client.get("/reports/tls/", headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="results"') and "<html" not in content
    assert "Google Inc." in content and "example.org" in content


def test_arf_list(signed_in, sandbox, reports):
    content = signed_in("admin").get("/reports/arf/").content.decode()
    assert "fbl@isp.example" in content and "Authentication failure" in content


# --- details -------------------------------------------------------------------------
def test_details_of_each_kind(signed_in, sandbox, reports):
    client = signed_in("admin")
    dmarc = client.get(detail("dmarc", reports["good"])).content.decode()
    assert "Published policy" in dmarc and "Quarantine" in dmarc and "203.0.113.25" in dmarc
    assert "Override: <bdi>Forwarded</bdi>" in dmarc and "Relaxed" in dmarc
    assert "Kept until" in dmarc and "Arrived" in dmarc
    tls = client.get(detail("tls", reports["tls"])).content.decode()
    assert "STARTTLS not supported" in tls and "mode: enforce" in tls and "NOTLS" in tls
    assert "&lt;i&gt;see&lt;/i&gt;" in tls
    arf = client.get(detail("arf", reports["arf"])).content.decode()
    assert "Authentication failure" in arf and "port 4242" in arf and "billing@example.org" in arf


def test_a_dmarc_report_counts_like_on_rest(signed_in, sandbox, reports):
    content = signed_in("admin").get(detail("dmarc", reports["hostile"])).content.decode()
    assert "This report covers 7 messages. 7 messages failed DMARC." in " ".join(content.split())


def test_hostile_values_are_text(signed_in, sandbox, reports):
    client = signed_in("admin")
    listing = client.get("/reports/dmarc/").content.decode()
    page = client.get(detail("dmarc", reports["hostile"])).content.decode()
    for content in (listing, page):
        assert SCRIPT not in content and "&lt;script&gt;alert(&#x27;org&#x27;)&lt;/script&gt;" in content
    assert "<img src=x" not in page
    arf = client.get(detail("arf", reports["arf"])).content.decode()
    assert "<script>alert('hdr')</script>" not in arf


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
def test_delete_one_destroys_it_and_forgets_its_cache(signed_in, sandbox, reports):
    client = signed_in("admin")
    client.get(detail("tls", reports["tls"]))
    key = cache_key("tls", oid(reports["tls"]), generation="jmap")
    assert caches["reports"].get(key) is not None
    url = reverse("reports:delete", kwargs={"kind": "tls", "report_id": oid(reports["tls"])})
    sandbox.requests.clear()
    page = client.get(url)
    assert page.status_code == 200 and "Delete this TLS report?" in page.content.decode()
    assert sandbox.requests == []
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/reports/tls/"
    assert state(sandbox).incoming["tls"] == {}
    assert caches["reports"].get(key) is None
    assert client.post(url).status_code == 404  # already gone


def test_delete_matching_previews_then_deletes(signed_in, sandbox, reports):
    client = signed_in("admin")
    content = client.get("/reports/dmarc/delete-matching", {"q": "attacker"}).content.decode()
    assert "1 report matches" in content and "evil@attacker.example" in content
    response = client.post("/reports/dmarc/delete-matching", {"q": "attacker", "expected": "1"}, follow=True)
    assert "Deleted 1 DMARC report." in response.content.decode()
    assert list(state(sandbox).incoming["dmarc"]) == [(reports["good"].id, reports["good"].expires)]


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


def test_delete_matching_checks_the_count(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.post("/reports/dmarc/delete-matching", {"q": "", "expected": "7"})
    assert response.status_code == 409 and len(state(sandbox).incoming["dmarc"]) == 2


# --- permissions, tenants, failures -------------------------------------------------
def test_refused_without_permission_before_any_call(signed_in, sandbox, reports):
    client = signed_in("user")
    for url in ("/reports/dmarc/", detail("dmarc", reports["good"]), "/reports/dmarc/overview"):
        assert client.get(url).status_code == 403, url
    assert (
        client.post(reverse("reports:delete", kwargs={"kind": "dmarc", "report_id": oid(reports["good"])})).status_code
        == 403
    )
    assert sandbox.requests == []


def test_helpdesk_reads_but_cannot_delete(signed_in, sandbox, reports):
    client = signed_in("helpdesk")
    content = client.get("/reports/dmarc/").content.decode()
    assert "noreply@google.com" in content and "Delete" not in content
    sandbox.requests.clear()
    assert (
        client.post(reverse("reports:delete", kwargs={"kind": "dmarc", "report_id": oid(reports["good"])})).status_code
        == 403
    )
    assert sandbox.requests == []


def test_tenant_admin_sees_only_tenant_reports(signed_in, sandbox, reports):
    acme = receive_report(
        sandbox,
        "dmarc",
        sender="noreply@google.com",
        to=["dmarc@acme.org"],
        subject="acme",
        report=_dmarc(domain="acme.org", org="Acme reporter"),
    )
    client = signed_in("tenant_admin")
    content = client.get("/reports/dmarc/").content.decode()
    assert "Acme reporter" in content and "attacker" not in content
    assert client.get(detail("dmarc", reports["good"])).status_code == 404
    assert client.get(detail("dmarc", acme)).status_code == 200


def test_upstream_failure_gives_the_explanatory_page(signed_in, sandbox, reports):
    client = signed_in("admin")
    sandbox.faults.server_error(500, prefix="/jmap/")
    response = client.get("/reports/arf/")
    assert response.status_code == 502 and "POST /jmap/" in response.content.decode()


# --- overview -----------------------------------------------------------------------
def test_dmarc_overview_is_one_request(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.get("/reports/dmarc/overview", {"domain": "example.org"})
    assert response.status_code == 200
    assert len(posts(sandbox)) == 1
    content = response.content.decode()
    assert "<svg" in content and 'class="chart-pass"' in content and 'class="chart-fail"' in content
    assert "192.0.2.66" in content and "203.0.113.25" in content
    assert SCRIPT not in content


def test_seeded_overview_renders(signed_in, sandbox):
    content = signed_in("admin").get("/reports/dmarc/overview").content.decode()
    assert "Top sending sources" in content and "example.com" in content


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
