"""`portal.cache.RedisCache`: the async methods talk to Redis from the event loop, and agree
with the synchronous ones (the same keys, values and expiry) against a real redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time

import pytest
import redis
from asgiref.sync import sync_to_async

from portal.cache import RedisCache
from tests.scaleout.conftest import _stop, ensure_packages, free_port, wait_until

pytestmark = pytest.mark.scaleout


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory) -> str:
    """A redis-server of its own, without persistence."""
    _, server = ensure_packages()
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    command = [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", str(workdir)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis.Redis.from_url(url, socket_timeout=1).ping(), "redis-server")
        yield url
    finally:
        _stop(process)


@pytest.fixture
def redis_cache(redis_url: str) -> RedisCache:
    cache = RedisCache(redis_url, {"KEY_PREFIX": f"cache-test-{time.monotonic_ns()}"})
    yield cache
    cache.delete_many(["a", "b", "c", "n", "gone", "lock"])


def test_async_and_sync_methods_agree(redis_cache):
    cache = redis_cache

    async def scenario():
        await cache.aset("a", {"report": [1, "x"]}, timeout=60)
        assert cache.get("a") == {"report": [1, "x"]}  # written async, read sync
        cache.set("b", 5, timeout=60)
        assert await cache.aget("b") == 5 and await cache.aget("missing", "default") == "default"
        assert await cache.aget_many(["a", "b", "missing"]) == {"a": {"report": [1, "x"]}, "b": 5}
        assert await cache.aadd("lock", True, timeout=60) is True
        assert await cache.aadd("lock", True, timeout=60) is False
        assert await cache.ahas_key("lock") and not await cache.ahas_key("missing")
        with pytest.raises(ValueError):
            await cache.aincr("n")
        await cache.aset("n", 1)
        assert await cache.aincr("n", 2) == 3 and cache.get("n") == 3
        await cache.aset_many({"c": "three", "gone": "soon"}, timeout=60)
        assert cache.get_many(["c", "gone"]) == {"c": "three", "gone": "soon"}
        assert await cache.atouch("c", None) is True  # no expiry any more
        assert await cache.adelete("gone") is True and cache.get("gone") is None
        await cache.aset("gone", "now", timeout=0)  # a timeout of 0 deletes, as Django's does
        assert not cache.has_key("gone")
        await cache.adelete_many(["a", "b", "c", "n", "lock"])
        assert cache.get_many(["a", "b", "c", "n", "lock"]) == {}

    asyncio.run(scenario())
    asyncio.run(scenario())  # a second event loop gets a pool of its own


def test_async_methods_never_wait_for_the_shared_thread(redis_cache):
    """Django's async methods are `sync_to_async` into the one shared thread; these are not:
    they answer while that thread is busy."""
    cache = redis_cache
    cache.set("a", "value", timeout=60)
    release = threading.Event()

    async def scenario():
        busy = asyncio.ensure_future(sync_to_async(release.wait, thread_sensitive=True)(30))
        await asyncio.sleep(0.05)
        try:
            value = await asyncio.wait_for(cache.aget("a"), timeout=10)
            await asyncio.wait_for(cache.aset("b", "x", timeout=60), timeout=10)
            return value, busy.done()
        finally:
            release.set()
            await busy

    value, shared_thread_done = asyncio.run(scenario())
    assert value == "value" and not shared_thread_done


def test_every_instance_shares_the_connections(redis_url):
    """Django makes a new cache object for every request under ASGI: they must not each
    open connections of their own."""
    server = redis.Redis.from_url(redis_url)

    def connected() -> int:
        return server.info("clients")["connected_clients"]

    before = connected()
    instances = [RedisCache(redis_url, {}) for _ in range(20)]  # kept alive, as busy requests are

    async def scenario():
        for number, cache in enumerate(instances):
            await cache.aset(f"k{number}", number, timeout=60)
            assert await cache.aget(f"k{number}") == number

    asyncio.run(scenario())
    for number, cache in enumerate(instances):
        assert cache.get(f"k{number}") == number
    assert connected() - before <= 2  # one for the event loop, one for synchronous calls
    instances[0].delete_many([f"k{number}" for number in range(20)])
