"""A sandbox in its own process that notes when it sends each delivery-check frame.

The live-stream measurement sets the moment the sandbox hands a frame to its socket against
the moment the relayed event reaches the client. Both sides read `time.perf_counter()`, which
on Linux is the system-wide monotonic clock, so the two processes share one clock. Running
the sandbox apart from the load generator keeps the two from slowing each other down (one
interpreter lock each).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

TROUBLESHOOT_PREFIX = "/api/troubleshoot/delivery/"


def _serve(port: int, frame_delay: tuple[float, float], conn) -> None:
    import uvicorn

    from sandbox.app import create_app
    from sandbox.state import Sandbox
    from sandbox.toolstate import tools_state

    sb = Sandbox(version="0.11.8", enterprise=True, rate_limits=False)
    tools_state(sb).frame_delay = frame_delay
    app = create_app(sb)
    sent: dict[str, list[float]] = {}

    async def timed(scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(TROUBLESHOOT_PREFIX):
            return await app(scope, receive, send)
        raw = (scope.get("raw_path") or scope["path"].encode()).decode()
        times = sent.setdefault(unquote(raw.rsplit("/", 1)[-1]).lower(), [])

        async def send_timed(message):
            if message["type"] == "http.response.body" and message.get("more_body") and message.get("body"):
                times.append(time.perf_counter())
            await send(message)

        return await app(scope, receive, send_timed)

    config = uvicorn.Config(timed, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            access_log=False, timeout_graceful_shutdown=2, backlog=4096)  # fmt: skip
    server = uvicorn.Server(config)

    def answer() -> None:
        # "sent" asks for the frame times, "open" for the streams not yet over; "stop" (or
        # the parent going away) ends the server.
        try:
            while (question := conn.recv()) in ("sent", "open"):
                if question == "sent":
                    conn.send({target: list(times) for target, times in sent.items()})
                else:
                    conn.send(sum(1 for record in list(tools_state(sb).streams) if not record.closed))
        except EOFError:
            pass
        server.should_exit = True

    threading.Thread(target=answer, daemon=True).start()
    server.run()


@dataclass
class TimedSandbox:
    url: str
    conn: object

    def sent(self) -> dict[str, list[float]]:
        """Per delivery target, when each frame of its stream was sent (perf_counter)."""
        self.conn.send("sent")
        return self.conn.recv()

    def open_streams(self) -> int:
        """How many delivery streams the sandbox is still serving."""
        self.conn.send("open")
        return self.conn.recv()


@contextmanager
def timed_sandbox(frame_delay: tuple[float, float], port: int, wait_for) -> Iterator[TimedSandbox]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(port, frame_delay, child), daemon=True)
    process.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(f"{url}/.well-known/oauth-authorization-server", 120)
        yield TimedSandbox(url, parent)
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        process.join(10)
        if process.is_alive():
            process.kill()
            process.join(5)
