"""The message queue and the outgoing reports on Stalwart 0.16: the same pages, served from
x:QueuedMessage, x:DmarcInternalReport and x:TlsInternalReport."""

from __future__ import annotations

import pytest

from portal.stalwart import backend
from portal.stalwart.client import StalwartClient
from portal.stalwart.jmap.backend import JmapBackend
from sandbox.mailflow import state
from sandbox.queue import enqueue
from tests.faults import broken_upstream
from tests.queue.test_outgoing_reports import make_reports

HOSTILE_SENDER = '"<script>alert(1)</script>"@evil.example'


def posts(sandbox) -> list:
    return [r for r in sandbox.requests if r.path == "/jmap/"]


@pytest.fixture
def scene(sandbox):
    state(sandbox).clear()
    normal = enqueue(
        sandbox,
        return_path="alice@example.org",
        recipients=["bob@gmail.com", "jimbob@gmail.com", "carol@outlook.com"],
        hold=600,
    )
    bounce = enqueue(sandbox, return_path="", recipients=["someone@yahoo.com"], hold=900)
    hostile = enqueue(sandbox, return_path=HOSTILE_SENDER, recipients=["victim@example.com"], hold=1200)
    sandbox.requests.clear()
    return {"normal": normal, "bounce": bounce, "hostile": hostile}


def test_both_generations_offer_the_queue_area():
    assert isinstance(StalwartClient("token").queue, backend.QueueArea)
    assert isinstance(JmapBackend("token").queue, backend.QueueArea)


# --- the list --------------------------------------------------------------------------------
def test_list_is_one_round_trip_and_says_the_state_is_unknown(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get("/queue/")
    assert response.status_code == 200
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]
    content = response.content.decode()
    assert "alice@example.org" in content and "someone@yahoo.com" in content
    assert f'href="/queue/messages/{scene["normal"].id}/"' in content
    assert "<script>alert(1)</script>" not in content
    assert "Delivery state unknown." in content and "do not report whether delivery is paused" in content
    assert "Pause delivery" in content and "Resume delivery" in content
    assert 'name="queue"' in content  # 0.16 selects by virtual queue


def test_search_and_filters_reach_the_query(signed_in, sandbox, scene):
    client = signed_in("admin")
    content = client.get("/queue/", {"q": "gmail"}).content.decode()
    assert "alice@example.org" in content and "someone@yahoo.com" not in content
    content = client.get("/queue/", {"recipient": "YAHOO"}).content.decode()
    assert "someone@yahoo.com" in content and "alice@example.org" not in content
    content = client.get("/queue/", {"q": "gmail", "recipient": "yahoo"}).content.decode()
    assert "alice@example.org" in content  # the search wins over the recipient field, as on the server


def test_refused_persona_makes_no_call(signed_in, sandbox, scene):
    client = signed_in("user")
    for url in ("/queue/", f"/queue/messages/{scene['normal'].id}/", "/queue/reports/", "/queue/bulk"):
        assert client.get(url).status_code == 403, url
    assert sandbox.requests == []


def test_upstream_failure_is_the_error_page(signed_in, sandbox, scene, settings, closed_port):
    client = signed_in("admin")
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    assert client.get("/queue/").status_code == 502


