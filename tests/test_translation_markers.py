"""Every user-facing word in a template is marked for translation.

Each template is stripped of what is not text a person reads in English: Django and HTML
comments, `{% translate %}` tags and `{% blocktranslate %}` blocks, every other tag and variable,
`<script>`/`<style>`, machine text in `<pre>`/`<code>`/`<samp>`, HTML tags, entities, digits and
punctuation. Any word of letters that survives (other than `NOT_LANGUAGE`) is an unmarked
string, reported as file:line. The user-facing attributes (`title`, `aria-label`,
`placeholder`, `alt`, ...) are checked the same way, and so are the literal fallbacks a
template shows (`|default:"…"`, a label given to a tag such as
`{% pagination previous_label="…" %}`): they must be `_("…")`. `|pluralize` is refused, since
it only knows English plurals (use `{% blocktranslate count … %}`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# Words that are not language: the product's name, the brand mark's letter, protocol names
# and record types shown as they are in every language.
NOT_LANGUAGE = frozenset({"Stalwart", "S", "DKIM", "SPF", "DMARC", "TLS", "ARF", "MTA", "STS", "UTC"})

# Attributes a person reads (or hears from a screen reader).
USER_FACING_ATTRIBUTES = (
    "title",
    "aria-label",
    "aria-description",
    "aria-placeholder",
    "aria-roledescription",
    "aria-valuetext",
    "placeholder",
    "alt",
    "data-label",
)

_FLAGS = re.DOTALL
_COMMENT = re.compile(r"\{%\s*comment\b.*?%\}.*?\{%\s*endcomment\s*%\}|\{#.*?#\}|<!--.*?-->", _FLAGS)
_BLOCKTRANSLATE = re.compile(r"\{%\s*blocktrans(?:late)?\b.*?%\}.*?\{%\s*endblocktrans(?:late)?\s*%\}", _FLAGS)
# `{% block body_class %}page-security{% endblock %}`: a class name, not text.
_CLASS_BLOCK = re.compile(r"\{%\s*block\s+\w*class\s*%\}.*?\{%\s*endblock\b.*?%\}", _FLAGS)
_VARIABLE = re.compile(r"\{\{.*?\}\}", _FLAGS)
_TAG = re.compile(r"\{%.*?%\}", _FLAGS)
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", _FLAGS | re.IGNORECASE)
# `<{{ h }} id="title">` leaves `<       id="title">` once the variable is blanked.
_HTML_TAG = re.compile(r"<[!/]?\s*[a-zA-Z][^>]*>", _FLAGS)
_ENTITY = re.compile(r"&(?:[a-zA-Z]+|#[0-9]+|#[xX][0-9a-fA-F]+);")
_WORD = re.compile(r"[^\W\d_]+")
_LITERAL = r"(?:\"[^\"]*\"|'[^']*')"
# `|default:"Some words"` (not `|default:_("Some words")`).
_DEFAULT_LITERAL = re.compile(r"\|\s*default\s*:\s*(" + _LITERAL + ")")
# `previous_label="Newer"`, `summary='…'`, `title="…"` given to a tag.
_LABEL_ARGUMENT = re.compile(r"\b\w*(?:label|summary|title|heading|text|message|hint|caption)\s*=\s*(" + _LITERAL + ")")
_PLURALIZE = re.compile(r"\|\s*pluralize\b")
_ATTRIBUTE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(name) for name in USER_FACING_ATTRIBUTES) + r")\s*=\s*(\"[^\"]*\"|'[^']*')",
    re.IGNORECASE,
)
_BUTTON_VALUE = re.compile(
    r"<input\b(?=[^>]*\btype\s*=\s*[\"']?(?:submit|button|reset)\b)[^>]*\bvalue\s*=\s*(\"[^\"]*\"|'[^']*')",
    re.IGNORECASE,
)
# Machine text shown as it is (setting keys, DNS records, a CSV sample): not language.
_MACHINE_TEXT = re.compile(r"<(pre|code|samp)\b[^>]*>.*?</\1\s*>", _FLAGS | re.IGNORECASE)


def _blank(match: re.Match) -> str:
    """The match replaced by spaces, keeping its newlines (so line numbers stay right)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _literal_as_text(pattern: re.Pattern):
    """A Django construct replaced by the literal words it would show, or by nothing."""

    def replace(match: re.Match) -> str:
        shown = " ".join(literal.group(1)[1:-1] for literal in pattern.finditer(match.group(0)))
        blank = _blank(match)
        if not shown.strip():
            return blank
        return shown + blank[len(shown) :] if len(shown) <= len(blank) else shown

    return replace


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text) if word not in NOT_LANGUAGE]


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def unmarked(source: str) -> list[tuple[int, str]]:
    """(line, what) for every user-facing word in `source` that is not marked for translation."""
    found: list[tuple[int, str]] = []
    for match in _PLURALIZE.finditer(source):
        found.append((_line(source, match.start()), "|pluralize only knows English: use blocktranslate count"))
    text = _COMMENT.sub(_blank, source)
    text = _BLOCKTRANSLATE.sub(_blank, text)
    text = _CLASS_BLOCK.sub(_blank, text)
    text = _VARIABLE.sub(_literal_as_text(_DEFAULT_LITERAL), text)
    text = _TAG.sub(_literal_as_text(_LABEL_ARGUMENT), text)
    text = _SCRIPT_OR_STYLE.sub(_blank, text)
    text = _MACHINE_TEXT.sub(_blank, text)
    for tag in _HTML_TAG.finditer(text):
        values = [(attribute.group(1), attribute.group(2)) for attribute in _ATTRIBUTE.finditer(tag.group(0))]
        values += [("value", button.group(1)) for button in _BUTTON_VALUE.finditer(tag.group(0))]
        for name, value in values:
            words = _words(_ENTITY.sub(" ", value[1:-1]))
            if words:
                found.append((_line(text, tag.start()), f'{name}="{" ".join(words)}"'))
    text = _HTML_TAG.sub(_blank, text)
    text = _ENTITY.sub(" ", text)
    for number, line in enumerate(text.split("\n"), start=1):
        words = _words(line)
        if words:
            found.append((number, " ".join(words)))
    return sorted(found)


