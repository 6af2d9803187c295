"""Rescheduling a queued outgoing report on Stalwart 0.16 (x:DmarcInternalReport and
x:TlsInternalReport `deliverAt`): send it now or at a chosen time, behind a confirmation, gated
as cancelling is, confined to a tenant's domains, audited; not offered on <= 0.15."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from portal.capabilities import for_server
from portal.models import AuditEntry
from portal.queue.forms import SEND_NOW_DELAY
from sandbox.mailflow import state
from tests.queue.test_outgoing_reports import make_reports


@pytest.fixture
def reports(sandbox):
    return make_reports(sandbox)




def _key(client, kind: str = "dmarc", query: dict | None = None) -> str:
    listing = client.get("/queue/reports/", {"type": kind, **(query or {})}).content.decode()
    return re.findall(r'href="/queue/reports/([dt]-[a-z0-9]+)/"', listing)[0]


def _due(sandbox, domain: str) -> int:
    (report,) = [r for r in state(sandbox).outgoing.values() if r.domain == domain]
    return report.due


def test_send_now_moves_the_due_time_to_within_a_minute(signed_in, sandbox, reports):
    client = signed_in("admin")
    key = _key(client)
    url = reverse("queue:report-reschedule", kwargs={"report_id": key})
    detail = client.get(f"/queue/reports/{key}/").content.decode()
    assert f'href="{url}"' in detail
    confirm = client.get(url)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "gmail.com" in page and 'name="when"' in page and 'name="deliver_at"' in page
    assert _due(sandbox, "gmail.com") > sandbox.now() + 3600  # a daily report, due tomorrow
    response = client.post(url, {"when": "now"})
    assert response.status_code == 302 and response["Location"] == f"/queue/reports/{key}/"
    due = _due(sandbox, "gmail.com")
    assert sandbox.now() < due <= sandbox.now() + SEND_NOW_DELAY + 1
    after = client.get(response["Location"])
    assert after.status_code == 200  # the id survives the reschedule
    page = html.unescape(after.content.decode())
    assert "will be sent within a minute" in page
    sent = datetime.fromtimestamp(due, UTC).isoformat()
    assert f'sent <time datetime="{sent}"' in page  # the new due time, not the end of the period
    entry = AuditEntry.objects.get(action="queue.reports.update")
    assert entry.outcome == AuditEntry.SUCCESS and entry.method == "x:DmarcInternalReport/set"


def test_a_chosen_time_is_sent_as_is_and_a_past_one_is_refused_first(signed_in, sandbox, reports, called):
    client = signed_in("admin")
    key = _key(client, "tls")
    url = reverse("queue:report-reschedule", kwargs={"report_id": key})
    later = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    response = client.post(url, {"when": "at", "deliver_at": later.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert _due(sandbox, "fabrikam.com") == int(later.timestamp())
    called.clear()
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    for data in ({"when": "at", "deliver_at": past}, {"when": "at", "deliver_at": ""}, {"when": "later"}):
        refused = client.post(url, data)
        assert refused.status_code == 422, data
        assert 'class="field-error"' in refused.content.decode()
    assert not any(name.endswith("/set") for name in called)
    assert _due(sandbox, "fabrikam.com") == int(later.timestamp())


def test_the_server_refusing_the_time_is_said_next_to_the_field(signed_in, sandbox, reports):
    client = signed_in("admin")
    key = _key(client)
    url = reverse("queue:report-reschedule", kwargs={"report_id": key})
    soon = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    before = _due(sandbox, "gmail.com")
    sandbox.advance(300)  # the server's clock is five minutes ahead: the time is past there
    try:
        response = client.post(url, {"when": "at", "deliver_at": soon})
    finally:
        sandbox.advance(-300)
    assert response.status_code == 422
    assert "did not accept this time" in html.unescape(response.content.decode())
    assert _due(sandbox, "gmail.com") == before


def test_without_the_permission_it_is_refused_before_any_call(signed_in, sandbox, reports):
    key = _key(signed_in("admin"))
    client = signed_in("helpdesk")
    url = reverse("queue:report-reschedule", kwargs={"report_id": key})
    before = _due(sandbox, "gmail.com")
    for response in (client.get(url), client.post(url, {"when": "now"})):
        assert response.status_code == 403
    assert sandbox.requests == []
    assert _due(sandbox, "gmail.com") == before


def test_a_tenant_administrator_reschedules_only_their_own_domains_reports(signed_in, sandbox, called):
    def dues() -> list[tuple[str, int]]:
        return sorted((r.domain, r.due) for r in state(sandbox).outgoing.values())

    domains = {domain for domain, _ in dues()}
    assert "acme.org" in domains and len(domains) > 1
    admin = signed_in("admin")
    other_key = _key(admin, "", {"q": sorted(domains - {"acme.org"})[0]})
    own_key = _key(admin, "", {"q": "acme.org"})
    client = signed_in("tenant_admin")
    called.clear()
    before = dues()
    other = reverse("queue:report-reschedule", kwargs={"report_id": other_key})
    assert client.get(other).status_code == 404
    assert client.post(other, {"when": "now"}).status_code == 404
    assert not any(name.endswith("/set") for name in called)
    assert dues() == before
    response = client.post(reverse("queue:report-reschedule", kwargs={"report_id": own_key}), {"when": "now"})
    assert response.status_code == 302
    changed = [pair for pair in dues() if pair not in before]
    assert [domain for domain, _ in changed] == ["acme.org"]
    assert changed[0][1] <= sandbox.now() + SEND_NOW_DELAY + 1


@pytest.mark.parametrize(("fault", "status"), [("5xx", 502), ("timeout", 504)])
def test_an_upstream_failure_says_the_change_may_have_landed(signed_in, sandbox, reports, settings, fault, status):
    client = signed_in("admin")
    key = _key(client)
    url = reverse("queue:report-reschedule", kwargs={"report_id": key})
    if fault == "timeout":
        settings.STALWART_TIMEOUT = 0.3
        sandbox.faults.latency(3000, prefix="/jmap/", call="x:DmarcInternalReport/set")
    else:
        sandbox.faults.server_error(500, prefix="/jmap/", call="x:DmarcInternalReport/set")
    response = client.post(url, {"when": "now"})
    assert response.status_code == status
    page = html.unescape(response.content.decode())
    assert 'data-applied="maybe"' in page
    assert "may have been applied" in page or "may or may not have been applied" in page
    assert "submitting the form below again is safe" in page
    assert f'href="/queue/reports/{key}/"' in page and f'action="{url}"' in page
    assert "will be sent" not in page  # nothing claims success


def test_not_offered_before_016(signed_in, client, version_servers, settings):
    sandbox, url = version_servers("0.15.5")
    sandbox.reset()
    settings.STALWART_URL = url
    make_reports(sandbox)
    signed_in("admin")
    listing = client.get("/queue/reports/", {"type": "dmarc"}).content.decode()
    link = re.search(r'href="(/queue/reports/[^"/?]+/)"', listing).group(1)
    detail = client.get(link).content.decode()
    assert "reschedule" not in detail
    sandbox.requests.clear()
    response = client.post(link + "reschedule", {"when": "now"})
    assert response.status_code == 404 and b"Not available on this server" in response.content
    assert sandbox.requests == []
    rest = for_server("rest", "0.15.5", True)
    assert not rest.report_reschedule and "cannot reschedule" in rest.why("report_reschedule")
    assert for_server("jmap", "0.16.18", True).why("report_reschedule") == ""
