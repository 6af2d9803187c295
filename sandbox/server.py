"""Running the sandbox over HTTP with uvicorn."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import uvicorn

from .app import create_app
from .state import Sandbox


def _config(sandbox: Sandbox, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(sandbox),
        host=host,
        port=port,
        log_level=log_level,
        lifespan="off",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        date_header=True,
        # Event streams nobody reads any more would otherwise hold the shutdown forever.
        timeout_graceful_shutdown=2,
        # Idle connections stay open longer than the portal keeps them in its pool (30 s), as a
        # proxy in front of Stalwart would (nginx: 75 s); uvicorn's 5 s raced the portal's reuse.
        timeout_keep_alive=75,
    )


@contextlib.contextmanager
def run_in_thread(sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1", log_level: str = "warning"):
    """Serve ``sandbox`` from a daemon thread; yields the base URL ``http://127.0.0.1:<port>``.

    ``port=0`` picks a free port. The server is stopped when the block exits.
    """
    server = uvicorn.Server(_config(sandbox, host, port, log_level))
    server.install_signal_handlers = lambda: None  # not in the main thread
    thread = threading.Thread(target=server.run, name="stalwart-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the sandbox server failed to start")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the sandbox server did not start in time")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    base_url = f"http://{host}:{bound_port}"
    # Make sure it accepts connections before handing out the URL.
    with socket.create_connection((host, bound_port), timeout=5):
        pass
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8081, log_level: str = "info") -> None:
    """Serve ``sandbox`` in the foreground until interrupted."""
    uvicorn.Server(_config(sandbox, host, port, log_level)).run()