def test_the_global_search_offers_queued_messages(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get("/search/", {"q": "yahoo"})
    assert response.status_code == 200
    assert f"/queue/messages/{scene['bounce'].id}/" in response.content.decode()


# --- one message -----------------------------------------------------------------------------
def test_detail_shows_every_recipient_and_the_headers(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get(f"/queue/messages/{scene['normal'].id}/")
    assert response.status_code == 200
    content = response.content.decode()
    for address in ("bob@gmail.com", "jimbob@gmail.com", "carol@outlook.com"):
        assert address in content
    assert "gmail.com" in content and "outlook.com" in content
    assert "Delivery is paused" not in content
    assert any(r.path.startswith("/jmap/download/") for r in sandbox.requests)  # headers, with fetchAnyBlob
    assert "Subject:" in content or "From:" in content


def test_retry_now_reschedules_every_pending_domain(signed_in, sandbox, scene):
    client = signed_in("admin")
    message = scene["normal"]
    confirm = client.get(f"/queue/messages/{message.id}/retry")
    assert confirm.status_code == 200 and "Retry delivery now?" in confirm.content.decode()
    state(sandbox).queue_running = False  # keep the attempt from happening, to see the schedule
    response = client.post(f"/queue/messages/{message.id}/retry")
    assert response.status_code == 302
    assert all(d.next_retry <= sandbox.now() for d in state(sandbox).messages[message.id].domains)


def test_retry_one_domain_patches_its_recipients(signed_in, sandbox, scene):
    client = signed_in("admin")
    message = scene["normal"]
    state(sandbox).queue_running = False
    response = client.post(f"/queue/messages/{message.id}/retry", {"domain": "gmail.com"})
    assert response.status_code == 302
    domains = {d.name: d.next_retry for d in state(sandbox).messages[message.id].domains}
    assert domains["gmail.com"] <= sandbox.now() < domains["outlook.com"]


def test_cancel_one_recipient_and_then_the_message(signed_in, sandbox, scene):
    client = signed_in("admin")
    message = scene["normal"]
    response = client.post(f"/queue/messages/{message.id}/cancel", {"recipient": "carol@outlook.com"})
    assert response.status_code == 302
    current = state(sandbox).messages[message.id]
    (carol,) = [r for d in current.domains for r in d.recipients if r.address == "carol@outlook.com"]
    assert carol.status[0] == "perm_fail"
    assert all(r.status[0] != "perm_fail" for d in current.domains for r in d.recipients if r is not carol)
    page = client.get(f"/queue/messages/{message.id}/").content.decode()
    assert "Cancelled" in page
    response = client.post(f"/queue/messages/{message.id}/cancel")
    assert response.status_code == 302 and response["Location"] == "/queue/"
    assert message.id not in state(sandbox).messages


def test_cancel_without_the_permission_is_refused_first(signed_in, sandbox, scene):
    client = signed_in("helpdesk")
    response = client.post(f"/queue/messages/{scene['normal'].id}/cancel")
    assert response.status_code == 403 and sandbox.requests == []


def test_an_upstream_error_on_a_page_is_the_error_page(signed_in, sandbox, scene):
    client = signed_in("admin")
    with broken_upstream("500") as url:
        from django.conf import settings

        saved, settings.STALWART_URL = settings.STALWART_URL, url
        try:
            response = client.get(f"/queue/messages/{scene['normal'].id}/")
        finally:
            settings.STALWART_URL = saved
    assert response.status_code in (502, 503)


# --- pause and resume ------------------------------------------------------------------------
def test_pause_and_resume_are_actions(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.post("/queue/status", {"running": "0"})
    assert response.status_code == 302
    assert state(sandbox).queue_running is False
    assert [(r.method, r.path) for r in sandbox.requests] == [("POST", "/jmap/")]
    client.post("/queue/status", {"running": "1"})
    assert state(sandbox).queue_running is True


# --- bulk ------------------------------------------------------------------------------------
def test_bulk_preview_counts_and_cancels_exactly_the_selection(signed_in, sandbox, scene):
    client = signed_in("admin")
    preview = client.get("/queue/bulk", {"q": "example"})
    assert preview.status_code == 200
    content = preview.content.decode()
    assert "2 messages match" in content  # alice@example.org and victim@example.com
    response = client.post("/queue/bulk", {"q": "example", "action": "cancel", "expected": "2"})
    assert response.status_code == 302
    assert sorted(state(sandbox).messages) == [scene["bounce"].id]


def test_bulk_retry_in_chunks_of_max_objects_in_set(signed_in, sandbox, scene, monkeypatch):
    from django.core.cache import cache

    from sandbox.jmap import methods

    monkeypatch.setattr(methods, "MAX_SET", 3)  # the sandbox refuses a larger /set (requestTooLarge)
    cache.clear()  # the portal reads the limits from the session again
    client = signed_in("admin")
    added = [
        enqueue(sandbox, return_path=f"bulk{n}@example.net", recipients=[f"r{n}@far.example"], hold=3000).id
        for n in range(4)
    ]
    state(sandbox).queue_running = False
    response = client.post("/queue/bulk", {"q": "example.net", "action": "retry", "expected": "4"})
    assert response.status_code == 302
    flow = state(sandbox)
    assert all(flow.messages[i].domains[0].next_retry <= sandbox.now() for i in added)
    assert flow.messages[scene["normal"].id].domains[0].next_retry > sandbox.now()


def test_bulk_that_changed_asks_again(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.post("/queue/bulk", {"q": "example", "action": "cancel", "expected": "5"})
    assert response.status_code == 409
    assert len(state(sandbox).messages) == 3


# --- outgoing reports ------------------------------------------------------------------------
@pytest.fixture
def reports(sandbox):
    return make_reports(sandbox)


def _report_links(content: str) -> list[str]:
    import re

    return re.findall(r'href="/queue/reports/([dt]-[a-z0-9]+)/"', content)


def test_report_list_merges_both_types_in_one_round_trip(signed_in, sandbox, reports):
    client = signed_in("admin")
    response = client.get("/queue/reports/")
    assert response.status_code == 200
    assert len(posts(sandbox)) == 1
    content = response.content.decode()
    assert "gmail.com" in content and "fabrikam.com" in content and "Daily" in content and "Weekly" in content
    assert "finds reports by the whole domain name" in content
    links = _report_links(content)
    assert {link[0] for link in links} == {"d", "t"}
    sandbox.requests.clear()
    content = client.get("/queue/reports/", {"type": "tls"}).content.decode()
    assert "fabrikam.com" in content and {link[0] for link in _report_links(content)} == {"t"}
    content = client.get("/queue/reports/", {"q": "gmail.com"}).content.decode()
    assert "fabrikam.com" not in content and {link[0] for link in _report_links(content)} == {"d"}
    content = client.get("/queue/reports/", {"q": "gmail"}).content.decode()
    assert _report_links(content) == []  # 0.16 matches the whole domain name


def test_report_detail_and_cancel(signed_in, sandbox, reports):
    client = signed_in("admin")
    listing = client.get("/queue/reports/", {"type": "dmarc"}).content.decode()
    (key,) = set(_report_links(listing))
    detail = client.get(f"/queue/reports/{key}/")
    assert detail.status_code == 200
    content = detail.content.decode()
    assert "rua@gmail.com" in content and "192.0.2.9" in content
    assert "<script>x</script>" not in content
    confirm = client.get(f"/queue/reports/{key}/cancel")
    assert confirm.status_code == 200 and "gmail.com" in confirm.content.decode()
    response = client.post(f"/queue/reports/{key}/cancel")
    assert response.status_code == 302
    assert [r.domain for r in state(sandbox).outgoing.values()] == ["fabrikam.com"]
    assert client.get(f"/queue/reports/{key}/").status_code == 404


def test_reports_cancel_matching_previews_then_destroys(signed_in, sandbox, reports):
    client = signed_in("admin")
    preview = client.get("/queue/reports/cancel-matching", {"type": "tls"})
    assert preview.status_code == 200 and "1 report matches" in preview.content.decode()
    response = client.post("/queue/reports/cancel-matching", {"type": "tls", "expected": "1"})
    assert response.status_code == 302
    assert [r.domain for r in state(sandbox).outgoing.values()] == ["gmail.com"]


def test_reports_refused_without_permission(signed_in, sandbox, reports):
    client = signed_in("helpdesk")
    assert client.post("/queue/reports/cancel-matching", {"expected": "2"}).status_code == 403
    assert sandbox.requests == []


def test_unknown_report_id_is_gone(signed_in, sandbox, reports):
    client = signed_in("admin")
    assert client.get("/queue/reports/x-nothing/").status_code == 404
    assert client.get("/queue/reports/d-zzzz/cancel").status_code == 404
