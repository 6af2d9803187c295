"""Service layer of the tools: troubleshooting stream, DMARC, spam filter, maintenance."""

from __future__ import annotations

import asyncio
import time

import pytest

from portal.stalwart import StalwartClient, errors, transport
from portal.stalwart.tools_types import DeliveryStage, DmarcReport, SpamClassification
from portal.stalwart.transport import shared_client, stream_client
from portal.stalwart.troubleshoot import DeliveryStalled
from sandbox.toolstate import tools_state
from sandbox.troubleshoot import delivery_stages
from tests.faults import broken_upstream
from tests.sandbox.helpers import Env

MESSAGE = b"From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.fixture
def admin(sandbox, sandbox_server) -> StalwartClient:
    env = Env(sandbox, sandbox_server[1])
    try:
        return StalwartClient(env.bearer_for("admin"))
    finally:
        env.client.close()


def run(coro):
    return asyncio.run(coro)


async def collect(agen) -> list:
    return [item async for item in agen]


def busy(client) -> int:
    return len([c for c in client._transport._pool.connections if not (c.is_idle() or c.is_closed())])


def test_delivery_yields_the_stages_and_stops_at_completed(admin, sandbox):
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    stages = run(collect(admin.troubleshoot.delivery("Jane@Example.org")))
    assert [s.type for s in stages] == [s["type"] for s in delivery_stages("jane@example.org")] + ["completed"]
    assert stages[0] == DeliveryStage("mxLookupStart", {"domain": "example.org"})
    assert stages[-1].outcome == "completed" and stages[1].outcome == "success" and stages[1].elapsed is not None
    record = tools_state(sandbox).streams[-1]
    assert record.completed and record.closed
    # The portal sends its own credentials: no troubleshooting token is needed (§2.2).
    calls = [(r.path, r.auth_scheme) for r in sandbox.requests if r.path.startswith("/api/troubleshoot")]
    assert calls == [("/api/troubleshoot/delivery/jane%40example%2Eorg", "Bearer")]


def test_closing_the_generator_closes_the_upstream_response(admin, sandbox):
    tools_state(sandbox).frame_delay = (0.0, 0.0)

    async def main():
        stages = admin.troubleshoot.delivery("stall.example.net")
        first = await anext(stages)
        await stages.aclose()  # not a cancellation: the generator is parked at `yield`
        # Closed right away, by the generator itself, not later by garbage collection:
        assert busy(stream_client()) == 0
        record = tools_state(sandbox).streams[-1]
        deadline = time.monotonic() + 5
        while not record.closed and time.monotonic() < deadline:  # noqa: ASYNC110 - the sandbox thread sets it
            await asyncio.sleep(0.02)
        return first, record

    first, record = run(main())
    assert first.type == "mxLookupStart"
    assert record.closed and not record.completed


def test_streams_have_their_own_connections(admin, sandbox, settings):
    """An open stream never takes a connection API calls need (nor the other way round)."""
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    settings.STALWART_MAX_STREAMS = 1

    async def main():
        stages = admin.troubleshoot.delivery("stall.example.net")
        await anext(stages)
        during = busy(stream_client()), busy(shared_client())
        # The one stream slot is taken: a second stream waits for it; API calls go through at once.
        second = admin.troubleshoot.delivery("jane@example.org")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(second), 1)
        listed = await asyncio.wait_for(admin.principals.list(types=["individual"], limit=5), 5)
        await stages.aclose()
        return during, listed, stream_client() is not shared_client()

    (streams, api), listed, apart = run(main())
    assert (streams, api) == (1, 0) and apart
    assert listed.items


def test_the_pools_have_their_limits(admin, settings):
    settings.STALWART_MAX_STREAMS = 1234

    async def main():
        return shared_client()._transport._pool._max_connections, stream_client()._transport._pool._max_connections

    assert run(main()) == (200, transport.STREAMS_PER_POOL)


def test_streams_spread_over_small_pools_up_to_the_limit(admin, sandbox, settings, monkeypatch):
    """Each stream goes to the least busy pool; pools are added up to STALWART_MAX_STREAMS in all,
    then a stream waits until another one closes."""
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    monkeypatch.setattr(transport, "STREAMS_PER_POOL", 2)
    settings.STALWART_MAX_STREAMS = 5

    async def main():
        streams = []
        for index in range(5):
            stages = admin.troubleshoot.delivery(f"check@stall.site{index}.example.net")
            await anext(stages)
            streams.append(stages)
        pools = transport._stream_pools[asyncio.get_running_loop()].pools
        shape = [(pool._max_connections, pool.load) for pool in pools]
        sixth = admin.troubleshoot.delivery("jane@example.org")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(sixth), 1)
        await streams[2].aclose()  # the second pool's first stream
        streams[2] = admin.troubleshoot.delivery("jane@example.org")
        after = await asyncio.wait_for(anext(streams[2]), 5)
        loads = [pool.load for pool in pools]
        for stages in streams:
            await stages.aclose()
        return shape, after, loads, [pool.load for pool in pools]

    shape, after, loads, closed = run(main())
    assert shape == [(2, 2), (2, 2), (1, 1)]
    assert after.type == "mxLookupStart" and loads == [2, 2, 1]
    assert closed == [0, 0, 0]


