"""Refreshing the access token: a margin relative to the token's lifetime, one refresh per
session at a time (parallel requests, other processes), and passing failures that never end
the session. Stalwart limits refresh grants (anonymous requests) to 100 a minute per address,
and the portal is one address for all its people: its own refresh traffic must stay far below.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from importlib import import_module

import httpx
import pytest
from django.conf import settings as django_settings
from django.core.cache import cache

from portal.auth.session import IDENTITY_KEY, refresh_lock_key
from portal.auth.vault import seal, unseal
from tests.asgi_server import portal_asgi_server, signed_in_client
from tests.conftest import persona, sign_in


def token_requests(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/auth/token"]


def set_identity(client, **changes):
    session = client.session
    session[IDENTITY_KEY] = {**session[IDENTITY_KEY], **changes}
    session.save()


def test_margin_follows_a_short_token_lifetime(client, sandbox, monkeypatch):
    """A 20 s token with the default 60 s margin was refreshed on every request."""
    monkeypatch.setattr(sandbox, "access_token_lifetime", 20)
    assert sign_in(client, "admin").status_code == 302
    assert 15 < client.session[IDENTITY_KEY]["lifetime"] <= 20
    sandbox.requests.clear()
    for _ in range(3):
        assert client.get("/directory/accounts/").status_code == 200
    assert token_requests(sandbox) == []
    # In its last quarter (5 s of 20) it is refreshed, once.
    set_identity(client, expires_at=time.time() + 4)
    assert client.get("/directory/accounts/").status_code == 200
    assert client.get("/directory/accounts/").status_code == 200
    assert len(token_requests(sandbox)) == 1
    assert client.session[IDENTITY_KEY]["expires_at"] > time.time() + 15


def test_a_long_token_keeps_the_configured_margin(signed_in, sandbox):
    client = signed_in("admin")
    set_identity(client, expires_at=time.time() + 50)  # under 60 s left of an hour
    assert client.get("/directory/accounts/").status_code == 200
    assert len(token_requests(sandbox)) == 1


@pytest.mark.parametrize("fault", ["error", "ratelimit", "reset"])
def test_a_passing_refresh_failure_keeps_the_valid_token(signed_in, sandbox, fault):
    client = signed_in("admin")
    old = client.session[IDENTITY_KEY]["access"]
    {
        "error": lambda: sandbox.faults.server_error(503, prefix="/auth/token"),
        "ratelimit": lambda: sandbox.faults.rate_limit(prefix="/auth/token"),
        "reset": lambda: sandbox.faults.reset_connection(prefix="/auth/token"),
    }[fault]()
    set_identity(client, expires_at=time.time() + 30)
    response = client.get("/directory/accounts/")
    assert response.status_code == 200
    assert client.session[IDENTITY_KEY]["access"] == old  # the session stays, with its token
    # The next requests do not ask again at once (Stalwart is unwell or busy).
    assert client.get("/directory/accounts/").status_code == 200
    assert len(token_requests(sandbox)) == 1
    sandbox.faults.clear()
    cache.clear()  # the pause is over
    assert client.get("/directory/accounts/").status_code == 200
    assert len(token_requests(sandbox)) == 2
    assert client.session[IDENTITY_KEY]["access"] != old


def test_a_busy_server_and_an_expired_token_explain_when_to_retry(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.faults.rate_limit(retry_after=30, prefix="/auth/token")
    set_identity(client, expires_at=time.time() - 1)
    response = client.get("/directory/accounts/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "The mail server is busy" in response.content.decode()
    assert "30 seconds" in response.content.decode()
    assert IDENTITY_KEY in client.session  # not signed out for a passing failure
    sandbox.faults.clear()
    cache.clear()
    assert client.get("/directory/accounts/").status_code == 200


def test_a_refused_refresh_token_still_ends_the_session(signed_in, sandbox):
    client = signed_in("admin")
    sandbox.advance(40 * 86400)
    response = client.get("/directory/accounts/")
    assert response.status_code == 302 and response.url.startswith("/auth/sign-in")
    assert IDENTITY_KEY not in client.session


def test_a_refresh_by_another_process_is_picked_up(client, sandbox, settings):
    """Another process holds the session's refresh lock (Redis): a request whose token is due but
    valid goes on with it; one whose token has expired waits, then takes the stored new token."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"  # sessions in the shared cache
    assert sign_in(client, "admin").status_code == 302
    session_key = client.cookies["portal_session"].value
    lock = refresh_lock_key(session_key)
    sandbox.requests.clear()

    cache.add(lock, True, timeout=30)
    set_identity(client, expires_at=time.time() + 30)  # due, still valid
    assert client.get("/directory/accounts/").status_code == 200
    assert token_requests(sandbox) == []

    set_identity(client, expires_at=time.time() - 1)  # no longer usable
    store = import_module(django_settings.SESSION_ENGINE).SessionStore

    def other_process() -> None:
        time.sleep(0.5)
        data = store(session_key)[IDENTITY_KEY]
        grant = httpx.post(
            f"{settings.STALWART_URL}/auth/token",
            data={"grant_type": "refresh_token", "refresh_token": unseal(data["refresh"])},
        ).json()
        session = store(session_key)
        session[IDENTITY_KEY] = {**data, "access": seal(grant["access_token"]), "expires_at": time.time() + 3600}
        session.save()
        cache.delete(lock)

    helper = threading.Thread(target=other_process)
    helper.start()
    try:
        assert client.get("/directory/accounts/").status_code == 200
    finally:
        helper.join()
    assert len(token_requests(sandbox)) == 1  # the other process's, none of this one
    assert client.session[IDENTITY_KEY]["expires_at"] > time.time() + 3000


