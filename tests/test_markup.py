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


# --------------------------------------------------------------------------- values from Stalwart


def _text(markup: str) -> str:
    """What a reader sees of `markup` with "Show all" closed (the cut head) and opened (the whole)."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data):
            self.parts.append(data)

    parser = Text()
    parser.feed(markup)
    return "".join(parser.parts)


def test_a_short_value_is_escaped_and_isolated():
    from portal.markup import clip

    assert clip("jane.doe@example.org") == "<bdi>jane.doe@example.org</bdi>"
    # A long run without spaces may break anywhere; ordinary words stay whole.
    assert clip(PAYLOAD) == f'<bdi class="clip-break">{escape(PAYLOAD)}</bdi>'
    assert clip("a" * 29 + " b") == "<bdi>" + "a" * 29 + " b</bdi>"
    assert clip(None) == "" and clip("") == ""
    assert clip(42) == "<bdi>42</bdi>"


def test_a_long_value_is_cut_with_the_whole_value_one_click_away():
    from portal.markup import clip

    value = (PAYLOAD + " ") * 2000  # ~160,000 characters
    out = clip(value)
    head = out[: out.index("<details")]
    assert _text(head) == value[:200] + "…"
    assert '<details class="clip-more"><summary>Show all 160,000 characters</summary>' in out.replace(
        f"{len(value):,}", "160,000"
    )
    full = out[out.index('<bdi class="clip-full">') :]
    assert _text(full) == value  # the whole value, as text
    assert "<script>" not in out and "<img" not in out
    # Inside links and summaries: only cut.
    short = clip(value, 50, expand=False)
    assert "<details" not in short and _text(short) == value[:50] + "…"
    assert clip("x" * 200) == '<bdi class="clip-break">' + "x" * 200 + "</bdi>"  # exactly the limit: not cut


def test_a_safe_string_is_taken_as_escaped_text():
    from django.template.defaultfilters import join

    from portal.markup import clip

    joined = join([PAYLOAD, "b"], "; ", autoescape=True)
    assert clip(joined) == f'<bdi class="clip-break">{escape(PAYLOAD + "; b")}</bdi>'


@pytest.mark.parametrize(
    "char",
    ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f"],
)
def test_bidi_controls_are_shown_not_obeyed(char):
    from portal.markup import clip, plain

    name = "ad" + char + "min@example.org"
    out = clip(name)
    assert char not in out
    marker = f"⟨U+{ord(char):04X}⟩"
    assert '<span class="control-char" title="Hidden control character: ' in out and marker in out
    assert _text(out) == f"ad{marker}min@example.org"
    assert plain(name) == f"ad{marker}min@example.org" and char not in plain(name)


def test_the_hostile_seed_spoofed_file_name_reads_as_stored():
    from portal.markup import clip
    from sandbox.hostile_seed import BIDI

    text = _text(clip(BIDI))
    assert text.startswith("invoice⟨U+202E⟩txt.exe⟨U+202C⟩ ⟨U+200B⟩ad")
    assert not any(ord(c) in {0x202E, 0x202C, 0x200B, 0x2060, 0xFEFF} for c in text)


def test_plain_is_for_attributes():
    from portal.markup import plain

    assert plain(PAYLOAD) == escape(PAYLOAD)
    assert plain("x" * 300) == "x" * 200 + "…"
    assert plain(None) == ""


def test_the_template_filters(rf):
    from django.template import Context, Template

    template = Template(
        "{% load portal %}<p>{{ value|clip }}</p><p>{{ value|clip:10 }}</p><p>{{ value|clip_short:5 }}</p>"
        '<p title="{{ value|plain:8 }}">{{ missing|clip }}</p><p>{{ items|join:", "|clip }}</p>'
    )
    out = template.render(Context({"value": PAYLOAD, "items": [PAYLOAD, "<b>"]}))
    assert "<script>" not in out and "<img" not in out and "<b>" not in out
    assert f'<p><bdi class="clip-break">{escape(PAYLOAD)}</bdi></p>' in out
    assert f'<p><span class="clip"><bdi class="clip-head">{escape(PAYLOAD[:10])}…</bdi><details' in out
    assert f'<p><bdi class="clip-head">{escape(PAYLOAD[:5])}…</bdi></p>' in out
    assert f'<p title="{escape(PAYLOAD[:8])}…"></p>' in out
    assert f'<p><bdi class="clip-break">{escape(PAYLOAD + ", <b>")}</bdi></p>' in out


def test_plain_values_take_the_short_way_to_the_same_markup():
    from portal.markup import clip

    for value in ("jane.doe", "Jane Doe", "a" * 29, "user000001@scale.example", "Ünïcödé"):
        assert clip(value) == f"<bdi>{value}</bdi>"
    for value in ("a&b", "<x>", '"q"', "it's", "a\u202eb", "a\u200bb", "a" * 30):
        assert clip(value) != f"<bdi>{value}</bdi>"
