"""The shipped locale: the committed .mo files say what their .po files say.

`make messages` refreshes the .po files and compiles them; the .mo files are committed, so
neither `make demo`, `make test` nor the Docker image needs GNU gettext. This catches a .po
edited without compiling it again.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/*.po"))

_KEYWORD = re.compile(r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[(\d+)\])?)\s+(\".*\")\s*$")


def _entries(po: Path) -> list[dict]:
    """The entries of a .po file (separated by blank lines, as msgmerge writes them):
    {"msgctxt", "msgid", "msgid_plural", "msgstr": {index: text}, "fuzzy"}."""
    entries = []
    for block in re.split(r"\n\s*\n", po.read_text(encoding="utf-8")):
        entry: dict = {"msgstr": {}, "fuzzy": False}
        field: tuple[str, int] | None = None
        for line in block.strip().splitlines():
            line = line.strip()
            if line.startswith("#"):
                entry["fuzzy"] |= line.startswith("#,") and "fuzzy" in line
                continue
            match = _KEYWORD.match(line)
            if match:
                keyword, index, text = match.group(1), int(match.group(2) or 0), ast.literal_eval(match.group(3))
                field = ("msgstr", index) if keyword.startswith("msgstr") else (keyword, 0)
                if field[0] == "msgstr":
                    entry["msgstr"][index] = text
                else:
                    entry[keyword] = text
            elif field:  # a continued string
                if field[0] == "msgstr":
                    entry["msgstr"][field[1]] += ast.literal_eval(line)
                else:
                    entry[field[0]] += ast.literal_eval(line)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def _expected(po: Path) -> dict:
    """What msgfmt puts in the .mo: translated entries that are not fuzzy."""
    catalogue: dict = {}
    for entry in _entries(po):
        if entry["msgid"] == "" or entry["fuzzy"]:
            continue
        key = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        strings = entry["msgstr"]
        if "msgid_plural" in entry:
            if any(strings.values()):
                for index, text in strings.items():
                    catalogue[(key, index)] = text
        elif strings.get(0):
            catalogue[key] = strings[0]
    return catalogue


def test_english_is_shipped():
    assert {po.name for po in LOCALE.glob("en/LC_MESSAGES/*.po")} == {"django.po", "djangojs.po"}
    assert LOCALE in [Path(path) for path in settings.LOCALE_PATHS]


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda po: str(po.relative_to(LOCALE)))
def test_the_compiled_catalogue_matches_its_source(po):
    mo = po.with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(LOCALE)} is missing: run `make messages`"
    with mo.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    catalogue = {key: value for key, value in compiled._catalog.items() if key != ""}
    assert catalogue == _expected(po), f"{mo.relative_to(LOCALE)} is out of date: run `make messages`"
    assert compiled.info().get("plural-forms") == "nplurals=2; plural=(n != 1);"
