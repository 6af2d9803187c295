"""Tests against the sandbox as Stalwart 0.16.18 (Enterprise): sign-in through /api/auth,
the directory through JMAP. Every test here gets the 0.16 sandbox as `sandbox`, so the
shared fixtures (`signed_in`, ...) sign in to it."""

from __future__ import annotations

import pytest

from sandbox.state import Sandbox

VERSION = "0.16.18"


@pytest.fixture(scope="session")
def jmap_server(version_servers) -> tuple[Sandbox, str]:
    """The 0.16 sandbox, the same server the `generation` tests use."""
    return version_servers(VERSION)


@pytest.fixture
def sandbox(jmap_server, settings) -> Sandbox:
    state, url = jmap_server
    state.reset()
    settings.STALWART_URL = url
    return state


def jmap_calls(sandbox: Sandbox) -> list:
    """The requests that reached the sandbox, as (method, path) pairs."""
    return [(r.method, r.path) for r in sandbox.requests]


@pytest.fixture
def called(monkeypatch) -> list[str]:
    """The JMAP methods the sandbox ran, by name, in order."""
    from sandbox.jmap import methods

    names: list[str] = []
    original = methods.run_method

    def recording(sb, caller, name, args, created_ids):
        names.append(name)
        return original(sb, caller, name, args, created_ids)

    monkeypatch.setattr(methods, "run_method", recording)
    return names


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The patches the portal sends with `x:<Object>/set` update (0.16 settings)."""
    from portal.stalwart.jmap.settings import JmapSettings

    patches: list[dict] = []
    original = JmapSettings.update

    async def update(self, page, object_id, patch):
        patches.append(dict(patch))
        return await original(self, page, object_id, patch)

    monkeypatch.setattr(JmapSettings, "update", update)
    return patches
