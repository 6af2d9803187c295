"""Every page survives a misbehaving Stalwart 0.16 (as `tests/test_faults_everywhere.py` on <= 0.15).

Signed in as the administrator, every page a 0.16 server offers (`tests.page_list`) is loaded
normally, then once per fault the sandbox injects on `/jmap/` and `/api/` (slow, 5xx, garbled,
hung up). A page that called Stalwart explains the failure with 502/504 and the page's title
for it; one that did not answers as it normally does. Never a 500, never a traceback.
"""

from __future__ import annotations

import pytest

from tests.page_list import jmap_admin_pages, prepare_jmap
from tests.test_faults_everywhere import FAULTS, read

PREFIXES = ("/jmap/", "/api/")


def inject(sandbox, settings, kind: str) -> None:
    faults = sandbox.faults
    for prefix in PREFIXES:
        if kind == "latency":
            settings.STALWART_TIMEOUT = 0.15
            faults.latency(2000, prefix=prefix)
        elif kind == "5xx":
            faults.server_error(500, prefix=prefix)
        elif kind == "malformed":
            faults.malformed_json(prefix=prefix)
        elif kind == "reset":
            faults.reset_connection(prefix=prefix)


def upstream_calls(sandbox) -> list:
    return [r for r in sandbox.requests if r.path.startswith(PREFIXES)]


@pytest.mark.parametrize("kind", list(FAULTS))
def test_every_page_explains_upstream_faults(signed_in, sandbox, settings, kind):
    prepare_jmap(settings.STALWART_URL)
    client = signed_in("admin")
    pages = jmap_admin_pages(lambda path: client.get(path).content.decode())
    assert len(pages) > 50
    statuses, title = FAULTS[kind]
    problems = []
    for page in pages:
        sandbox.faults.clear()
        sandbox.requests.clear()
        normal = client.get(page.path)
        if normal.streaming and normal["Content-Type"].startswith("text/event-stream"):
            continue  # live streams: tests/jmap/test_observability.py and test_tools.py
        read(normal)
        called = bool(upstream_calls(sandbox))
        sandbox.requests.clear()
        timeout = settings.STALWART_TIMEOUT
        inject(sandbox, settings, kind)
        try:
            response = client.get(page.path)
            body = read(response)
        finally:
            settings.STALWART_TIMEOUT = timeout
            sandbox.faults.clear()
        verdict = f"{page.slug} {kind}: {response.status_code}"
        if "Traceback" in body or response.status_code == 500:
            problems.append(f"{verdict} with a crash: {body[:300]!r}")
        elif not upstream_calls(sandbox):
            if response.status_code != normal.status_code and called:
                problems.append(f"{verdict}: no call under the fault, normally {normal.status_code}")
        elif kind == "malformed" and normal.status_code == response.status_code == 404:
            pass  # the "404" status line survives the garbled body: a clear "not found"
        elif response.status_code not in statuses or title not in body:
            problems.append(f"{verdict}, expected {statuses} with {title!r}: {body[:300]!r}")
    assert problems == [], "\n".join(problems)
