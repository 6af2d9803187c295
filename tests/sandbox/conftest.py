"""Fixtures: one sandbox server per configuration for the whole session, reset before each test."""

from __future__ import annotations

import contextlib

import pytest

from sandbox import Sandbox
from sandbox.server import run_in_thread

from .helpers import Env

_CONFIGS = {
    "ce": dict(version="0.11.8", enterprise=False),
    "ee": dict(version="0.11.8", enterprise=True),
    "v12": dict(version="0.12.4", enterprise=True),
    "v12ce": dict(version="0.12.4", enterprise=False),
    "empty": dict(version="0.11.8", enterprise=True, seed="empty"),
    "v13": dict(version="0.13.4", enterprise=True),
    "v14": dict(version="0.14.1", enterprise=True),
    "v15": dict(version="0.15.5", enterprise=True),
}

#: fixture name of each emulated version (Enterprise)
VERSION_ENVS = {"0.11.8": "ee", "0.12.4": "v12", "0.13.4": "v13", "0.14.1": "v14", "0.15.5": "v15"}


@pytest.fixture(scope="session")
def _servers():
    stack = contextlib.ExitStack()
    envs: dict[str, Env] = {}

    def get(name: str) -> Env:
        if name not in envs:
            sandbox = Sandbox(**_CONFIGS[name])
            url = stack.enter_context(run_in_thread(sandbox))
            envs[name] = Env(sandbox, url)
        return envs[name]

    yield get
    for env in envs.values():
        env.client.close()
    stack.close()


def _env(_servers, name):
    env = _servers(name)
    env.sb.reset()
    return env


@pytest.fixture
def ce(_servers) -> Env:
    """v0.11.8, Community edition."""
    return _env(_servers, "ce")


@pytest.fixture
def ee(_servers) -> Env:
    """v0.11.8, Enterprise edition."""
    return _env(_servers, "ee")


@pytest.fixture
def v12(_servers) -> Env:
    """v0.12.4, Enterprise edition."""
    return _env(_servers, "v12")


@pytest.fixture
def v12ce(_servers) -> Env:
    return _env(_servers, "v12ce")


@pytest.fixture
def empty(_servers) -> Env:
    """v0.11.8 Enterprise with the empty seed."""
    return _env(_servers, "empty")


@pytest.fixture
def v13(_servers) -> Env:
    """v0.13.4, Enterprise edition."""
    return _env(_servers, "v13")


@pytest.fixture
def v14(_servers) -> Env:
    """v0.14.1, Enterprise edition."""
    return _env(_servers, "v14")


@pytest.fixture
def v15(_servers) -> Env:
    """v0.15.5, Enterprise edition."""
    return _env(_servers, "v15")


@pytest.fixture(params=list(VERSION_ENVS))
def each_version(request, _servers) -> Env:
    """Every emulated version in turn (Enterprise)."""
    return _env(_servers, VERSION_ENVS[request.param])
