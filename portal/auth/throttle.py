"""Sign-in throttling per client address and per account name (cache-backed).

Only failures count. Past the limit the portal answers by itself, without
asking Stalwart, until the window has passed. With REDIS_URL set the counters
are shared by every portal process.
"""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _keys(ip: str | None, username: str) -> list[tuple[str, int]]:
    window = int(time.time() // settings.SIGNIN_THROTTLE_WINDOW)
    account = hashlib.sha256(username.encode()).hexdigest()[:32]
    keys = [(f"signin-fail:acct:{account}:{window}", settings.SIGNIN_MAX_FAILURES_PER_ACCOUNT)]
    if ip:
        keys.append((f"signin-fail:ip:{ip}:{window}", settings.SIGNIN_MAX_FAILURES_PER_IP))
    return keys


async def blocked(ip: str | None, username: str) -> bool:
    for key, limit in _keys(ip, username):
        if (await cache.aget(key, 0)) >= limit:
            return True
    return False


async def failed(ip: str | None, username: str) -> None:
    for key, _ in _keys(ip, username):
        if not await cache.aadd(key, 1, timeout=settings.SIGNIN_THROTTLE_WINDOW * 2):
            try:
                await cache.aincr(key)
            except ValueError:  # expired in between
                await cache.aset(key, 1, timeout=settings.SIGNIN_THROTTLE_WINDOW * 2)


def retry_minutes() -> int:
    return max(1, int(settings.SIGNIN_THROTTLE_WINDOW // 60))