def test_a_silent_stream_raises_stalled(admin, sandbox):
    tools_state(sandbox).frame_delay = (0.0, 0.0)
    tools_state(sandbox).stall_after = 2

    async def main():
        seen = []
        with pytest.raises(DeliveryStalled):
            async for stage in admin.troubleshoot.delivery("example.org", stall=0.3):
                seen.append(stage.type)
        return seen

    assert run(main()) == ["mxLookupStart", "mxLookupSuccess"]
    record = tools_state(sandbox).streams[-1]
    deadline = time.monotonic() + 5
    while not record.closed and time.monotonic() < deadline:  # the sandbox notices in its own thread
        time.sleep(0.02)
    assert record.closed


def test_refusals_and_broken_answers(signed_in, sandbox, sandbox_server, settings):
    env = Env(sandbox, sandbox_server[1])
    user = StalwartClient(env.bearer_for("user"))
    env.client.close()
    with pytest.raises(errors.Forbidden):
        run(collect(user.troubleshoot.delivery("example.org")))
    with broken_upstream("html") as url:
        settings.STALWART_URL = url
        with pytest.raises(errors.StalwartBadResponse):
            run(collect(user.troubleshoot.delivery("example.org", token="x")))


def test_dmarc(admin):
    report = run(admin.troubleshoot.dmarc("192.0.2.25", "mx.example.com", "alice@example.com"))
    assert isinstance(report, DmarcReport)
    assert report.dmarc_pass and report.dmarc.passed and report.spf_mail_from.passed and report.dkim == ()
    with pytest.raises(errors.OtherError):
        run(admin.troubleshoot.dmarc("192.0.2.25", "mx.example.com", "alice@example.com", "garbage"))


def test_spam_filter(admin, sandbox):
    run(admin.spam_filter.train("spam", MESSAGE))
    run(admin.spam_filter.train("ham", MESSAGE, "jane.doe"))
    with pytest.raises(errors.ItemNotFound):
        run(admin.spam_filter.train("ham", MESSAGE, "nobody here"))
    assert [r.path for r in sandbox.requests if "train" in r.path] == [
        "/api/spam-filter/train/spam",
        "/api/spam-filter/train/ham/jane%2Edoe",
        "/api/spam-filter/train/ham/nobody%20here",
    ]
    result = run(
        admin.spam_filter.classify(
            MESSAGE.decode(), remote_ip="192.0.2.1", ehlo_domain="mx.example.com", sender="", recipients=["b@x.org"]
        )
    )
    assert isinstance(result, SpamClassification)
    assert result.tags[0].name == "BAYES_SPAM"  # the largest impact first
    scores = [abs(tag.score or 0) for tag in result.tags]
    assert scores == sorted(scores, reverse=True)


def test_classification_orders_decisive_tags_first():
    data = {
        "score": 3.0,
        "tags": {
            "A": {"action": "allow", "value": -1.0},
            "B": {"action": "reject"},
            "C": {"action": "allow", "value": 2.0},
        },
        "disposition": {"action": "reject"},
    }
    result = SpamClassification.from_api(data)
    assert [t.name for t in result.tags] == ["B", "C", "A"] and not result.is_spam and result.action == "reject"
    with pytest.raises(errors.StalwartBadResponse):
        SpamClassification.from_api({"score": "x", "tags": {}, "disposition": {}})


def test_maintenance_paths(admin, sandbox):
    api = admin.maintenance
    run(api.reload("server.blocked-ip"))
    run(api.reload(dry_run=True))
    run(api.purge_in_memory(prefix="greylist"))
    run(api.purge_in_memory())
    run(api.delete_bayes_account("jane.doe"))
    run(api.purge_data("rocksdb"))
    run(api.purge_account("jane.doe"))
    run(api.reindex())
    mailboxes, emails = run(api.reset_uids("jane.doe"))
    assert mailboxes > 0 and emails >= 0
    assert run(api.used_quota("jane.doe")) == sandbox.get("jane.doe").used_quota
    assert run(api.update_spam_rules()) == "2.0.4" and run(api.update_spam_rules()) is None
    with pytest.raises(errors.Unsupported):
        run(api.restart())
    with pytest.raises(errors.ItemNotFound):
        run(api.reset_uids("nobody"))
    with pytest.raises(errors.NotFound):
        run(api.purge_data("nothere"))
    with pytest.raises(ValueError):
        run(api.purge_data("a/b"))
    paths = [(r.path, r.query) for r in sandbox.requests if r.path.startswith(("/api/reload", "/api/store"))]
    assert paths[:8] == [
        ("/api/reload/server.blocked-ip", ""),
        ("/api/reload", "dry-run=true"),
        ("/api/store/purge/in-memory/default/greylist", ""),
        ("/api/store/purge/in-memory", ""),
        ("/api/store/purge/in-memory/default/bayes-account/jane%2Edoe", ""),
        ("/api/store/purge/data/rocksdb", ""),
        ("/api/store/purge/account/jane%2Edoe", ""),
        ("/api/store/reindex", ""),
    ]
