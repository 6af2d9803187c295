"""Building blocks for the table rows the portal writes in Python.

The longest tables (the directory lists, the message queue, incoming reports, the log
viewer) have their rows rendered by small renderer classes instead of the template engine,
whose cost per node (a lookup per variable, a node per `{% if %}`) made a page of rows
cost more than the Stalwart calls behind it. The rules those renderers keep:

- every value interpolated into markup goes through `e()`, whether it came from
  Stalwart or from a translation; nothing is marked safe without being escaped;
- links are built by `url_pattern()`, which gives what `reverse()` gives;
- a renderer's labels are translated once, when it is made; `rows_html()` keeps each
  renderer per options, language and script prefix (see `kept()`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Hashable, Iterable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString
from django.utils.translation import get_language

#: An empty cell's content.
NONE = '<span class="muted">—</span>'

_SPECIAL = re.compile("[&<>\"']")


def e(value: object) -> str:
    """Escape text for HTML content and quoted attribute values (as Django's `escape`)."""
    text = str(value)
    # Most names and addresses have nothing to escape: one scan instead of five replaces.
    return html.escape(text, quote=True) if _SPECIAL.search(text) else text


# What Django's reverse() leaves unquoted in a path argument (RFC 3986 sub-delimiters and "/~:@").
_REVERSE_SAFE = "!$&'()*+,;=/~:@"
# Values made of these alone come out of reverse() unchanged.
_PLAIN = re.compile(r"[A-Za-z0-9@:+!$'()*,;=_~-][A-Za-z0-9@:+!$'()*,;=._~-]*")


def url_pattern(
    viewname: str,
    argument: str,
    *,
    placeholder: str = "__value__",
    to_url: Callable[[str], str] | None = None,
    **kwargs: object,
) -> Callable[[str], str]:
    """A function value -> reverse(viewname, kwargs={argument: value, **kwargs}), without
    reverse()'s cost per row. `placeholder` must match the argument's converter (digits
    for `<int:…>`); `to_url` is the converter's own encoding, when it has one."""
    head, tail = reverse(viewname, kwargs={**kwargs, argument: placeholder}).split(placeholder)

    def url_for(value: str) -> str:
        if _PLAIN.fullmatch(value) is None:
            value = quote(to_url(value) if to_url else value, safe=_REVERSE_SAFE)
        return head + value + tail

    return url_for


def kept[F: Callable](cached: F) -> F:
    """The per-process cached `cached` (an `lru_cache`d factory), or a fresh one per call
    while developing, where translations and templates may change under a running process."""
    return cached.__wrapped__ if settings.DEBUG else cached  # type: ignore[attr-defined]


def rows_html(factory: Callable[..., Callable[[Any], str]], items: Iterable, *options: Hashable) -> SafeString:
    """The `<tr>` of every item, one per line (empty when there are none), written by the
    renderer `factory(*options, language, script prefix)`: an `lru_cache`d factory, so its
    labels and links are prepared once per process (afresh per call under DEBUG)."""
    render = kept(factory)(*options, get_language(), get_script_prefix())
    return SafeString("\n".join([render(item) for item in items]))
