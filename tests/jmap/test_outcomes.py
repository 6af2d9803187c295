"""Honest outcomes on Stalwart 0.16: a page says something happened only when the server
confirmed it, and says what is known when a follow-up step was refused or went unanswered.

The sandbox refuses one JMAP method (or one action) through `refuse` below: the method runs
as the server's would, except that the chosen call answers a method error or a 503.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sandbox.errors import ProblemError
from sandbox.jmap import ids, methods
from sandbox.jmap.errors import MethodError
from sandbox.jmap.ops import ops_state

Refuse = Callable[..., None]


@pytest.fixture
def refuse(monkeypatch) -> Refuse:
    """`refuse("x:Action/set", action="ReloadBlockedIps")`: that call answers `forbidden`
    (or, with `status=503`, the whole request fails as an unavailable server's would)."""

    def install(method: str, *, action: str = "", status: int = 0) -> None:
        original = methods.run_method

        def run(sb, caller, name, args, created_ids):
            creates = args.get("create") or {}
            wanted = not action or any(isinstance(v, dict) and v.get("@type") == action for v in creates.values())
            if name == method and wanted:
                if status:
                    raise ProblemError(status, None, "Service unavailable")
                raise MethodError("forbidden", "You do not have the permission for this action.")
            return original(sb, caller, name, args, created_ids)

        monkeypatch.setattr(methods, "run_method", run)

    return install


def _blocked(sandbox) -> set[str]:
    return {v["address"] for v in ops_state(sandbox).blocked.values()}


# --- blocked IP addresses: the reload after a change ---------------------------------------
def test_a_block_whose_reload_is_refused_says_so(signed_in, sandbox, refuse):
    client = signed_in("admin")
    refuse("x:Action/set", action="ReloadBlockedIps")
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.9", "reason": "manual"}, follow=True)
    page = response.content.decode()
    assert "192.0.2.9" in _blocked(sandbox)  # the block itself was confirmed
    assert "192.0.2.9 is blocked, but the reload was refused" in page
    assert "192.0.2.9 is blocked." not in page


def test_a_block_whose_reload_goes_unanswered_says_so(signed_in, sandbox, refuse):
    client = signed_in("admin")
    refuse("x:Action/set", action="ReloadBlockedIps", status=503)
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.10", "reason": "manual"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "192.0.2.10" in _blocked(sandbox)
    assert "whether the reload went through is not known" in page and "192.0.2.10 is blocked." not in page


def test_an_unblock_whose_reload_is_refused_says_so(signed_in, sandbox, refuse):
    client = signed_in("admin")
    number = next(k for k, v in ops_state(sandbox).blocked.items() if v["address"] == "203.0.113.66")
    refuse("x:Action/set", action="ReloadBlockedIps")
    data = {"entry": ids.encode(number), "address": "203.0.113.66"}
    page = client.post("/tools/blocked-ips/unblock", data, follow=True).content.decode()
    assert "203.0.113.66" not in _blocked(sandbox)
    assert "203.0.113.66 is unblocked, but the reload was refused" in page


def test_a_refused_block_is_not_reported_as_done(signed_in, sandbox, refuse):
    client = signed_in("admin")
    refuse("x:BlockedIp/set")
    response = client.post("/tools/blocked-ips/", {"address": "192.0.2.11", "reason": "manual"}, follow=True)
    assert "192.0.2.11" not in _blocked(sandbox)
    assert "is blocked" not in response.content.decode()


def test_a_confirmed_block_and_reload_say_done(signed_in, sandbox):
    client = signed_in("admin")
    page = client.post("/tools/blocked-ips/", {"address": "192.0.2.12", "reason": "manual"}, follow=True)
    assert "192.0.2.12 is blocked." in page.content.decode()


# --- a refused call explains itself ------------------------------------------------------------
def test_a_refused_query_is_the_error_of_the_get_that_refers_to_it(sandbox):
    """The /get naming the ids of a refused /query fails with invalidResultReference; the portal
    explains the refusal (403), not the reference (a 400 about method names)."""
    import asyncio

    from portal.stalwart import errors
    from portal.stalwart.jmap.client import Call, JmapClient, ref
    from tests.conftest import persona

    user = persona("user")
    client = JmapClient(basic=(user.name, user.password))
    query, get = client.next_id(), client.next_id()
    calls = [
        Call("x:Account/query", {}, query),
        Call("x:Account/get", {"#ids": ref(query, "x:Account/query")}, get),
    ]
    results = asyncio.run(client.call(calls))
    with pytest.raises(errors.Forbidden):
        results[get]
