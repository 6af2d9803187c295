"""The queue list's rows are written in Python: every value from Stalwart comes out as text,
and each row says what the template used to say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from portal.queue.rows import render_rows
from portal.stalwart.queue_types import QueuedMessage
from tests.directory.test_rows import PAYLOAD, Collect

TAGS = {"tr", "th", "td", "a", "span", "time", "bdi", "details", "summary"}


def _time(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(return_path: str = f"x{PAYLOAD}@evil.example", **changes) -> QueuedMessage:
    data = {
        "id": 217700302698266624,
        "return_path": return_path,
        "created": _time(-90),
        "size": 1536,
        "blob_hash": "abc",
        "domains": [
            {
                "name": "example.org",
                "status": {"temp_fail": PAYLOAD},
                "recipients": [
                    {"address": f"first{PAYLOAD}@example.org", "status": "scheduled"},
                    {"address": f"second{PAYLOAD}@example.org", "status": {"completed": "250 OK"}},
                ],
                "retry_num": 2,
                "next_retry": _time(30),
                "next_notify": None,
                "expires": _time(3000),
            },
            {
                "name": "example.com",
                "status": {"perm_fail": PAYLOAD},
                "recipients": [{"address": "c@example.com", "status": "scheduled"}],
                "retry_num": 1,
                "next_retry": _time(10),
                "next_notify": None,
                "expires": _time(3000),
            },
        ],
    }
    data.update(changes)
    return QueuedMessage.from_api(data)


def parse(row) -> Collect:
    parsed = Collect()
    parsed.feed(str(row))
    return parsed


@pytest.mark.parametrize("linked", [True, False])
def test_every_value_is_text(linked):
    row = str(render_rows((message(),), linked=linked))
    parsed = parse(row)
    assert {tag for tag, _ in parsed.tags} <= TAGS
    assert not [name for _, attrs in parsed.tags for name in attrs if name.startswith("on")]
    assert "<script" not in row and "<img" not in row
    text = "".join(parsed.text)
    assert f"x{PAYLOAD}@evil.example" in text and f"first{PAYLOAD}@example.org" in text
    badge = next(attrs for tag, attrs in parsed.tags if tag == "span" and attrs.get("class") == "badge")
    assert badge["title"] == f"second{PAYLOAD}@example.org, c@example.com"
    links = [attrs["href"] for tag, attrs in parsed.tags if tag == "a"]
    assert links == ([reverse("queue:detail", kwargs={"message_id": 217700302698266624})] if linked else [])


def test_a_row_says_who_what_when_and_how_big():
    parsed = parse(render_rows((message("alice@example.org"),), linked=True))
    text = " ".join(" ".join(parsed.text).split())
    assert "Queued 1 hour ago" in text
    assert "+ 2 more" in text
    assert "1 delivered 1 pending 1 failed" in text
    assert "in 29 minutes" in text  # the failed domain's earlier retry does not count
    assert "1.5 KiB" in text
    labels = [attrs["data-label"] for tag, attrs in parsed.tags if tag == "td"]
    assert labels == ["Recipients", "Status", "Next attempt", "Size"]
    times = [attrs for tag, attrs in parsed.tags if tag == "time"]
    assert [t["datetime"][:16] for t in times] == [_time(-90)[:16], _time(30)[:16]]


def test_a_bounce_comes_from_the_mailer_daemon_and_may_have_nothing_pending():
    done = {
        "name": "yahoo.com",
        "status": {"completed": "250 OK"},
        "recipients": [{"address": "someone@yahoo.com", "status": {"completed": "250 OK"}}],
        "retry_num": 0,
        "next_retry": None,
        "next_notify": None,
        "expires": None,
    }
    row = str(render_rows((message("", domains=[done]),), linked=True))
    text = " ".join(" ".join(parse(row).text).split())
    assert text.startswith("Mailer daemon Delivery report (null sender <>)")
    assert "1 delivered" in text and "pending" not in text and "more" not in text
    assert '<td data-label="Next attempt"><span class="muted">—</span></td>' in row


def test_no_rows_for_an_empty_page():
    assert render_rows((), linked=True) == ""


def test_the_page_shows_one_row_per_message(signed_in, sandbox):
    from sandbox.mailflow import state
    from sandbox.queue import enqueue

    state(sandbox).clear()
    for number in range(3):
        enqueue(sandbox, return_path=f"sender{number}@example.org", recipients=[f"r{number}@gmail.com"], hold=600)
    page = signed_in("helpdesk").get("/queue/").content.decode()
    assert page.count('<th scope="row">') == 3
    for number in range(3):
        assert f"><bdi>sender{number}@example.org</bdi></a>" in page
