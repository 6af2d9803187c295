"""URL converter for principal names, which may contain anything (`/`, `..`, `%`)."""

from __future__ import annotations

from urllib.parse import quote, unquote


class PrincipalName:
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return unquote(value)

    def to_url(self, value: str) -> str:
        encoded = quote(value, safe="@:+!$'()*,;=-._~")
        if set(encoded) <= {"."}:
            encoded = encoded.replace(".", "%2E")  # never a dot-segment
        return encoded
