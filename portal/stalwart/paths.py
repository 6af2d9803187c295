"""Building `/api/...` paths from untrusted names.

Stalwart form-decodes each path element (`+` becomes a space, and everything
from the first `&` or `=` is dropped), so every element is percent-encoded in
full: `/`, `+`, `&`, `=`, `?`, `#`, `%` and dots. A principal called
`a/../../store/purge/data` therefore stays one element and can never reach
another endpoint.
"""

from __future__ import annotations

from urllib.parse import quote


def segment(value: str | int) -> str:
    text = str(value)
    if text == "":
        # An empty element would change the meaning of the path (a trailing
        # slash looks up the principal named "").
        raise ValueError("A path element must not be empty.")
    # quote() leaves ".", "-", "_" and "~" alone; dots are encoded too so that
    # "." and ".." can never be taken for dot-segments by any URL normaliser.
    return quote(text, safe="").replace(".", "%2E")


def api_path(*elements: str | int) -> str:
    """`api_path("principal", name)` -> `/api/principal/<encoded name>`."""
    return "/api/" + "/".join(segment(element) for element in elements)
