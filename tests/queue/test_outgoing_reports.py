"""The queue of outgoing DMARC/TLS reports: list, detail, cancel one, cancel all matching."""

from __future__ import annotations

import re
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


def posts(sandbox) -> list:
    """The JMAP requests that reached the sandbox."""
    return [r for r in sandbox.requests if r.path == "/jmap/"]


def _report_links(content: str) -> list[str]:
    return re.findall(r'href="/queue/reports/([^"/]+)/"', content)


def key(generation, client, report) -> str:
    """A report's id in the portal's URLs: the server's key up to 0.15; on 0.16 `d-`/`t-` and
    the object's id, read from the list."""
    if not generation.jmap:
        return report.id
    kind = "dmarc" if report.id.startswith("d") else "tls"
    (link,) = set(_report_links(client.get("/queue/reports/", {"type": kind}).content.decode()))
    return link


def kinds(content: str) -> set[str]:
    """The types of the reports listed: `d` (DMARC), `t` (TLS)."""
    return {link[0] for link in _report_links(content)}


def test_list_and_filters(signed_in, generation, reports):
    sandbox = generation.sandbox
    content = signed_in("admin").get("/queue/reports/").content.decode()
    assert "gmail.com" in content and "fabrikam.com" in content and "Weekly" in content and "Daily" in content
    assert kinds(content) == {"d", "t"}
    if generation.jmap:  # both types in one round trip
        assert len(posts(sandbox)) == 1
        assert "finds reports by the whole domain name" in content
    client = signed_in("helpdesk")
    content = client.get("/queue/reports/").content.decode()
    assert kinds(content) == {"d", "t"} and "Cancel" not in content  # helpdesk may not cancel
    content = client.get("/queue/reports/", {"type": "tls"}).content.decode()
    assert "fabrikam.com" in content and kinds(content) == {"t"}
    content = client.get("/queue/reports/", {"q": "gmail.com"}).content.decode()
    assert "fabrikam.com" not in content and kinds(content) == {"d"}
    sandbox.requests.clear()
    content = client.get("/queue/reports/", {"q": "Gmail", "type": "dmarc"}).content.decode()
    if generation.jmap:
        assert kinds(content) == set()  # 0.16 matches the whole domain name
    else:
        params = parse_qs(calls(sandbox)[0].query)
        assert params["domain"] == ["Gmail"] and params["type"] == ["dmarc"]
        assert kinds(content) == {"d"}


def test_detail_is_escaped(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    report = reports["dmarc"]
    url = f"/queue/reports/{key(generation, client, report)}/"
    sandbox.requests.clear()
    response = client.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "mailto:rua@gmail.com" in content and "192.0.2.9" in content
    assert "<script>x</script>" not in content and "&lt;script&gt;x&lt;/script&gt;" in content
    if not generation.jmap:
        assert calls(sandbox)[0].path == "/api/queue/reports/" + quote(report.id, safe="").replace(".", "%2E")


def test_missing_report_is_a_friendly_404(signed_in, generation, reports):
    client = signed_in("admin")
    missing = "d-zzzz" if generation.jmap else "d!gmail.com!1!2!3"
    response = client.get(f"/queue/reports/{missing}/")
    assert response.status_code == 404 and "no longer queued" in response.content.decode()
    if generation.jmap:  # a 0.16 id is `d-`/`t-` and the object's id; the confirmation reads it first
        assert client.get(f"/queue/reports/{missing}/cancel").status_code == 404
        assert client.get("/queue/reports/x-nothing/").status_code == 404


def test_cancel_one(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    report = reports["tls"]
    url = f"/queue/reports/{key(generation, client, report)}/"
    sandbox.requests.clear()
    page = client.get(f"{url}cancel")
    assert "Cancel the TLS report for <bdi>fabrikam.com</bdi>?" in page.content.decode()
    assert not calls(sandbox, "DELETE")
    response = client.post(f"{url}cancel")
    assert response.status_code == 302
    assert report.id not in state(sandbox).outgoing
    assert [r.domain for r in state(sandbox).outgoing.values()] == ["gmail.com"]
    if not generation.jmap:
        assert len(calls(sandbox, "DELETE")) == 1
    assert client.get(url).status_code == 404


def test_cancel_matching_uses_domain_and_type(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    domain = "gmail.com" if generation.jmap else "gmail"  # 0.16 matches the whole domain name
    content = client.get("/queue/reports/cancel-matching", {"q": domain}).content.decode()
    assert "1 report matches" in content
    response = client.post("/queue/reports/cancel-matching", {"q": domain, "type": "", "expected": "1"})
    assert response.status_code == 302
    if not generation.jmap:
        (delete,) = calls(sandbox, "DELETE")
        assert parse_qs(delete.query) == {"domain": ["gmail"]}
    assert list(state(sandbox).outgoing) == [reports["tls"].id]
    content = client.get("/queue/reports/cancel-matching", {"type": "tls"}).content.decode()
    assert "1 report matches" in content
    response = client.post("/queue/reports/cancel-matching", {"type": "tls", "expected": "1"})
    assert response.status_code == 302 and state(sandbox).outgoing == {}


def test_cancel_matching_checks_the_count(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("admin")
    response = client.post("/queue/reports/cancel-matching", {"q": "", "expected": "1"})
    assert response.status_code == 409 and not calls(sandbox, "DELETE") and len(state(sandbox).outgoing) == 2


def test_refused(signed_in, generation, reports):
    sandbox = generation.sandbox
    client = signed_in("helpdesk")
    assert client.post(f"/queue/reports/{reports['tls'].id}/cancel").status_code == 403
    assert client.get("/queue/reports/cancel-matching").status_code == 403
    assert client.post("/queue/reports/cancel-matching", {"expected": "2"}).status_code == 403
    assert sandbox.requests == []
    client = signed_in("user")
    assert client.get("/queue/reports/").status_code == 403
    assert sandbox.requests == []


def test_htmx_partial_and_upstream_failure(signed_in, sandbox, reports, settings):
    client = signed_in("admin")
    content = client.get("/queue/reports/?type=tls", headers={"HX-Request": "true"}).content.decode()
    assert content.lstrip().startswith('<div id="results"') and "fabrikam.com" in content and "gmail.com" not in content
    link = 'id="all-matching" class="button button-danger-outline" href="/queue/reports/cancel-matching?type=tls"'
    assert link in content  # follows the filters chosen in place (out of band)
    with broken_upstream("html") as url:
        settings.STALWART_URL = url
        response = client.get("/queue/reports/")
    assert response.status_code == 502
