"""The typed request: `request.htmx` on every request, and no type-ignores on request attributes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import RequestFactory

from portal.request import PortalHtmx

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("headers", "swap", "navigation"),
    [
        ({}, False, False),
        ({"HX-Request": "true"}, True, False),
        ({"HX-Request": "true", "HX-Boosted": "true"}, False, True),
        ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, False, True),
        ({"HX-Boosted": "true"}, False, False),  # not sent by htmx at all
    ],
)
def test_request_htmx_is_true_only_for_a_swap(headers, swap, navigation):
    details = PortalHtmx(RequestFactory().get("/", headers=headers))
    assert bool(details) is swap
    assert details.navigation is navigation
    assert details.boosted is (headers.get("HX-Boosted") == "true")


def test_every_request_has_request_htmx(signed_in):
    """Views read `request.htmx` directly: the middleware sets it for every request."""
    client = signed_in("admin")
    plain = client.get("/directory/accounts/")
    swap = client.get("/directory/accounts/", headers={"HX-Request": "true"})
    assert "<html" in plain.content.decode() and "<html" not in swap.content.decode()
    assert isinstance(plain.wsgi_request.htmx, PortalHtmx) and isinstance(swap.wsgi_request.htmx, PortalHtmx)


def test_no_type_ignore_on_request_attributes():
    """What the gate and the middleware put on the request is declared in portal/request.py."""
    pattern = re.compile(r"request\.\w+.*# type: ignore")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "portal").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders
