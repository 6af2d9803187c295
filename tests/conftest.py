"""Fixtures shared by the portal's tests.

Every test talks to a real Stalwart sandbox over HTTP: one server per test
session, reset to its seed before each test. `sandbox.requests` records what
reached it, so a test can prove that a refused page made no upstream call.
"""

from __future__ import annotations

import contextlib
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
def sandbox(request, sandbox_server, settings) -> Sandbox:
    """The sandbox a test talks to (0.11.8), or its `generation`'s when it asks for one."""
    if "generation" in request.fixturenames:
        return request.getfixturevalue("generation").sandbox
    state, url = sandbox_server
    state.reset()
    settings.STALWART_URL = url
    return state


#: Every Stalwart version the portal supports (README, "What differs by version").
STALWART_VERSIONS = ("0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5")


@pytest.fixture(scope="session")
def version_servers(sandbox_server):
    """One Enterprise sandbox per version, started when a test first needs it."""
    stack = contextlib.ExitStack()
    servers: dict[str, tuple[Sandbox, str]] = {"0.11.8": sandbox_server}

    def get(version: str) -> tuple[Sandbox, str]:
        if version not in servers:
            state = Sandbox(version=version, enterprise=True)
            servers[version] = (state, stack.enter_context(run_in_thread(state)))
        return servers[version]

    with stack:
        yield get


@pytest.fixture(params=STALWART_VERSIONS)
def stalwart_version(request) -> str:
    """Runs a test once per supported version; a module uses it by overriding `sandbox`:
    `@pytest.fixture def sandbox(versioned_sandbox): return versioned_sandbox`."""
    return request.param


@pytest.fixture
def versioned_sandbox(stalwart_version, version_servers, settings) -> Sandbox:
    state, url = version_servers(stalwart_version)
    state.reset()
    settings.STALWART_URL = url
    return state


#: The newest server of each API generation: REST /api (0.15.5) and JMAP (0.16.18).
GENERATIONS = ("0.15.5", "0.16.18")


@dataclass(frozen=True)
class Generation:
    """The server a test of both generations talks to (`sandbox` is this one's too)."""

    version: str
    sandbox: Sandbox

    @property
    def jmap(self) -> bool:
        return self.version.startswith("0.16")

    def upstream_failure(self) -> str:
        """Make every API request fail with a 500; returns the operation the error page names."""
        self.sandbox.faults.server_error(500, prefix="/jmap/" if self.jmap else "/api/")
        return "POST /jmap/" if self.jmap else "GET /api/"


@pytest.fixture(params=GENERATIONS, ids=("rest", "jmap"))
def generation(request, version_servers, settings) -> Generation:
    """Runs a test once against each API generation, for pages that behave the same on both."""
    state, url = version_servers(request.param)
    state.reset()
    settings.STALWART_URL = url
    return Generation(request.param, state)


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
    """Throttle counters, cached reports and kept pages must not leak from one test into the next."""
    from django.core.cache import cache, caches

    from portal.stalwart.reports import clear_parsed

    def clear() -> None:
        cache.clear()
        caches["reports"].clear()
        caches["page_skeletons"].clear()
        clear_parsed()

    clear()
    yield
    clear()


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
