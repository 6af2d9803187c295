"""Server-sent events: an incremental parser and an encoder.

Stalwart streams delivery troubleshooting as `text/event-stream` (api-behaviour §14), and
the portal relays its own HTML fragments to the browser in the same format. The parser
follows the WHATWG "event stream interpretation" rules:

* lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of the
  next are one line end);
* a leading byte-order mark is dropped once; bytes are decoded as UTF-8 incrementally, so a
  character split across chunks is fine;
* `:` starts a comment; `field: value` drops one space after the colon; a line without a
  colon is a field with an empty value;
* `data` lines are joined with `\\n`; a blank line dispatches the event (nothing is dispatched
  when no data line was seen); `event` defaults to `message`;
* `id` (unless it contains NUL) and `retry` (only ASCII digits) persist across events;
* an event that is not finished by a blank line when the stream ends is discarded.

How a stream is cut into chunks never changes the events it yields.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

_LINE_END = re.compile(r"[\r\n]")
_SPLIT_LINES = re.compile(r"\r\n|\r|\n")
# One line longer than this means the other side is not speaking SSE.
MAX_LINE = 1024 * 1024


class SSEError(ValueError):
    """The stream cannot be read as server-sent events."""


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str
    data: str
    #: the last event id seen so far (ids persist across events), "" when none
    id: str = ""
    #: the reconnection time in milliseconds, when the stream set one
    retry: int | None = None


class SSEParser:
    """Feed it chunks as they arrive; it returns the events they complete."""

    def __init__(self, *, max_line: int = MAX_LINE) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._max_line = max_line
        self._buffer = ""
        self._started = False  # the byte-order mark check is done
        self._skip_lf = False  # the previous chunk ended with CR
        self._event = ""
        self._data: list[str] = []
        self.last_event_id = ""
        self.retry: int | None = None

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes | bytearray) else chunk
        return self._feed_text(text)

    def close(self) -> list[SSEEvent]:
        """The stream ended: flush the decoder. An unfinished event is discarded."""
        events = self._feed_text(self._decoder.decode(b"", final=True))
        self._buffer = ""
        self._event = ""
        self._data = []
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        buffer = self._buffer + text
        events: list[SSEEvent] = []
        pos = 0
        while True:
            match = _LINE_END.search(buffer, pos)
            if match is None:
                break
            end = match.start()
            line = buffer[pos:end]
            if buffer[end] == "\r":
                if end + 1 < len(buffer):
                    pos = end + 2 if buffer[end + 1] == "\n" else end + 1
                else:
                    pos = end + 1
                    self._skip_lf = True
            else:
                pos = end + 1
            self._line(line, events)
        self._buffer = buffer[pos:]
        if len(self._buffer) > self._max_line:
            raise SSEError("An event-stream line is too long.")
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if line == "":
            self._dispatch(events)
            return
        if line.startswith(":"):
            return  # a comment (keep-alive)
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif field == "retry":
            if value and value.isascii() and value.isdigit():
                self.retry = int(value)
        # any other field is ignored

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if not self._data:
            self._event = ""
            return
        events.append(SSEEvent(self._event or "message", "\n".join(self._data), self.last_event_id, self.retry))
        self._event = ""
        self._data = []


async def aiter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[SSEEvent]:
    """The events of a byte stream, as they complete."""
    parser = SSEParser()
    async for chunk in chunks:
        for event in parser.feed(chunk):
            yield event
    for event in parser.close():
        yield event


def parse(stream: bytes | str) -> list[SSEEvent]:
    """Every complete event of a whole stream."""
    parser = SSEParser()
    return parser.feed(stream) + parser.close()


def encode_event(data: str, *, event: str = "", id: str | None = None, retry: int | None = None) -> str:
    """One event in wire form, ending with the blank line that dispatches it."""
    for name, value in (("event", event), ("id", id or "")):
        if _LINE_END.search(value):
            raise ValueError(f"An SSE {name} cannot contain a line break.")
    if id is not None and "\0" in id:
        raise ValueError("An SSE id cannot contain NUL.")
    lines = []
    if retry is not None:
        if retry < 0:
            raise ValueError("retry must not be negative.")
        lines.append(f"retry: {retry}")
    if id is not None:
        lines.append(f"id: {id}")
    if event:
        lines.append(f"event: {event}")
    lines.extend(f"data: {line}" for line in _SPLIT_LINES.split(data))
    return "\n".join(lines) + "\n\n"


def encode_comment(text: str = "") -> str:
    """A comment line: ignored by readers, keeps idle connections open through proxies."""
    return "".join(f": {line}\n" for line in _SPLIT_LINES.split(text))
