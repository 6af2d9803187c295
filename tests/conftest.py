"""Fixtures shared by the portal's tests.

Every test talks to a real Stalwart sandbox over HTTP: one server per test
session, reset to its seed before each test. `sandbox.requests` records what
reached it, so a test can prove that a refused page made no upstream call.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sandbox.seed import PERSONAS
from sandbox.server import run_in_thread
from sandbox.state import Sandbox


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    password: str


def persona(key: str) -> Persona:
    entry = PERSONAS[key]
    if isinstance(entry, dict):
        return Persona(key, entry["name"], entry["password"])
    return Persona(key, entry.name, entry.password)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[tuple[Sandbox, str]]:
    state = Sandbox(version="0.11.8", enterprise=True)
    with run_in_thread(state) as url:
        yield state, url


@pytest.fixture
def sandbox(sandbox_server, settings) -> Sandbox:
    state, url = sandbox_server
    state.reset()
    settings.STALWART_URL = url
    return state


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(autouse=True)
def _database(db):
    """Sessions live in the database: every portal test may use it."""


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached reports must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def sign_in(client, who: str | Persona, *, next_url: str = "") -> object:
    who = persona(who) if isinstance(who, str) else who
    data = {"step": "password", "username": who.name, "password": who.password}
    if next_url:
        data["next"] = next_url
    return client.post("/auth/sign-in", data)


@pytest.fixture
def signed_in(client, sandbox):
    """`signed_in("admin")` returns the test client with that persona signed in."""

    def _sign_in(who: str) -> object:
        response = sign_in(client, who)
        assert response.status_code == 302, response.content[:500]
        sandbox.requests.clear()
        return client

    return _sign_in


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API keeps an event loop in the test
    thread, which must not overlap with tests that drive async views."""
    items.sort(key=lambda item: "tests/browser/" in item.nodeid.replace("\\", "/"))
