"""Two portal processes refresh one session's token once between them: the lock is in the
shared Redis, and a process that finds it taken takes the token the other one stored."""

from __future__ import annotations

import concurrent.futures
import pickle
import time

import httpx
import pytest
import redis
from django.test import override_settings

from portal.auth.session import IDENTITY_KEY, refresh_lock_key
from portal.auth.vault import seal, unseal
from tests.scaleout.conftest import SECRET_KEY, ScaleOut
from tests.scaleout.test_two_processes import clients, sign_in

pytestmark = pytest.mark.scaleout

# Django's Redis cache: keys prefixed ":<version>:", values pickled.
LOCK = ":1:{}"
SESSION = ":1:django.contrib.sessions.cache{}"


def identity(store: redis.Redis, session_key: str) -> dict:
    return pickle.loads(store.get(SESSION.format(session_key)))[IDENTITY_KEY]


def change_identity(store: redis.Redis, session_key: str, **changes) -> None:
    key = SESSION.format(session_key)
    data = pickle.loads(store.get(key))
    data[IDENTITY_KEY] = {**data[IDENTITY_KEY], **changes}
    store.set(key, pickle.dumps(data), keepttl=True)


def test_the_refresh_lock_is_shared_by_the_processes(scaleout: ScaleOut):
    store = redis.Redis.from_url(scaleout.redis_url)
    with clients(scaleout) as (a, b):
        assert sign_in(a, "admin").status_code == 302, scaleout.log_tails()
        b.cookies = a.cookies
        session_key = a.cookies["portal_session"]
        lock = LOCK.format(refresh_lock_key(session_key))
        first = identity(store, session_key)["access"]

        # A third process is refreshing: due but valid tokens are used as they are, by both.
        store.set(lock, pickle.dumps(True), ex=30)
        change_identity(store, session_key, expires_at=time.time() + 30)
        for client in (a, b, a, b):
            assert client.get("/directory/accounts/").status_code == 200, scaleout.log_tails()
        assert identity(store, session_key)["access"] == first  # nobody refreshed under the lock

        # The token has expired: B waits for the other process and takes what it stores.
        change_identity(store, session_key, expires_at=time.time() - 1)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            page = pool.submit(b.get, "/directory/accounts/")
            time.sleep(0.5)
            assert not page.done()  # waiting for the lock, not refreshing by itself
            assert identity(store, session_key)["access"] == first
            with override_settings(SECRET_KEY=SECRET_KEY):
                refresh_token = unseal(identity(store, session_key)["refresh"])
                grant = httpx.post(
                    f"{scaleout.sandbox_url}/auth/token",
                    data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                ).json()
                stored = seal(grant["access_token"])
            change_identity(store, session_key, access=stored, expires_at=time.time() + 3600)
            store.delete(lock)
            assert page.result(timeout=30).status_code == 200, scaleout.log_tails()
        assert identity(store, session_key)["access"] == stored  # taken, not replaced by B's own

        # Without a lock held elsewhere a due token is refreshed, once, and the lock released.
        change_identity(store, session_key, expires_at=time.time() + 30)
        cookies = dict(a.cookies)

        def visit(base: str) -> httpx.Response:  # one browser tab each, on either process
            return httpx.get(f"{base}/directory/accounts/", cookies=cookies, timeout=30)

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            pages = list(pool.map(visit, [scaleout.portal_a, scaleout.portal_b] * 3))
        assert [page.status_code for page in pages] == [200] * 6, scaleout.log_tails()
        assert identity(store, session_key)["access"] != stored
        assert identity(store, session_key)["expires_at"] > time.time() + 3000
        assert not store.exists(lock)
