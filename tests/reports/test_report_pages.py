"""Incoming reports against the sandbox: lists (ids + concurrent, cached details), details,
deletion, escaping of hostile reports, the DMARC overview and permissions."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import httpx
import pytest
from django.conf import settings

from sandbox.jmap import ids
from sandbox.mailflow import state
from sandbox.mailflow_seed import dmarc_record, policy_published
from sandbox.reports import receive_report
from tests.conftest import Persona, persona, sign_in

SCRIPT = "<script>alert('org')</script>"


def calls(sandbox, kind="dmarc", method="GET"):
    prefix = f"/api/reports/{kind}"
    return [r for r in sandbox.requests if r.path.startswith(prefix) and r.method == method]


def _dmarc(org="Google", domain="example.org", header_from="example.org", ip="203.0.113.25", passed=True, begin=None):
    return {
        "version": 1.0,
        "report_metadata": {
            "org_name": org,
            "email": "noreply@reporter.example",
            "extra_contact_info": None,
            "report_id": "r-1",
            "date_range": {"begin": begin or 1_700_000_000, "end": (begin or 1_700_000_000) + 86399},
            "error": [],
        },
        "policy_published": policy_published(domain),
        "record": [
            dmarc_record(
                ip,
                7,
                header_from,
                dkim="Pass" if passed else "Fail",
                spf="Pass" if passed else "Fail",
                disposition="None" if passed else "Reject",
                dkim_results=[(domain, "s1", "Pass" if passed else "Fail")],
                spf_results=[(domain, "MailFrom", "Pass" if passed else "Fail")],
                reasons=[("Forwarded", "<b>comment</b>")],
            )
        ],
        "extensions": [],
    }


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
            "summary": {"total-successful-session-count": 40, "total-failure-session-count": 3},
            "failure-details": [
                {
                    "result-type": "certificate-expired",
                    "sending-mta-ip": "209.85.220.41",
                    "receiving-mx-hostname": "mail.example.org",
                    "receiving-mx-helo": None,
                    "receiving-ip": "203.0.113.25",
                    "failed-session-count": 2,
                    "additional-information": "<i>see</i>",
                    "failure-reason-code": "EXPIRED",
                },
                {
                    "result-type": "starttls-not-supported",
                    "sending-mta-ip": "209.85.220.41",
                    "receiving-mx-hostname": "mail.example.org",
                    "receiving-mx-helo": None,
                    "receiving-ip": "203.0.113.25",
                    "failed-session-count": 1,
                    "additional-information": None,
                    "failure-reason-code": "NOTLS",
                },
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


def make_reports(sandbox) -> dict:
    """Two DMARC reports (one hostile), a TLS and an ARF report, and nothing else."""
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


@pytest.fixture
def reports(sandbox):
    return make_reports(sandbox)


def key(report):
    return f"{report.id}_{report.expires}"


def rid(generation, report) -> str:
    """A report's id in the portal's URLs: `<id>_<expiry>` on REST, the object id on 0.16."""
    return ids.encode(report.id) if generation.jmap else key(report)


def _restricted_client(client, sandbox, name, permissions):
    """Sign in as a new account holding exactly `permissions` (plus sign-in)."""
    admin = persona("admin")
    body = {
        "type": "individual",
        "name": name,
        "secrets": ["Restricted-Pass-1"],
        "enabledPermissions": ["authenticate", "authenticate-oauth", *permissions],
    }
    created = httpx.post(f"{settings.STALWART_URL}/api/principal", json=body, auth=(admin.name, admin.password))
    assert "data" in created.json(), created.text
    assert sign_in(client, Persona(name, name, "Restricted-Pass-1")).status_code == 302
    sandbox.requests.clear()
    return client


# --- lists --------------------------------------------------------------------------
def test_list_fetches_ids_then_details_and_caches(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.get("/reports/dmarc/")
    assert response.status_code == 200
    requests = calls(sandbox)
    assert requests[0].path == "/api/reports/dmarc"
    assert parse_qs(requests[0].query) == {"page": ["1"], "limit": ["25"]}
    assert sorted(r.path for r in requests[1:]) == sorted(
        f"/api/reports/dmarc/{key(reports[k])}" for k in ("good", "hostile")
    )
    content = response.content.decode()
    assert "Kept until" in content and "Received" not in content
    sandbox.requests.clear()
    client.get("/reports/dmarc/")
    assert [r.path for r in calls(sandbox)] == ["/api/reports/dmarc"]  # details came from the cache


def test_a_list_opened_again_is_filled_in_from_the_kept_page(signed_in, generation, reports):
    """The list around its rows is rendered once per person, address and total (portal/skeleton.py)."""
    from tests.directory import test_list_skeleton as kept

    client = signed_in("admin")
    first, second = client.get("/reports/dmarc/"), client.get("/reports/dmarc/")
    assert first.templates and second.templates == []
    before, after = first.content.decode(), second.content.decode()
    assert kept.shell(after) == kept.shell(before) and kept.rows(after) == kept.rows(before)
    assert "evil@attacker.example" in kept.rows(after)
    assert kept.tokens(after) and kept.tokens(after).isdisjoint(kept.tokens(before))

    # A deletion is told once, on a page rendered in full; the list then has a report fewer.
    deleted = client.post(f"/reports/dmarc/{rid(generation, reports['hostile'])}/delete")
    assert deleted.status_code == 302
    told = client.get("/reports/dmarc/")
    assert told.templates and "The DMARC report was deleted." in told.content.decode()
    assert "evil@attacker.example" not in told.content.decode()
    again, kept_again = client.get("/reports/dmarc/"), client.get("/reports/dmarc/")
    assert again.templates and kept_again.templates == []  # another total, so rendered once more
    assert "The DMARC report was deleted." not in kept_again.content.decode()
    assert kept.shell(kept_again.content.decode()) != kept.shell(before)
    # The results alone (HTMX) are a page of their own.
    partial = client.get("/reports/dmarc/", headers={"HX-Request": "true"})
    assert partial.templates and partial.content.decode().lstrip().startswith('<div id="results"')


def test_search_filters_by_text(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    content = client.get("/reports/dmarc/", {"q": "google"}).content.decode()
    assert "noreply@google.com" in content and "attacker" not in content
    if not generation.jmap:
        assert parse_qs(calls(sandbox)[0].query)["text"] == ["google"]
    content = client.get("/reports/dmarc/", {"q": "attacker"}).content.decode()
    assert "evil@attacker.example" in content and "noreply@google.com" not in content


def test_htmx_partial(signed_in, generation, reports):
    client = signed_in("admin")
    content = client.get("/reports/tls/", {"q": "a&b"}, headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="results"') and "<html" not in content
    # "Delete all matching" follows a search typed in place (out of band).
    link = 'id="all-matching" class="button button-danger-outline" href="/reports/tls/delete-matching?q=a%26b" hx-swap'
    assert link in content
    content = client.get("/reports/tls/", headers={"HX-Request": "true"}).content.decode()
    assert "Google Inc." in content and "example.org" in content


def test_hostile_report_is_text(signed_in, generation, reports):
    client = signed_in("admin")
    listing = client.get("/reports/dmarc/").content.decode()
    detail = client.get(f"/reports/dmarc/{rid(generation, reports['hostile'])}/").content.decode()
    for content in (listing, detail):
        assert SCRIPT not in content
        assert "&lt;script&gt;alert(&#x27;org&#x27;)&lt;/script&gt;" in content
    assert "<img src=x" not in detail and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in detail
    assert "<b>comment</b>" not in detail and "&lt;b&gt;comment&lt;/b&gt;" in detail
    arf = client.get(f"/reports/arf/{rid(generation, reports['arf'])}/").content.decode()
    assert "<script>alert('hdr')</script>" not in arf and "&lt;script&gt;alert(&#x27;hdr&#x27;)" in arf


def test_details_of_each_kind(signed_in, generation, reports):
    client = signed_in("admin")
    dmarc = client.get(f"/reports/dmarc/{rid(generation, reports['good'])}/").content.decode()
    assert "Published policy" in dmarc and "Quarantine" in dmarc and "203.0.113.25" in dmarc and "Relaxed" in dmarc
    assert "Override: <bdi>Forwarded</bdi>" in dmarc
    assert "Kept until" in dmarc and "then Stalwart deletes it" in dmarc
    assert ("Arrived" in dmarc) is generation.jmap  # 0.16 says when a report arrived
    tls = client.get(f"/reports/tls/{rid(generation, reports['tls'])}/").content.decode()
    assert "Certificate expired" in tls and "EXPIRED" in tls and "&lt;i&gt;see&lt;/i&gt;" in tls
    assert "STARTTLS not supported" in tls and "NOTLS" in tls and "mode: enforce" in tls
    arf = client.get(f"/reports/arf/{rid(generation, reports['arf'])}/").content.decode()
    assert "Authentication failure" in arf and "port 4242" in arf and "billing@example.org" in arf
    assert client.get("/reports/arf/1_2/").status_code == 404


def test_a_dmarc_report_counts_its_messages(signed_in, generation, reports):
    content = signed_in("admin").get(f"/reports/dmarc/{rid(generation, reports['hostile'])}/").content.decode()
    assert "This report covers 7 messages. 7 messages failed DMARC." in " ".join(content.split())


def _summary(content: str) -> str:
    paragraph = re.search(r'<p class="dmarc-summary">(.*?)</p>', content, re.S)
    assert paragraph, "no summary line"
    return " ".join(paragraph.group(1).split())


def test_the_dmarc_summary_says_what_each_number_counts(signed_in, sandbox):
    state(sandbox).clear()
    report = _dmarc()
    report["record"] = [
        dmarc_record("192.0.2.1", 30, "example.org", dkim="Fail", spf="Fail", disposition="Quarantine"),
        dmarc_record("192.0.2.2", 16, "example.org", dkim="Pass", spf="Fail", disposition="Quarantine"),
        dmarc_record("192.0.2.3", 42, "example.org", dkim="Pass", spf="Pass", disposition="Reject"),
        dmarc_record("192.0.2.4", 1, "example.org", dkim="Pass", spf="Pass", disposition="None"),
    ]
    made = receive_report(sandbox, "dmarc", sender="r@x.example", to=["d@example.org"], subject="s", report=report)
    content = signed_in("admin").get(f"/reports/dmarc/{key(made)}/").content.decode()
    assert _summary(content) == (
        "This report covers 89 messages. 30 messages failed DMARC. The receiving server delivered 1 message, "
        "quarantined 46 messages and rejected 42 messages (its own decision, whatever the DMARC result)."
    )
    # The failure card counts messages and their share, nothing else.
    card = re.search(r"DMARC fail</span>(.*?)</li>", content, re.S).group(1)
    assert ">30<" in card and "34%" in card and "quarantined" not in card


def test_hostile_values_are_cut_and_isolated_on_a_report(signed_in, sandbox):
    state(sandbox).clear()
    report = _dmarc(org="\u202eevil" + "x" * 5000)
    made = receive_report(sandbox, "dmarc", sender="r@x.example", to=["d@example.org"], subject="s", report=report)
    content = signed_in("admin").get(f"/reports/dmarc/{key(made)}/").content.decode()
    organisation = re.search(r"Organisation</dt><dd>(.*?)</dd>", content, re.S).group(1)
    assert organisation.startswith('<span class="clip"><bdi class="clip-head clip-break"><span class="control-char"')
    assert "⟨U+202E⟩" in organisation and "\u202e" not in content
    assert "Show all 5,005 characters" in organisation and organisation.count("x" * 5000) == 1


# --- delete -----------------------------------------------------------------------
def test_delete_one_with_confirmation(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    url = f"/reports/tls/{rid(generation, reports['tls'])}/delete"
    page = client.get(url)
    assert page.status_code == 200 and "Delete this TLS report?" in page.content.decode()
    assert not calls(sandbox, "tls", "DELETE") and not [r for r in sandbox.requests if r.method == "POST"]
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == "/reports/tls/"
    assert state(sandbox).incoming["tls"] == {}
    if generation.jmap:
        assert client.post(url).status_code == 404  # already gone (REST deletes it again, quietly)
    else:
        assert len(calls(sandbox, "tls", "DELETE")) == 1


def test_delete_matching_previews_then_deletes_by_text(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    content = client.get("/reports/dmarc/delete-matching", {"q": "attacker"}).content.decode()
    assert "1 report matches" in content and "evil@attacker.example" in content
    response = client.post("/reports/dmarc/delete-matching", {"q": "attacker", "expected": "1"}, follow=True)
    # 0.16 deletes at once; 0.15 in the background
    done = "Deleted 1 DMARC report." if generation.jmap else "Deleting 1 DMARC report"
    assert done in response.content.decode()
    if not generation.jmap:
        (delete,) = calls(sandbox, "dmarc", "DELETE")
        assert parse_qs(delete.query) == {"text": ["attacker"]}
    assert list(state(sandbox).incoming["dmarc"]) == [(reports["good"].id, reports["good"].expires)]


def test_delete_matching_checks_the_count(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post("/reports/dmarc/delete-matching", {"q": "", "expected": "7"})
    assert response.status_code == 409 and not calls(sandbox, "dmarc", "DELETE")
    assert len(state(sandbox).incoming["dmarc"]) == 2


# --- permissions and failures --------------------------------------------------------
def test_refused_without_permission(signed_in, generation, reports):
    client = signed_in("user")
    good = rid(generation, reports["good"])
    for url in ("/reports/dmarc/", f"/reports/dmarc/{good}/", "/reports/dmarc/overview"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/reports/dmarc/{good}/delete").status_code == 403
    assert generation.sandbox.requests == []


def test_helpdesk_cannot_delete(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    content = client.get("/reports/dmarc/").content.decode()
    assert "noreply@google.com" in content and "Delete" not in content
    sandbox.requests.clear()
    assert client.post(f"/reports/dmarc/{rid(generation, reports['good'])}/delete").status_code == 403
    assert client.get("/reports/dmarc/delete-matching").status_code == 403
    assert sandbox.requests == []


def test_list_only_permission_shows_ids_without_fetching_details(client, sandbox, reports):
    client = _restricted_client(client, sandbox, "lister", ["incoming-report-list"])
    content = client.get("/reports/dmarc/").content.decode()
    assert [r.path for r in sandbox.requests] == ["/api/reports/dmarc"]
    assert key(reports["good"]) in content and "only their ids are shown" in content


def test_tenant_admin_sees_only_tenant_reports(signed_in, generation, reports):
    acme = receive_report(
        generation.sandbox,
        "dmarc",
        sender="noreply@google.com",
        to=["dmarc@acme.org"],
        subject="acme",
        report=_dmarc(domain="acme.org", org="Acme reporter"),
    )
    client = signed_in("tenant_admin")
    content = client.get("/reports/dmarc/").content.decode()
    assert "Acme reporter" in content and "attacker" not in content
    assert client.get(f"/reports/dmarc/{rid(generation, reports['good'])}/").status_code == 404
    assert client.get(f"/reports/dmarc/{rid(generation, acme)}/").status_code == 200


def test_upstream_failure(signed_in, generation, reports):
    client = signed_in("admin")
    generation.upstream_failure()
    response = client.get("/reports/arf/")
    operation = "POST /jmap/" if generation.jmap else "GET /api/reports/arf"
    assert response.status_code == 502 and operation in response.content.decode()


# --- overview ----------------------------------------------------------------------
def test_dmarc_overview_charts(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.get("/reports/dmarc/overview", {"domain": "example.org"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "<svg" in content and 'class="chart-pass"' in content and 'class="chart-fail"' in content
    assert "style=" not in content.split("<main", 1)[1]
    assert "192.0.2.66" in content and "203.0.113.25" in content
    assert re.search(
        r"<td data-label=\"Pass rate\" class=\"cell-number\"><span class=\"badge badge-danger\">0%", content
    )
    assert SCRIPT not in content
    if generation.jmap:
        assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]  # one request
    else:
        assert parse_qs(calls(sandbox)[0].query)["text"] == ["example.org"]


def test_seeded_overview_renders(signed_in, generation):
    client = signed_in("admin")
    content = client.get("/reports/dmarc/overview").content.decode()
    assert "Top sending sources" in content and "example.com" in content


def test_unknown_report_class(signed_in, sandbox):
    assert signed_in("user").get("/reports/bogus/").status_code == 403
    assert signed_in("admin").get("/reports/bogus/").status_code == 404
    assert sandbox.requests == []


def test_a_phone_sees_the_newest_days_of_the_daily_chart():
    from datetime import date

    from portal.reports.charts import RECENT_DAYS, dmarc_overview_data

    data = dmarc_overview_data([], today=date(2025, 5, 31))
    wide, recent = data["daily"], data["recent"]
    assert [bar["date"] for bar in recent["bars"]] == [bar["date"] for bar in wide["bars"]][-RECENT_DAYS:]
    assert recent["bars"][-1]["date"] == date(2025, 5, 31)
    for chart in (wide, recent):
        # Every bar and the last day's label lie inside the drawing.
        assert all(bar["x"] + bar["width"] <= chart["right"] for bar in chart["bars"])
        last = chart["bars"][-1]
        assert last["label"] == "May 31" and last["label_anchor"] == "end" and last["label_x"] <= chart["width"]
    assert recent["width"] < wide["width"]


def test_the_overview_draws_both_charts(signed_in, sandbox):
    content = signed_in("admin").get("/reports/dmarc/overview").content.decode()
    assert content.count('<svg class="chart" viewBox="0 0 720 240"') == 1
    assert content.count('<svg class="chart" viewBox="0 0 360 240"') == 1
    assert 'class="chart-scroll chart-wide"' in content and 'class="chart-narrow"' in content
