# ruff: noqa: ASYNC109  (the signatures are Django's cache API, timeout included)
"""Local-memory caches whose async methods do not leave the event loop.

Django's cache backends implement their async methods with `sync_to_async`, a thread hop
per call. Local memory is a dictionary behind a lock: nothing to wait for, so the async
methods call the synchronous ones directly. For Redis (several processes), `RedisCache`
gives the async methods redis-py's asyncio client instead.
"""

from __future__ import annotations

import asyncio
import weakref

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache as DjangoLocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.utils.functional import cached_property


class LocMemCache(DjangoLocMemCache):
    async def aadd(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self.add(key, value, timeout, version)

    async def aget(self, key, default=None, version=None):
        return self.get(key, default, version)

    async def aset(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self.set(key, value, timeout, version)

    async def atouch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self.touch(key, timeout, version)

    async def adelete(self, key, version=None):
        return self.delete(key, version)

    async def ahas_key(self, key, version=None):
        return self.has_key(key, version)

    async def aincr(self, key, delta=1, version=None):
        return self.incr(key, delta, version)

    async def aget_many(self, keys, version=None):
        return self.get_many(keys, version)

    async def aset_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self.set_many(data, timeout, version)

    async def adelete_many(self, keys, version=None):
        return self.delete_many(keys, version)

    async def aclear(self):
        return self.clear()

    async def aget_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        return self.get_or_set(key, default, timeout, version)

    async def aincr_version(self, key, delta=1, version=None):
        return self.incr_version(key, delta, version)

    async def aclose(self, **kwargs):
        return self.close(**kwargs)


class AsIsCache(LocMemCache):
    """Values kept in this process as they are (rendered fragments, parsed reports).

    A value that is never changed once stored has nothing to copy: Django's local-memory
    cache pickles every value on the way in and unpickles it on the way out, a copy of
    each on every read.
    """

    def get(self, key, default=None, version=None):
        key = self.make_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._delete(key)
                return default
            value = self._cache[key]
            self._cache.move_to_end(key, last=False)
        return value

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_key(key, version=version)
        with self._lock:
            self._set(key, value, timeout)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_key(key, version=version)
        with self._lock:
            if self._has_expired(key):
                self._set(key, value, timeout)
                return True
            return False

    def incr(self, key, delta=1, version=None):
        raise NotImplementedError("Values are kept as they are, not counted.")


class FragmentCache(AsIsCache):
    """Rendered template fragments (`{% cache %}`). The keys come from
    `make_template_fragment_key` (a hash), so they need no check for memcached."""

    def validate_key(self, key):
        return None


#: Redis clients shared by every instance of the backend: Django makes a new cache object
#: for every request under ASGI (its cache handler is context-local), and each would bring
#: its own connection pool, so every request opened new connections to Redis.
_SYNC_CLIENTS: dict[tuple, object] = {}
_ASYNC_CLIENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class RedisCache(DjangoRedisCache):
    """Django's Redis backend, with its connections kept per process and its async methods
    talking to Redis from the event loop.

    Django's own async methods are `sync_to_async` around the synchronous client: under
    `PortalASGIHandler` every session load and every cache read became a hop to the one
    shared thread plus a blocking round trip there, queued behind everyone else's. Here the
    async methods use redis-py's asyncio client (one connection pool per event loop, the
    same keys, serializer and timeouts as the synchronous methods, which stay for
    management commands and synchronous code). Both kinds of client are shared by every
    instance of the backend with the same servers and options (see `_SYNC_CLIENTS`).
    """

    def _identity(self) -> tuple:
        return (tuple(self._servers), repr(sorted(self._options.items())))

    @cached_property
    def _cache(self):
        identity = self._identity()
        client = _SYNC_CLIENTS.get(identity)
        if client is None:
            client = _SYNC_CLIENTS.setdefault(identity, self._class(self._servers, **self._options))
        return client

    def _aclient(self):
        clients = _ASYNC_CLIENTS.get(asyncio.get_running_loop())
        if clients is None:
            clients = _ASYNC_CLIENTS[asyncio.get_running_loop()] = {}
        identity = self._identity()
        client = clients.get(identity)
        if client is None:
            import redis.asyncio

            options = {key: value for key, value in self._options.items() if key not in {"parser_class", "pool_class"}}
            # One server to write to, as Django's client does; reads from replicas are not kept.
            pool = redis.asyncio.ConnectionPool.from_url(self._servers[0], **options)
            client = clients[identity] = redis.asyncio.Redis(connection_pool=pool)
        return client

    def _dumps(self, value):
        return self._cache._serializer.dumps(value)

    def _loads(self, value):
        return self._cache._serializer.loads(value)

    async def aadd(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        client, value = self._aclient(), self._dumps(value)
        if timeout == 0:
            if added := bool(await client.set(key, value, nx=True)):
                await client.delete(key)
            return added
        return bool(await client.set(key, value, ex=timeout, nx=True))

    async def aget(self, key, default=None, version=None):
        key = self.make_and_validate_key(key, version=version)
        value = await self._aclient().get(key)
        return default if value is None else self._loads(value)

    async def aset(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout == 0:
            await self._aclient().delete(key)
        else:
            await self._aclient().set(key, self._dumps(value), ex=timeout)

    async def atouch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        key = self.make_and_validate_key(key, version=version)
        timeout = self.get_backend_timeout(timeout)
        if timeout is None:
            return bool(await self._aclient().persist(key))
        return bool(await self._aclient().expire(key, timeout))

    async def adelete(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(await self._aclient().delete(key))

    async def aget_many(self, keys, version=None):
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not key_map:
            return {}
        found = await self._aclient().mget(list(key_map))
        pairs = zip(key_map, found, strict=True)
        return {key_map[key]: self._loads(value) for key, value in pairs if value is not None}

    async def ahas_key(self, key, version=None):
        key = self.make_and_validate_key(key, version=version)
        return bool(await self._aclient().exists(key))

    async def aincr(self, key, delta=1, version=None):
        key = self.make_and_validate_key(key, version=version)
        client = self._aclient()
        if not await client.exists(key):
            raise ValueError(f"Key '{key}' not found.")
        return await client.incr(key, delta)

    async def aset_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        if not data:
            return []
        timeout = self.get_backend_timeout(timeout)
        values = {self.make_and_validate_key(key, version=version): self._dumps(value) for key, value in data.items()}
        pipeline = self._aclient().pipeline()
        pipeline.mset(values)
        if timeout is not None:
            for key in values:
                pipeline.expire(key, timeout)
        await pipeline.execute()
        return []

    async def adelete_many(self, keys, version=None):
        if keys:
            await self._aclient().delete(*[self.make_and_validate_key(key, version=version) for key in keys])

    async def aclear(self):
        return bool(await self._aclient().flushdb())
