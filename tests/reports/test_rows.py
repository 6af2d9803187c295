"""The incoming report lists' rows are written in Python: every value from Stalwart comes out
as text, links only for ids Stalwart could answer, one cell per column in every case."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.reports.rows import render_rows
from portal.stalwart.report_types import IncomingReport, IncomingReportId
from sandbox.mailflow_seed import dmarc_record, policy_published
from tests.directory.test_rows import PAYLOAD, Collect

TAGS = {"tr", "th", "td", "a", "span", "code", "time", "bdi", "details", "summary"}
RAW = "342277996150784125_1798082867"
DAY = 86400
BEGIN = 1_700_006_400  # a midnight, UTC


def dmarc(org: str = PAYLOAD, days: int = 1) -> dict:
    return {
        "report_metadata": {
            "org_name": org,
            "email": PAYLOAD,
            "report_id": PAYLOAD,
            "date_range": {"begin": BEGIN, "end": BEGIN + days * DAY - 1},
        },
        "policy_published": {**policy_published("example.org"), "domain": f"d{PAYLOAD}"},
        "record": [
            dmarc_record("192.0.2.1", 5, "example.org", dkim="Pass", spf="Pass", disposition="None"),
            dmarc_record("192.0.2.2", 2, "example.org", dkim="Fail", spf="Fail", disposition="Reject"),
        ],
    }


def tls(domains: list[str]) -> dict:
    return {
        "organization-name": "",
        "date-range": {"start-datetime": "2025-01-01T00:00:00Z", "end-datetime": "2025-01-01T23:59:59Z"},
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-domain": domain},
                "summary": {"total-successful-session-count": 40, "total-failure-session-count": 0},
            }
            for domain in domains
        ],
    }


def arf(feedback_type: str = "Abuse") -> dict:
    return {"feedback_type": feedback_type, "arrival_date": None, "incidents": 3, "reported_domain": [PAYLOAD, "b.org"]}


def item(kind: str, report: dict, sender: str = f"s{PAYLOAD}@example.org") -> tuple:
    data = {"from": sender, "to": ["dmarc@example.org"], "subject": PAYLOAD, "report": report}
    return IncomingReportId.parse(RAW), IncomingReport.from_api(kind, RAW, data)


def parse(row) -> tuple[Collect, str]:
    parsed = Collect()
    parsed.feed(str(row))
    return parsed, " ".join(" ".join(parsed.text).split())


def hrefs(parsed: Collect) -> list[str]:
    return [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]


def cells(parsed: Collect) -> int:
    return sum(1 for tag, _ in parsed.tags if tag in ("th", "td")) + sum(
        int(attrs.get("colspan", 1)) - 1 for tag, attrs in parsed.tags if tag == "td"
    )


@pytest.mark.parametrize(
    ("kind", "report", "columns"), [("dmarc", dmarc(), 7), ("tls", tls([PAYLOAD]), 6), ("arf", arf(), 6)]
)
@pytest.mark.parametrize("can_delete", [True, False])
def test_every_value_is_text(kind, report, columns, can_delete):
    row = str(render_rows(kind, [item(kind, report)], can_get=True, can_delete=can_delete))
    parsed, text = parse(row)
    assert {tag for tag, _ in parsed.tags} <= TAGS
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    assert "<script" not in row and "<img" not in row
    assert f"s{PAYLOAD}@example.org" in text
    detail = reverse("reports:detail", kwargs={"kind": kind, "report_id": RAW})
    delete = reverse("reports:delete", kwargs={"kind": kind, "report_id": RAW})
    assert hrefs(parsed) == ([detail, delete] if can_delete else [detail])
    assert cells(parsed) == columns - (0 if can_delete else 1)


def test_dmarc_row():
    _, text = parse(render_rows("dmarc", [item("dmarc", dmarc(days=2))], can_get=True, can_delete=False))
    assert text.startswith(f"{PAYLOAD} s{PAYLOAD}@example.org Kept until 2026-12-24")
    assert text.endswith(f"d{PAYLOAD} 2023-11-15 to 2023-11-16 7 5 2")
    _, one_day = parse(render_rows("dmarc", [item("dmarc", dmarc("Google"))], can_get=True, can_delete=False))
    assert one_day.startswith("Google ") and one_day.endswith(" 2023-11-15 7 5 2")


def test_tls_row_counts_the_other_domains():
    _, text = parse(render_rows("tls", [item("tls", tls(["a.org", "b.org", "c.org"]))], can_get=True, can_delete=False))
    # No organisation name: the sender stands in for it.
    assert text == f"s{PAYLOAD}@example.org s{PAYLOAD}@example.org Kept until 2026-12-24 a.org + 2 2025-01-01 120 0"


@pytest.mark.parametrize(("feedback", "badge"), [("Abuse", "badge badge-danger"), ("NotSpam", "badge")])
def test_arf_row(feedback, badge):
    parsed, text = parse(render_rows("arf", [item("arf", arf(feedback), sender="")], can_get=True, can_delete=False))
    assert text.startswith("Unknown sender")
    assert text.endswith(f"— {PAYLOAD}, b.org 3")
    assert ("span", {"class": badge}) in parsed.tags


def test_a_report_gone_or_not_fetched():
    gone = [(IncomingReportId.parse(RAW), None)]
    parsed, text = parse(render_rows("dmarc", gone, can_get=True, can_delete=True))
    assert text.startswith(f"{RAW} No longer available Kept until")
    assert hrefs(parsed) == [reverse("reports:delete", kwargs={"kind": "dmarc", "report_id": RAW})]
    assert cells(parsed) == 7
    parsed, text = parse(render_rows("tls", gone, can_get=False, can_delete=False))
    assert "No longer available" not in text and cells(parsed) == 5


@pytest.mark.parametrize("raw", [f"1_{PAYLOAD}", "a/b", "", "1_2/../../x"])
def test_an_id_stalwart_could_not_have_made_gets_no_link(raw):
    row = str(render_rows("arf", [(IncomingReportId.parse(raw), None)], can_get=True, can_delete=True))
    parsed, text = parse(row)
    assert hrefs(parsed) == [] and cells(parsed) == 6
    assert raw in text and "<script" not in row


def test_a_report_seen_before_gives_its_kept_row_while_the_same_report_is_at_hand(monkeypatch):
    """Rows are kept by report id and the parsed report they show (by weak reference): the same
    object gives the same row without writing it again; a report parsed anew is written anew;
    the kept row does not keep the report alive; failure reports' rows (how long ago) never are."""
    import gc

    from portal.reports.rows import ReportRows

    written = []
    original = ReportRows._row

    def counting(self, report_id, report):
        written.append(report_id.raw)
        return original(self, report_id, report)

    monkeypatch.setattr(ReportRows, "_row", counting)
    first = item("dmarc", dmarc("First Org"))
    html = render_rows("dmarc", [first], can_get=True, can_delete=True)
    assert render_rows("dmarc", [first], can_get=True, can_delete=True) == html
    assert written == [RAW]

    again = item("dmarc", dmarc("Second Org"))  # the same id, parsed anew (another object)
    changed = render_rows("dmarc", [again], can_get=True, can_delete=True)
    assert written == [RAW, RAW] and "Second Org" in changed and "First Org" not in changed

    gone = (IncomingReportId.parse(RAW), None)  # Stalwart no longer has it: the id alone
    render_rows("dmarc", [gone], can_get=True, can_delete=True)
    render_rows("dmarc", [gone], can_get=True, can_delete=True)
    assert written == [RAW, RAW, RAW]

    import weakref

    report = item("tls", tls(["example.org"]))
    render_rows("tls", [report], can_get=True, can_delete=False)
    watch = weakref.ref(report[1])
    del report
    gc.collect()
    assert watch() is None  # the kept row did not keep it

    failure = item("arf", arf())
    render_rows("arf", [failure], can_get=True, can_delete=True)
    render_rows("arf", [failure], can_get=True, can_delete=True)
    assert written.count(RAW) == 6

    # A row whose report is gone from memory is not taken for the row of a report Stalwart lost.
    dead = item("dmarc", dmarc("Dead Org"))
    render_rows("dmarc", [dead], can_get=True, can_delete=True)
    del dead
    gc.collect()
    shown = render_rows("dmarc", [gone], can_get=True, can_delete=True)
    assert "No longer available" in shown and "Dead Org" not in shown
