"""The server-sent events parser and encoder (portal/stalwart/sse.py)."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.stalwart.sse import SSEError, SSEEvent, SSEParser, aiter_events, encode_comment, encode_event, parse

STALWART_FRAME = 'event: event\ndata: [{"type":"mxLookupStart","domain":"example.org"}]\n\n'


def feed_all(chunks) -> list[SSEEvent]:
    parser = SSEParser()
    events = []
    for chunk in chunks:
        events.extend(parser.feed(chunk))
    return events + parser.close()


def test_stalwart_frame():
    assert parse(STALWART_FRAME) == [SSEEvent("event", '[{"type":"mxLookupStart","domain":"example.org"}]')]


def test_frame_split_anywhere_byte_by_byte():
    raw = (STALWART_FRAME * 3).encode()
    events = feed_all(raw[i : i + 1] for i in range(len(raw)))
    assert len(events) == 3 and all(e.event == "event" for e in events)


def test_multi_line_data_joined_with_newline():
    assert parse("data: first\ndata: second\ndata:\ndata:  indented\n\n") == [
        SSEEvent("message", "first\nsecond\n\n indented")
    ]


def test_comments_and_unknown_fields_are_ignored():
    stream = ": keep-alive\n:another\nfoo: bar\ndata: x\n: in the middle\n\n"
    assert parse(stream) == [SSEEvent("message", "x")]


def test_blank_lines_without_data_dispatch_nothing():
    assert parse("\n\nevent: lonely\n\n\ndata: y\n\n") == [SSEEvent("message", "y")]


def test_id_and_retry_persist_and_invalid_values_are_ignored():
    stream = "retry: 2500\nid: 7\ndata: a\n\ndata: b\n\nretry: soon\nid: bad\0id\ndata: c\n\nid\ndata: d\n\n"
    assert parse(stream) == [
        SSEEvent("message", "a", "7", 2500),
        SSEEvent("message", "b", "7", 2500),
        SSEEvent("message", "c", "7", 2500),
        SSEEvent("message", "d", "", 2500),
    ]


def test_field_without_colon_and_without_space():
    assert parse("data\ndata:x\n\n") == [SSEEvent("message", "\nx")]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_all_line_endings(end):
    stream = f"event: e{end}data: 1{end}data: 2{end}{end}"
    assert parse(stream) == [SSEEvent("e", "1\n2")]


def test_cr_lf_split_across_chunks_is_one_line_end():
    assert feed_all([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]) == [
        SSEEvent("message", "a"),
        SSEEvent("message", "b"),
    ]


def test_byte_order_mark_is_dropped_once_and_utf8_split_characters_survive():
    raw = "\ufeffdata: grüße ✓\n\n".encode()
    assert feed_all(raw[i : i + 1] for i in range(len(raw))) == [SSEEvent("message", "grüße ✓")]
    assert parse("\ufeff\ufeffdata: x\n\n") == []  # a second BOM is part of the field name


def test_unfinished_event_at_the_end_is_discarded():
    assert parse("data: complete\n\ndata: cut off") == [SSEEvent("message", "complete")]
    assert parse("data: no blank line\n") == []


def test_endless_line_is_refused():
    parser = SSEParser(max_line=100)
    with pytest.raises(SSEError):
        parser.feed("data: " + "x" * 200)


def test_aiter_events():
    async def chunks():
        for part in (b"event: event\nda", b"ta: [1]\n", b"\n: ping\n", b"data: tail\n\n"):
            yield part

    async def collect():
        return [event async for event in aiter_events(chunks())]

    assert asyncio.run(collect()) == [SSEEvent("event", "[1]"), SSEEvent("message", "tail")]


def test_encoder_round_trip_and_refusals():
    wire = encode_event("<li>one</li>\n<li>two</li>", event="step", id="3", retry=1000)
    assert wire == "retry: 1000\nid: 3\nevent: step\ndata: <li>one</li>\ndata: <li>two</li>\n\n"
    assert parse(wire) == [SSEEvent("step", "<li>one</li>\n<li>two</li>", "3", 1000)]
    assert parse(encode_event("")) == [SSEEvent("message", "")]
    assert parse(encode_comment("ping\npong") + encode_event("x")) == [SSEEvent("message", "x")]
    with pytest.raises(ValueError):
        encode_event("x", event="a\nb")
    with pytest.raises(ValueError):
        encode_event("x", id="a\rb")


# --- properties -----------------------------------------------------------------------
# Text without line breaks or NUL (ids, names); data may hold any text, line breaks included.
_line_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\0"), max_size=20)
_data = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
_event = st.fixed_dictionaries(
    {
        "data": _data,
        "event": st.one_of(st.just(""), _line_text.filter(lambda s: s != "")),
        "id": st.one_of(st.none(), _line_text),
        "retry": st.one_of(st.none(), st.integers(min_value=0, max_value=10**9)),
        "comment": st.one_of(st.none(), _line_text),
    }
)


@st.composite
def streams(draw):
    """A valid stream (with a chosen line ending) and the events it must give."""
    specs = draw(st.lists(_event, max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    bom = draw(st.booleans())
    parts, expected = [], []
    last_id, retry = "", None
    for spec in specs:
        if spec["comment"] is not None:
            parts.append(encode_comment(spec["comment"]))
        parts.append(encode_event(spec["data"], event=spec["event"], id=spec["id"], retry=spec["retry"]))
        if spec["id"] is not None:
            last_id = spec["id"]
        if spec["retry"] is not None:
            retry = spec["retry"]
        data = "\n".join(re.split(r"\r\n|\r|\n", spec["data"]))
        expected.append(SSEEvent(spec["event"] or "message", data, last_id, retry))
    # encode_event wrote line breaks inside data as separate data lines: every "\n" left is
    # framing, and may be any of the three line ends.
    text = "".join(parts).replace("\n", newline)
    raw = (("\ufeff" if bom else "") + text).encode("utf-8")
    return raw, expected


@st.composite
def chunkings(draw, raw: bytes):
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=12)))
    bounds = [0, *cuts, len(raw)]
    return [raw[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_chunking_of_a_valid_stream_gives_the_same_events(data):
    raw, expected = data.draw(streams())
    chunks = data.draw(chunkings(raw))
    assert b"".join(chunks) == raw
    assert feed_all([raw]) == expected
    assert feed_all(chunks) == expected


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.data())
def test_arbitrary_bytes_never_crash_and_chunking_does_not_matter(raw, data):
    chunks = data.draw(chunkings(raw))
    assert feed_all(chunks) == feed_all([raw])
