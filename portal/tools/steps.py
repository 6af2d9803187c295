"""The delivery check's steps as HTML, written in Python (see portal/markup.py).

A check relays every step Stalwart reports as one `<li>` (the stream's `step` events, and
the page without JavaScript); with many checks at once this was most of the relay's CPU
time in a template. The rules are the templates': every value is escaped by `e()`, text from
Stalwart and from the remote servers goes through `clip()`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.utils.formats import get_format, number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from portal.markup import clip, e, kept

from .delivery import MARKS, Step


@dataclass(frozen=True, slots=True)
class _Words:
    """A language's words for a step, looked up once: with a thousand checks relayed at once,
    five translation look-ups and a number format per step were a tenth of the relay's work."""

    since: str  # escaped
    marks: dict[str, str]  # escaped
    took: str  # "%(elapsed)s ms"
    at: str  # "+%(seconds)s s"
    decimal: str


@functools.lru_cache(maxsize=16)
def _words(language: str | None) -> _Words:
    return _Words(
        since=e(_("Time since the check started")),
        marks={outcome: e(str(mark)) for outcome, mark in MARKS.items()},
        took=_("%(elapsed)s ms"),
        at=_("+%(seconds)s s"),
        decimal=str(get_format("DECIMAL_SEPARATOR")),
    )


def _seconds(words: _Words, at: float) -> str:
    """`number_format(round(at, 1), 1)` (Step.at_text): the check's time with one decimal."""
    if at >= 1000:  # grouping may apply; never below the stall limit
        return number_format(round(at, 1), 1)
    return f"{at:.1f}".replace(".", words.decimal)


def step_html(step: Step) -> str:
    """One step of a delivery check, as the `<li>` of the steps list."""
    words = kept(_words)(get_language())
    took = ""
    if step.elapsed is not None:
        took = f' <span class="step-time">{e(words.took % {"elapsed": step.elapsed})}</span>'
    detail = f'    <p class="step-detail">{clip(step.detail, 500)}</p>\n' if step.detail else ""
    items = (
        '    <ul class="step-items">' + "".join(f"<li>{clip(item)}</li>" for item in step.items) + "</ul>\n"
        if step.items
        else ""
    )
    mark = words.marks.get(step.outcome) or words.marks["info"]
    return (
        f'<li class="step step-{e(step.outcome)}">\n'
        '  <span class="step-icon" aria-hidden="true"></span>\n'
        '  <div class="step-body">\n'
        f'    <p class="step-title"><span class="visually-hidden">{mark}: </span>{clip(step.title)}{took}</p>\n'
        f"{detail}{items}"
        "  </div>\n"
        f'  <span class="step-at" title="{words.since}">{e(words.at % {"seconds": _seconds(words, step.at)})}</span>\n'
        "</li>\n"
    )
