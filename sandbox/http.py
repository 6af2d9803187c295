"""Transport helpers: request/response objects, path, query and body decoding (spec §1.1–§1.4)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ProblemError

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
PROBLEM_CONTENT_TYPE = "application/problem+json"
MAX_JSON_BODY = 1024 * 1024

_PERCENT = re.compile(rb"%([0-9A-Fa-f]{2})")


def _form_decode(raw: bytes) -> str:
    """Decode one form-urlencoded component: ``+`` is a space, ``%XX`` is a byte."""
    raw = raw.replace(b"+", b" ")
    raw = _PERCENT.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("utf-8", errors="replace")


def form_urlencoded_pairs(data: bytes | str) -> list[tuple[str, str]]:
    """Parse like the Rust ``form_urlencoded::parse``: split on ``&`` (empty pieces are
    skipped), then each piece at its first ``=``."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    pairs = []
    for piece in data.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        pairs.append((_form_decode(name), _form_decode(value)))
    return pairs


def decode_path_element(item: str) -> str:
    """Decode a name/id path element the way the server does (§1.1).

    ``%XX`` is decoded, ``+`` becomes a space and everything from the first ``=`` is dropped.
    An ``&`` ends the element too; like the server's form parser, leading ``&`` characters are
    skipped, and an element made only of ``&`` characters (or empty) is returned unchanged.
    """
    pairs = form_urlencoded_pairs(item)
    if not pairs:
        return item
    return pairs[0][0]


class QueryParams:
    """Query parameters (§1.2): empty values are discarded and the last repeated key wins."""

    def __init__(self, query_string: str):
        self._params: dict[str, str] = {}
        for key, value in form_urlencoded_pairs(query_string):
            if value:
                self._params[key] = value

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._params.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self._params

    def get_uint(self, key: str) -> int | None:
        """A non-negative integer, or None when absent or not parseable (Rust ``usize``)."""
        return parse_uint(self._params.get(key))

    def items(self):
        return self._params.items()


_UINT = re.compile(r"\+?[0-9]+")


def parse_uint(value: str | None, max_value: int = 2**64 - 1) -> int | None:
    if value is None or not _UINT.fullmatch(value):
        return None
    number = int(value)
    return number if number <= max_value else None


@dataclass
class Request:
    method: str
    raw_path: str
    query_string: str
    headers: dict[str, str]
    body: bytes | None
    client_ip: str = "127.0.0.1"
    #: Raw path elements after the leading "/" (so ``/api/principal/x`` -> api, principal, x).
    elements: list[str] = field(default_factory=list)
    params: QueryParams | None = None
    #: Filled in by the API dispatcher once the caller is authenticated.
    access: Any = None
    base_url: str = ""

    def __post_init__(self):
        self.elements = self.raw_path.split("/")[1:]
        if self.params is None:
            self.params = QueryParams(self.query_string)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json_body(self) -> Any:
        """Parse the body as JSON; any failure (including an oversized body) is PP 400."""
        if not self.body:
            raise ProblemError.json_failed()
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise ProblemError.json_failed() from None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: An async iterator of body chunks sent after the headers (SSE); ``body`` is then unused.
    #: ``sandbox.app`` closes it (``aclose()``) when the client goes away.
    stream: Any = None

    def all_headers(self) -> list[tuple[str, str]]:
        headers = []
        if self.content_type:
            headers.append(("content-type", self.content_type))
        headers.extend(self.headers)
        return headers


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_response(value: Any, status: int = 200, *, no_cache: bool = False) -> Response:
    headers = []
    if no_cache:
        headers.append(("cache-control", "no-store, no-cache, must-revalidate"))
    return Response(status, dump_json(value), JSON_CONTENT_TYPE, headers)


def data_response(value: Any, *, no_cache: bool = False) -> Response:
    """The success envelope ``{"data": ...}`` (§1.4)."""
    return json_response({"data": value}, no_cache=no_cache)


def empty_response(status: int) -> Response:
    return Response(status, b"", None, [])


def event_stream_response(stream: Any) -> Response:
    """An SSE answer (§1.4): ``text/event-stream`` with ``Cache-Control: no-store``."""
    return Response(200, b"", "text/event-stream", [("cache-control", "no-store")], stream=stream)
