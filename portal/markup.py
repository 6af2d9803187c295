"""Building blocks for the table rows the portal writes in Python.

The longest tables (the directory lists, the message queue, incoming reports, the log
viewer) have their rows rendered by small renderer classes instead of the template engine,
whose cost per node (a lookup per variable, a node per `{% if %}`) made a page of rows
cost more than the Stalwart calls behind it. The rules those renderers keep:

- every value interpolated into markup goes through `e()`, whether it came from
  Stalwart or from a translation; nothing is marked safe without being escaped;
- links are built by `url_pattern()`, which gives what `reverse()` gives;
- a renderer's labels are translated once, when it is made; `rows_html()` keeps each
  renderer per options, language and script prefix (see `kept()`);
- a value from Stalwart or from mail is shown through `clip()` (the `|clip` filter in
  templates): direction isolated, control characters made visible, long values cut short.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import get_script_prefix, reverse
from django.utils.formats import number_format
from django.utils.safestring import SafeData, SafeString
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

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


def kept[F: Callable[..., Any]](cached: F) -> F:
    """The per-process cached `cached` (an `lru_cache`d factory), or a fresh one per call
    while developing, where translations and templates may change under a running process."""
    return cached.__wrapped__ if settings.DEBUG else cached  # type: ignore[attr-defined]


def rows_html(factory: Callable[..., Callable[[Any], str]], items: Iterable[Any], *options: Hashable) -> SafeString:
    """The `<tr>` of every item, one per line (empty when there are none), written by the
    renderer `factory(*options, language, script prefix)`: an `lru_cache`d factory, so its
    labels and links are prepared once per process (afresh per call under DEBUG)."""
    render = kept(factory)(*options, get_language(), get_script_prefix())
    return SafeString("\n".join([render(item) for item in items]))


#: Characters that change the direction of the text around them or hide inside it: the bidi
#: embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the directional marks
#: (U+200E, U+200F, U+061C) and the invisible zero-width space, word joiner and BOM.
CONTROLS = re.compile("[\u061c\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
#: How much of a value a table cell shows before "Show all"; detail pages pass more.
CLIP = 200
#: A run of characters without a space this long may break anywhere (class `clip-break`);
#: shorter words keep whole, so that ordinary columns do not shrink to a letter's width.
UNBROKEN = re.compile(r"\S{30}")
#: Anything that makes a value need more than `<bdi>value</bdi>`: one scan for the usual
#: short, plain value (a name, an address) instead of three.
_NOT_PLAIN = re.compile(f"{_SPECIAL.pattern}|{CONTROLS.pattern}|{UNBROKEN.pattern}")


def visible(text: str) -> str:
    """`text` escaped, each control character replaced by a visible marker naming it."""
    if CONTROLS.search(text) is None:
        return e(text)
    title = _("Hidden control character: %(name)s")
    parts = []
    last = 0
    for match in CONTROLS.finditer(text):
        char = match.group()
        name = unicodedata.name(char, "")
        parts.append(e(text[last : match.start()]))
        parts.append(f'<span class="control-char" title="{e(title % {"name": name})}">⟨U+{ord(char):04X}⟩</span>')
        last = match.end()
    parts.append(e(text[last:]))
    return "".join(parts)


def clip(value: object, limit: int = CLIP, *, expand: bool = True) -> str:
    """A value from Stalwart or from mail as safe HTML: escaped, its direction isolated in a
    `<bdi>` (so it cannot reorder the text around it), bidi and zero-width control characters
    shown as visible markers (⟨U+202E⟩), and cut to `limit` characters with the whole value
    one click away in a `<details>` (`expand=False` inside links and summaries, where the
    value is only cut). None and "" are "". A safe string (the output of `|join`) is taken
    as escaped text."""
    if value is None:
        return ""
    text = html.unescape(str(value)) if isinstance(value, SafeData) else str(value)
    if not text:
        return ""
    if len(text) <= limit:
        if _NOT_PLAIN.search(text) is None:
            return f"<bdi>{text}</bdi>"
        if UNBROKEN.search(text):
            return f'<bdi class="clip-break">{visible(text)}</bdi>'
        return f"<bdi>{visible(text)}</bdi>"
    shown = text[:limit]
    head = f'<bdi class="clip-head{" clip-break" if UNBROKEN.search(shown) else ""}">{visible(shown)}…</bdi>'
    if not expand:
        return head
    count = len(text)
    more = ngettext("Show all %(count)s character", "Show all %(count)s characters", count) % {
        "count": number_format(count, force_grouping=True)
    }
    return (
        f'<span class="clip">{head}<details class="clip-more"><summary>{e(more)}</summary>'
        f'<bdi class="clip-full">{visible(text)}</bdi></details></span>'
    )


def plain(value: object, limit: int = CLIP) -> str:
    """A value from Stalwart as escaped text for places that take no markup (attributes such
    as `title` and `aria-label`, `<option>`): control characters written as ⟨U+202E⟩, cut to
    `limit` characters with "…"."""
    if value is None:
        return ""
    text = html.unescape(str(value)) if isinstance(value, SafeData) else str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return e(CONTROLS.sub(lambda match: f"⟨U+{ord(match.group()):04X}⟩", text))
