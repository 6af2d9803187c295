"""Two portal processes serve the same people: sessions, messages, throttling and the audit
trail live in the shared Redis and PostgreSQL, never in one process.

Select with `-m scaleout`; it runs with the rest of `make test`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
import redis

from tests.conftest import persona
from tests.scaleout.conftest import MAX_FAILURES, ScaleOut

pytestmark = pytest.mark.scaleout


def csrf_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def sign_in(client: httpx.Client, who: str, password: str | None = None) -> httpx.Response:
    p = persona(who)
    token = csrf_token(client.get("/auth/sign-in"))
    return client.post(
        "/auth/sign-in",
        data={"csrfmiddlewaretoken": token, "step": "password", "username": p.name, "password": password or p.password},
    )


def post_form(client: httpx.Client, url: str, data: dict) -> httpx.Response:
    return client.post(url, data={"csrfmiddlewaretoken": csrf_token(client.get(url)), **data})


@contextmanager
def clients(scaleout: ScaleOut) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """A browser's view of process A and of process B."""
    with httpx.Client(base_url=scaleout.portal_a, timeout=30) as a:
        with httpx.Client(base_url=scaleout.portal_b, timeout=30) as b:
            yield a, b


def audit_rows(database_url: str) -> list[tuple[str, str, str, str]]:
    """(actor, action, the principal's name, outcome) of every audit entry."""
    with psycopg.connect(database_url) as db:
        return db.execute(
            "SELECT actor, action, coalesce(nullif(target, ''), params->'body'->>'name', ''), outcome"
            " FROM portal_auditentry ORDER BY id"
        ).fetchall()


def test_a_session_continues_on_the_other_process(scaleout: ScaleOut):
    with clients(scaleout) as (a, b):
        signed_in = sign_in(a, "admin")
        assert signed_in.status_code == 302, scaleout.log_tails()
        b.cookies = a.cookies  # the same browser, now load-balanced to the other process

        accounts = b.get("/directory/accounts/", params={"q": "jane"})
        assert accounts.status_code == 200, scaleout.log_tails()
        assert persona("user").name in accounts.text

        # A change through B: its confirmation (kept in the session) shows on A, and so does the group.
        created = post_form(b, "/directory/groups/new", {"name": "made-on-b", "description": "From process B"})
        assert created.status_code == 302, created.text[:2000]
        after = a.get(created.headers["location"])
        assert after.status_code == 200 and "made-on-b" in after.text
        assert "created" in after.text.lower()
        assert "made-on-b" in a.get("/directory/groups/").text

        # And one through A, so both processes have written to the audit trail.
        also = post_form(a, "/directory/groups/new", {"name": "made-on-a"})
        assert also.status_code == 302, also.text[:2000]

        # Signing out on B ends the session on A too.
        token = csrf_token(b.get("/directory/accounts/"))
        b.post("/auth/sign-out", data={"csrfmiddlewaretoken": token})
        a.cookies = b.cookies
        assert a.get("/directory/accounts/").status_code == 302

    rows = audit_rows(scaleout.database_url)
    created_groups = {target for actor, action, target, outcome in rows if action == "principal.create"}
    assert {"made-on-a", "made-on-b"} <= created_groups, rows
    assert all(outcome == "success" for *_, outcome in rows)
    # Sessions are in Redis, not in the database.
    assert redis.Redis.from_url(scaleout.redis_url).keys("*django.contrib.sessions*")
    with psycopg.connect(scaleout.database_url) as db:
        tables = {row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        if "django_session" in tables:
            assert db.execute("SELECT count(*) FROM django_session").fetchone()[0] == 0


def test_failed_sign_ins_count_on_every_process(scaleout: ScaleOut):
    who = "helpdesk"
    with clients(scaleout) as (a, b):
        for _ in range(MAX_FAILURES):
            refused = sign_in(a, who, password="not the password")
            assert refused.status_code in (200, 401, 422), refused.status_code
        # The right password on the other process: refused by the shared counter, before Stalwart is asked.
        throttled = sign_in(b, who)
        assert throttled.status_code == 429, scaleout.log_tails()
        # Another account is not concerned.
        assert sign_in(b, "user").status_code == 302


def test_a_password_change_ends_the_sessions_on_every_process(scaleout: ScaleOut):
    who = persona("user")
    url = f"/directory/accounts/{who.name}/password"
    with clients(scaleout) as (a, b):
        assert sign_in(a, "admin").status_code == 302, scaleout.log_tails()
        assert sign_in(b, "user").status_code == 302, scaleout.log_tails()
        assert b.get("/account/").status_code == 200

        # The administrator resets the password through A; the person's session on B ends.
        reset = post_form(a, url, {"password": "a brand new password", "confirm": "a brand new password"})
        assert reset.status_code == 302, reset.text[:2000]
        ended = b.get("/account/")
        assert ended.status_code == 302 and ended.headers["location"].startswith("/auth/sign-in")
        assert "Your password was changed" in b.get(ended.headers["location"]).text
        assert a.get("/directory/accounts/").status_code == 200  # the administrator stays

        restored = post_form(a, url, {"password": who.password, "confirm": who.password})
        assert restored.status_code == 302, restored.text[:2000]
