"""Every page at phone width (390 px) fits: nothing makes the whole page scroll sideways, and
no cell of a table shown as cards is squeezed to a sliver.

Wide tables either become one card per row or scroll inside their own box with the first
column in view; long names and values wrap. `make screenshots` runs this file with
SCREENSHOTS=1, which also saves every page at 1280 and 390 px in
test-output/screenshots/pages/<width>/<page>.png for people to look at
(`make screenshots PAGES=queue-list,directory-detail` takes only those).
"""

from __future__ import annotations

import os

import pytest

from tests.asgi_server import portal_asgi_server
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_accessibility import fetcher, sign_in
from tests.page_list import admin_pages, signed_out_pages, user_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES_DIR = SCREENSHOTS / "pages"
SAVE = os.environ.get("SCREENSHOTS") == "1"
WIDTHS = (1280, 390) if SAVE else (390,)
ONLY = {slug for slug in os.environ.get("PAGES", "").split(",") if slug}

# Elements wider than the viewport that are not inside a box that scrolls on its own.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const culprits = [];
  if (document.documentElement.scrollWidth <= width) return culprits;
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    let scrolls = false;
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (['auto', 'scroll', 'hidden'].includes(style.overflowX) && up.getBoundingClientRect().right <= width + 1) {
        scrolls = true;
        break;
      }
    }
    if (!scrolls) {
      const name = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      culprits.push(`${name} right=${Math.round(box.right)}`);
    }
  }
  return culprits.slice(0, 5);
}"""

# Cells of a table shown as cards (one per row, each cell beside its label) that a column width
# meant for the desktop squeezes to a sliver: a word then stands a letter a line.
SQUEEZED = """() => {
  const culprits = [];
  for (const cell of document.querySelectorAll('.data-table td[data-label]')) {
    const style = getComputedStyle(cell);
    const room = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (cell.offsetParent !== null && cell.textContent.trim() && room < 48) {
      culprits.push(`${cell.closest('table').className} td[data-label=${cell.dataset.label}] room=${Math.round(room)}`);
    }
  }
  return culprits.slice(0, 5);
}"""


@pytest.fixture
def portal_url(sandbox):
    with portal_asgi_server() as url:
        yield url


def _visit(browser, portal_url: str, who: str, pages_for) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 844 if width < 800 else 860})
        page = context.new_page()
        try:
            if who:
                sign_in(page, portal_url, who)
            pages = pages_for(fetcher(page, portal_url))
            for item in pages:
                if ONLY and item.slug not in ONLY:
                    continue
                page.goto(portal_url + item.path)
                if width < 800:
                    culprits = page.evaluate(OVERFLOW) + page.evaluate(SQUEEZED)
                    if culprits:
                        problems[f"{item.slug} ({item.path})"] = culprits
                if SAVE:
                    folder = PAGES_DIR / str(width)
                    folder.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(folder / f"{item.slug}.png"), full_page=True)
        finally:
            context.close()
    return problems


def test_admin_pages_fit_a_phone(browser, portal_url):
    assert _visit(browser, portal_url, "admin", admin_pages) == {}


def test_user_and_sign_in_pages_fit_a_phone(browser, portal_url):
    problems = _visit(browser, portal_url, "", lambda fetch: signed_out_pages())
    problems |= _visit(browser, portal_url, "user", lambda fetch: user_pages())
    assert problems == {}