# --- parallel requests of one session, under a real ASGI server ------------------------------
@pytest.fixture
def portal(sandbox):
    with portal_asgi_server() as url:
        yield url


def _store(session_key: str):
    return import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)


def _change_identity(session_key: str, **changes) -> None:
    session = _store(session_key)
    session[IDENTITY_KEY] = {**session[IDENTITY_KEY], **changes}
    session.save()


async def _parallel(portal: str, cookies: httpx.Cookies, count: int, path: str = "/directory/accounts/") -> list[int]:
    async with httpx.AsyncClient(base_url=portal, cookies=cookies, timeout=30) as http:
        responses = await asyncio.gather(*(http.get(path) for _ in range(count)))
    return [response.status_code for response in responses]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("left", [30, -1], ids=["due", "expired"])
def test_parallel_requests_refresh_once(sandbox, portal, left):
    admin = persona("admin")
    with contextlib.closing(signed_in_client(portal, admin.name, admin.password)) as http:
        session_key = http.cookies["portal_session"]
        _change_identity(session_key, expires_at=time.time() + left)
        sandbox.requests.clear()
        statuses = asyncio.run(_parallel(portal, http.cookies, 10))
    assert statuses == [200] * 10
    assert len(token_requests(sandbox)) == 1
    assert _store(session_key)[IDENTITY_KEY]["expires_at"] > time.time() + 3000


@pytest.mark.django_db(transaction=True)
def test_short_lived_tokens_under_parallel_load(sandbox, portal, monkeypatch):
    """Ten parallel requests at a time for a few token lifetimes: every page answers, and the
    sandbox sees about one refresh grant per lifetime, far below Stalwart's 100 a minute."""
    lifetime = 4
    monkeypatch.setattr(sandbox, "access_token_lifetime", lifetime)
    admin = persona("admin")
    with contextlib.closing(signed_in_client(portal, admin.name, admin.password)) as http:
        sandbox.requests.clear()
        statuses: list[int] = []
        started = time.monotonic()
        while time.monotonic() - started < 2.5 * lifetime:
            statuses += asyncio.run(_parallel(portal, http.cookies, 10))
        elapsed = time.monotonic() - started
    grants = token_requests(sandbox)
    assert len(statuses) >= 30
    assert set(statuses) == {200}, statuses
    assert all(grant.status == 200 for grant in grants)
    assert not [r for r in sandbox.requests if r.status == 429]
    # One grant per lifetime (minus its last quarter), and one more at the edges.
    assert 1 <= len(grants) <= elapsed / (0.75 * lifetime) + 2, (len(grants), elapsed)
    assert len(grants) < len(statuses) / 5
