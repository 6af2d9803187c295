"""Both generations offer the same areas: the REST areas and the JMAP ones satisfy the Protocols."""

from __future__ import annotations

import inspect

import pytest

from portal.stalwart import backend
from portal.stalwart.client import StalwartClient
from portal.stalwart.jmap.backend import JmapBackend
from portal.stalwart.jmap.client import JmapClient
from portal.stalwart.jmap.principals import JmapPrincipals
from portal.stalwart.principals import PrincipalsApi


def _methods(protocol):
    return [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]


@pytest.mark.parametrize("area", [PrincipalsApi, JmapPrincipals])
def test_principals_areas_share_one_protocol(area):
    for name in _methods(backend.PrincipalsArea):
        wanted = inspect.signature(getattr(backend.PrincipalsArea, name)).parameters
        offered = inspect.signature(getattr(area, name)).parameters
        assert list(wanted)[: len(wanted)] == [p for p in offered if p in wanted], (area, name)
        assert inspect.iscoroutinefunction(getattr(area, name)), (area, name)


def test_the_session_generation_picks_the_backend():
    rest = backend.for_session("rest", "token")
    jmap = backend.for_session("jmap", "token")
    assert isinstance(rest, StalwartClient) and isinstance(jmap, JmapBackend)
    assert isinstance(rest.principals, backend.PrincipalsArea)
    assert isinstance(jmap.principals, backend.PrincipalsArea)
    assert isinstance(jmap, backend.Backend) and isinstance(rest, backend.Backend)
    assert jmap.authorization == rest.authorization == "Bearer token"
    assert "token" not in repr(jmap) and "token" not in repr(JmapClient("token"))


def test_an_area_0_16_lacks_says_so_instead_of_crashing():
    import asyncio

    from portal.stalwart import errors

    with pytest.raises(errors.NotOnThisServer):
        asyncio.run(JmapBackend("token").no_such_area.messages())
