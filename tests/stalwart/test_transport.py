"""One transport: every backend's calls end in the same errors for the same failures."""

import asyncio

import pytest

from portal.stalwart import StalwartClient, errors, generation, oauth
from portal.stalwart.jmap import signin as jmap_signin
from tests.faults import broken_upstream

# One entry point of each kind: the REST client, OAuth's token call, the generation probe,
# the 0.16 sign-in (JMAP generation).
CALLS = {
    "rest": lambda: StalwartClient("token").principals.get("x"),
    "oauth": lambda: oauth.refresh("refresh-token"),
    "probe": lambda: generation.detect(fresh=True),
    "jmap-sign-in": lambda: jmap_signin.request_code("someone", "password"),
}


@pytest.fixture
def any_generation(settings):
    settings.STALWART_API = "auto"


@pytest.mark.parametrize("call", sorted(CALLS))
def test_a_refused_connection_is_unavailable_and_not_sent(settings, closed_port, any_generation, call):
    """Nothing left the portal: whatever the backend, a change cannot have been applied."""
    settings.STALWART_URL = f"http://127.0.0.1:{closed_port}"
    with pytest.raises(errors.StalwartUnavailable) as caught:
        asyncio.run(CALLS[call]())
    assert not isinstance(caught.value, errors.StalwartTimeout)
    assert caught.value.sent is False and caught.value.operation


@pytest.mark.parametrize("call", sorted(CALLS))
def test_silence_is_a_timeout_that_may_have_been_sent(settings, any_generation, call):
    settings.STALWART_TIMEOUT = 0.2
    with broken_upstream("silent") as url:
        settings.STALWART_URL = url
        with pytest.raises(errors.StalwartTimeout) as caught:
            asyncio.run(CALLS[call]())
    assert caught.value.sent is True


@pytest.mark.parametrize("call", ["rest", "jmap-sign-in"])
def test_a_server_error_is_the_same_error_for_both_generations(settings, any_generation, call):
    with broken_upstream("500") as url:
        settings.STALWART_URL = url
        with pytest.raises(errors.StalwartStatusError) as caught:
            asyncio.run(CALLS[call]())
    assert caught.value.status == 500