def _template_files() -> list[Path]:
    return sorted(path for path in TEMPLATES.rglob("*") if path.is_file() and path.suffix in {".html", ".txt"})


def test_every_template_is_checked():
    assert len(_template_files()) > 50


@pytest.mark.parametrize("path", _template_files(), ids=lambda path: str(path.relative_to(TEMPLATES)))
def test_template_strings_are_marked_for_translation(path: Path):
    problems = [f"templates/{path.relative_to(TEMPLATES)}:{line}: {what}" for line, what in unmarked(path.read_text())]
    assert not problems, "Unmarked user-facing strings:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("<p>Delete this account?</p>", [(1, "Delete this account")]),
        ('<p>\n  <button title="Copy it">{% translate "Copy" %}</button>\n</p>', [(2, 'title="Copy it"')]),
        ('<input placeholder="Search…" aria-label="{% translate \'Search\' %}">', [(1, 'placeholder="Search"')]),
        ('<input type="submit" value="Save">', [(1, 'value="Save"')]),
        ('<button type="submit" name="action" value="preview">{% translate "Preview" %}</button>', []),
        ("<pre>name,email\nanna,anna@example.org</pre> <code>server.hostname</code>", []),
        ("<td data-label='Size'>{{ size|binary_size }}</td>", [(1, 'data-label="Size"')]),
        ('<p>{{ note|default:"Nothing stored" }}</p>', [(1, "Nothing stored")]),
        ('{% pagination page=1 previous_label="Newer" %}', [(1, "Newer")]),
        (
            "<p>{{ n }} item{{ n|pluralize }}</p>",
            [(1, "item"), (1, "|pluralize only knows English: use blocktranslate count")],
        ),
        ("<!--delivery-steps--><p>{% translate 'Steps' %}</p>", []),
        ("{% comment %}Notes for\ndevelopers{% endcomment %}\n<p>Left</p>", [(3, "Left")]),
        ("<script src=x>var words;</script><style>.a { color: red }</style>", []),
        ('<p>{% translate "Marked" %} {{ name }} &middot; 3 &lt;</p>', []),
        ("{% blocktranslate trimmed with n=count %}\n  {{ n }} messages\n{% endblocktranslate %}", []),
        ('<p>{{ x|default:_("Nothing stored") }} {% pagination previous_label=_("Newer") %}</p>', []),
        ('<{{ h }} id="confirm-title">{% translate "Retry now?" %}</{{ h }}>', []),
        ("{% block body_class %}page-security{% endblock %}", []),
        ("<span class=\"{{ tags|default:'info' }}\">Stalwart DKIM</span>", []),
    ],
)
def test_the_check_finds_unmarked_words(source: str, expected: list[tuple[int, str]]):
    assert unmarked(source) == expected
