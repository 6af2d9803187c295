"""The portal under a real ASGI server (uvicorn) in a thread, for tests that need streaming.

Django's live server (and its test client) run the portal under WSGI, which buffers an
async streaming response until it ends. Tests that watch a response arrive piece by piece,
or hang up halfway, use this server instead. It shares the test database (use
`django_db(transaction=True)`) and Django's settings with the test, and serves static files
from the finders like the live server does.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler


@contextlib.contextmanager
def portal_asgi_server(handler=None) -> Iterator[str]:
    """Serve the portal (or the given PortalASGIHandler) on 127.0.0.1; yields its base URL."""
    from portal.asgi import PortalASGIHandler

    app = ASGIStaticFilesHandler(handler or PortalASGIHandler())
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, name="portal-asgi", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the portal's ASGI server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed_in_client(portal_url: str, name: str, password: str, **kwargs) -> httpx.Client:
    """An httpx client signed in to the portal over HTTP, like a browser (cookies, CSRF)."""
    client = httpx.Client(base_url=portal_url, **kwargs)
    page = client.get("/auth/sign-in")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, page.text[:500]
    response = client.post(
        "/auth/sign-in",
        data={"csrfmiddlewaretoken": token.group(1), "step": "password", "username": name, "password": password},
        headers={"Referer": f"{portal_url}/auth/sign-in"},
    )
    assert response.status_code == 302, response.text[:500]
    return client
