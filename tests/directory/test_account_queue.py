"""An account's page shows what waits in the queue to or from its address (the queue list's
search for it), on both generations: how many, the first few as the queue list shows them, and
a link to the rest."""

from __future__ import annotations

import re

from django.urls import reverse

from sandbox.mailflow import state
from sandbox.queue import enqueue
from tests.account.conftest import revoke_permissions
from tests.conftest import persona
from tests.jmap.test_api_keys import account_id, admin, jmap


def account(generation) -> tuple[str, str]:
    """The name in the account page's URL, and the account's address."""
    return ("jane.doe@example.org" if generation.jmap else "jane.doe"), "jane.doe@example.org"


def break_the_queue(generation) -> None:
    """The queue's answers fail (500) from now on; the requests that asked for it are marked."""
    if generation.jmap:
        generation.sandbox.faults.server_error(500, prefix="/jmap/", call="x:QueuedMessage/query")
    else:
        generation.sandbox.faults.server_error(500, prefix="/api/queue")


def queue_calls(generation) -> list:
    return [r for r in generation.sandbox.requests if r.faults]


def test_the_account_page_shows_its_queued_messages(signed_in, generation):
    sandbox = generation.sandbox
    state(sandbox).clear()
    name, address = account(generation)
    sent = [enqueue(sandbox, return_path=address, recipients=[f"r{i}@gmail.com"], hold=600) for i in range(6)]
    received = enqueue(sandbox, return_path="partner@fabrikam.com", recipients=[address], hold=600)
    enqueue(sandbox, return_path="someone@example.org", recipients=["other@gmail.com"], hold=600)
    page = signed_in("admin").get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    assert page.status_code == 200
    content = page.content.decode()
    link = f'href="/queue/?q={address.replace("@", "%40")}"'
    assert f"<a {link}>7 messages in the queue</a>" in content
    assert "Waiting in the queue" in content and f"5 of the 7 messages to or from <bdi>{address}</bdi>" in content
    shown = re.findall(r'href="/queue/messages/(\d+)/"', content)
    assert len(shown) == 5 and set(map(int, shown)) <= {m.id for m in [*sent, received]}
    assert "other@gmail.com" not in content
    assert f'<a class="button" {link}>See all 7 in the queue</a>' in content


def test_an_account_with_nothing_queued_says_so(signed_in, generation):
    state(generation.sandbox).clear()
    name, address = account(generation)
    content = signed_in("admin").get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    text = content.content.decode()
    assert "No message in the queue" in text and f"to or from <bdi>{address}</bdi>" in text
    assert "Waiting in the queue" not in text


def test_the_page_shows_without_the_queue_when_it_cannot_be_read(signed_in, generation):
    """The queue's answer failing leaves the rest of the account's page (the link stays)."""
    sandbox = generation.sandbox
    name, address = account(generation)
    enqueue(sandbox, return_path=address, recipients=["r@gmail.com"], hold=600)
    client = signed_in("admin")
    break_the_queue(generation)
    sandbox.requests.clear()
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    assert page.status_code == 200 and len(queue_calls(generation)) == 1
    content = page.content.decode()
    assert 'Messages in the queue</a> <span class="muted small">(could not be counted just now)' in content
    assert "Reset password" in content and "Waiting in the queue" not in content


def test_the_page_does_not_wait_long_for_a_slow_queue(signed_in, generation, monkeypatch):
    """A queue that answers slowly (a search of a busy queue) is left out after a short wait."""
    from portal.directory import views

    monkeypatch.setattr(views, "QUEUE_WAIT_SECONDS", 0.2)
    sandbox = generation.sandbox
    name, _address = account(generation)
    client = signed_in("admin")
    if generation.jmap:
        sandbox.faults.latency(3000, prefix="/jmap/", call="x:QueuedMessage/query")
    else:
        sandbox.faults.latency(3000, prefix="/api/queue")
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    # The server would answer (3 s later): only the wait's end leaves the count out.
    assert page.status_code == 200 and "(could not be counted just now)" in page.content.decode()


def test_no_queue_call_without_the_permission_to_list_it(signed_in, generation):
    """A helpdesk agent whose queue permission was taken away still sees the account's page,
    without a queue line, and the portal does not ask the server for the queue."""
    sandbox = generation.sandbox
    name, address = account(generation)
    enqueue(sandbox, return_path=address, recipients=["r@gmail.com"], hold=600)
    helpdesk = persona("helpdesk").name
    if generation.jmap:
        off = {"sysQueuedMessageQuery": True}
        update = {
            account_id(helpdesk): {
                "permissions": {"@type": "Merge", "disabledPermissions": off, "enabledPermissions": {}}
            }
        }
        ((_n, answer, _i),) = jmap([["x:Account/set", {"update": update}, "u"]], auth=admin())
        assert answer.get("updated"), answer
    else:
        revoke_permissions(helpdesk, "message-queue-list")
    client = signed_in("helpdesk")
    break_the_queue(generation)
    sandbox.requests.clear()
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": name}))
    assert page.status_code == 200 and "Reset password" in page.content.decode()
    assert not queue_calls(generation) and "in the queue" not in page.content.decode()
