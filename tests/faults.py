"""A deliberately broken upstream, for the failure paths the sandbox does not fake yet."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {
    "500": (
        500,
        "application/problem+json",
        b'{"type":"about:blank","status":500,"title":"Internal Server Error","detail":"There was a problem."}',
    ),
    "html": (200, "text/html", b"<html><body>Welcome to nginx!</body></html>"),
    "truncated-json": (200, "application/json", b'{"data": {"items": ['),
}


@contextmanager
def broken_upstream(kind: str) -> Iterator[str]:
    """Serve `kind` ("500", "html", "truncated-json", or "silent") on 127.0.0.1."""
    if kind == "silent":
        with _silent_listener() as url:
            yield url
        return

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            status, content_type, body = ANSWERS[kind]
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _answer

        def handle(self) -> None:
            # The portal may hang up first (its timeout, a cancelled request): not a failure.
            with contextlib.suppress(ConnectionError):
                super().handle()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _silent_listener() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                accepted.append(connection)
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for connection in accepted:
            connection.close()
        listener.close()
        time.sleep(0)
