"""The portal's cache backends (portal/cache.py): fragments kept as rendered."""

from __future__ import annotations

import pytest
from django.core.cache import caches
from django.template import Context, Template
from django.utils.safestring import SafeString


@pytest.fixture
def fragments():
    cache = caches["template_fragments"]
    cache.clear()
    yield cache
    cache.clear()


def test_fragments_come_back_as_rendered_without_a_copy(fragments):
    html = SafeString("<nav>menu</nav>")
    fragments.set("menu", html, 60)
    kept = fragments.get("menu")
    assert kept is html  # no pickling on the way in or out: the same string, still safe
    assert fragments.get("other", "none") == "none"
    assert fragments.add("menu", "another", 60) is False and fragments.get("menu") is html
    assert fragments.add("fresh", "first", 60) is True and fragments.get("fresh") == "first"
    with pytest.raises(NotImplementedError):
        fragments.incr("menu")


def test_an_expired_fragment_is_rendered_again(fragments):
    fragments.set("old", "stale", -1)  # already expired
    assert fragments.get("old") is None and not fragments._cache  # forgotten when asked for
    template = Template("{% load cache %}{% cache 60 tile name %}<b>{{ name }}</b>{% endcache %}")
    assert template.render(Context({"name": "first"})) == "<b>first</b>"
    (key,) = fragments._cache
    fragments._cache[key] = SafeString("<b>kept</b>")
    assert template.render(Context({"name": "first"})) == "<b>kept</b>"  # the kept fragment, as stored
    assert template.render(Context({"name": "second"})) == "<b>second</b>"  # another key
    assert len(fragments._cache) == 2


def test_fragments_are_bounded(fragments):
    for number in range(fragments._max_entries + 10):
        fragments.set(f"key-{number}", "x", 60)
    assert len(fragments._cache) <= fragments._max_entries
