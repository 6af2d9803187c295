"""Every page on Stalwart 0.16: fits a phone and meets WCAG 2.2 AA, as on <= 0.15.

The portal is pointed at a 0.16 sandbox (`--version 0.16.18`, Enterprise) and walks
`tests.page_list.jmap_admin_pages` as the administrator, the sign-in page signed out and
`jmap_user_pages` as a plain user at 390 px (in three parts, which the test processes
share): no page may scroll sideways (`test_page_widths.OVERFLOW`) nor squeeze a cell to a sliver
(`SQUEEZED`), and axe-core runs with
the same rules as `test_accessibility` (WCAG 2.0/2.1/2.2 A and AA, best practice, contrast
again in the dark theme, the portal's own checks). With SCREENSHOTS=1 (`make screenshots`)
every page is also saved at 390 and 1280 px in test-output/screenshots/pages/jmap/<width>/<page>.png.
"""

from __future__ import annotations

import pytest

from sandbox.server import run_in_thread
from sandbox.state import Sandbox
from tests.asgi_server import portal_asgi_server
from tests.browser.test_accessibility import axe_context, axe_violations, fetcher, report, sign_in
from tests.browser.test_page_widths import ONLY, OVERFLOW, PAGES_DIR, SAVE, SQUEEZED
from tests.page_list import Page, jmap_admin_pages, jmap_user_pages, prepare_jmap, signed_out_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHOTS = PAGES_DIR / "jmap"
#: Pages axe is not run on here: the permission editors list every one of 0.16's 660 permissions
#: (axe needs a minute on them); `test_accessibility` checks the same editor on <= 0.15.
AXE_SKIP = {"directory-permissions", "role-permissions"}
#: The pages are walked in this many parts, so that the test processes share them.
PARTS = 3


@pytest.fixture(scope="session")
def jmap_sandbox_url():
    state = Sandbox(version="0.16.18", enterprise=True)
    with run_in_thread(state) as url:
        yield state, url


@pytest.fixture
def jmap_portal(jmap_sandbox_url, settings):
    state, url = jmap_sandbox_url
    state.reset()
    settings.STALWART_URL = url
    prepare_jmap(url)
    with portal_asgi_server() as portal:
        yield portal


def _walk(
    browser, portal_url: str, width: int, *, check: bool, part: int = 0
) -> tuple[dict[str, list[str]], dict, int]:
    """Visit this part's share of every page at `width`.

    Returns (overflowing pages, axe failures, pages there are in all parts).
    """
    overflow: dict[str, list[str]] = {}
    failures: dict[str, list[dict]] = {}
    total = 0
    for who, pages_for in (
        ("", lambda fetch: signed_out_pages()),
        ("admin", jmap_admin_pages),
        ("user", jmap_user_pages),
    ):
        context = axe_context(browser, width, 844 if width < 800 else 860)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        try:
            if who:
                sign_in(page, portal_url, who)
            pages: list[Page] = pages_for(fetcher(page, portal_url))
            total += len(pages)
            for item in pages[part::PARTS]:
                if ONLY and item.slug not in ONLY:
                    continue
                response = page.goto(portal_url + item.path)
                assert response is not None and response.status < 500, (item.path, response and response.status)
                where = f"{item.slug}: {item.path} (as {who or 'a visitor'})"
                if check:
                    culprits = page.evaluate(OVERFLOW) + page.evaluate(SQUEEZED)
                    if culprits:
                        overflow[where] = culprits
                    violations = [] if item.slug in AXE_SKIP else axe_violations(page)
                    if violations:
                        failures[where] = violations
                if SAVE:
                    folder = SHOTS / str(width)
                    folder.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(folder / f"{item.slug}.png"), full_page=True)
        finally:
            context.close()
        assert errors == [], f"the browser reported errors: {errors}"
    return overflow, failures, total


@pytest.mark.parametrize("part", range(PARTS))
def test_every_page_on_stalwart_016_fits_a_phone_and_meets_wcag_aa(browser, jmap_portal, part):
    overflow, failures, total = _walk(browser, jmap_portal, 390, check=True, part=part)
    if SAVE:
        _walk(browser, jmap_portal, 1280, check=False, part=part)
    assert total > 90, total
    assert overflow == {}, overflow
    assert not failures, report(failures)
