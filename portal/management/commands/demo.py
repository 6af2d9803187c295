"""`manage.py demo`: the Stalwart sandbox and the portal, side by side on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _listening_socket(port: int, what: str, option: str) -> socket.socket:
    """A socket bound to 127.0.0.1:`port` (0: any free port), or a clear error when it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise CommandError(
            f"Port {port} on 127.0.0.1 is not free for the {what} ({exc.strerror}). Stop what uses it, "
            f"or choose another port: make demo {option}=<port> (0 picks a free one)."
        ) from exc
    return sock


def _wait_for(port: int, seconds: float, process: subprocess.Popen) -> bool:
    """Whether `process` (which should listen on `port`) accepts connections in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class Command(BaseCommand):
    help = "Start the Stalwart sandbox and the portal for a demonstration."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="portal port (default 8000; 0: any free port)")
        parser.add_argument("--sandbox-port", type=int, default=8081, help="sandbox port (default 8081)")
        parser.add_argument("--sandbox-args", default="", help="extra arguments for `manage.py sandbox`")

    def handle(self, *args, **options):
        sandbox_port = options["sandbox_port"]
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        if settings.STALWART_URL != sandbox_url:
            raise CommandError(
                f"STALWART_URL is {settings.STALWART_URL}; the demo runs the sandbox at {sandbox_url}. "
                "Unset STALWART_URL, or use `make serve` to run the portal against your own server."
            )
        # The portal's socket is bound before anything starts, and the address printed is the
        # one it is bound to: a port in use stops the demo here instead of after a wrong URL.
        portal_socket = _listening_socket(options["port"], "portal", "PORTAL_PORT")
        try:
            _listening_socket(sandbox_port, "sandbox", "SANDBOX_PORT").close()
            command = [sys.executable, "manage.py", "sandbox", "--port", str(sandbox_port)]
            command += options["sandbox_args"].split()
            sandbox = subprocess.Popen(command, env=os.environ.copy())
            try:
                if not _wait_for(sandbox_port, 60, sandbox):
                    raise CommandError("The sandbox did not start; see its output above.")
                port = portal_socket.getsockname()[1]
                message = f"\nPortal: http://127.0.0.1:{port}  (sandbox at {sandbox_url})\n"
                self.stdout.write(self.style.SUCCESS(message))
                self.stdout.flush()
                server = uvicorn.Server(uvicorn.Config("portal.asgi:application", log_level="warning"))
                server.run(sockets=[portal_socket])
            finally:
                sandbox.terminate()
                try:
                    sandbox.wait(10)
                except subprocess.TimeoutExpired:
                    sandbox.kill()
        finally:
            portal_socket.close()
