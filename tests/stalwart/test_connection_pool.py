"""The API pool's housekeeping stays linear in its connections (portal/stalwart/transport.py)."""

from __future__ import annotations

import asyncio

import httpcore
from django.conf import settings

from portal.stalwart import transport


def test_many_calls_at_once_reuse_few_connections_with_linear_housekeeping(sandbox, monkeypatch):
    calls = {"is_idle": 0}
    original = httpcore.AsyncHTTPConnection.is_idle

    def counted(self):
        calls["is_idle"] += 1
        return original(self)

    monkeypatch.setattr(httpcore.AsyncHTTPConnection, "is_idle", counted)

    async def scenario():
        client = transport.shared_client()
        pool = client._transport._pool
        assert isinstance(pool, transport._ConnectionPool)
        url = f"{settings.STALWART_URL}/.well-known/oauth-authorization-server"
        for _ in range(4):  # pages that fetch 25 things at once
            answers = await asyncio.gather(*(client.get(url) for _ in range(25)))
            assert all(answer.status_code < 500 for answer in answers)
        return len(pool.connections)

    connections = asyncio.run(scenario())
    assert connections <= 25
    # httpcore's own pool measured itself once per idle connection, by visiting all of them:
    # some 200,000 calls for these 100 requests.
    assert calls["is_idle"] < 20_000
