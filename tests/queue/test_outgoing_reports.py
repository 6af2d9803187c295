"""The queue of outgoing DMARC/TLS reports: list, detail, cancel one, cancel all matching."""

from __future__ import annotations

from urllib.parse import parse_qs, quote

import pytest

from sandbox.mailflow import state
from sandbox.queue import schedule_report
from tests.faults import broken_upstream


def calls(sandbox, method=None):
    return [
        r
        for r in sandbox.requests
        if r.path.startswith("/api/queue/reports") and (method is None or r.method == method)
    ]


def make_reports(sandbox) -> dict:
    """A daily DMARC report for gmail.com (hostile identifiers) and a weekly TLS report for fabrikam.com."""
    state(sandbox).clear()
    policy = {"domain": "x", "adkim": "Relaxed", "aspf": "Relaxed", "p": "Reject", "sp": "Reject", "testing": False}
    record = {
        "row": {
            "source_ip": "192.0.2.9",
            "count": 4,
            "policy_evaluated": {"disposition": "Reject", "dkim": "Fail", "spf": "Fail", "reason": []},
        },
        "identifiers": {
            "envelope_to": None,
            "envelope_from": "<b>bold</b>.example",
            "header_from": "<script>x</script>",
        },
        "auth_results": {"dkim": [], "spf": []},
        "extensions": [],
    }
    dmarc = schedule_report(
        sandbox,
        kind="d",
        domain="gmail.com",
        period=86400,
        rua=[{"uri": "mailto:rua@gmail.com", "max_size": 0}],
        data={"policy_published": policy, "records": [record]},
    )
    tls = schedule_report(
        sandbox,
        kind="t",
        domain="fabrikam.com",
        period=7 * 86400,
        rua=[{"Http": "https://tls.fabrikam.com/r"}],
        data={"policies": []},
    )
    sandbox.requests.clear()
    return {"dmarc": dmarc, "tls": tls}


@pytest.fixture
def reports(sandbox):
    return make_reports(sandbox)


def test_list_and_filters(signed_in, sandbox, reports):
    client = signed_in("helpdesk")
    content = client.get("/queue/reports/").content.decode()
    assert "gmail.com" in content and "fabrikam.com" in content and "Weekly" in content and "Daily" in content
    assert "Cancel" not in content  # helpdesk may not cancel
    sandbox.requests.clear()
    client.get("/queue/reports/", {"q": "Gmail", "type": "dmarc"})
    params = parse_qs(calls(sandbox)[0].query)
    assert params["domain"] == ["Gmail"] and params["type"] == ["dmarc"]


def test_detail_is_escaped(signed_in, sandbox, reports):
    client = signed_in("admin")
    report = reports["dmarc"]
    response = client.get(f"/queue/reports/{report.id}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "mailto:rua@gmail.com" in content and "192.0.2.9" in content
    assert "<script>x</script>" not in content and "&lt;script&gt;x&lt;/script&gt;" in content
    assert calls(sandbox)[0].path == "/api/queue/reports/" + quote(report.id, safe="").replace(".", "%2E")


def test_missing_report_is_a_friendly_404(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.get("/queue/reports/d!gmail.com!1!2!3/")
    assert response.status_code == 404 and "no longer queued" in response.content.decode()


def test_cancel_one(signed_in, sandbox, reports):
    client = signed_in("admin")
    report = reports["tls"]
    page = client.get(f"/queue/reports/{report.id}/cancel")
    assert "Cancel the TLS report for <bdi>fabrikam.com</bdi>?" in page.content.decode()
    assert not calls(sandbox, "DELETE")
    response = client.post(f"/queue/reports/{report.id}/cancel")
    assert response.status_code == 302
    assert len(calls(sandbox, "DELETE")) == 1 and report.id not in state(sandbox).outgoing


def test_cancel_matching_uses_domain_and_type(signed_in, sandbox, reports):
    client = signed_in("admin")
    content = client.get("/queue/reports/cancel-matching", {"q": "gmail"}).content.decode()
    assert "1 report matches" in content
    response = client.post("/queue/reports/cancel-matching", {"q": "gmail", "type": "", "expected": "1"})
    assert response.status_code == 302
    (delete,) = calls(sandbox, "DELETE")
    assert parse_qs(delete.query) == {"domain": ["gmail"]}
    assert list(state(sandbox).outgoing) == [reports["tls"].id]


def test_cancel_matching_checks_the_count(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.post("/queue/reports/cancel-matching", {"q": "", "expected": "1"})
    assert response.status_code == 409 and not calls(sandbox, "DELETE")


def test_refused(signed_in, sandbox, reports):
    client = signed_in("helpdesk")
    assert client.post(f"/queue/reports/{reports['tls'].id}/cancel").status_code == 403
    assert client.get("/queue/reports/cancel-matching").status_code == 403
    assert sandbox.requests == []
    client = signed_in("user")
    assert client.get("/queue/reports/").status_code == 403
    assert sandbox.requests == []


def test_htmx_partial_and_upstream_failure(signed_in, sandbox, reports, settings):
    client = signed_in("admin")
    content = client.get("/queue/reports/?type=tls", headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="results"') and "fabrikam.com" in content and "gmail.com" not in content
    with broken_upstream("html") as url:
        settings.STALWART_URL = url
        response = client.get("/queue/reports/")
    assert response.status_code == 502
