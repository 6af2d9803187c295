"""A directory of 100,000 accounts: a list page still makes one bounded request."""

from urllib.parse import parse_qs

import pytest

from sandbox.server import run_in_thread
from sandbox.state import Sandbox
from tests.conftest import sign_in


@pytest.fixture(scope="module")
def large_sandbox():
    state = Sandbox(version="0.11.8", enterprise=True, scale=100_000)
    with run_in_thread(state) as url:
        yield state, url


@pytest.mark.parametrize("query", ["", "?page=2000&size=50", "?q=user0999&size=100"])
def test_one_bounded_request_per_page(client, large_sandbox, settings, query):
    state, url = large_sandbox
    settings.STALWART_URL = url
    assert sign_in(client, "admin").status_code == 302
    state.requests.clear()
    response = client.get("/directory/accounts/" + query)
    assert response.status_code == 200
    calls = [r for r in state.requests if r.path == "/api/principal"]
    assert len(calls) == 1
    params = parse_qs(calls[0].query)
    assert int(params["limit"][0]) <= 100
    assert "fields" in params
    assert state.type_counts["individual"] > 100_000
    if not query:
        assert f"of {state.type_counts['individual']}" in response.content.decode()
