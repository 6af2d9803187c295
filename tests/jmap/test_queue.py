"""The message queue on Stalwart 0.16 only: the global search, cancelling exactly one recipient
(x:QueuedMessage, not a substring filter) and bulk changes in /set calls of maxObjectsInSet.
What behaves alike on both generations (the queue and the outgoing reports) is tested once,
against each, in tests/queue/."""

from __future__ import annotations

import pytest

from portal.stalwart import backend
from portal.stalwart.client import StalwartClient
from portal.stalwart.jmap.backend import JmapBackend
from sandbox.mailflow import state
from sandbox.queue import enqueue

HOSTILE_SENDER = '"<script>alert(1)</script>"@evil.example'


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


def test_the_global_search_offers_queued_messages(signed_in, sandbox, scene):
    client = signed_in("admin")
    response = client.get("/search/", {"q": "yahoo"})
    assert response.status_code == 200
    assert f"/queue/messages/{scene['bounce'].id}/" in response.content.decode()


def test_cancel_exactly_one_recipient(signed_in, sandbox, scene):
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
