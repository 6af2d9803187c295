"""Every 0.16 object answers /query + /get (or /get of its singleton) over HTTP, on the demo and
the hostile seed, without a server error; hostile strings come back verbatim (escaping is the
portal's job)."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from sandbox.jmap.kinds import kinds
from sandbox.server import run_in_thread

from .conftest import Env16


@pytest.fixture(scope="module")
def hostile16():
    sb = Sandbox(version="0.16.18", enterprise=True, seed="hostile")
    with run_in_thread(sb) as url:
        env = Env16(sb, url)
        yield env
        env.client.close()


def _walk(env) -> dict[str, list]:
    seen = {}
    token = env.token("admin")
    for name, kind in sorted(kinds(env.sb).items()):
        if kind.singleton:
            calls = [[f"x:{name}/get", {"ids": ["singleton"]}, "g"]]
        elif kind.queryable:
            calls = [[f"x:{name}/query", {"position": 0, "limit": 50}, "q"],
                     [f"x:{name}/get", {"#ids": {"resultOf": "q", "name": f"x:{name}/query", "path": "/ids"}}, "g"]]
        else:
            continue
        responses = env.jmap(token, calls)
        for method, result, _ in responses:
            assert method != "error", (name, result)
        seen[name] = responses[-1][1]["list"]
    return seen


def test_every_object_answers_on_the_demo_seed(v16):
    seen = _walk(v16)
    for name in ("QueuedMessage", "DmarcInternalReport", "TlsInternalReport", "DmarcExternalReport",
                 "TlsExternalReport", "ArfExternalReport", "ArchivedItem", "Log", "Metric", "BlockedIp"):
        assert seen[name], name
    assert len(seen["SystemSettings"]) == 1


def test_every_object_answers_on_the_hostile_seed(hostile16):
    seen = _walk(hostile16)
    texts = repr(seen["QueuedMessage"]) + repr(seen["ArchivedItem"]) + repr(seen["DmarcExternalReport"])
    assert "<" in texts  # markup from the hostile seed is passed through untouched
