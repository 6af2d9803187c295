"""Browser tests of logs, message history, live tracing, the dashboard and settings.

Live streams need the portal under an ASGI server (Django's live server is WSGI and would buffer
an endless answer), so these tests run the portal with uvicorn in a thread, as production does.
"""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.asgi import get_asgi_application
from playwright.sync_api import expect

from sandbox.observability import state
from tests.browser.conftest import screenshot
from tests.browser.test_sign_in_and_accounts import sign_in
from tests.conftest import persona

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def asgi_url(sandbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = ASGIStaticFilesHandler(get_asgi_application())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _context(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "the server responded with a status of 4" not in msg.text
            else None
        ),
    )
    return context, page, errors


@pytest.fixture
def wide(browser, asgi_url):
    context, page, errors = _context(browser, 1280, 860)
    yield page
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


@pytest.fixture
def phone(browser, asgi_url):
    context, page, errors = _context(browser, 390, 844)
    yield page
    context.close()
    assert errors == [], f"the browser reported errors: {errors}"


def _signed_in(page, url):
    sign_in(page, url, persona("admin"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_logs(wide, phone, asgi_url, sandbox):
    _signed_in(wide, asgi_url)
    wide.get_by_role("link", name="Logs").click()
    expect(wide.get_by_role("heading", name="Logs", level=1)).to_be_visible()
    expect(wide.locator(".log-table tbody tr").first).to_be_visible()
    screenshot(wide, "logs", full_page=False)
    # Searching updates the table in place and keeps the query in the URL.
    wide.get_by_label("Search", exact=True).fill("auth.failed")
    expect(wide).to_have_url(re.compile(r"q=auth.failed"))
    expect(wide.locator(".log-table tbody tr").first).to_contain_text("Authentication failed")
    # Hostile details are shown as text.
    wide.get_by_label("Search", exact=True).fill("admin' OR")
    expect(wide.locator(".cell-details").first).to_contain_text("admin' OR '1'='1")
    wide.get_by_label("Search", exact=True).fill("")
    wide.get_by_label("Level").select_option("ERROR")
    expect(wide).to_have_url(re.compile(r"level=ERROR"))
    expect(wide.locator(".log-table tbody .badge").first).to_have_text("ERROR")
    wide.get_by_role("link", name="Auto-refresh is off").click()
    expect(wide.get_by_role("link", name="Auto-refresh is on")).to_be_visible()
    expect(wide.locator("#results[hx-trigger]")).to_have_count(1)
    expect(wide).to_have_url(re.compile(r"level=ERROR&auto=1"))
    expect(wide.locator(".log-table tbody .badge").first).to_have_text("ERROR")
    screenshot(wide, "logs-errors-auto-refresh", full_page=False)

    _signed_in(phone, asgi_url)
    phone.goto(asgi_url + "/observability/logs/")
    expect(phone.locator(".log-table tbody tr").first).to_be_visible()
    screenshot(phone, "logs-phone", full_page=False)


def test_message_history_and_trace(wide, phone, asgi_url, sandbox):
    _signed_in(wide, asgi_url)
    wide.get_by_role("link", name="Message history").click()
    expect(wide.get_by_role("heading", name="Message history")).to_be_visible()
    screenshot(wide, "history-received")
    wide.get_by_role("link", name="Delivery attempts").click()
    expect(wide).to_have_url(re.compile(r"/history/delivery/"))
    wide.get_by_role("link", name=re.compile(r"^View")).first.click()
    expect(wide.get_by_role("heading", name="Event timeline")).to_be_visible()
    expect(wide.locator(".timeline-item").first).to_be_visible()
    screenshot(wide, "trace")

    _signed_in(phone, asgi_url)
    phone.goto(wide.url.replace(asgi_url, asgi_url))
    expect(phone.get_by_role("heading", name="Event timeline")).to_be_visible()
    screenshot(phone, "trace-phone")


def test_live_tracing(wide, phone, asgi_url, sandbox):
    obs = state(sandbox)
    obs.traffic_interval = 0.4
    obs.batch_interval = 0.2
    before = obs.open_streams  # the sandbox is shared by the whole session
    _signed_in(wide, asgi_url)
    wide.get_by_role("link", name="Live tracing").click()
    expect(wide.get_by_role("heading", name="Live tracing")).to_be_visible()
    wide.get_by_role("button", name="Start").click()
    expect(wide.get_by_role("button", name="Stop")).to_be_visible()
    expect(wide.locator("#live-events .timeline-item").first).to_be_visible(timeout=10_000)
    expect(wide.locator("#live-events .timeline-item").nth(12)).to_be_attached(timeout=10_000)
    assert obs.open_streams == before + 1
    screenshot(wide, "live-tracing", full_page=False)
    wide.get_by_role("button", name="Stop").click()
    expect(wide.locator("[data-live-status]")).to_have_text(re.compile(r"^Stopped\. \d+ events shown\.$"))
    deadline = time.monotonic() + 5
    while obs.open_streams > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert obs.open_streams == before, "the upstream stream stayed open after Stop"

    # A filter narrows the stream (and lands in the URL).
    wide.get_by_label("Filter").fill("remoteIp:203.0.113.25")
    wide.get_by_role("button", name="Start").click()
    expect(wide).to_have_url(re.compile(r"filter=remoteIp"))
    expect(wide.locator("[data-live-status]")).to_have_text("Watching events matching “remoteIp:203.0.113.25”.")
    expect(wide.locator("#live-events .timeline-item").first).to_contain_text("203.0.113.25", timeout=15_000)
    wide.get_by_role("button", name="Stop").click()

    _signed_in(phone, asgi_url)
    phone.goto(asgi_url + "/observability/live/")
    phone.get_by_role("button", name="Start").click()
    expect(phone.locator("#live-events .timeline-item").first).to_be_visible(timeout=10_000)
    screenshot(phone, "live-tracing-phone", full_page=False)
    phone.get_by_role("button", name="Stop").click()


def test_dashboard(wide, phone, asgi_url, sandbox):
    state(sandbox).metrics_interval = 0.5
    _signed_in(wide, asgi_url)
    wide.get_by_role("link", name="Dashboard").click()
    expect(wide.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    expect(wide.locator("svg.sparkline")).to_have_count(8)
    expect(wide.locator(".live-values")).to_be_visible()
    screenshot(wide, "dashboard")
    wide.get_by_role("link", name="Last 7 days").click()
    expect(wide.locator("svg.sparkline").first).to_be_visible()
    screenshot(wide, "dashboard-7d")

    _signed_in(phone, asgi_url)
    phone.goto(asgi_url + "/observability/dashboard/")
    expect(phone.locator("svg.sparkline").first).to_be_visible()
    screenshot(phone, "dashboard-phone")


def test_settings(wide, phone, asgi_url, sandbox):
    _signed_in(wide, asgi_url)
    wide.get_by_role("link", name="Settings").click()
    expect(wide.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    screenshot(wide, "settings")
    wide.get_by_role("link", name=re.compile(r"^store\b")).click()
    expect(wide.locator(".settings-table")).to_be_visible()
    expect(wide.get_by_text("Pg-Sandbox-Secret-77")).to_have_count(0)
    screenshot(wide, "settings-stores")
    wide.get_by_role("link", name="Reveal store.postgresql.password").click()
    expect(wide.get_by_text("Pg-Sandbox-Secret-77")).to_be_visible()

    # Edit a record: the diff preview, then save and reload.
    wide.goto(asgi_url + "/settings/groups/?group=listeners")
    expect(wide.get_by_role("heading", name="Listeners")).to_be_visible()
    screenshot(wide, "settings-listeners")
    wide.get_by_role("link", name="Edit submission", exact=True).click()
    wide.locator("input[name='value:bind']").fill("[::]:2587")
    wide.locator("#nk-0").fill("tls.implicit")
    wide.locator("#nv-0").fill("false")
    screenshot(wide, "settings-record-edit")
    wide.get_by_role("button", name="Review changes").click()
    expect(wide.get_by_role("heading", name="Check the changes")).to_be_visible()
    screenshot(wide, "settings-diff")
    wide.get_by_role("button", name="Save").click()
    expect(wide.get_by_text("The change is stored")).to_be_visible()
    assert sandbox.settings["server.listener.submission.bind"] == "[::]:2587"
    wide.get_by_role("button", name="Reload configuration").click()
    expect(wide.get_by_role("heading", name="Configuration reloaded")).to_be_visible()
    screenshot(wide, "settings-reload")

    # Creating a record whose id exists: Stalwart's assertFailed next to the id.
    wide.goto(asgi_url + "/settings/record/new?group=listeners")
    wide.get_by_label("Id").fill("imap")
    wide.locator("#nv-0").fill("imap")
    wide.get_by_role("button", name="Review changes").click()
    wide.get_by_role("button", name="Save").click()
    expect(wide.locator("#id_id_error")).to_contain_text("already exists")
    screenshot(wide, "settings-assert-failed")

    _signed_in(phone, asgi_url)
    phone.goto(asgi_url + "/settings/?prefix=store.postgresql")
    expect(phone.locator(".settings-table")).to_be_visible()
    screenshot(phone, "settings-phone")
