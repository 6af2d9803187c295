"""The delivery check's steps written in Python (portal/tools/steps.py): hostile text from
Stalwart and remote servers comes out escaped, isolated and cut, as the templates would."""

from __future__ import annotations

from portal.tools.delivery import Step
from portal.tools.steps import step_html


def test_a_step_has_its_mark_title_time_detail_and_items():
    html = step_html(Step(2, "success", "Found 2 MX hosts", "mx1 first", ("mx1.example", "mx2.example"), 28, 1.5))
    assert html.startswith('<li class="step step-success">') and html.endswith("</li>\n")
    assert '<span class="visually-hidden">ok: </span><bdi>Found 2 MX hosts</bdi>' in html
    assert '<span class="step-time">28 ms</span>' in html
    assert '<p class="step-detail"><bdi>mx1 first</bdi></p>' in html
    assert '<ul class="step-items"><li><bdi>mx1.example</bdi></li><li><bdi>mx2.example</bdi></li></ul>' in html
    assert 'title="Time since the check started">+1.5 s</span>' in html


def test_nothing_optional_is_written_when_absent():
    html = step_html(Step(1, "start", "Looking up MX"))
    assert "step-time" not in html and "step-detail" not in html and "step-items" not in html


def test_hostile_values_are_escaped_isolated_and_cut():
    evil = '<img src=x onerror=alert(1)>"\u202e'
    html = step_html(Step(3, 'error" onclick="x', evil, evil * 100, (evil,), None, 0.0))
    assert "<img" not in html and 'onclick="x' not in html
    assert 'class="step step-error&quot; onclick=&quot;x"' in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "\u202e" not in html  # shown as a marker
    assert "Show all" in html  # the long detail is cut at 500 characters, the rest one click away


def test_the_time_and_status_words_follow_the_language_of_the_check():
    """A check's steps keep the words of the language it started in (looked up once per
    language); the time is formatted as number_format would."""
    from django.utils import translation
    from django.utils.formats import number_format

    from portal.tools.delivery import DeliveryRun

    with translation.override("de"):
        run = DeliveryRun("someone@example.org")
        expected = number_format(round(12.345, 1), 1)
    german = step_html(Step(4, "error", "EHLO was refused", elapsed=1234, at=12.345, words=run.words))
    assert expected == "12,3" and f">+{expected} s</span>" in german
    assert '<span class="visually-hidden">failed: </span>' in german and '"step-time">1234 ms</span>' in german
    english = Step(4, "error", "EHLO was refused", elapsed=1234, at=12.345)
    assert ">+12.3 s</span>" in step_html(english)
    with translation.override("de"):
        assert ">+12.3 s</span>" in step_html(english)  # made in English, it stays English
    assert f">+{number_format(1234.5, 1)} s</span>" in step_html(Step(5, "info", "Slow", at=1234.5))
