"""Search-and-page state of list pages, kept in the URL (`?q=&page=&size=`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from urllib.parse import urlencode

from django.http import HttpRequest

PAGE_SIZES = (25, 50, 100)


def _positive_int(value: str | None, default: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return number if number >= 1 else default


@dataclass(frozen=True)
class Paging:
    query: str
    page: int
    size: int
    total: int | None = None
    descending: bool = False  # sort by name, Z to A

    @classmethod
    def from_request(cls, request: HttpRequest) -> Paging:
        size = _positive_int(request.GET.get("size"), PAGE_SIZES[0])
        return cls(
            query=request.GET.get("q", "").strip()[:200],
            page=min(_positive_int(request.GET.get("page"), 1), 1_000_000),
            size=size if size in PAGE_SIZES else PAGE_SIZES[0],
            descending=request.GET.get("sort") == "-name",
        )

    def with_total(self, total: int) -> Paging:
        return replace(self, total=total)  # keeps a subclass and its fields (portal/queue/forms.py)

    @cached_property  # read several times per page
    def pages(self) -> int:
        return max(1, math.ceil((self.total or 0) / self.size))

    @property
    def first_index(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.size + 1

    @property
    def last_index(self) -> int:
        return min(self.page * self.size, self.total or 0)

    @property
    def sizes(self) -> tuple[int, ...]:
        return PAGE_SIZES

    def query_string(self, **changes: object) -> str:
        params = {"q": self.query, "sort": "-name" if self.descending else "", "page": self.page, "size": self.size}
        params.update(changes)
        clean = {
            key: value
            for key, value in params.items()
            if value not in ("", None)
            and not (key == "page" and value == 1)
            and not (key == "size" and value == PAGE_SIZES[0])
        }
        return "?" + urlencode(clean) if clean else "?"

    @cached_property  # read several times per page
    def sort_toggle_url(self) -> str:
        """The same search sorted the other way, from the first page."""
        return self.query_string(sort="" if self.descending else "-name", page=1)

    @property
    def filters_query(self) -> str:
        """The search alone (no page, size or order), for links to the "all matching" pages."""
        return urlencode({"q": self.query}) if self.query else ""

    @property
    def first_url(self) -> str:
        """The same search from its first page."""
        return self.query_string(page=1)

    @cached_property  # read several times per page
    def previous_url(self) -> str | None:
        return self.query_string(page=self.page - 1) if self.page > 1 else None

    @cached_property  # read several times per page
    def next_url(self) -> str | None:
        return self.query_string(page=self.page + 1) if self.page < self.pages else None
