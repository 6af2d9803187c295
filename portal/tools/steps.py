"""The delivery check's steps as HTML, written in Python (see portal/markup.py).

A check relays every step Stalwart reports as one `<li>` (the stream's `step` events, and
the page without JavaScript); with many checks at once this was most of the relay's CPU
time in a template. The rules are the templates': every value is escaped by `e()`, text from
Stalwart and from the remote servers goes through `clip()`.
"""

from __future__ import annotations

from portal.markup import clip, e

from .delivery import Step


def step_html(step: Step) -> str:
    """One step of a delivery check, as the `<li>` of the steps list."""
    elapsed = step.elapsed_text
    took = f' <span class="step-time">{e(elapsed)}</span>' if elapsed else ""
    detail = f'    <p class="step-detail">{clip(step.detail, 500)}</p>\n' if step.detail else ""
    items = (
        '    <ul class="step-items">' + "".join(f"<li>{clip(item)}</li>" for item in step.items) + "</ul>\n"
        if step.items
        else ""
    )
    return (
        f'<li class="step step-{e(step.outcome)}">\n'
        '  <span class="step-icon" aria-hidden="true"></span>\n'
        '  <div class="step-body">\n'
        f'    <p class="step-title"><span class="visually-hidden">{e(step.mark)}: </span>{clip(step.title)}{took}</p>\n'
        f"{detail}{items}"
        "  </div>\n"
        f'  <span class="step-at" title="{e(step.words.since)}">{e(step.at_text)}</span>\n'
        "</li>\n"
    )
