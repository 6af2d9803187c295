"""The building blocks of the rows written in Python: escaping equal to Django's, links equal
to reverse(), renderers kept per process except while developing."""

from __future__ import annotations

import functools

import pytest
from django.urls import reverse
from django.utils.html import escape

from portal.markup import e, kept, url_pattern

PAYLOAD = "\"><img src=x onerror=alert(1)><script>alert(2)</script>'&{{7*7}}{% debug %}"
VALUES = ["jane", "it's", "..", ".hidden", "a/b", "%2F", "a b", "x?y#z", "~u_1-2", "ünï", "1_2", PAYLOAD]


@pytest.mark.parametrize("text", [*VALUES, "", "&amp;", 42])
def test_escaping_is_djangos(text):
    assert e(text) == escape(text)


@pytest.mark.parametrize("value", [value for value in VALUES if "/" not in value])
@pytest.mark.parametrize("kind", ["dmarc", "tls", "arf"])
def test_report_links_are_those_reverse_gives(kind, value):
    for view in ("reports:detail", "reports:delete"):
        url_for = url_pattern(view, "report_id", placeholder="__report__", kind=kind)
        assert url_for(value) == reverse(view, kwargs={"kind": kind, "report_id": value})


@pytest.mark.parametrize("message_id", ["0", "7", "342292812529664125"])
def test_integer_links_are_those_reverse_gives(message_id):
    url_for = url_pattern("queue:detail", "message_id", placeholder="9081726354")
    assert url_for(message_id) == reverse("queue:detail", kwargs={"message_id": int(message_id)})


def test_links_follow_the_script_prefix():
    from django.urls import set_script_prefix

    set_script_prefix("/mail-admin/")
    try:
        url_for = url_pattern("reports:detail", "report_id", placeholder="__report__", kind="tls")
        assert url_for("1_2") == "/mail-admin/reports/tls/1_2/"
    finally:
        set_script_prefix("/")


def test_kept_is_the_cache_unless_developing(settings):
    made = []

    @functools.lru_cache
    def factory(key):
        made.append(key)
        return object()

    settings.DEBUG = False
    assert kept(factory)("a") is kept(factory)("a") and made == ["a"]
    settings.DEBUG = True
    assert kept(factory)("a") is not kept(factory)("a") and made == ["a", "a", "a"]
